//! What the metadata documents are made of, gathered once per request: the
//! instance, its key pair's type, and its ports as the network service knows
//! them (addresses with their subnets, MTU, floating IPs), read in-process
//! (`ports_of_device`, and the desired host state for subnets and floating
//! IPs). Without a network service the instance's own `addresses` stand in.

use std::collections::BTreeMap;

use base64::Engine;
use rustack_common::Error;
use rustack_network::netplane::{HostState, Subnet};

use crate::model::Instance;
use crate::Compute;

/// The DNS domain Nova appends to the host name (`[api] dhcp_domain`'s default).
pub(crate) const DHCP_DOMAIN: &str = "novalocal";

#[derive(Debug, Clone, Default)]
pub(crate) struct Facts {
    pub inst: Instance,
    /// `ssh` or `x509`, from the key pair when it still exists.
    pub key_type: String,
    pub ports: Vec<PortFacts>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct PortFacts {
    pub id: String,
    pub network_id: String,
    pub mac: String,
    pub mtu: Option<i64>,
    pub ips: Vec<IpFacts>,
    /// Floating IPs associated with this port.
    pub floating: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct IpFacts {
    pub address: String,
    pub version: u8,
    /// None when the subnet is unknown (no network service).
    pub subnet: Option<Subnet>,
    /// The subnet has DHCP enabled (`ipv4_dhcp` in network_data.json).
    pub dhcp: bool,
    /// The network's DHCP port has an address on this subnet (Nova's
    /// `dhcp_server`: the MTU then comes from DHCP, not network_data.json).
    pub dhcp_server: bool,
    /// The subnet's `ipv6_address_mode` (`slaac`, `dhcpv6-stateful`,
    /// `dhcpv6-stateless`), which names the network's type instead.
    pub ipv6_mode: Option<String>,
}

impl Facts {
    /// The instance's user data as the guest gets it (decoded from base64).
    pub fn user_data(&self) -> Option<Vec<u8>> {
        let u = self.inst.user_data.as_deref()?;
        Some(base64::engine::general_purpose::STANDARD.decode(u.trim()).unwrap_or_else(|_| u.as_bytes().to_vec()))
    }

    /// Nova's `hostname`: the sanitized host name and the DHCP domain.
    pub fn hostname(&self) -> String {
        format!("{}.{DHCP_DOMAIN}", self.short_hostname())
    }

    pub fn short_hostname(&self) -> String {
        if !self.inst.hostname.is_empty() {
            return self.inst.hostname.clone();
        }
        sanitize_hostname(&self.inst.name).unwrap_or_else(|| format!("server-{}", self.inst.uuid))
    }

    pub fn availability_zone(&self) -> String {
        self.inst.availability_zone.clone().unwrap_or_else(|| "nova".into())
    }

    /// The first fixed IPv4 address (EC2's `local-ipv4`).
    pub fn fixed_ipv4(&self) -> Option<String> {
        self.ports.iter().flat_map(|p| &p.ips).find(|i| i.version == 4).map(|i| i.address.clone())
    }

    pub fn floating_ip(&self) -> Option<String> {
        self.ports.iter().flat_map(|p| &p.floating).next().cloned()
    }
}

/// Nova's `sanitize_hostname`: Latin-1 only, at most 63 characters,
/// spaces, `_` and `.` become `-`, other non-word characters go, lower case,
/// no leading or trailing `.`/`-`. None when nothing is left.
pub(crate) fn sanitize_hostname(name: &str) -> Option<String> {
    let latin1: String = name.chars().filter(|c| (*c as u32) <= 0xff).take(63).collect();
    let mut h = String::new();
    for c in latin1.chars() {
        match c {
            ' ' | '_' | '.' => h.push('-'),
            '-' => h.push('-'),
            c if c.is_alphanumeric() => h.extend(c.to_lowercase()),
            _ => {}
        }
    }
    let h = h.trim_matches(|c| c == '-' || c == '.').to_string();
    (!h.is_empty()).then_some(h)
}

/// Gathers the facts of `inst`.
pub(crate) async fn gather(c: &Compute, inst: Instance) -> Result<Facts, Error> {
    let key_type = match &inst.key_name {
        Some(k) => c.store().keypair_get(&inst.user_id, k).await?.map(|k| k.key_type),
        None => None,
    }
    .unwrap_or_else(|| "ssh".into());
    let ports = match &c.inner.peers.network {
        Some(n) => {
            let recs = n.ports_of_device(&inst.uuid).await?;
            let state = if recs.is_empty() { HostState::default() } else { n.desired_state().await? };
            ports_from_network(&inst, &recs, &state)
        }
        None => ports_from_addresses(&inst),
    };
    Ok(Facts { inst, key_type, ports })
}

fn ports_from_network(inst: &Instance, recs: &[rustack_network::PortRecord], state: &HostState) -> Vec<PortFacts> {
    let mut subnets: BTreeMap<&str, (&Subnet, bool, Option<String>)> = BTreeMap::new();
    for n in &state.networks {
        for s in &n.subnets {
            let server = n.dhcp_port.as_ref().is_some_and(|d| d.fixed_ips.iter().any(|f| f.subnet_id == s.id));
            let mode = n.ipv6_modes_of(&s.id).address_mode.and_then(|m| serde_json::to_value(m).ok());
            let mode = mode.and_then(|m| m.as_str().map(str::to_string));
            subnets.insert(s.id.as_str(), (s, server, mode));
        }
    }
    let mut out = Vec::new();
    for r in recs {
        let ips = r
            .fixed_ips
            .iter()
            .map(|f| {
                let sub = subnets.get(f.subnet_id.as_str());
                IpFacts {
                    address: f.ip_address.clone(),
                    version: if f.ip_address.contains(':') { 6 } else { 4 },
                    subnet: sub.map(|(s, _, _)| (*s).clone()),
                    dhcp: sub.is_some_and(|(s, _, _)| s.enable_dhcp),
                    dhcp_server: sub.is_some_and(|(_, d, _)| *d),
                    ipv6_mode: sub.and_then(|(_, _, m)| m.clone()),
                }
            })
            .collect();
        let floating = state
            .routers
            .iter()
            .flat_map(|rt| &rt.floating_ips)
            .filter(|f| f.port_id.as_deref() == Some(r.id.as_str()))
            .map(|f| f.floating_ip_address.clone())
            .collect();
        out.push(PortFacts {
            id: r.id.clone(),
            network_id: r.network_id.clone(),
            mac: r.mac_address.clone(),
            mtu: r.mtu,
            ips,
            floating,
        });
    }
    // the order the instance lists its ports in (boot order), then the rest
    out.sort_by_key(|p| inst.port_ids.iter().position(|id| *id == p.id).unwrap_or(usize::MAX));
    out
}

fn ports_from_addresses(inst: &Instance) -> Vec<PortFacts> {
    let mut by_mac: BTreeMap<String, PortFacts> = BTreeMap::new();
    for addrs in inst.addresses.values() {
        for a in addrs {
            let p =
                by_mac.entry(a.mac.clone()).or_insert_with(|| PortFacts { mac: a.mac.clone(), ..Default::default() });
            if a.kind == "floating" {
                p.floating.push(a.addr.clone());
            } else {
                p.ips.push(IpFacts {
                    address: a.addr.clone(),
                    version: a.version as u8,
                    subnet: None,
                    dhcp: false,
                    dhcp_server: false,
                    ipv6_mode: None,
                });
            }
        }
    }
    by_mac.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_are_sanitized_as_nova_does() {
        assert_eq!(sanitize_hostname("My Server_1.example").as_deref(), Some("my-server-1-example"));
        assert_eq!(sanitize_hostname("--a!b--").as_deref(), Some("ab"));
        assert_eq!(sanitize_hostname("日本"), None);
        assert_eq!(sanitize_hostname(&"x".repeat(80)).map(|h| h.len()), Some(63));
    }
}
