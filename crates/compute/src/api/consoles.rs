//! `GET /os-console-auth-tokens/{token}` (admin): what a console token
//! connects to, for a console proxy run elsewhere. 2.31+ for every console
//! type; before 2.31 Nova shows only RDP tokens (401 for the others).

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use rustack_common::Error;
use rustack_http::microversion::Version;
use rustack_http::token_layer::Authenticated;
use rustack_http::ApiResult;
use serde_json::json;

use super::{ok, require_admin};
use crate::Compute;

pub(super) fn routes() -> Router<Compute> {
    Router::new().route("/os-console-auth-tokens/{token}", get(show))
}

async fn show(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-console-auth-tokens")?;
    if token.trim().is_empty() {
        return Err(Error::bad_request("token not provided").into());
    }
    let t = c.store().console_token_get(&token).await?.ok_or_else(|| Error::not_found("Token not found"))?;
    if !v.at_least(2, 31) && t.console_type != "rdp-html5" {
        return Err(Error::unauthorized("The requested console type details are not accessible").into());
    }
    let mut console = json!({
        "instance_uuid": t.instance_uuid,
        "host": t.host,
        "port": t.port,
        "internal_access_path": t.internal_access_path,
    });
    if v.at_least(2, 99) {
        console["tls_port"] = serde_json::Value::Null;
    }
    Ok(ok(json!({ "console": console })))
}
