//! The OpenStack format (`/openstack/<version>/…`): meta_data.json,
//! network_data.json, user_data, vendor_data.json, vendor_data2.json and the
//! password, with Nova's version gates (a document or field appears from
//! the version that introduced it on).

use base64::Engine;
use rand::RngCore;
use serde_json::{json, Map, Value};

use super::facts::{Facts, IpFacts, PortFacts};

pub(crate) const FOLSOM: &str = "2012-08-10";
pub(crate) const GRIZZLY: &str = "2013-04-04";
pub(crate) const HAVANA: &str = "2013-10-17";
pub(crate) const LIBERTY: &str = "2015-10-15";
pub(crate) const NEWTON_ONE: &str = "2016-06-30";
pub(crate) const NEWTON_TWO: &str = "2016-10-06";
pub(crate) const VICTORIA: &str = "2020-10-14";

/// Every version, oldest first (`latest` is the last).
pub(crate) const VERSIONS: &[&str] =
    &[FOLSOM, GRIZZLY, HAVANA, LIBERTY, NEWTON_ONE, NEWTON_TWO, "2017-02-22", "2018-08-27", VICTORIA, "2025-04-04"];

/// The version a path names (`latest` is the newest); None when unknown.
pub(crate) fn version(v: &str) -> Option<&'static str> {
    if v == "latest" {
        return VERSIONS.last().copied();
    }
    VERSIONS.iter().copied().find(|x| *x == v)
}

/// `v` is `required` or newer (both from [`VERSIONS`]; the dates sort).
fn since(v: &str, required: &str) -> bool {
    v >= required
}

/// The listing of `/openstack`: versions released by today, then `latest`.
pub(crate) fn version_list() -> String {
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let mut v: Vec<&str> = VERSIONS.iter().copied().filter(|x| *x <= today.as_str()).collect();
    v.push("latest");
    v.join("\n")
}

/// The listing of `/openstack/<version>`.
pub(crate) fn documents(f: &Facts, v: &str) -> Vec<&'static str> {
    let mut out = vec!["meta_data.json"];
    if f.inst.user_data.is_some() {
        out.push("user_data");
    }
    if since(v, GRIZZLY) {
        out.push("password");
    }
    if since(v, HAVANA) {
        out.push("vendor_data.json");
    }
    if since(v, LIBERTY) {
        out.push("network_data.json");
    }
    if since(v, NEWTON_TWO) {
        out.push("vendor_data2.json");
    }
    out
}

/// A document of version `v`: its bytes and whether it is JSON; None when
/// it does not exist (404). The password is served by the handler.
pub(crate) fn document(f: &Facts, v: &str, name: &str) -> Option<(Vec<u8>, bool)> {
    let j = |v: Value| Some((v.to_string().into_bytes(), true));
    match name {
        "meta_data.json" => j(meta_data(f, v)),
        "user_data" => f.user_data().map(|u| (u, false)),
        "vendor_data.json" if since(v, HAVANA) => j(json!({})),
        "network_data.json" if since(v, LIBERTY) => j(network_data(f)),
        // Nova's default vendordata provider (StaticJSON, no file) as the
        // `static` member
        "vendor_data2.json" if since(v, NEWTON_TWO) => j(json!({"static": {}})),
        _ => None,
    }
}

/// meta_data.json.
pub(crate) fn meta_data(f: &Facts, v: &str) -> Value {
    let i = &f.inst;
    let mut m = Map::new();
    m.insert("uuid".into(), json!(i.uuid));
    if !i.metadata.is_empty() {
        m.insert("meta".into(), json!(i.metadata));
    }
    if let (Some(name), Some(key)) = (&i.key_name, &i.key_data) {
        m.insert("public_keys".into(), json!({ name: key }));
        m.insert("keys".into(), json!([{"name": name, "type": f.key_type, "data": key}]));
    }
    m.insert("hostname".into(), json!(f.hostname()));
    m.insert("name".into(), json!(i.name));
    m.insert("launch_index".into(), json!(i.launch_index));
    m.insert("availability_zone".into(), json!(f.availability_zone()));
    if since(v, GRIZZLY) {
        let mut seed = vec![0u8; 512];
        rand::thread_rng().fill_bytes(&mut seed);
        m.insert("random_seed".into(), json!(base64::engine::general_purpose::STANDARD.encode(seed)));
    }
    if since(v, LIBERTY) {
        m.insert("project_id".into(), json!(i.project_id));
    }
    if since(v, NEWTON_ONE) {
        m.insert("devices".into(), json!([]));
    }
    if since(v, VICTORIA) {
        m.insert("dedicated_cpus".into(), json!([]));
    }
    Value::Object(m)
}

/// network_data.json: one link per port (its tap device), the first IPv4
/// and first IPv6 address of each as a network (`ipv4_dhcp` where the subnet
/// has DHCP, else static with the default and host routes), DNS servers.
pub(crate) fn network_data(f: &Facts) -> Value {
    let mut links = vec![];
    let mut nets = vec![];
    let mut services: Vec<Value> = vec![];
    let mut net_num = 0;
    for p in &f.ports {
        let v4 = p.ips.iter().find(|i| i.version == 4);
        let v6 = p.ips.iter().find(|i| i.version == 6);
        if v4.is_none() && v6.is_none() {
            continue;
        }
        let link_id = rustack_network::netplane::tap_name(&p.id);
        links.push(link(p, &link_id));
        for ip in [v4, v6].into_iter().flatten() {
            nets.push(network(p, ip, net_num, &link_id));
            net_num += 1;
            for d in dns(ip) {
                if !services.contains(&d) {
                    services.push(d);
                }
            }
        }
    }
    json!({"links": links, "networks": nets, "services": services})
}

fn link(p: &PortFacts, id: &str) -> Value {
    // where DHCP serves the port, the MTU comes from DHCP (as Nova)
    let mtu = if p.ips.iter().any(|i| i.dhcp_server) { None } else { p.mtu };
    json!({
        "id": id,
        "vif_id": p.id,
        "type": "bridge",
        "mtu": mtu,
        "ethernet_mac_address": p.mac,
    })
}

fn dns(ip: &IpFacts) -> Vec<Value> {
    ip.subnet.iter().flat_map(|s| &s.dns_nameservers).map(|a| json!({"type": "dns", "address": a})).collect()
}

fn network(p: &PortFacts, ip: &IpFacts, n: usize, link_id: &str) -> Value {
    let id = format!("network{n}");
    // an IPv6 address mode names the type (`ipv6_slaac`, …) of a network
    // described in full; otherwise a DHCP subnet is only named
    let kind = match &ip.ipv6_mode {
        Some(m) => format!("ipv{}_{m}", ip.version),
        None => format!("ipv{}", ip.version),
    };
    if ip.dhcp && ip.ipv6_mode.is_none() {
        return json!({
            "id": id, "type": format!("ipv{}_dhcp", ip.version), "link": link_id, "network_id": p.network_id,
        });
    }
    let prefix = ip.subnet.as_ref().and_then(|s| s.cidr.split_once('/')).and_then(|(_, l)| l.parse::<u8>().ok());
    let mask = prefix.map(|l| netmask(ip.version, l)).unwrap_or_default();
    let mut routes = vec![];
    if let Some(gw) = ip.subnet.as_ref().and_then(|s| s.gateway_ip.clone()).filter(|g| !g.is_empty()) {
        let any = if ip.version == 4 { "0.0.0.0" } else { "::" };
        routes.push(json!({"network": any, "netmask": any, "gateway": gw}));
    }
    for r in ip.subnet.iter().flat_map(|s| &s.host_routes) {
        let Some((dest, len)) = r.destination.split_once('/') else { continue };
        let Ok(len) = len.parse::<u8>() else { continue };
        let version = if dest.contains(':') { 6 } else { 4 };
        routes.push(json!({"network": dest, "netmask": netmask(version, len), "gateway": r.nexthop}));
    }
    json!({
        "id": id,
        "type": kind,
        "link": link_id,
        "ip_address": ip.address,
        "netmask": mask,
        "routes": routes,
        "network_id": p.network_id,
        "services": dns(ip),
    })
}

/// The dotted (IPv4) or colon (IPv6) form of a prefix length.
fn netmask(version: u8, len: u8) -> String {
    if version == 4 {
        let bits: u32 = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len.min(32))) };
        std::net::Ipv4Addr::from(bits).to_string()
    } else {
        let bits: u128 = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len.min(128))) };
        std::net::Ipv6Addr::from(bits).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustack_network::netplane::{Route, Subnet};

    #[test]
    fn netmasks() {
        assert_eq!(netmask(4, 24), "255.255.255.0");
        assert_eq!(netmask(4, 0), "0.0.0.0");
        assert_eq!(netmask(4, 32), "255.255.255.255");
        assert_eq!(netmask(6, 64), "ffff:ffff:ffff:ffff::");
    }

    #[test]
    fn versions_gate_documents() {
        assert_eq!(version("latest"), Some("2025-04-04"));
        assert_eq!(version("2009-04-04"), None);
        let f = Facts::default();
        assert_eq!(documents(&f, FOLSOM), vec!["meta_data.json"]);
        assert_eq!(documents(&f, "2025-04-04").len(), 5);
        assert!(document(&f, FOLSOM, "network_data.json").is_none());
        assert!(meta_data(&f, FOLSOM).get("random_seed").is_none());
        assert!(version_list().ends_with("2025-04-04\nlatest"));
    }

    #[test]
    fn static_networks_carry_routes_and_dns() {
        let sub = Subnet {
            id: "s".into(),
            cidr: "10.0.0.0/24".into(),
            ip_version: 4,
            gateway_ip: Some("10.0.0.1".into()),
            enable_dhcp: false,
            dns_nameservers: vec!["9.9.9.9".into()],
            host_routes: vec![Route { destination: "172.16.0.0/16".into(), nexthop: "10.0.0.254".into() }],
        };
        let f = Facts {
            ports: vec![PortFacts {
                id: "0123456789abcdef".into(),
                network_id: "net".into(),
                mac: "fa:16:3e:00:00:01".into(),
                mtu: Some(1450),
                ips: vec![IpFacts {
                    address: "10.0.0.5".into(),
                    version: 4,
                    subnet: Some(sub),
                    dhcp: false,
                    dhcp_server: false,
                    ipv6_mode: None,
                }],
                floating: vec![],
            }],
            ..Default::default()
        };
        let d = network_data(&f);
        assert_eq!(d["links"][0]["id"], "tap0123456789a");
        assert_eq!(d["links"][0]["mtu"], 1450);
        let n = &d["networks"][0];
        assert_eq!(n["type"], "ipv4");
        assert_eq!(n["netmask"], "255.255.255.0");
        assert_eq!(n["routes"][0], json!({"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.0.0.1"}));
        assert_eq!(n["routes"][1], json!({"network": "172.16.0.0", "netmask": "255.255.0.0", "gateway": "10.0.0.254"}));
        assert_eq!(d["services"], json!([{"type": "dns", "address": "9.9.9.9"}]));
    }

    #[test]
    fn slaac_subnets_are_described_with_their_mode() {
        let sub = Subnet {
            id: "s6".into(),
            cidr: "fd00::/64".into(),
            ip_version: 6,
            gateway_ip: Some("fd00::1".into()),
            enable_dhcp: true,
            ..Default::default()
        };
        let ip = IpFacts {
            address: "fd00::f816:3eff:fe00:1".into(),
            version: 6,
            subnet: Some(sub),
            dhcp: true,
            dhcp_server: false,
            ipv6_mode: Some("slaac".into()),
        };
        let f = Facts {
            ports: vec![PortFacts { id: "p".into(), network_id: "n".into(), ips: vec![ip], ..Default::default() }],
            ..Default::default()
        };
        let n = &network_data(&f)["networks"][0];
        assert_eq!(n["type"], "ipv6_slaac");
        assert_eq!(n["netmask"], "ffff:ffff:ffff:ffff::");
        assert_eq!(n["routes"][0], json!({"network": "::", "netmask": "::", "gateway": "fd00::1"}));
    }
}
