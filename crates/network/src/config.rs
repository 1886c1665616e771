//! The `[network]` options, read once at open (docs/config-network.md).

use std::collections::BTreeMap;

use rustack_common::config::Ini;
use rustack_common::Error;

#[derive(Debug, Clone)]
pub struct NetConfig {
    pub dataplane: String,
    pub tenant_network_types: Vec<String>,
    pub vni_range: (i64, i64),
    /// physical network → tenant VLAN range (None: provider networks only).
    pub vlan_ranges: BTreeMap<String, Option<(i64, i64)>>,
    pub flat_networks: Vec<String>,
    pub public_physnet: String,
    pub public_cidr: String,
    pub private_cidr: String,
    /// The default IPv4 subnet pool bootstrap makes (None: none).
    pub default_subnetpool_prefix: Option<String>,
    pub default_subnetpool_prefixlen: i64,
    pub masquerade_uplink: Option<String>,
    /// physical network → host interface.
    pub physical_interface_mappings: BTreeMap<String, String>,
    pub physnet_mtu: i64,
    pub metadata_url: String,
    /// Signs `X-Instance-ID` for the metadata API (`[metadata] shared_secret`).
    pub metadata_shared_secret: Option<String>,
    pub dns_servers: Vec<String>,
    pub reconcile_interval: u64,
    pub host: String,
}

fn bad(ini: &Ini, name: &str, msg: String) -> Error {
    Error::bad_request(ini.error("network", name, msg).to_string())
}

fn range(s: &str) -> Option<(i64, i64)> {
    let (a, b) = s.split_once(':')?;
    let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a <= b).then_some((a, b))
}

fn list(s: Option<String>) -> Vec<String> {
    s.unwrap_or_default().split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
}

impl NetConfig {
    pub fn read(ini: &Ini) -> Result<NetConfig, Error> {
        let cfgerr = |e: rustack_common::config::ConfigError| Error::bad_request(e.to_string());
        let dataplane = ini.choice("network", "dataplane", &["auto", "linux", "fake"]).map_err(cfgerr)?;
        let tenant_network_types = list(ini.str("network", "tenant_network_types"));
        for t in &tenant_network_types {
            if !["vxlan", "vlan", "local"].contains(&t.as_str()) {
                return Err(bad(ini, "tenant_network_types", format!("unknown network type '{t}'")));
            }
        }
        let vni = ini.str("network", "vni_ranges").unwrap_or_default();
        let vni_range = range(&vni)
            .filter(|(a, b)| *a >= 1 && *b < (1 << 24))
            .ok_or_else(|| bad(ini, "vni_ranges", format!("'{vni}' is not min:max within 1..16777215")))?;
        let mut vlan_ranges = BTreeMap::new();
        for item in list(ini.str("network", "network_vlan_ranges")) {
            match item.split_once(':') {
                None => {
                    vlan_ranges.insert(item, None);
                }
                Some((phys, r)) => {
                    let r = range(r)
                        .filter(|(a, b)| *a >= 1 && *b <= 4094)
                        .ok_or_else(|| bad(ini, "network_vlan_ranges", format!("'{item}' is not physnet:min:max")))?;
                    vlan_ranges.insert(phys.to_string(), Some(r));
                }
            }
        }
        let mut physical_interface_mappings = BTreeMap::new();
        for item in list(ini.str("network", "physical_interface_mappings")) {
            let ok = item.split_once(':').filter(|(p, i)| {
                !p.trim().is_empty()
                    && !i.trim().is_empty()
                    && i.trim().len() <= 15
                    && i.trim().bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            });
            let Some((phys, iface)) = ok else {
                return Err(bad(
                    ini,
                    "physical_interface_mappings",
                    format!("'{item}' is not physical_network:interface"),
                ));
            };
            physical_interface_mappings.insert(phys.trim().to_string(), iface.trim().to_string());
        }
        let host = ini.str("network", "host").unwrap_or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "localhost".into())
        });
        let default_subnetpool_prefix =
            ini.str("network", "default_subnetpool_prefix").filter(|s| !s.trim().is_empty());
        let default_subnetpool_prefixlen = ini.int("network", "default_subnetpool_prefixlen").map_err(cfgerr)? as i64;
        if let Some(p) = &default_subnetpool_prefix {
            let n: ipnet::IpNet = p
                .trim()
                .parse()
                .ok()
                .filter(|n: &ipnet::IpNet| n.addr().is_ipv4())
                .ok_or_else(|| bad(ini, "default_subnetpool_prefix", format!("'{p}' is not an IPv4 CIDR")))?;
            if default_subnetpool_prefixlen < n.prefix_len() as i64 || default_subnetpool_prefixlen > 30 {
                return Err(bad(
                    ini,
                    "default_subnetpool_prefixlen",
                    format!("{default_subnetpool_prefixlen} is not between {} and 30", n.prefix_len()),
                ));
            }
        }
        Ok(NetConfig {
            dataplane,
            tenant_network_types,
            vni_range,
            vlan_ranges,
            flat_networks: list(ini.str("network", "flat_networks")),
            public_physnet: ini.str("network", "public_physical_network").unwrap_or_else(|| "public".into()),
            public_cidr: ini.str("network", "public_cidr").unwrap_or_else(|| "172.24.4.0/24".into()),
            private_cidr: ini.str("network", "private_cidr").unwrap_or_else(|| "10.0.0.0/26".into()),
            default_subnetpool_prefix,
            default_subnetpool_prefixlen,
            masquerade_uplink: ini.str("network", "masquerade_uplink"),
            physical_interface_mappings,
            physnet_mtu: ini.int("network", "global_physnet_mtu").map_err(cfgerr)? as i64,
            metadata_url: match ini.str("network", "metadata_url") {
                Some(u) => u,
                None => format!("http://127.0.0.1:{}", ini.port("metadata", "port").map_err(cfgerr)?),
            },
            metadata_shared_secret: ini.str("metadata", "shared_secret").filter(|s| !s.is_empty()),
            dns_servers: list(ini.str("network", "dns_servers")),
            reconcile_interval: ini.int("network", "reconcile_interval").map_err(cfgerr)?.max(1),
            host,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<NetConfig, Error> {
        NetConfig::read(&Ini::parse("t.conf", text).expect("ini"))
    }

    #[test]
    fn physical_interface_mappings_are_physnet_colon_interface() {
        let c = read("[network]\nphysical_interface_mappings = physnet1:eth1, public : br-ex\n").unwrap();
        assert_eq!(c.physical_interface_mappings.get("physnet1").map(String::as_str), Some("eth1"));
        assert_eq!(c.physical_interface_mappings.get("public").map(String::as_str), Some("br-ex"));
        assert!(read("[network]\n").unwrap().physical_interface_mappings.is_empty());
        for bad in ["eth1", "physnet1:", "p:eth 1", "p:an-interface-name-too-long", "p:e;rm"] {
            let e = read(&format!("[network]\nphysical_interface_mappings = {bad}\n")).unwrap_err();
            assert!(e.to_string().contains("physical_interface_mappings"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_default_subnet_pool_is_an_ipv4_prefix_and_a_length_inside_it() {
        let c = read("[network]\n").unwrap();
        assert_eq!(c.default_subnetpool_prefix.as_deref(), Some("10.0.0.0/16"));
        assert_eq!(c.default_subnetpool_prefixlen, 26);
        assert!(read("[network]\ndefault_subnetpool_prefix =\n").unwrap().default_subnetpool_prefix.is_none());
        for (prefix, len) in [("nonsense", 26), ("fd00::/48", 64), ("10.0.0.0/16", 8), ("10.0.0.0/16", 31)] {
            let text =
                format!("[network]\ndefault_subnetpool_prefix = {prefix}\ndefault_subnetpool_prefixlen = {len}\n");
            assert!(read(&text).is_err(), "{prefix} /{len}");
        }
    }
}
