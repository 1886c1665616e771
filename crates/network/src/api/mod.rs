//! The Networking API v2.0 routes. Handlers are thin: parse, authorize (the
//! token), call the service, render. Every resource family has the same five
//! routes (list, create — also in bulk —, show, update, delete), dispatched
//! by kind in `dispatch`; the few extra routes follow.

mod authz;
mod dispatch;
mod extensions;
mod topology;

use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use rustack_common::Error;
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiError, ErrorStyle};
use serde_json::{json, Value};

use crate::query::{project_fields, ListQuery};
use crate::service::{self, Caller};
use crate::Network;

pub type Res = Result<Response, ApiError>;

/// (URL collection, JSON collection key, JSON member key, store kind)
pub const RESOURCES: &[(&str, &str, &str, &str)] = &[
    ("networks", "networks", "network", "network"),
    ("subnets", "subnets", "subnet", "subnet"),
    ("ports", "ports", "port", "port"),
    ("routers", "routers", "router", "router"),
    ("floatingips", "floatingips", "floatingip", "floatingip"),
    ("security-groups", "security_groups", "security_group", "security_group"),
    ("security-group-rules", "security_group_rules", "security_group_rule", "security_group_rule"),
    ("subnetpools", "subnetpools", "subnetpool", "subnetpool"),
    ("rbac-policies", "rbac_policies", "rbac_policy", "rbac_policy"),
    ("agents", "agents", "agent", "agent"),
];

fn ok(status: StatusCode, body: Value) -> Res {
    Ok((status, Json(body)).into_response())
}

fn caller(a: &Authenticated) -> Caller {
    Caller::from_ctx(&a.0)
}

/// Reads a JSON body leniently: the error is a Neutron 400.
fn parse_body(bytes: &[u8]) -> Result<Value, Error> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::bad_request("Resource body required"));
    }
    serde_json::from_slice(bytes).map_err(|e| Error::bad_request(format!("Malformed request body: {e}")))
}

fn fields_of(q: &Option<String>) -> Result<Vec<String>, Error> {
    Ok(ListQuery::parse(q.as_deref())?.fields)
}

pub fn router(svc: Network) -> Router {
    let o = svc.options().clone();
    let mut api = Router::new()
        .route("/", get(versions))
        .route("/v2.0", get(resources))
        .route("/v2.0/", get(resources))
        .route("/v2.0/extensions", get(extensions::list))
        .route("/v2.0/extensions/{alias}", get(extensions::show))
        .route("/v2.0/routers/{id}/add_router_interface", put(add_interface))
        .route("/v2.0/routers/{id}/remove_router_interface", put(remove_interface))
        .route("/v2.0/quotas", get(quotas_list))
        .route("/v2.0/quotas/{project}", get(quota_show).put(quota_update).delete(quota_delete))
        .route("/v2.0/quotas/{project}/default", get(quota_default))
        .route("/v2.0/quotas/{project}/details", get(quota_details))
        .route("/v2.0/availability_zones", get(azs))
        .route("/v2.0/auto-allocated-topology/{project}", get(topology::show).delete(topology::delete))
        .route("/v2.0/service-providers", get(service_providers))
        .route("/v2.0/network-ip-availabilities", get(ip_availabilities))
        .route("/v2.0/network-ip-availabilities/{id}", get(ip_availability));
    for (url, coll, member, kind) in RESOURCES {
        let (coll, member, kind) = (*coll, *member, *kind);
        api = api
            .route(
                &format!("/v2.0/{url}"),
                get(move |s: State<Network>, a: Authenticated, u: Uri, q: RawQuery| {
                    dispatch::list(s, a, u, q, kind, coll)
                })
                .post(move |s: State<Network>, a: Authenticated, b: axum::body::Bytes| {
                    dispatch::create(s, a, b, kind, coll, member)
                }),
            )
            .route(
                &format!("/v2.0/{url}/{{id}}"),
                get(move |s: State<Network>, a: Authenticated, p: Path<String>, q: RawQuery| {
                    dispatch::show(s, a, p, q, kind, member)
                })
                .put(move |s: State<Network>, a: Authenticated, p: Path<String>, b: axum::body::Bytes| {
                    dispatch::update(s, a, p, b, kind, member)
                })
                .delete(move |s: State<Network>, a: Authenticated, p: Path<String>| dispatch::delete(s, a, p, kind)),
            );
    }
    for (url, kind) in service::TAGGABLE {
        let kind = *kind;
        api = api
            .route(
                &format!("/v2.0/{url}/{{id}}/tags"),
                get(move |s: State<Network>, a: Authenticated, p: Path<String>| dispatch::tags_get(s, a, p, kind))
                    .put(move |s: State<Network>, a: Authenticated, p: Path<String>, b: axum::body::Bytes| {
                        dispatch::tags_replace(s, a, p, b, kind)
                    })
                    .delete(move |s: State<Network>, a: Authenticated, p: Path<String>| {
                        dispatch::tags_clear(s, a, p, kind)
                    }),
            )
            .route(
                &format!("/v2.0/{url}/{{id}}/tags/{{tag}}"),
                get(move |s: State<Network>, a: Authenticated, p: Path<(String, String)>| {
                    dispatch::tag_check(s, a, p, kind)
                })
                .put(move |s: State<Network>, a: Authenticated, p: Path<(String, String)>| {
                    dispatch::tag_add(s, a, p, kind)
                })
                .delete(move |s: State<Network>, a: Authenticated, p: Path<(String, String)>| {
                    dispatch::tag_remove(s, a, p, kind)
                }),
            );
    }
    let api = api.fallback(|| async { ApiError(Error::not_found("The resource could not be found.")) }).with_state(svc);
    let api = rustack_http::token_layer::with_validator(api, "network", o.validator.clone());
    rustack_http::api_layers(api, "network", ErrorStyle::Neutron, &o.identity_url, o.config.max_request_body_size)
}

async fn versions(State(net): State<Network>) -> Res {
    let url = net.options().public_url.trim_end_matches('/').to_string();
    ok(
        StatusCode::OK,
        json!({"versions": [{"id": "v2.0", "status": "CURRENT", "links": [{"href": format!("{url}/v2.0/"), "rel": "self"}]}]}),
    )
}

async fn resources(State(net): State<Network>, _a: Authenticated) -> Res {
    let url = net.options().public_url.trim_end_matches('/').to_string();
    let items: Vec<Value> = RESOURCES
        .iter()
        .map(|(u, c, m, _)| {
            json!({"name": m, "collection": c, "links": [{"href": format!("{url}/v2.0/{u}"), "rel": "self"}]})
        })
        .collect();
    ok(StatusCode::OK, json!({ "resources": items }))
}

async fn add_interface(
    State(net): State<Network>,
    a: Authenticated,
    Path(id): Path<String>,
    b: axum::body::Bytes,
) -> Res {
    let body = parse_body(&b)?;
    ok(StatusCode::OK, service::routers::add_interface(&net, &caller(&a), &id, body).await?)
}

async fn remove_interface(
    State(net): State<Network>,
    a: Authenticated,
    Path(id): Path<String>,
    b: axum::body::Bytes,
) -> Res {
    let body = parse_body(&b)?;
    ok(StatusCode::OK, service::routers::remove_interface(&net, &caller(&a), &id, body).await?)
}

async fn quotas_list(State(net): State<Network>, a: Authenticated) -> Res {
    ok(StatusCode::OK, service::extras::list_quotas(&net, &caller(&a)).await?)
}

async fn quota_show(State(net): State<Network>, a: Authenticated, Path(p): Path<String>) -> Res {
    ok(StatusCode::OK, service::extras::show_quota(&net, &caller(&a), &p).await?)
}

async fn quota_default(a: Authenticated, Path(p): Path<String>) -> Res {
    ok(StatusCode::OK, service::extras::default_quota(&caller(&a), &p).await?)
}

async fn quota_details(State(net): State<Network>, a: Authenticated, Path(p): Path<String>) -> Res {
    ok(StatusCode::OK, service::extras::quota_details(&net, &caller(&a), &p).await?)
}

async fn quota_update(
    State(net): State<Network>,
    a: Authenticated,
    Path(p): Path<String>,
    b: axum::body::Bytes,
) -> Res {
    let body = parse_body(&b)?;
    ok(StatusCode::OK, service::extras::update_quota(&net, &caller(&a), &p, body).await?)
}

async fn quota_delete(State(net): State<Network>, a: Authenticated, Path(p): Path<String>) -> Res {
    service::extras::delete_quota(&net, &caller(&a), &p).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// No advanced services with providers are served.
async fn service_providers(_a: Authenticated) -> Res {
    ok(StatusCode::OK, json!({ "service_providers": [] }))
}

async fn azs(State(net): State<Network>, _a: Authenticated, u: Uri, RawQuery(q): RawQuery) -> Res {
    let q = ListQuery::parse(q.as_deref())?;
    ok(StatusCode::OK, service::extras::availability_zones(&q, &dispatch::base_url(&net, &u))?)
}

async fn ip_availabilities(State(net): State<Network>, a: Authenticated, u: Uri, RawQuery(q): RawQuery) -> Res {
    let q = ListQuery::parse(q.as_deref())?;
    ok(StatusCode::OK, service::extras::list_availability(&net, &caller(&a), &q, &dispatch::base_url(&net, &u)).await?)
}

async fn ip_availability(
    State(net): State<Network>,
    a: Authenticated,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let fields = fields_of(&q)?;
    let mut v = service::extras::show_availability(&net, &caller(&a), &id).await?;
    v["network_ip_availability"] = project_fields(v["network_ip_availability"].take(), &fields);
    ok(StatusCode::OK, v)
}
