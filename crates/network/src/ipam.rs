//! IP address management: CIDRs, allocation pools, gateways and the choice of
//! a free address. Pure functions; the store's primary key on (subnet, ip)
//! is what keeps two concurrent choices from both succeeding.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use rustack_common::Error;

fn invalid(msg: impl Into<String>) -> Error {
    Error::bad_request(format!("Invalid input for operation: {}", msg.into())).with_code("InvalidInput")
}

pub fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

pub fn from_u128(v: u128, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(v))
    } else {
        IpAddr::V4(Ipv4Addr::from(v as u32))
    }
}

/// Parses a subnet CIDR; host bits must be zero (Neutron refuses `10.0.0.5/24`).
pub fn parse_cidr(s: &str) -> Result<IpNet, Error> {
    let net: IpNet = s.parse().map_err(|_| invalid(format!("'{s}' is not a valid IP subnet.")))?;
    if net.trunc() != net {
        return Err(invalid(format!("'{s}' isn't a recommended CIDR, use '{}' instead.", net.trunc())));
    }
    Ok(net)
}

pub fn parse_ip(s: &str) -> Result<IpAddr, Error> {
    s.parse().map_err(|_| invalid(format!("'{s}' is not a valid IP address.")))
}

/// Parses any prefix (a remote IP prefix, a route destination); host bits are dropped.
pub fn parse_prefix(s: &str) -> Result<IpNet, Error> {
    if let Ok(n) = s.parse::<IpNet>() {
        return Ok(n);
    }
    match s.parse::<IpAddr>() {
        Ok(ip) => Ok(IpNet::from(ip)),
        Err(_) => Err(invalid(format!("'{s}' is not a valid IP subnet."))),
    }
}

/// An inclusive range of addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    pub start: IpAddr,
    pub end: IpAddr,
}

impl Pool {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let v = to_u128(ip);
        ip.is_ipv6() == self.start.is_ipv6() && v >= to_u128(self.start) && v <= to_u128(self.end)
    }
    pub fn size(&self) -> u128 {
        to_u128(self.end) - to_u128(self.start) + 1
    }
}

/// The first and last address a port may get on a subnet (IPv4 keeps the
/// network and broadcast addresses out; IPv6 only the subnet-router anycast).
pub fn usable_range(net: &IpNet) -> Option<(u128, u128)> {
    let first = to_u128(net.network());
    let last = to_u128(net.broadcast());
    match net {
        IpNet::V4(n) if n.prefix_len() >= 31 => Some((first, last)),
        IpNet::V4(_) => Some((first + 1, last - 1)),
        IpNet::V6(n) if n.prefix_len() == 128 => Some((first, last)),
        IpNet::V6(_) => Some((first + 1, last)),
    }
}

/// The default gateway: the first address after the network's.
pub fn default_gateway(net: &IpNet) -> IpAddr {
    let (first, _) = usable_range(net).unwrap_or((to_u128(net.network()), 0));
    from_u128(first, net.addr().is_ipv6())
}

/// The pools of a subnet with none given: the usable range minus the gateway.
pub fn default_pools(net: &IpNet, gateway: Option<IpAddr>) -> Vec<Pool> {
    let Some((first, last)) = usable_range(net) else { return vec![] };
    let v6 = net.addr().is_ipv6();
    let mut pools = vec![];
    match gateway.map(to_u128).filter(|g| *g >= first && *g <= last) {
        Some(g) => {
            if g > first {
                pools.push(Pool { start: from_u128(first, v6), end: from_u128(g - 1, v6) });
            }
            if g < last {
                pools.push(Pool { start: from_u128(g + 1, v6), end: from_u128(last, v6) });
            }
        }
        None => pools.push(Pool { start: from_u128(first, v6), end: from_u128(last, v6) }),
    }
    pools
}

/// Checks pools given by a client against the subnet: inside the CIDR, start
/// before end, no overlaps, and not holding the gateway.
pub fn validate_pools(net: &IpNet, pools: &[Pool], gateway: Option<IpAddr>) -> Result<(), Error> {
    for p in pools {
        if p.start.is_ipv6() != net.addr().is_ipv6() || p.end.is_ipv6() != net.addr().is_ipv6() {
            return Err(invalid("allocation pool IP version does not match the subnet's"));
        }
        if !net.contains(&p.start) || !net.contains(&p.end) {
            return Err(Error::bad_request(format!(
                "The allocation pool {}-{} spans beyond the subnet cidr {net}.",
                p.start, p.end
            ))
            .with_code("OutOfBoundsAllocationPool"));
        }
        if to_u128(p.start) > to_u128(p.end) {
            return Err(Error::bad_request(format!("The allocation pool {}-{} is not valid.", p.start, p.end))
                .with_code("InvalidAllocationPool"));
        }
    }
    for (i, a) in pools.iter().enumerate() {
        for b in &pools[i + 1..] {
            if to_u128(a.start) <= to_u128(b.end) && to_u128(b.start) <= to_u128(a.end) {
                return Err(Error::bad_request(format!(
                    "Found overlapping allocation pools: {}-{} and {}-{}",
                    a.start, a.end, b.start, b.end
                ))
                .with_code("OverlappingAllocationPools"));
            }
        }
    }
    if let Some(g) = gateway {
        if let Some(p) = pools.iter().find(|p| p.contains(g)) {
            return Err(Error::conflict(format!(
                "Gateway ip {g} conflicts with allocation pool {}-{}",
                p.start, p.end
            ))
            .with_code("GatewayConflictWithAllocationPools"));
        }
    }
    Ok(())
}

/// The lowest address of the pools not in `used`.
pub fn first_free(pools: &[Pool], used: &HashSet<IpAddr>) -> Option<IpAddr> {
    for p in pools {
        let v6 = p.start.is_ipv6();
        let (s, e) = (to_u128(p.start), to_u128(p.end));
        // stop scanning a huge IPv6 pool after as many addresses as are in use, plus one
        let limit = s.saturating_add(used.len() as u128 + 1).min(e);
        let mut v = s;
        while v <= limit {
            let ip = from_u128(v, v6);
            if !used.contains(&ip) {
                return Some(ip);
            }
            v += 1;
        }
    }
    None
}

/// The total number of addresses in the pools (saturating).
pub fn pool_size(pools: &[Pool]) -> u128 {
    pools.iter().fold(0u128, |a, p| a.saturating_add(p.size()))
}

/// The SLAAC (EUI-64) address of a MAC on an IPv6 /64.
pub fn eui64(net: &IpNet, mac: &str) -> Option<IpAddr> {
    let bytes: Vec<u8> = mac.split(':').filter_map(|b| u8::from_str_radix(b, 16).ok()).collect();
    if bytes.len() != 6 || !net.addr().is_ipv6() {
        return None;
    }
    let iid: [u8; 8] = [bytes[0] ^ 0x02, bytes[1], bytes[2], 0xff, 0xfe, bytes[3], bytes[4], bytes[5]];
    let prefix = to_u128(net.network());
    let v = prefix | u64::from_be_bytes(iid) as u128;
    Some(from_u128(v, true))
}

/// Whether two CIDRs share any address.
pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn default_pools_leave_out_gateway_network_and_broadcast() {
        let net = parse_cidr("10.0.0.0/24").unwrap();
        let gw = default_gateway(&net);
        assert_eq!(gw, ip("10.0.0.1"));
        let pools = default_pools(&net, Some(gw));
        assert_eq!(pools, vec![Pool { start: ip("10.0.0.2"), end: ip("10.0.0.254") }]);
        assert_eq!(pool_size(&pools), 253);
        // a gateway in the middle splits the range in two
        let pools = default_pools(&net, Some(ip("10.0.0.100")));
        assert_eq!(pools.len(), 2);
        assert_eq!(pools[0].end, ip("10.0.0.99"));
        assert_eq!(pools[1].start, ip("10.0.0.101"));
    }

    #[test]
    fn cidrs_with_host_bits_and_bad_pools_are_refused() {
        assert!(parse_cidr("10.0.0.5/24").is_err());
        assert!(parse_cidr("nonsense").is_err());
        let net = parse_cidr("10.0.0.0/24").unwrap();
        let outside = [Pool { start: ip("10.0.0.10"), end: ip("10.0.1.5") }];
        assert!(validate_pools(&net, &outside, None).is_err());
        let overlapping = [
            Pool { start: ip("10.0.0.10"), end: ip("10.0.0.20") },
            Pool { start: ip("10.0.0.15"), end: ip("10.0.0.30") },
        ];
        assert!(validate_pools(&net, &overlapping, None).is_err());
        let with_gw = [Pool { start: ip("10.0.0.1"), end: ip("10.0.0.20") }];
        assert_eq!(validate_pools(&net, &with_gw, Some(ip("10.0.0.1"))).unwrap_err().status(), 409);
    }

    #[test]
    fn first_free_skips_used_and_stops_at_pool_end() {
        let pools = [Pool { start: ip("10.0.0.2"), end: ip("10.0.0.4") }];
        let mut used = HashSet::new();
        assert_eq!(first_free(&pools, &used), Some(ip("10.0.0.2")));
        used.insert(ip("10.0.0.2"));
        used.insert(ip("10.0.0.3"));
        assert_eq!(first_free(&pools, &used), Some(ip("10.0.0.4")));
        used.insert(ip("10.0.0.4"));
        assert_eq!(first_free(&pools, &used), None);
    }

    #[test]
    fn eui64_matches_the_rfc_example() {
        let net = parse_cidr("2001:db8::/64").unwrap();
        assert_eq!(eui64(&net, "fa:16:3e:00:00:01"), Some(ip("2001:db8::f816:3eff:fe00:1")));
    }
}
