//! How a server looks on the wire: one renderer of the latest shape, with
//! the microversion deciding which fields appear (Nova's view builder).

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
