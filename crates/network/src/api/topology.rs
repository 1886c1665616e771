//! `/v2.0/auto-allocated-topology/{project_id}`: show (builds on first use;
//! `?fields=dry-run` only validates) and delete. The policy rules are
//! Neutron's `get_`/`delete_auto_allocated_topology` on the project.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use rustack_http::token_layer::Authenticated;
use serde_json::json;

use super::{caller, fields_of, ok, Res};
use crate::service::{auto_topology, forbidden};
use crate::{policy, Network};

/// `<verb>_auto_allocated_topology` on the project the path names.
fn authorize(net: &Network, a: &Authenticated, verb: &str, project: &str) -> Result<(), rustack_common::Error> {
    let mut t = serde_json::Map::new();
    t.insert("project_id".into(), json!(project));
    let rule = format!("{verb}_auto_allocated_topology");
    if net.policy().enforce(&rule, &policy::credentials(&a.0), &policy::target(&t, None)) {
        Ok(())
    } else {
        Err(forbidden(&rule))
    }
}

pub async fn show(
    State(net): State<Network>,
    a: Authenticated,
    Path(project): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let fields = fields_of(&q)?;
    let c = caller(&a);
    let project = auto_topology::project_of(&c, &project)?;
    authorize(&net, &a, "get", &project)?;
    let v = auto_topology::get(&net, &c, &project, &fields).await?;
    ok(StatusCode::OK, json!({ "auto_allocated_topology": v }))
}

pub async fn delete(State(net): State<Network>, a: Authenticated, Path(project): Path<String>) -> Res {
    let c = caller(&a);
    let project = auto_topology::project_of(&c, &project)?;
    authorize(&net, &a, "delete", &project)?;
    auto_topology::delete(&net, &c, &project).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
