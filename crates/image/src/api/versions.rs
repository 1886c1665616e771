//! Version discovery: `GET /` answers 300 Multiple Choices, `GET /versions`
//! 200, both listing v2.0 … v2.17 (v2.17 CURRENT) as Glance does.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::json;
use crate::Image;

pub fn routes() -> Router<Image> {
    Router::new()
        .route("/", get(|State(s): State<Image>| async move { json(300, versions(&s)) }))
        .route("/versions", get(|State(s): State<Image>| async move { json(200, versions(&s)) }))
        .route("/v2", get(v2_root))
        .route("/v2/", get(v2_root))
}

async fn v2_root(State(s): State<Image>) -> Response {
    json(300, versions(&s))
}

/// The newest minor version this service serves.
pub const CURRENT_MINOR: u32 = 17;

fn versions(s: &Image) -> Value {
    let base = s.options().public_url.trim_end_matches('/').to_string();
    let list: Vec<Value> = (0..=CURRENT_MINOR)
        .rev()
        .map(|m| {
            json!({
                "id": format!("v2.{m}"),
                "status": if m == CURRENT_MINOR { "CURRENT" } else { "SUPPORTED" },
                "links": [{"rel": "self", "href": format!("{base}/v2/")}],
            })
        })
        .collect();
    json!({ "versions": list })
}
