//! `GET /`: the version document (no token needed), and the parts of the
//! API not served (`POST /reshaper`).

use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use rustack_common::Error;
use serde_json::json;

use super::util::{ok, Caller, Res};
use super::MICROVERSIONS;
use crate::Placement;

pub fn routes() -> Router<Placement> {
    Router::new().route("/", get(versions)).route("/reshaper", post(reshaper))
}

async fn versions() -> Res {
    let m = MICROVERSIONS;
    Ok(ok(json!({"versions": [{
        "id": "v1.0",
        "min_version": m.min.to_string(),
        "max_version": m.max.to_string(),
        "status": "CURRENT",
        "links": [{"rel": "self", "href": ""}],
    }]})))
}

/// Reshaping (moving inventory and allocations between providers of a
/// tree at once) is not served yet.
async fn reshaper(State(svc): State<Placement>, c: Caller) -> Res {
    c.need(30)?;
    c.allow(&svc, "placement:reshaper:reshape")?;
    Err(Error::not_implemented("POST /reshaper is not implemented by this placement service.").into())
}
