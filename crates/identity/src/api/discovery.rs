//! Version discovery: `GET /` (300 Multiple Choices) and `GET /v3`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::Identity;

pub(super) fn routes() -> Router<Identity> {
    Router::new().route("/", get(versions)).route("/v3", get(v3)).route("/v3/", get(v3))
}

fn version(id: &Identity) -> Value {
    json!({
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{}/v3/", id.public_url())}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]
    })
}

async fn versions(State(id): State<Identity>) -> Response {
    (StatusCode::MULTIPLE_CHOICES, Json(json!({"versions": {"values": [version(&id)]}}))).into_response()
}

async fn v3(State(id): State<Identity>) -> Json<Value> {
    Json(json!({"version": version(&id)}))
}
