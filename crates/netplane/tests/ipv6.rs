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
        ports: vec![port],
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

    // Gone with the router: namespace, both dnsmasq, files.
    plane.apply(&HostState::default()).await.expect("clear");
    assert_eq!(plane.leftovers().await.unwrap(), Vec::<String>::new());
}
