//! `/v2/metadefs`: namespaces, and their objects, properties, tags and
//! resource type associations.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use rustack_common::Error;
use rustack_http::token_layer::Authenticated;
use rustack_http::JsonBody;
use serde_json::{json, Map, Value};

use super::{json, ApiResult};
use crate::service::metadefs::Kind;
use crate::Image;

pub fn routes() -> Router<Image> {
    Router::new()
        .route("/v2/metadefs/resource_types", get(resource_types))
        .route("/v2/metadefs/namespaces", get(list_namespaces).post(create_namespace))
        .route("/v2/metadefs/namespaces/{ns}", get(show_namespace).put(update_namespace).delete(delete_namespace))
        .route("/v2/metadefs/namespaces/{ns}/{kind}", get(list_items).post(create_items).delete(delete_items))
        .route(
            "/v2/metadefs/namespaces/{ns}/{kind}/{name}",
            get(show_item).put(update_item).post(create_tag).delete(delete_item),
        )
}

fn kind(segment: &str) -> Result<Kind, Error> {
    Kind::from_segment(segment).ok_or_else(|| Error::not_found("The resource could not be found."))
}

async fn resource_types(State(s): State<Image>, Authenticated(_c): Authenticated) -> Response {
    json(200, json!({"resource_types": s.resource_types()}))
}

async fn list_namespaces(State(s): State<Image>, Authenticated(ctx): Authenticated) -> ApiResult<Response> {
    let list = s.namespace_list(&ctx).await?;
    Ok(json(
        200,
        json!({"namespaces": list, "first": "/v2/metadefs/namespaces", "schema": "/v2/schemas/metadefs/namespaces"}),
    ))
}

async fn create_namespace(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    Ok(json(201, s.namespace_create(&ctx, body).await?))
}

async fn show_namespace(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path(ns): Path<String>,
) -> ApiResult<Response> {
    Ok(json(200, s.namespace_show(&ctx, &ns).await?))
}

async fn update_namespace(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path(ns): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    Ok(json(200, s.namespace_update(&ctx, &ns, body).await?))
}

async fn delete_namespace(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path(ns): Path<String>,
) -> ApiResult<StatusCode> {
    s.namespace_delete(&ctx, &ns).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_items(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path((ns, k)): Path<(String, String)>,
) -> ApiResult<Response> {
    let k = kind(&k)?;
    let items = s.metadef_list(&ctx, &ns, k).await?;
    Ok(json(
        200,
        match k {
            Kind::Object => json!({"objects": items, "schema": "/v2/schemas/metadefs/objects"}),
            // properties are a map keyed by name
            Kind::Property => {
                let mut m = Map::new();
                for mut p in items {
                    let name = p["name"].as_str().unwrap_or_default().to_string();
                    if let Some(o) = p.as_object_mut() {
                        o.remove("name");
                    }
                    m.insert(name, p);
                }
                json!({"properties": m})
            }
            Kind::Tag => json!({"tags": items}),
            Kind::ResourceType => json!({"resource_type_associations": items}),
        },
    ))
}

async fn create_items(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path((ns, k)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let k = kind(&k)?;
    if k == Kind::Tag {
        let tags = s.metadef_tags_replace(&ctx, &ns, body).await?;
        return Ok(json(201, json!({"tags": tags})));
    }
    Ok(json(201, s.metadef_create(&ctx, &ns, k, body).await?))
}

async fn delete_items(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path((ns, k)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let k = kind(&k)?;
    if k != Kind::Tag && k != Kind::Object && k != Kind::Property {
        return Err(Error::new(
            rustack_common::ErrorKind::MethodNotAllowed,
            "The method is not allowed for the requested URL.",
        )
        .into());
    }
    s.metadef_delete(&ctx, &ns, k, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn show_item(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path((ns, k, name)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    Ok(json(200, s.metadef_show(&ctx, &ns, kind(&k)?, &name).await?))
}

async fn update_item(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path((ns, k, name)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    Ok(json(200, s.metadef_update(&ctx, &ns, kind(&k)?, &name, body).await?))
}

/// `POST /v2/metadefs/namespaces/{ns}/tags/{name}`: one tag, no body needed.
async fn create_tag(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path((ns, k, name)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    if kind(&k)? != Kind::Tag {
        return Err(Error::new(
            rustack_common::ErrorKind::MethodNotAllowed,
            "The method is not allowed for the requested URL.",
        )
        .into());
    }
    Ok(json(201, s.metadef_create(&ctx, &ns, Kind::Tag, json!({"name": name})).await?))
}

async fn delete_item(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path((ns, k, name)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    s.metadef_delete(&ctx, &ns, kind(&k)?, Some(&name)).await?;
    Ok(StatusCode::NO_CONTENT)
}
