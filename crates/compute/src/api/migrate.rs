//! The `migrate` (cold) and `os-migrateLive` server actions (admin).

use std::sync::Arc;

use axum::response::Response;
use rustack_common::Error;
use rustack_http::microversion::Version;
use rustack_http::{ApiResult, RequestContext};
use serde_json::Value;

use crate::model::Instance;
use crate::Compute;

/// Checks the request and the instance's state, then casts the migration.
pub(super) async fn action(
    _c: &Compute,
    _ctx: &Arc<RequestContext>,
    _rid: &str,
    _inst: &Instance,
    name: &str,
    _arg: &Value,
    _v: &Version,
) -> ApiResult<Response> {
    Err(Error::not_implemented(format!("The action {name} is not served by rustack yet.")).into())
}
