//! Issuing console tokens: what `os-getVNCConsole` and
//! `POST /servers/{id}/remote-consoles` hand out. A token is a random UUID
//! given to the client once; the database keeps its sha256 (store/consoles.rs).

use rustack_common::time::{iso_micro, now};
use rustack_common::Error;

use crate::model::{vm, Instance};
use crate::store::consoles::ConsoleToken;
use crate::Compute;

/// `[vnc] token_ttl`'s default, for a value that does not parse.
const DEFAULT_TTL_SECS: u64 = 600;
/// A year: a larger `token_ttl` is taken as this (a time far enough out
/// would overflow the clock's range).
const MAX_TTL_SECS: u64 = 365 * 24 * 3600;

/// A new noVNC console token for `inst`, and the URL that carries it:
/// `<novncproxy_base_url>?path=%3Ftoken%3D<token>` (noVNC ≥ 1.1 passes the
/// `path` query parameter through to its websocket URL).
pub(crate) async fn issue_novnc(c: &Compute, inst: &Instance) -> Result<String, Error> {
    let host = ready_host(inst)?;
    let socket = c.agent(host).and_then(|a| a.driver.vnc_socket(&inst.uuid)).ok_or_else(|| unavailable("novnc"))?;
    let ini = &c.options().config.ini;
    let ttl = ini.int("vnc", "token_ttl").unwrap_or(DEFAULT_TTL_SECS).min(MAX_TTL_SECS);
    let expires = now() + chrono::Duration::seconds(ttl as i64);
    let token = uuid::Uuid::new_v4().to_string();
    let grant = ConsoleToken {
        instance_uuid: inst.uuid.clone(),
        console_type: "novnc".into(),
        host: host.to_string(),
        port: 0,
        internal_access_path: Some(socket.to_string_lossy().into_owned()),
        expires: iso_micro(&expires),
    };
    c.store().console_token_create(&token, &grant).await?;
    let base = base_url(c);
    let sep = if base.contains('?') { '&' } else { '?' };
    Ok(format!("{base}{sep}path=%3Ftoken%3D{token}"))
}

/// Nova's InstanceNotReady (409) unless the instance runs on a host.
pub(crate) fn ready_host(inst: &Instance) -> Result<&str, Error> {
    match inst.host.as_deref() {
        Some(h) if inst.vm_state == vm::ACTIVE => Ok(h),
        _ => Err(Error::conflict(format!("Instance {} is not ready", inst.uuid))),
    }
}

/// Nova's ConsoleTypeUnavailable (400): a console type this cloud does not serve.
pub(crate) fn unavailable(kind: &str) -> Error {
    Error::bad_request(format!("Unavailable console type {kind}."))
}

/// Nova's ConsoleTypeInvalid (400): a type its protocol accepts but no proxy serves.
pub(crate) fn invalid(kind: &str) -> Error {
    Error::bad_request(format!("Invalid console type {kind}"))
}

/// `[vnc] novncproxy_base_url`, else noVNC's lite page on the proxy's port
/// at the compute API's public host.
fn base_url(c: &Compute) -> String {
    let ini = &c.options().config.ini;
    if let Some(u) = ini.str("vnc", "novncproxy_base_url") {
        return u;
    }
    let port = ini.port("vnc", "port").unwrap_or(6080);
    format!("http://{}:{port}/vnc_lite.html", url_host(&c.options().public_url))
}

/// The host part of `http://host:port/...` (an IPv6 literal keeps its brackets).
fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let host = if authority.starts_with('[') {
        authority.find(']').map_or(authority, |i| &authority[..=i])
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    if host.is_empty() {
        "127.0.0.1"
    } else {
        host
    }
}

#[cfg(test)]
mod tests {
    use super::url_host;

    #[test]
    fn host_of_public_urls() {
        assert_eq!(url_host("http://10.0.0.5:8774"), "10.0.0.5");
        assert_eq!(url_host("https://cloud.example.com/compute"), "cloud.example.com");
        assert_eq!(url_host("http://[::1]:8774/"), "[::1]");
        assert_eq!(url_host("http://u:p@h:1"), "h");
        assert_eq!(url_host(""), "127.0.0.1");
    }
}
