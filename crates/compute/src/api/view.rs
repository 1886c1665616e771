//! How a server looks on the wire: one renderer of the latest shape, with
//! the microversion deciding which fields appear (Nova's view builder).

use axum::body::{Body, Bytes};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use futures_util::StreamExt;
use rustack_http::microversion::Version;
use rustack_http::RequestContext;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha224};

use super::{is_admin, links};
use crate::model::{iso_naive, iso_seconds, Instance};
use crate::Compute;

/// Nova's `hostId`: sha224 of project id and host, so tenants can tell
/// co-location without seeing host names.
pub fn host_id(i: &Instance) -> String {
    match &i.host {
        Some(h) => {
            let d = Sha224::digest(format!("{}{}", i.project_id, h).as_bytes());
            d.iter().map(|b| format!("{b:02x}")).collect()
        }
        None => String::new(),
    }
}

/// `{id, name, links}` of the non-detailed list.
pub fn summary(c: &Compute, i: &Instance) -> Value {
    json!({"id": i.uuid, "name": i.name, "links": links(c, &format!("servers/{}", i.uuid))})
}

pub fn addresses(i: &Instance) -> Value {
    let mut m = Map::new();
    for (net, list) in &i.addresses {
        let v: Vec<Value> = list
            .iter()
            .map(|a| {
                json!({"version": a.version, "addr": a.addr, "OS-EXT-IPS:type": a.kind,
                       "OS-EXT-IPS-MAC:mac_addr": a.mac})
            })
            .collect();
        m.insert(net.clone(), Value::Array(v));
    }
    Value::Object(m)
}

/// The full server of show and detail. `show` adds what only the single
/// view carries (server_groups at 2.71).
pub fn detail(c: &Compute, ctx: &RequestContext, v: Version, i: &Instance, show: bool) -> Value {
    let base = &c.options().public_url;
    let admin = is_admin(ctx);
    let image = if i.image_ref.is_empty() {
        json!("")
    } else {
        json!({"id": i.image_ref, "links": [{"rel": "bookmark", "href": format!("{base}/images/{}", i.image_ref)}]})
    };
    let flavor = match &i.flavor {
        Some(f) if v.at_least(2, 47) => json!({
            "vcpus": f.vcpus, "ram": f.ram, "disk": f.disk, "ephemeral": f.ephemeral, "swap": f.swap,
            "original_name": f.name, "extra_specs": f.extra_specs,
        }),
        Some(f) => json!({"id": f.id, "links": [{"rel": "bookmark", "href": format!("{base}/flavors/{}", f.id)}]}),
        None => json!({}),
    };
    let status = i.status();
    let mut s = json!({
        "id": i.uuid,
        "name": i.name,
        "status": status,
        "tenant_id": i.project_id,
        "user_id": i.user_id,
        "metadata": i.metadata,
        "hostId": host_id(i),
        "image": image,
        "flavor": flavor,
        "created": iso_seconds(&i.created_at),
        "updated": iso_seconds(&i.updated_at),
        "addresses": addresses(i),
        "accessIPv4": i.access_ipv4,
        "accessIPv6": i.access_ipv6,
        "links": links(c, &format!("servers/{}", i.uuid)),
        "OS-DCF:diskConfig": i.disk_config,
        "OS-EXT-AZ:availability_zone": i.availability_zone.clone().unwrap_or_default(),
        "config_drive": i.config_drive,
        "key_name": i.key_name,
        "OS-SRV-USG:launched_at": i.launched_at.as_deref().map(iso_naive),
        "OS-SRV-USG:terminated_at": i.terminated_at.as_deref().map(iso_naive),
        "OS-EXT-STS:task_state": i.task_state,
        "OS-EXT-STS:vm_state": i.vm_state,
        "OS-EXT-STS:power_state": i.power_state,
        "os-extended-volumes:volumes_attached": [],
    });
    let o = s.as_object_mut().expect("object");
    if matches!(status, "ACTIVE" | "BUILD" | "REBUILD" | "RESIZE" | "VERIFY_RESIZE" | "MIGRATING") {
        o.insert("progress".into(), json!(i.progress));
    }
    if !i.security_groups.is_empty() {
        let sgs: Vec<Value> = i.security_groups.iter().map(|n| json!({"name": n})).collect();
        o.insert("security_groups".into(), Value::Array(sgs));
    }
    if admin {
        o.insert("OS-EXT-SRV-ATTR:host".into(), json!(i.host));
        o.insert("OS-EXT-SRV-ATTR:instance_name".into(), json!(instance_name(i)));
        o.insert("OS-EXT-SRV-ATTR:hypervisor_hostname".into(), json!(i.host));
        if v.at_least(2, 3) {
            o.insert("OS-EXT-SRV-ATTR:reservation_id".into(), json!(i.reservation_id));
            o.insert("OS-EXT-SRV-ATTR:launch_index".into(), json!(i.launch_index));
            o.insert("OS-EXT-SRV-ATTR:hostname".into(), json!(i.hostname));
            o.insert("OS-EXT-SRV-ATTR:kernel_id".into(), json!(""));
            o.insert("OS-EXT-SRV-ATTR:ramdisk_id".into(), json!(""));
            o.insert("OS-EXT-SRV-ATTR:root_device_name".into(), json!("/dev/vda"));
            o.insert("OS-EXT-SRV-ATTR:user_data".into(), json!(i.user_data));
        }
    }
    if let Some(f) = &i.fault {
        if matches!(status, "ERROR" | "DELETED") {
            let mut fj = json!({"code": f.code, "created": iso_seconds(&f.created), "message": f.message});
            if admin && !f.details.is_empty() {
                fj["details"] = json!(f.details);
            }
            o.insert("fault".into(), fj);
        }
    }
    if v.at_least(2, 9) {
        o.insert("locked".into(), json!(i.locked));
    }
    if v.at_least(2, 16) && admin {
        o.insert("host_status".into(), json!(if i.host.is_some() { "UP" } else { "" }));
    }
    if v.at_least(2, 19) {
        o.insert("description".into(), json!(i.description));
    }
    if v.at_least(2, 26) {
        o.insert("tags".into(), json!(i.tags));
    }
    if v.at_least(2, 63) {
        o.insert("trusted_image_certificates".into(), Value::Null);
    }
    if v.at_least(2, 71) && show {
        let groups: Vec<&String> = i.server_group.iter().collect();
        o.insert("server_groups".into(), json!(groups));
    }
    if v.at_least(2, 73) {
        o.insert("locked_reason".into(), json!(i.locked_reason));
    }
    s
}

/// Servers rendered per chunk of a streamed list body (about 100 KB of
/// JSON in detail).
const LIST_CHUNK: usize = 64;

/// The 200 of `GET /servers[/detail]`: `{"servers": [..], "servers_links": ..}`
/// rendered a chunk of servers at a time while the body is sent, so a list
/// of 5000 (8 MB in detail) never exists as one JSON tree or one string: the
/// process's peak memory stays the decoded instances plus one chunk. Lists
/// that fit one chunk go out whole (with a Content-Length).
pub fn servers_body(
    c: &Compute,
    ctx: &RequestContext,
    v: Version,
    items: Vec<Instance>,
    detailed: bool,
    links: Option<Value>,
) -> Response {
    let chunks = items.len().div_ceil(LIST_CHUNK).max(1);
    let (c, ctx) = (c.clone(), ctx.clone());
    let render = move |k: usize| -> Bytes {
        let part = items.get(k * LIST_CHUNK..items.len().min((k + 1) * LIST_CHUNK)).unwrap_or_default();
        let mut buf: Vec<u8> = Vec::with_capacity(part.len() * if detailed { 1800 } else { 200 } + 64);
        if k == 0 {
            buf.extend_from_slice(b"{\"servers\": [");
        }
        for (n, i) in part.iter().enumerate() {
            if k > 0 || n > 0 {
                buf.extend_from_slice(b", ");
            }
            let s = if detailed { detail(&c, &ctx, v, i, false) } else { summary(&c, i) };
            // a Value always serializes; an error here would be a bug, not input
            let _ = serde_json::to_writer(&mut buf, &s);
        }
        if k + 1 == chunks {
            buf.push(b']');
            if let Some(l) = &links {
                buf.extend_from_slice(b", \"servers_links\": ");
                let _ = serde_json::to_writer(&mut buf, l);
            }
            buf.push(b'}');
        }
        Bytes::from(buf)
    };
    let body = if chunks == 1 {
        Body::from(render(0))
    } else {
        Body::from_stream(
            futures_util::stream::iter(0..chunks).map(move |k| Ok::<_, std::convert::Infallible>(render(k))),
        )
    };
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::OK;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// The body of update and rebuild: before 2.75 it lacks the extended
/// attributes show has.
pub fn reduced(c: &Compute, ctx: &RequestContext, v: Version, i: &Instance) -> Value {
    let mut s = detail(c, ctx, v, i, true);
    if !v.at_least(2, 75) {
        if let Some(o) = s.as_object_mut() {
            o.retain(|k, _| {
                let extended =
                    k.starts_with("OS-EXT-") || k.starts_with("OS-SRV-USG:") || k.starts_with("os-extended-volumes");
                let later = matches!(
                    k.as_str(),
                    "config_drive"
                        | "key_name"
                        | "security_groups"
                        | "host_status"
                        | "server_groups"
                        | "trusted_image_certificates"
                );
                !(extended || later)
            });
            if let Some(nets) = o.get_mut("addresses").and_then(Value::as_object_mut) {
                for list in nets.values_mut() {
                    for a in list.as_array_mut().into_iter().flatten() {
                        if let Some(a) = a.as_object_mut() {
                            a.retain(|k, _| k == "addr" || k == "version");
                        }
                    }
                }
            }
        }
    }
    s
}

pub fn instance_name(i: &Instance) -> String {
    format!("instance-{}", &i.uuid[..8.min(i.uuid.len())])
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::{Duration, Instant};

    use rustack_test_utils::TestCloud;
    use serde_json::{json, Value};

    /// More servers than one chunk of the streamed list (64): the body is
    /// sent in pieces and must still be one valid document, newest first,
    /// with the page link and the changes-since filter intact.
    #[tokio::test]
    async fn server_lists_stream_in_chunks_and_stay_one_document() {
        let cloud = TestCloud::start().await;
        let token = cloud.admin_token().await;
        let nova = format!("{}/v2.1", cloud.compute.url);
        let project = cloud.projects.admin_project_id.clone();
        cloud
            .request(
                axum::http::Method::PUT,
                &format!("{nova}/os-quota-sets/{project}"),
                Some(&token),
                Some(json!({"quota_set": {"instances": -1, "cores": -1, "ram": -1}})),
            )
            .await
            .expect(200);
        let image = cloud.tiny_image(&token, "tiny", true).await;
        let before = rustack_common::time::iso_micro(&(rustack_common::time::now() - chrono::Duration::seconds(5)));
        let n = 150;
        cloud
            .request_with(
                axum::http::Method::POST,
                &format!("{nova}/servers"),
                Some(&token),
                Some(json!({"server": {"name": "many", "imageRef": image, "flavorRef": "1", "networks": "none",
                                       "min_count": n, "max_count": n}})),
                &[("OpenStack-API-Version", "compute 2.37")],
            )
            .await
            .expect(202);

        let deadline = Instant::now() + Duration::from_secs(120);
        let servers = loop {
            let r = cloud.get(&format!("{nova}/servers/detail"), &token).await.expect(200);
            let list = r.body["servers"].as_array().cloned().unwrap_or_default();
            if list.len() == n && list.iter().all(|s| s["status"] == "ACTIVE") {
                assert!(r.body.get("servers_links").is_none());
                break list;
            }
            assert!(Instant::now() < deadline, "servers never all ACTIVE");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let ids: HashSet<&str> = servers.iter().filter_map(|s| s["id"].as_str()).collect();
        assert_eq!(ids.len(), n, "every server once");
        assert!(servers.iter().all(|s| s["OS-EXT-STS:vm_state"] == "active" && s["tenant_id"] == project.as_str()));
        let created: Vec<&str> = servers.iter().filter_map(|s| s["created"].as_str()).collect();
        assert!(created.windows(2).all(|w| w[0] >= w[1]), "newest first");

        // a page of 100 (two chunks) ends with the link to the next page
        let r = cloud.get(&format!("{nova}/servers/detail?limit=100"), &token).await.expect(200);
        let page = r.body["servers"].as_array().expect("servers");
        assert_eq!(page.len(), 100);
        let next = r.body["servers_links"][0]["href"].as_str().expect("next link");
        assert!(next.contains(&format!("marker={}", page[99]["id"].as_str().expect("id"))), "{next}");
        assert_eq!(page[..], servers[..100]);

        // the summary list streams the same way
        let r = cloud.get(&format!("{nova}/servers"), &token).await.expect(200);
        let summary = r.body["servers"].as_array().expect("servers");
        assert_eq!(summary.len(), n);
        assert!(summary.iter().all(|s| s.as_object().is_some_and(|o| o.len() == 3)));

        // changes-since: SQL keeps the recent rows, the exact test follows
        let r = cloud.get(&format!("{nova}/servers/detail?changes-since={before}"), &token).await.expect(200);
        assert_eq!(r.body["servers"].as_array().map(Vec::len), Some(n));
        let later = rustack_common::time::iso_micro(&(rustack_common::time::now() + chrono::Duration::seconds(60)));
        let r = cloud.get(&format!("{nova}/servers/detail?changes-since={later}"), &token).await.expect(200);
        assert_eq!(r.body["servers"], Value::Array(vec![]));
    }
}
