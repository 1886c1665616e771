//! Checking addresses before they reach a command line or an nft script,
//! and the prefix arithmetic the data plane needs.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::{Error, FixedIp, HostState};

pub fn ip(s: &str) -> Result<IpAddr, Error> {
    s.parse().map_err(|_| Error::Invalid(format!("not an IP address: {s:?}")))
}

/// A CIDR, or a bare address taken as a host route (`/32`, `/128`).
pub fn net(s: &str) -> Result<IpNet, Error> {
    if let Ok(n) = s.parse::<IpNet>() {
        return Ok(n);
    }
    ip(s).map(IpNet::from).map_err(|_| Error::Invalid(format!("not a CIDR: {s:?}")))
}

/// A MAC address in `aa:bb:cc:dd:ee:ff` form, lower-cased.
pub fn mac(s: &str) -> Result<String, Error> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() == 6 && parts.iter().all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit())) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(Error::Invalid(format!("not a MAC address: {s:?}")))
    }
}

/// `ip/prefix` of a fixed IP, the prefix length taken from its subnet.
pub fn with_prefix(state: &HostState, f: &FixedIp) -> Result<String, Error> {
    let subnet = state.subnet(&f.subnet_id).ok_or_else(|| Error::Invalid(format!("unknown subnet {}", f.subnet_id)))?;
    let n = net(&subnet.cidr)?;
    let a = ip(&f.ip_address)?;
    if !n.contains(&a) {
        return Err(Error::Invalid(format!("{a} is not in subnet {} ({})", subnet.id, subnet.cidr)));
    }
    Ok(format!("{a}/{}", n.prefix_len()))
}

/// A hostname safe for dnsmasq's hosts file.
pub fn hostname(s: &str, ip: &str) -> String {
    let clean: String = s.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.').take(63).collect();
    if clean.is_empty() {
        format!("host-{}", ip.replace(['.', ':'], "-"))
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_and_normalises() {
        assert!(mac("FA:16:3E:00:00:0A").is_ok());
        assert!(mac("fa:16:3e:00:00").is_err());
        assert!(mac("fa:16:3e:00:00:0a; drop").is_err());
        assert_eq!(net("10.0.0.5").unwrap().to_string(), "10.0.0.5/32");
        assert!(net("10.0.0.0/33").is_err());
        assert!(ip("1.2.3.4 }").is_err());
        assert_eq!(hostname("", "10.0.0.5"), "host-10-0-0-5");
        assert_eq!(hostname("vm;1", "x"), "vm1");
    }
}
