//! The deprecated multinic actions addFixedIp and removeFixedIp (served to
//! 2.43, 404 above, as Nova). addFixedIp gives the server a new port on the
//! named network and removeFixedIp detaches and deletes the port holding the
//! address: both are os-interface attach and detach (the conductor's shared
//! `attach_interface` / `detach_interface`), so ports, addresses and the
//! guest's NICs stay consistent whichever API made them.

use axum::response::Response;
use rustack_common::Error;
use rustack_http::microversion::Version;
use rustack_http::RequestContext;
use serde_json::{Map, Value};

use super::accepted;
use crate::model::Instance;
use crate::peers::{NetItem, NetRequest};
use crate::Compute;

pub(super) async fn action(
    c: &Compute,
    ctx: &RequestContext,
    v: Version,
    inst: &Instance,
    name: &str,
    arg: &Value,
) -> Result<Response, Error> {
    if v.at_least(2, 44) {
        return Err(Error::not_found("The resource could not be found."));
    }
    if name == "addFixedIp" {
        let net = network_id(arg)?;
        unlocked(ctx, inst)?;
        let item = NetItem { network_id: Some(net), port_id: None, fixed_ip: None };
        c.attach_interface(ctx, &inst.uuid, NetRequest::List(vec![item])).await?;
    } else {
        let address = address(arg)?;
        unlocked(ctx, inst)?;
        let holder = c
            .interfaces_of(inst)
            .await?
            .into_iter()
            .find(|p| p.fixed_ips.iter().any(|(_, ip)| same_ip(ip, &address)))
            .ok_or_else(|| Error::bad_request(format!("Instance {} doesn't have fixed IP '{address}'.", inst.uuid)))?;
        c.detach_interface(&inst.uuid, &holder.id).await?;
    }
    Ok(accepted())
}

/// Nova's check_instance_lock: a locked server refuses both (admins pass).
fn unlocked(ctx: &RequestContext, inst: &Instance) -> Result<(), Error> {
    if inst.locked && !super::is_admin(ctx) {
        return Err(super::actions::locked(&inst.uuid));
    }
    Ok(())
}

/// The action's object with only `key` allowed (Nova's schema:
/// additionalProperties false, `key` required).
fn only<'a>(action: &str, arg: &'a Value, key: &str) -> Result<&'a Value, Error> {
    let o: &Map<String, Value> = arg.as_object().ok_or_else(|| {
        Error::bad_request(format!(
            "Invalid input for field/attribute {action}. Value: {arg}. {arg} is not of type 'object'"
        ))
    })?;
    super::only_keys(o, &[key], action)?;
    o.get(key).ok_or_else(|| {
        Error::bad_request(format!("Invalid input for field/attribute {action}. '{key}' is a required property"))
    })
}

/// `networkId`: a string or an integer in Nova's schema; a network id here.
fn network_id(arg: &Value) -> Result<String, Error> {
    match only("addFixedIp", arg, "networkId")? {
        Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        other => Err(Error::bad_request(format!(
            "Invalid input for field/attribute networkId. Value: {other}. {other} is not of type 'string', 'integer'"
        ))),
    }
}

/// `address`: an IPv4 or IPv6 address (Nova's ip_address format).
fn address(arg: &Value) -> Result<String, Error> {
    match only("removeFixedIp", arg, "address")? {
        Value::String(a) if a.parse::<std::net::IpAddr>().is_ok() => Ok(a.clone()),
        other => Err(Error::bad_request(format!(
            "Invalid input for field/attribute address. Value: {other}. {other} is not a 'ip-address'"
        ))),
    }
}

/// Addresses compared as addresses (an IPv6 address has many spellings).
fn same_ip(a: &str, b: &str) -> bool {
    match (a.parse::<std::net::IpAddr>(), b.parse::<std::net::IpAddr>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies_are_checked_as_nova_schema() {
        assert_eq!(network_id(&json!({"networkId": "n1"})).unwrap(), "n1");
        assert_eq!(network_id(&json!({"networkId": 7})).unwrap(), "7");
        assert!(network_id(&json!({})).is_err());
        assert!(network_id(&json!({"networkId": "n", "x": 1})).is_err());
        assert!(network_id(&json!({"networkId": true})).is_err());
        assert!(network_id(&json!("n1")).is_err());
        assert_eq!(address(&json!({"address": "10.0.0.3"})).unwrap(), "10.0.0.3");
        assert!(address(&json!({"address": "10.0.0"})).is_err());
        assert!(address(&json!({"address": 3})).is_err());
        assert!(address(&json!({})).is_err());
        assert!(same_ip("fd00::1", "fd00:0::1"));
        assert!(!same_ip("10.0.0.1", "10.0.0.2"));
    }
}
