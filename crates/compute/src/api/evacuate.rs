//! The `evacuate` server action (admin): an instance whose host's compute
//! service is down is rebuilt on another host. As Nova: the body is `host`
//! (optional), `onSharedStorage` (required before 2.14) and `adminPass`
//! (before 2.14 answered back), `force` from 2.29 to 2.67; an unknown host
//! is 404, the instance's own host 400, a state other than ACTIVE, STOPPED
//! or ERROR 409, a source service still up 400 (ComputeServiceInUse). The
//! scheduler is asked here (nothing claimed) so that no other host is a
//! clean 400 NoValidHost, as the migrate actions answer; the conductor then
//! claims, rebuilds and records the `evacuation` migration.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rustack_common::Error;
use rustack_http::microversion::Version;
use rustack_http::{ApiResult, RequestContext};
use serde_json::{json, Value};

use super::actions::begin;
use super::migrate::{bool_value, check_room, check_state, host_arg, invalid};
use super::{ok, require_admin};
use crate::bus::Op;
use crate::model::{task, vm, Instance, ServiceRecord};
use crate::Compute;

/// Nova's `service_down_time` default: a compute service that has not
/// reported for this long is down (longer when the agents report less often).
const SERVICE_DOWN_SECS: i64 = 60;

const STATES: &[&str] = &[vm::ACTIVE, vm::STOPPED, vm::ERROR];

/// What the body asks: destination, password, force.
#[derive(Debug, PartialEq)]
struct Request {
    host: Option<String>,
    admin_pass: Option<String>,
    force: bool,
}

fn parse(arg: &Value, v: &Version) -> Result<Request, Error> {
    let o = arg.as_object().ok_or_else(|| invalid("evacuate"))?;
    let mut allowed = vec!["host", "adminPass"];
    if !v.at_least(2, 14) {
        allowed.push("onSharedStorage");
    }
    if v.at_least(2, 29) && !v.at_least(2, 68) {
        allowed.push("force");
    }
    super::only_keys(o, &allowed, "evacuate")?;
    let host = host_arg(arg, "evacuate")?;
    let admin_pass = match o.get("adminPass") {
        None => None,
        Some(Value::String(p)) => Some(p.clone()),
        Some(_) => return Err(invalid("evacuate/adminPass")),
    };
    if !v.at_least(2, 14) {
        let shared = match o.get("onSharedStorage") {
            Some(s) => bool_value(s).ok_or_else(|| invalid("evacuate/onSharedStorage"))?,
            None => {
                return Err(Error::bad_request(
                    "Invalid input for field/attribute evacuate. 'onSharedStorage' is a required property",
                ))
            }
        };
        if shared && admin_pass.is_some() {
            return Err(Error::bad_request("admin password can't be changed on existing disk"));
        }
    }
    let force = match o.get("force") {
        None => false,
        Some(f) => bool_value(f).ok_or_else(|| invalid("evacuate/force"))?,
    };
    Ok(Request { host, admin_pass, force })
}

/// Down: forced down by an admin, or silent for longer than Nova's
/// `service_down_time` (twice the report interval if that is longer; agents
/// that never report, interval 0, are only down when forced).
fn is_down(s: &ServiceRecord, report_every: std::time::Duration) -> bool {
    if s.forced_down {
        return true;
    }
    if report_every.is_zero() {
        return false;
    }
    let limit = SERVICE_DOWN_SECS.max(2 * report_every.as_secs() as i64);
    let last = s.updated_at.as_deref().unwrap_or(&s.created_at);
    match rustack_common::time::parse_iso(last) {
        Some(t) => (rustack_common::time::now() - t).num_seconds() > limit,
        None => false,
    }
}

fn compute_service<'a>(list: &'a [ServiceRecord], host: &str) -> Option<&'a ServiceRecord> {
    list.iter().find(|s| s.binary == "nova-compute" && s.host == host)
}

pub(super) async fn action(
    c: &Compute,
    ctx: &Arc<RequestContext>,
    rid: &str,
    inst: &Instance,
    arg: &Value,
    v: &Version,
) -> ApiResult<Response> {
    require_admin(ctx, "os_compute_api:os-evacuate")?;
    let req = parse(arg, v)?;
    let services = c.store().service_list().await?;
    if let Some(h) = &req.host {
        if compute_service(&services, h).is_none() {
            return Err(Error::not_found(format!("Compute host {h} not found.")).into());
        }
        if inst.host.as_deref() == Some(h.as_str()) {
            return Err(Error::bad_request("The target host can't be the same one.").into());
        }
    }
    check_state(ctx, inst, "evacuate", STATES)?;
    // never placed (a failed boot): nothing to evacuate from
    let source = inst.host.clone().ok_or_else(|| Error::not_found("Compute host None could not be found."))?;
    if compute_service(&services, &source).is_some_and(|s| !is_down(s, c.cfg().sync_interval)) {
        return Err(Error::bad_request(format!("Compute service of {source} is still in use.")).into());
    }
    let forced = req.force && req.host.is_some();
    check_room(c, inst, req.host.clone(), forced, "No valid host found for evacuate").await?;
    begin(
        c,
        ctx,
        &inst.uuid,
        rid,
        "evacuate",
        STATES,
        &[],
        Some(task::REBUILDING),
        Op::Evacuate { host: req.host },
        |i| i.previous_vm_state = Some(i.vm_state.clone()),
    )
    .await?;
    if v.at_least(2, 14) {
        return Ok(StatusCode::OK.into_response());
    }
    let pass = req.admin_pass.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()[..12].to_string());
    Ok(ok(json!({ "adminPass": pass })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ver(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn bodies_follow_the_microversion() {
        let old = ver("2.1");
        assert!(parse(&json!({}), &old).is_err(), "onSharedStorage is required before 2.14");
        let r = parse(&json!({"onSharedStorage": false, "adminPass": "p"}), &old).unwrap();
        assert_eq!(r, Request { host: None, admin_pass: Some("p".into()), force: false });
        assert!(parse(&json!({"onSharedStorage": true, "adminPass": "p"}), &old).is_err());
        assert!(parse(&json!({"onSharedStorage": false, "force": true}), &old).is_err());
        assert!(parse(&json!({"onSharedStorage": false}), &ver("2.14")).is_err());
        let r = parse(&json!({"host": "h2", "force": true}), &ver("2.29")).unwrap();
        assert_eq!(r, Request { host: Some("h2".into()), admin_pass: None, force: true });
        assert!(parse(&json!({"force": true}), &ver("2.68")).is_err());
        assert!(parse(&json!({"host": 3}), &ver("2.14")).is_err());
        assert!(parse(&json!("x"), &ver("2.14")).is_err());
    }

    #[test]
    fn a_service_is_down_when_forced_or_silent() {
        use std::time::Duration;
        let ago = |secs: i64| {
            rustack_common::time::iso_micro(&(rustack_common::time::now() - chrono::Duration::seconds(secs)))
        };
        let mut s = ServiceRecord {
            id: 1,
            uuid: "u".into(),
            host: "h".into(),
            binary: "nova-compute".into(),
            disabled: false,
            disabled_reason: None,
            forced_down: false,
            created_at: ago(500),
            updated_at: Some(ago(5)),
        };
        let every = Duration::from_secs(10);
        assert!(!is_down(&s, every));
        s.updated_at = Some(ago(90));
        assert!(is_down(&s, every), "silent past service_down_time");
        assert!(!is_down(&s, Duration::from_secs(60)), "within two report intervals");
        assert!(!is_down(&s, Duration::ZERO), "agents that never report");
        s.updated_at = Some(ago(1));
        s.forced_down = true;
        assert!(is_down(&s, every));
    }
}
