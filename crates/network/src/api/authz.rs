//! The policy checks of the dispatched routes (see `crate::policy`): run
//! before the service is called (create, update, delete) or on what it
//! returns (show, list). The service keeps its own checks of visibility and
//! ownership; these add what the operator's policy file says.

use rustack_common::Error;
use rustack_http::RequestContext;
use serde_json::Value;

use crate::policy;
use crate::service::{forbidden, networks, not_found, Caller, Doc};
use crate::Network;

/// The owner of the network `doc` names (`network_id`), for
/// `network:tenant_id` in subnet and port rules.
async fn network_owner(net: &Network, kind: &str, doc: &Doc) -> Option<String> {
    if !matches!(kind, "subnet" | "port") {
        return None;
    }
    let nid = doc.get("network_id")?.as_str()?;
    let v = networks::show(net, &Caller::admin(), nid).await.ok()?;
    v["project_id"].as_str().or_else(|| v["tenant_id"].as_str()).map(String::from)
}

/// `<action>` on `target`, then `<action>:<attr>` for each attribute the
/// request sets explicitly that has a rule among the defaults.
fn enforce_with_attrs(
    net: &Network,
    ctx: &RequestContext,
    action: &str,
    target: &rustack_policy::Target,
    body: Option<&Doc>,
) -> Result<Vec<String>, String> {
    let p = net.policy();
    let creds = policy::credentials(ctx);
    if !p.enforce(action, &creds, target) {
        return Err(action.to_string());
    }
    let mut granted = vec![];
    for (k, v) in body.into_iter().flatten() {
        let rule = format!("{action}:{k}");
        if policy::is_attribute_rule(&rule) && policy::explicitly_set(v) {
            if !p.enforce(&rule, &creds, target) {
                return Err(rule);
            }
            granted.push(rule);
        }
    }
    Ok(granted)
}

/// `create_<kind>` on the body, the caller's project filled in as Neutron
/// does. Returns the attribute rules it allowed (for `Caller::granted`).
pub async fn create(net: &Network, ctx: &RequestContext, kind: &str, body: &Doc) -> Result<Vec<String>, Error> {
    let mut t = body.clone();
    if !t.contains_key("project_id") && !t.contains_key("tenant_id") {
        if let Some(p) = ctx.project_id() {
            t.insert("project_id".into(), Value::from(p));
        }
    }
    let target = policy::target(&t, network_owner(net, kind, body).await.as_deref());
    enforce_with_attrs(net, ctx, &format!("create_{kind}"), &target, Some(body)).map_err(|r| forbidden(&r))
}

/// `update_<kind>` (with the body's attributes) or `delete_<kind>` on the
/// stored resource. A resource that does not exist is left to the service
/// (its 404); one the caller cannot see is a 404 too, as Neutron answers.
/// Returns the attribute rules it allowed (for `Caller::granted`).
pub async fn change(
    net: &Network,
    ctx: &RequestContext,
    c: &Caller,
    verb: &str,
    kind: &str,
    id: &str,
    body: Option<&Doc>,
) -> Result<Vec<String>, Error> {
    let Ok(Value::Object(have)) = super::dispatch::do_show(net, &Caller::admin(), kind, id).await else {
        return Ok(vec![]);
    };
    let target = policy::target(&have, network_owner(net, kind, &have).await.as_deref());
    match enforce_with_attrs(net, ctx, &format!("{verb}_{kind}"), &target, body) {
        Ok(granted) => Ok(granted),
        Err(rule) => {
            if super::dispatch::do_show(net, c, kind, id).await.is_ok() {
                Err(forbidden(&rule))
            } else {
                Err(not_found(kind, id))
            }
        }
    }
}

/// Whether `get_<kind>` lets the caller see this resource.
pub fn can_get(net: &Network, ctx: &RequestContext, kind: &str, doc: &Value) -> bool {
    let Value::Object(d) = doc else { return true };
    let owner = d.get("network:tenant_id").and_then(|v| v.as_str());
    net.policy().enforce(&format!("get_{kind}"), &policy::credentials(ctx), &policy::target(d, owner))
}
