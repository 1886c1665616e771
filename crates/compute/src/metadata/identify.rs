//! Which instance a metadata request is for. The network service's proxy
//! says so in headers: `X-Instance-ID` (signed with `[metadata]
//! shared_secret` as `X-Instance-ID-Signature`, hex HMAC-SHA256, when a
//! secret is set) and `X-Tenant-ID`; or only `X-Forwarded-For` (the guest's
//! fixed IP) with `X-Neutron-Network-ID` or `X-Neutron-Router-ID`, looked up
//! among the ports the network service knows.

use std::net::IpAddr;

use hmac::{Hmac, Mac};
use http::HeaderMap;
use rustack_common::Error;
use sha2::Sha256;

use crate::model::Instance;
use crate::Compute;

/// Why a request is refused.
#[derive(Debug, PartialEq)]
pub(crate) enum Refusal {
    /// 400 with this explanation.
    BadRequest(String),
    /// 403: missing or wrong signature.
    Forbidden,
    /// 404: no such instance.
    NotFound,
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

#[cfg(test)]
/// The hex HMAC-SHA256 of `instance_id` under `secret` (what the proxy sends).
pub(crate) fn sign(secret: &str, instance_id: &str) -> String {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    m.update(instance_id.as_bytes());
    m.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks `signature` in constant time.
fn signature_ok(secret: &str, instance_id: &str, signature: &str) -> bool {
    let Some(sig) = decode_hex(signature) else { return false };
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    m.update(instance_id.as_bytes());
    m.verify_slice(&sig).is_ok()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// The instance a request with these headers is for.
pub(crate) async fn instance(c: &Compute, h: &HeaderMap, secret: Option<&str>) -> Result<Instance, IdentifyError> {
    for (name, shown) in [("x-instance-id", "X-Instance-ID"), ("x-tenant-id", "X-Tenant-ID")] {
        if h.get_all(name).iter().count() > 1 {
            return Err(Refusal::BadRequest(format!("Multiple {shown} headers found within request.")).into());
        }
    }
    let instance_id = header(h, "x-instance-id");
    if let Some(secret) = secret {
        // With a secret only a signed instance id is believed: anything else
        // did not come through the proxy.
        let Some(id) = instance_id else { return Err(Refusal::Forbidden.into()) };
        let Some(sig) = header(h, "x-instance-id-signature") else { return Err(Refusal::Forbidden.into()) };
        if !signature_ok(secret, id, sig) {
            tracing::warn!(instance = id, "metadata request with a wrong X-Instance-ID-Signature");
            return Err(Refusal::Forbidden.into());
        }
    }
    let uuid = match instance_id {
        Some(id) => id.to_string(),
        None => by_address(c, h).await?,
    };
    let Some(inst) = c.store().instance_get(&uuid).await? else { return Err(Refusal::NotFound.into()) };
    if let Some(t) = header(h, "x-tenant-id") {
        if t != inst.project_id {
            tracing::warn!(instance = %uuid, tenant = t, "metadata request: X-Tenant-ID is not the instance's project");
            return Err(Refusal::NotFound.into());
        }
    }
    Ok(inst)
}

/// The instance owning the requester's fixed IP on the network the proxy
/// named (or on a network of the router it named).
async fn by_address(c: &Compute, h: &HeaderMap) -> Result<String, IdentifyError> {
    let Some(fwd) = header(h, "x-forwarded-for") else { return Err(Refusal::NotFound.into()) };
    // the first address of a list is the client's
    let first = fwd.split(',').next().unwrap_or_default().trim();
    let Ok(ip) = first.parse::<IpAddr>() else {
        return Err(Refusal::BadRequest(format!("X-Forwarded-For is not an address: {first}")).into());
    };
    let Some(net) = &c.inner.peers.network else { return Err(Refusal::NotFound.into()) };
    let state = net.desired_state().await?;
    let networks: Option<Vec<String>> = if let Some(n) = header(h, "x-neutron-network-id") {
        Some(vec![n.to_string()])
    } else if let Some(r) = header(h, "x-neutron-router-id") {
        let Some(router) = state.routers.iter().find(|x| x.id == r) else { return Err(Refusal::NotFound.into()) };
        Some(router.interfaces.iter().map(|i| i.network_id.clone()).collect())
    } else {
        None
    };
    let found: Vec<&str> = state
        .ports
        .iter()
        .filter(|p| networks.as_ref().is_none_or(|ns| ns.contains(&p.network_id)))
        .filter(|p| p.fixed_ips.iter().any(|f| f.ip_address.parse::<IpAddr>().ok() == Some(ip)))
        .filter_map(|p| p.device_id.as_deref())
        .collect();
    // an address alone (no network named) must be unambiguous
    match found.as_slice() {
        [one] => Ok(one.to_string()),
        [first, rest @ ..] if rest.iter().all(|d| d == first) => Ok(first.to_string()),
        _ => Err(Refusal::NotFound.into()),
    }
}

/// A refusal, or a failure of the services behind.
#[derive(Debug)]
pub(crate) enum IdentifyError {
    Refused(Refusal),
    Failed(Error),
}

impl From<Refusal> for IdentifyError {
    fn from(r: Refusal) -> Self {
        IdentifyError::Refused(r)
    }
}

impl From<Error> for IdentifyError {
    fn from(e: Error) -> Self {
        IdentifyError::Failed(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_with_the_same_secret() {
        let s = sign("secret", "abc");
        assert_eq!(s.len(), 64);
        assert!(signature_ok("secret", "abc", &s));
        assert!(signature_ok("secret", "abc", &s.to_uppercase()));
        assert!(!signature_ok("other", "abc", &s));
        assert!(!signature_ok("secret", "abd", &s));
        assert!(!signature_ok("secret", "abc", "zz"));
        assert!(!signature_ok("secret", "abc", "abc"));
    }
}
