//! The metadata proxy: answers 169.254.169.254:80 inside a router (or DHCP)
//! namespace and forwards to the compute metadata API, saying which instance
//! asks (`X-Forwarded-For`, `X-Neutron-Router-ID`/`X-Neutron-Network-ID`,
//! and, when the port is known, `X-Instance-ID`/`X-Tenant-ID` with Nova's
//! HMAC signature when a shared secret is set).
//!
//! The listening socket is opened inside the namespace by a short-lived
//! thread that enters it (`setns`), binds and hands the socket back; the
//! socket keeps its namespace, and this process serves it with tokio.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::{Arc, RwLock};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use http::StatusCode;
use ipnet::IpNet;
use sha2::Sha256;

use crate::Error;

/// The metadata address.
pub const ADDRESS: &str = "169.254.169.254";

/// What a proxy needs to know to identify the instance behind a request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProxyContext {
    pub url: String,
    pub shared_secret: Option<String>,
    /// Set for a proxy in a router namespace.
    pub router_id: Option<String>,
    /// Set for a proxy in a DHCP namespace.
    pub network_id: Option<String>,
    /// Subnets reached from this namespace and their networks (to name the
    /// network of a router's client).
    pub subnets: Vec<(IpNet, String)>,
    /// Known ports: (network id, address, instance id, project id).
    pub ports: Vec<(String, IpAddr, Option<String>, Option<String>)>,
}

/// A running proxy; dropping it stops it and closes its socket.
pub struct Proxy {
    pub ctx: Arc<RwLock<ProxyContext>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Opens a TCP listener on `addr` inside network namespace `ns` (by name, /run/netns/NAME).
pub fn listen_in_namespace(ns: &str, addr: SocketAddr) -> Result<std::net::TcpListener, Error> {
    let path = format!("/run/netns/{ns}");
    let ns_owned = ns.to_string();
    std::thread::spawn(move || -> Result<std::net::TcpListener, Error> {
        let f = std::fs::File::open(&path).map_err(|e| Error::host(format!("open {path}"), e))?;
        // SAFETY: setns on this thread only (it ends right after); the fd is valid for the call.
        let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc != 0 {
            return Err(Error::host(format!("setns {ns_owned}"), std::io::Error::last_os_error()));
        }
        let l = std::net::TcpListener::bind(addr).map_err(|e| Error::host(format!("bind {addr} in {ns_owned}"), e))?;
        l.set_nonblocking(true).map_err(|e| Error::host("set_nonblocking", e))?;
        Ok(l)
    })
    .join()
    .map_err(|_| Error::Host("the namespace thread panicked".into()))?
}

/// Serves `listener` with a proxy for `ctx`.
pub fn start(listener: std::net::TcpListener, ctx: ProxyContext) -> Result<Proxy, Error> {
    let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| Error::host("metadata listener", e))?;
    let ctx = Arc::new(RwLock::new(ctx));
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| Error::host("metadata client", e))?;
    let app = axum::Router::new().fallback(forward).with_state((ctx.clone(), client));
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await {
            tracing::warn!(error = %e, "metadata proxy stopped");
        }
    });
    Ok(Proxy { ctx, task })
}

type Shared = (Arc<RwLock<ProxyContext>>, reqwest::Client);

const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "proxy-connection",
    "te",
    "trailer",
];

async fn forward(
    State((ctx, client)): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let guest = match peer.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    let (url, extra) = {
        let c = ctx.read().unwrap_or_else(|p| p.into_inner());
        let network = c
            .network_id
            .clone()
            .or_else(|| c.subnets.iter().find(|(n, _)| n.contains(&guest)).map(|(_, id)| id.clone()));
        let mut h: Vec<(String, String)> = vec![("X-Forwarded-For".into(), guest.to_string())];
        if let Some(r) = &c.router_id {
            h.push(("X-Neutron-Router-ID".into(), r.clone()));
        }
        if let Some(n) = &network {
            h.push(("X-Neutron-Network-ID".into(), n.clone()));
            if let Some((_, _, Some(dev), proj)) = c.ports.iter().find(|(pn, ip, _, _)| pn == n && *ip == guest) {
                h.push(("X-Instance-ID".into(), dev.clone()));
                if let Some(p) = proj {
                    h.push(("X-Tenant-ID".into(), p.clone()));
                }
                if let Some(secret) = &c.shared_secret {
                    h.push(("X-Instance-ID-Signature".into(), sign(secret, dev)));
                }
            }
        }
        (c.url.trim_end_matches('/').to_string(), h)
    };
    let pq = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
    let method = req.method().clone();
    let mut headers = http::HeaderMap::new();
    for (k, v) in req.headers() {
        let lk = k.as_str().to_ascii_lowercase();
        if !HOP_BY_HOP.contains(&lk.as_str())
            && !lk.starts_with("x-instance-")
            && !lk.starts_with("x-tenant-")
            && !lk.starts_with("x-neutron-")
            && lk != "x-forwarded-for"
        {
            headers.append(k.clone(), v.clone());
        }
    }
    let body = match axum::body::to_bytes(req.into_body(), 1 << 20).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "request too large\n").into_response(),
    };
    let mut rb = client.request(method, format!("{url}{pq}")).headers(headers).body(body);
    for (k, v) in extra {
        rb = rb.header(k, v);
    }
    match rb.send().await {
        Ok(resp) => {
            let status = resp.status();
            let mut out = Response::builder().status(status);
            for (k, v) in resp.headers() {
                if !HOP_BY_HOP.contains(&k.as_str()) {
                    out = out.header(k, v);
                }
            }
            match resp.bytes().await {
                Ok(b) => out.body(Body::from(b)).unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response()),
                Err(_) => StatusCode::BAD_GATEWAY.into_response(),
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, %guest, "metadata upstream unreachable");
            (StatusCode::BAD_GATEWAY, "metadata service unreachable\n").into_response()
        }
    }
}

/// Nova's `X-Instance-ID-Signature`: hex HMAC-SHA256 of the instance id.
pub fn sign(secret: &str, instance_id: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return String::new() };
    mac.update(instance_id.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::sign("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
