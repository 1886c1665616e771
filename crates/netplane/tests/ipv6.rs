//! Host test of IPv6 subnets: router advertisements from the router
//! namespace (SLAAC: the "VM" configures the EUI-64 address of its MAC,
//! the one Neutron gives its port), DHCPv6 from the network's dnsmasq.
//! Root only: prints SKIP and passes elsewhere.

use std::io::Read;
use std::time::{Duration, Instant};

use rustack_netplane::*;

fn sh(cmd: &str) -> std::process::Output {
    std::process::Command::new("sh").args(["-c", cmd]).output().expect("sh")
}
fn sh_ok(cmd: &str) -> String {
    let o = sh(cmd);
    assert!(o.status.success(), "{cmd}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b)).expect("urandom");
    u64::from_le_bytes(b)
}
fn uuid() -> String {
    let h = format!("{:016x}{:016x}", rand_u64(), rand_u64());
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}
fn mac() -> String {
    let r = rand_u64().to_le_bytes();
    format!("fa:16:3e:{:02x}:{:02x}:{:02x}", r[0], r[1], r[2])
}
/// The EUI-64 address of `mac` in the /64 `prefix` (`fd00:1:2:3::`).
fn eui64(prefix: &str, mac: &str) -> std::net::Ipv6Addr {
    let m: Vec<u8> = mac.split(':').map(|b| u8::from_str_radix(b, 16).unwrap()).collect();
    let p: std::net::Ipv6Addr = prefix.parse().unwrap();
    let mut o = p.octets();
    o[8..16].copy_from_slice(&[m[0] ^ 2, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]]);
    o.into()
}

struct Guard {
    tag: String,
    state_dir: std::path::PathBuf,
    vms: Vec<String>,
}
impl Drop for Guard {
    fn drop(&mut self) {
        let t = &self.tag;
        for vm in &self.vms {
            sh(&format!("ip netns del {vm} 2>/dev/null"));
        }
        sh(&format!(
            "for ns in $(ip netns list | awk '{{print $1}}' | grep -E '^{t}-q(dhcp|router)-'); do ip netns pids $ns | xargs -r kill -9; ip netns del $ns; done; \
             for l in $(ip -o link show | awk -F': ' '{{print $2}}' | cut -d@ -f1 | grep -E '^bq{t}-'); do ip link del $l; done; \
             for t in rustack_{t}_sg rustack_{t}_sgf; do nft delete table bridge $t 2>/dev/null; nft delete table inet $t 2>/dev/null; done; \
             nft delete table ip rustack_{t}_ext 2>/dev/null; true"
        ));
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

fn v6_network(prefix: &str, mode: Ipv6Mode) -> Network {
    let id = uuid();
    let sid = uuid();
    Network {
        subnets: vec![Subnet {
            id: sid.clone(),
            cidr: format!("{prefix}/64"),
            ip_version: 6,
            gateway_ip: Some(format!("{prefix}1")),
            enable_dhcp: true,
            ..Default::default()
        }],
        ipv6_modes: [(sid, Ipv6Modes { ra_mode: Some(mode), address_mode: Some(mode) })].into(),
        id,
        ..Default::default()
    }
}

fn router_if(n: &Network, ip: String) -> RouterInterface {
    RouterInterface {
        port_id: uuid(),
        network_id: n.id.clone(),
        mac: mac(),
        fixed_ips: vec![FixedIp { subnet_id: n.subnets[0].id.clone(), ip_address: ip }],
    }
}

/// What a router advertisement says: (managed M, other-config O, each
/// prefix with its autonomous A flag).
#[derive(Debug)]
struct Ra {
    managed: bool,
    other: bool,
    prefixes: Vec<(std::net::Ipv6Addr, u8, bool)>,
}

/// Sends a router solicitation from inside `ns` (out of `eth0`) and returns
/// the first advertisement heard within `wait` (raw ICMPv6 socket; the
/// kernel fills the checksum).
fn solicit(ns: &str, wait: Duration) -> Option<Ra> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || unsafe {
        use std::os::fd::AsRawFd;
        let f = std::fs::File::open(&path).expect("netns");
        // SAFETY: setns and socket calls on this short-lived thread; buffers outlive the calls.
        assert_eq!(libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET), 0, "setns");
        let fd = libc::socket(libc::AF_INET6, libc::SOCK_RAW, libc::IPPROTO_ICMPV6);
        assert!(fd >= 0, "raw ICMPv6 socket");
        let hops: i32 = 255;
        libc::setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS, &hops as *const _ as *const _, 4);
        let tv = libc::timeval { tv_sec: 1, tv_usec: 0 };
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv as *const _ as *const _, 16);
        let ifindex = libc::if_nametoindex(c"eth0".as_ptr());
        let mut to: libc::sockaddr_in6 = std::mem::zeroed();
        to.sin6_family = libc::AF_INET6 as u16;
        to.sin6_addr.s6_addr = "ff02::2".parse::<std::net::Ipv6Addr>().unwrap().octets();
        to.sin6_scope_id = ifindex;
        let rs = [133u8, 0, 0, 0, 0, 0, 0, 0];
        let t0 = Instant::now();
        let mut sent = Instant::now() - Duration::from_secs(10);
        let mut buf = [0u8; 1500];
        let mut found = None;
        while t0.elapsed() < wait && found.is_none() {
            if sent.elapsed() > Duration::from_secs(2) {
                libc::sendto(
                    fd,
                    rs.as_ptr() as *const _,
                    rs.len(),
                    0,
                    &to as *const _ as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_in6>() as u32,
                );
                sent = Instant::now();
            }
            let n = libc::recv(fd, buf.as_mut_ptr() as *mut _, buf.len(), 0);
            if n < 16 || buf[0] != 134 {
                continue;
            }
            let n = n as usize;
            let mut ra = Ra { managed: buf[5] & 0x80 != 0, other: buf[5] & 0x40 != 0, prefixes: vec![] };
            let mut off = 16;
            while off + 8 <= n {
                let (ty, len) = (buf[off], buf[off + 1] as usize * 8);
                if len == 0 || off + len > n {
                    break;
                }
                if ty == 3 && len == 32 {
                    let mut p = [0u8; 16];
                    p.copy_from_slice(&buf[off + 16..off + 32]);
                    ra.prefixes.push((p.into(), buf[off + 2], buf[off + 3] & 0x40 != 0));
                }
                off += len;
            }
            found = Some(ra);
        }
        libc::close(fd);
        found
    })
    .join()
    .expect("thread")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slaac_vm_gets_its_eui64_address_from_the_router_and_dhcpv6_runs() {
    if let Err(why) = rustack_netplane::linux::host_supports_linux() {
        eprintln!("SKIP: IPv6 host test needs root, ip, nft, dnsmasq: {why}");
        return;
    }
    let tag = format!("6{}", (b'a' + (rand_u64() % 26) as u8) as char);
    let state_dir = std::env::temp_dir().join(format!("netplane-ipv6-{tag}-{}", std::process::id()));
    let mut g = Guard { tag: tag.clone(), state_dir: state_dir.clone(), vms: vec![] };
    let plane = LinuxDataPlane::new(LinuxSettings {
        state_dir,
        tag: tag.clone(),
        external_host_gateway: false,
        ..Default::default()
    });

    let r16 = rand_u64() as u16;
    let slaac_prefix = format!("fd6e:{r16:x}:1::");
    let stateful_prefix = format!("fd6e:{r16:x}:2::");
    let slaac = v6_network(&slaac_prefix, Ipv6Mode::Slaac);
    let mut stateful = v6_network(&stateful_prefix, Ipv6Mode::Dhcpv6Stateful);
    stateful.dhcp_port = Some(DhcpPort {
        id: uuid(),
        mac: mac(),
        fixed_ips: vec![FixedIp {
            subnet_id: stateful.subnets[0].id.clone(),
            ip_address: format!("{stateful_prefix}2"),
        }],
    });
    let vm_mac = mac();
    stateful.dhcp_hosts =
        vec![DhcpHost { mac: vm_mac.clone(), ip: format!("{stateful_prefix}10"), hostname: "vm".into() }];

    // The VM's port, with port security on: advertisements must pass its filters.
    let expected = eui64(&slaac_prefix, &vm_mac);
    let pid = uuid();
    let sg = SecurityGroup {
        id: uuid(),
        rules: vec![SecurityGroupRule {
            id: uuid(),
            direction: Direction::Egress,
            ethertype: EtherType::IPv6,
            protocol: None,
            port_range_min: None,
            port_range_max: None,
            remote_ip_prefix: None,
            remote_group_id: None,
        }],
        member_ips: vec![expected.to_string()],
    };
    let port = Port {
        device_name: format!("tap{}", &pid[..11]),
        id: pid,
        network_id: slaac.id.clone(),
        mac: vm_mac.clone(),
        fixed_ips: vec![FixedIp { subnet_id: slaac.subnets[0].id.clone(), ip_address: expected.to_string() }],
        security_group_ids: vec![sg.id.clone()],
        ..Default::default()
    };
    let vm = format!("{tag}-vm");
    g.vms.push(vm.clone());
    sh_ok(&format!(
        "ip netns add {vm} && ip -n {vm} link set lo up && ip link add {tap} type veth peer name eth0 netns {vm} && \
         ip netns exec {vm} sysctl -qw net.ipv6.conf.eth0.addr_gen_mode=0 && \
         ip -n {vm} link set eth0 address {vm_mac} && ip link set {tap} up",
        tap = port.device_name
    ));

    // A second VM on the stateful network, to hear its advertisements.
    let pid2 = uuid();
    let port2 = Port {
        device_name: format!("tap{}", &pid2[..11]),
        id: pid2,
        network_id: stateful.id.clone(),
        mac: vm_mac.clone(),
        fixed_ips: vec![FixedIp {
            subnet_id: stateful.subnets[0].id.clone(),
            ip_address: format!("{stateful_prefix}10"),
        }],
        port_security_enabled: false,
        ..Default::default()
    };
    let vm2 = format!("{tag}-vm2");
    g.vms.push(vm2.clone());
    sh_ok(&format!(
        "ip netns add {vm2} && ip -n {vm2} link set lo up && ip link add {tap} type veth peer name eth0 netns {vm2} && \
         ip -n {vm2} link set eth0 address {vm_mac} up && ip link set {tap} up",
        tap = port2.device_name
    ));

    let router = Router {
        id: uuid(),
        interfaces: vec![
            router_if(&slaac, format!("{slaac_prefix}1")),
            router_if(&stateful, format!("{stateful_prefix}1")),
        ],
        ..Default::default()
    };
    let state = HostState {
        networks: vec![slaac.clone(), stateful.clone()],
        routers: vec![router.clone()],
        ports: vec![port, port2],
        security_groups: vec![sg],
        ..Default::default()
    };
    let rep = plane.apply(&state).await.expect("apply");
    assert!(rep.actions.iter().any(|a| a.starts_with("started router advertisements")), "{:?}", rep.actions);
    assert!(rep.actions.iter().any(|a| a.starts_with("started dnsmasq")), "{:?}", rep.actions);
    let again = plane.apply(&state).await.expect("apply again");
    assert!(again.actions.is_empty(), "{:?}", again.actions);
    let left = plane.leftovers().await.unwrap();
    assert!(left.iter().any(|l| l.starts_with("dnsmasq (RA) pid")), "the RA dnsmasq runs: {left:?}");
    assert!(left.iter().any(|l| l.starts_with("dnsmasq pid")), "the DHCPv6 dnsmasq runs: {left:?}");
    let rns = format!("{tag}-qrouter-{}", router.id);
    let cmdline = sh_ok(&format!("cat /proc/$(ip netns pids {rns} | head -1)/cmdline | tr '\\0' ' '"));
    assert!(cmdline.contains("ra-only") && cmdline.contains("--dhcp-ignore"), "{cmdline}");

    // The VM comes up and configures itself from the advertisements.
    let t0 = Instant::now();
    sh_ok(&format!("ip -n {vm} link set eth0 up"));
    let want = format!("{expected}/64");
    let got = loop {
        let a = sh_ok(&format!("ip -n {vm} -6 -o addr show dev eth0 scope global"));
        if a.contains(&want) || t0.elapsed() > Duration::from_secs(30) {
            break a;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(got.contains(&want), "no SLAAC address {want} on the VM after 30 s: {got}");
    eprintln!("SLAAC address {expected} after {:.1} s", t0.elapsed().as_secs_f64());
    // Its default route is the router; the router answers.
    let t1 = Instant::now();
    let routes = loop {
        let r = sh_ok(&format!("ip -n {vm} -6 route show default"));
        if r.contains("via fe80") || t1.elapsed() > Duration::from_secs(10) {
            break r;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(routes.contains("via fe80"), "{routes}");
    let ping = sh(&format!("ip netns exec {vm} ping -6 -c2 -i0.3 -W2 {slaac_prefix}1"));
    assert!(ping.status.success(), "ping the gateway: {}", String::from_utf8_lossy(&ping.stdout));

    // What the advertisements say: SLAAC autonomous and nothing managed;
    // stateful managed and not autonomous.
    let ra = solicit(&vm, Duration::from_secs(15)).expect("an RA on the SLAAC network");
    eprintln!("SLAAC network RA: {ra:?}");
    assert!(!ra.managed && !ra.other, "{ra:?}");
    assert_eq!(ra.prefixes, vec![(slaac_prefix.parse().unwrap(), 64, true)]);
    let ra = solicit(&vm2, Duration::from_secs(15)).expect("an RA on the stateful network");
    eprintln!("DHCPv6-stateful network RA: {ra:?}");
    assert!(ra.managed, "{ra:?}");
    assert!(ra.prefixes.iter().all(|p| !p.2), "no autonomous prefix: {ra:?}");

    // Gone with the router: namespace, both dnsmasq, files.
    plane.apply(&HostState::default()).await.expect("clear");
    assert_eq!(plane.leftovers().await.unwrap(), Vec::<String>::new());
}
