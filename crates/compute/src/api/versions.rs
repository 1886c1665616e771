//! Version discovery: `GET /` and `GET /v2.1` (no token needed).

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::ok;
use crate::Compute;

pub(super) fn routes() -> Router<Compute> {
    Router::new()
        .route("/", get(root))
        .route("/v2.1", get(v21))
        .route("/v2.1/", get(v21))
        .route("/v2", get(v20))
        .route("/v2/", get(v20))
}

fn v21_doc(c: &Compute) -> Value {
    let base = &c.options().public_url;
    json!({
        "id": "v2.1",
        "status": "CURRENT",
        "version": c.cfg().max_version.to_string(),
        "min_version": "2.1",
        "updated": "2013-07-23T11:33:21Z",
        "links": [{"rel": "self", "href": format!("{base}/v2.1/")}],
    })
}

async fn root(State(c): State<Compute>) -> Response {
    let base = &c.options().public_url;
    ok(json!({"versions": [
        {"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "", "updated": "2011-01-21T11:33:21Z",
         "links": [{"rel": "self", "href": format!("{base}/v2/")}]},
        v21_doc(&c),
    ]}))
}

/// The legacy v2.0 document (its link is in the version list).
async fn v20(State(c): State<Compute>) -> Response {
    let base = &c.options().public_url;
    ok(json!({"version": {
        "id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "", "updated": "2011-01-21T11:33:21Z",
        "links": [{"rel": "self", "href": format!("{base}/v2/")},
                  {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2"}],
    }}))
}

async fn v21(State(c): State<Compute>) -> Response {
    let mut v = v21_doc(&c);
    v["links"].as_array_mut().expect("links").push(json!({
        "rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"
    }));
    v["media-types"] =
        json!([{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}]);
    ok(json!({"version": v}))
}
