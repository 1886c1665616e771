//! Nova's floating IP proxy (`os-floating-ips`, `os-floating-ip-pools`;
//! deprecated, gone at 2.36): the network service's Neutron API called with
//! the caller's own token, as Nova calls Neutron, in Nova's shapes. A pool is
//! an external network, named by name or id. Associating one with a server
//! is the addFloatingIp action (`server_floating_ips`).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use reqwest::Method;
use rustack_common::Error;
use rustack_http::microversion::Version;
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody};
use serde_json::{json, Value};

use super::secgroups::neutron;
use super::server_floating_ips::{device_of, forget_floating};
use super::{accepted, ok, project_of};
use crate::Compute;

pub(super) fn routes() -> Router<Compute> {
    Router::new()
        .route("/os-floating-ips", get(list).post(create))
        .route("/os-floating-ips/{id}", get(show).delete(remove))
        .route("/os-floating-ip-pools", get(pools))
}

fn token(h: &HeaderMap) -> String {
    h.get("x-auth-token").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

fn gone(v: Version) -> Result<(), Error> {
    if v.at_least(2, 36) {
        return Err(Error::not_found("The resource could not be found."));
    }
    Ok(())
}

fn not_found(id: &str) -> Error {
    Error::not_found(format!("Floating IP not found for ID {id}"))
}

/// A Neutron answer that is not a success, as Nova words it.
pub(super) fn failed(status: u16, v: &Value) -> Error {
    let msg = v["NeutronError"]["message"].as_str().unwrap_or("Network service error").to_string();
    match status {
        404 => Error::not_found(msg),
        403 => Error::forbidden(msg),
        401 => Error::unauthorized(msg),
        _ => Error::bad_request(msg),
    }
}

/// Renders Neutron floating IPs as Nova's `{id, ip, pool, fixed_ip,
/// instance_id}`: the pool is the external network's name, the instance the
/// device of the port the address is bound to.
async fn views(c: &Compute, tok: &str, fips: &[Value]) -> Result<Vec<Value>, Error> {
    let mut nets: HashMap<String, Value> = HashMap::new();
    let mut out = Vec::with_capacity(fips.len());
    for f in fips {
        let net_id = f["floating_network_id"].as_str().unwrap_or_default().to_string();
        if !nets.contains_key(&net_id) {
            let (s, n) = neutron(c, tok, Method::GET, &format!("/networks/{net_id}"), None).await?;
            nets.insert(net_id.clone(), if s == 200 { n["network"].clone() } else { Value::Null });
        }
        let pool = nets[&net_id]["name"].as_str().filter(|n| !n.is_empty()).unwrap_or(&net_id).to_string();
        let instance_id = match f["port_id"].as_str() {
            Some(p) => {
                let (s, port) = neutron(c, tok, Method::GET, &format!("/ports/{p}"), None).await?;
                if s == 200 {
                    port["port"]["device_id"].as_str().filter(|d| !d.is_empty()).map(str::to_string)
                } else {
                    None
                }
            }
            None => None,
        };
        out.push(json!({
            "id": f["id"], "ip": f["floating_ip_address"], "pool": pool,
            "fixed_ip": f["fixed_ip_address"], "instance_id": instance_id,
        }));
    }
    Ok(out)
}

async fn list(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    h: HeaderMap,
) -> ApiResult<Response> {
    gone(v)?;
    let tok = token(&h);
    let project = project_of(&ctx)?;
    let (s, body) = neutron(&c, &tok, Method::GET, &format!("/floatingips?tenant_id={project}"), None).await?;
    if s != 200 {
        return Err(failed(s, &body).into());
    }
    let fips = body["floatingips"].as_array().cloned().unwrap_or_default();
    Ok(ok(json!({ "floating_ips": views(&c, &tok, &fips).await? })))
}

async fn get_one(c: &Compute, tok: &str, id: &str) -> Result<Value, Error> {
    let (s, body) = neutron(c, tok, Method::GET, &format!("/floatingips/{id}"), None).await?;
    match s {
        200 => Ok(body["floatingip"].clone()),
        404 => Err(not_found(id)),
        _ => Err(failed(s, &body)),
    }
}

async fn show(
    State(c): State<Compute>,
    Authenticated(_ctx): Authenticated,
    Extension(v): Extension<Version>,
    h: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    gone(v)?;
    let tok = token(&h);
    let f = get_one(&c, &tok, &id).await?;
    let view = views(&c, &tok, &[f]).await?.pop().unwrap_or(Value::Null);
    Ok(ok(json!({ "floating_ip": view })))
}

/// The external network a pool names (name first, then id), as Nova looks
/// it up; `None` is Nova's default pool, `public` here (rustack's
/// bootstrap external network).
async fn pool_network(c: &Compute, tok: &str, pool: &str) -> Result<String, Error> {
    let missing = || Error::not_found("Floating IP pool not found.");
    let (s, body) = neutron(c, tok, Method::GET, "/networks?router:external=True", None).await?;
    if s != 200 {
        return Err(failed(s, &body));
    }
    let nets = body["networks"].as_array().cloned().unwrap_or_default();
    nets.iter()
        .find(|n| n["name"] == pool)
        .or_else(|| nets.iter().find(|n| n["id"] == pool))
        .and_then(|n| n["id"].as_str())
        .map(str::to_string)
        .ok_or_else(missing)
}

async fn create(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    h: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    gone(v)?;
    let tok = token(&h);
    let pool = match body.get("pool") {
        None | Some(Value::Null) => "public".to_string(),
        Some(Value::String(p)) => p.clone(),
        Some(other) => {
            return Err(Error::bad_request(format!("Invalid input for field/attribute pool. Value: {other}.")).into())
        }
    };
    let net = pool_network(&c, &tok, &pool).await?;
    let project = project_of(&ctx)?;
    let (s, r) = neutron(
        &c,
        &tok,
        Method::POST,
        "/floatingips",
        Some(json!({"floatingip": {"floating_network_id": net, "tenant_id": project}})),
    )
    .await?;
    match s {
        200 | 201 => {}
        409 => return Err(Error::not_found(format!("No more floating IPs in pool {pool}.")).into()),
        403 if r["NeutronError"]["type"] == "OverQuota" => {
            return Err(Error::forbidden("IP allocation over quota.").into())
        }
        _ => return Err(failed(s, &r).into()),
    }
    let view = views(&c, &tok, &[r["floatingip"].clone()]).await?.pop().unwrap_or(Value::Null);
    Ok(ok(json!({ "floating_ip": view })))
}

async fn remove(
    State(c): State<Compute>,
    Authenticated(_ctx): Authenticated,
    Extension(v): Extension<Version>,
    h: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    gone(v)?;
    let tok = token(&h);
    let f = get_one(&c, &tok, &id).await?;
    let (s, body) = neutron(&c, &tok, Method::DELETE, &format!("/floatingips/{id}"), None).await?;
    match s {
        200 | 204 => {
            // releasing an associated address disassociates it (Neutron)
            if let (Some(port), Some(addr)) = (f["port_id"].as_str(), f["floating_ip_address"].as_str()) {
                if let Some(server) = device_of(&c, &tok, port).await? {
                    forget_floating(&c, &server, addr).await;
                }
            }
            Ok(accepted())
        }
        404 => Err(not_found(&id).into()),
        _ => Err(failed(s, &body).into()),
    }
}

async fn pools(
    State(c): State<Compute>,
    Authenticated(_ctx): Authenticated,
    Extension(v): Extension<Version>,
    h: HeaderMap,
) -> ApiResult<Response> {
    gone(v)?;
    let tok = token(&h);
    let (s, body) = neutron(&c, &tok, Method::GET, "/networks?router:external=True", None).await?;
    if s != 200 {
        return Err(failed(s, &body).into());
    }
    let list: Vec<Value> =
        body["networks"].as_array().into_iter().flatten().map(|n| json!({"name": n["name"]})).collect();
    Ok(ok(json!({ "floating_ip_pools": list })))
}

#[cfg(test)]
mod tests {
    use axum::http::Method;
    use rustack_test_utils::TestCloud;
    use serde_json::{json, Value};

    #[tokio::test]
    async fn floating_ips_allocate_show_list_and_release_through_the_network_service() {
        let cloud = TestCloud::start().await;
        let token = cloud.demo_token().await;
        let nova = format!("{}/v2.1", cloud.compute.url);

        let r = cloud.get(&format!("{nova}/os-floating-ip-pools"), &token).await.expect(200);
        assert!(r.body["floating_ip_pools"].as_array().expect("pools").contains(&json!({"name": "public"})));

        let r = cloud.post(&format!("{nova}/os-floating-ips"), &token, json!({"pool": "public"})).await.expect(200);
        let fip = r.body["floating_ip"].clone();
        let id = fip["id"].as_str().expect("id").to_string();
        assert_eq!(fip["pool"], "public");
        assert!(fip["ip"].as_str().is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_ok()), "{fip}");
        assert_eq!(fip["instance_id"], Value::Null);
        assert_eq!(fip["fixed_ip"], Value::Null);

        let r = cloud.get(&format!("{nova}/os-floating-ips/{id}"), &token).await.expect(200);
        assert_eq!(r.body["floating_ip"], fip);
        let r = cloud.get(&format!("{nova}/os-floating-ips"), &token).await.expect(200);
        assert!(r.body["floating_ips"].as_array().expect("list").contains(&fip));

        let r = cloud.post(&format!("{nova}/os-floating-ips"), &token, json!({"pool": "no-such-pool"})).await;
        r.expect(404);

        cloud.delete(&format!("{nova}/os-floating-ips/{id}"), &token).await.expect(202);
        let r = cloud.get(&format!("{nova}/os-floating-ips/{id}"), &token).await.expect(404);
        assert_eq!(r.body["itemNotFound"]["message"], format!("Floating IP not found for ID {id}"));
        cloud.delete(&format!("{nova}/os-floating-ips/{id}"), &token).await.expect(404);

        // the proxy APIs are gone from 2.36 on
        let r = cloud
            .request_with(
                Method::GET,
                &format!("{nova}/os-floating-ips"),
                Some(&token),
                None,
                &[("OpenStack-API-Version", "compute 2.36")],
            )
            .await;
        r.expect(404);
    }
}
