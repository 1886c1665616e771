//! Host tests of the Linux data plane: real bridges, namespaces, dnsmasq and
//! nftables, with network namespaces standing in for VMs (a veth whose host
//! end is named like the port's tap and whose namespace end carries the
//! port's MAC). Root only: they print SKIP and pass elsewhere. Every test
//! uses its own name tag, so tests (and any `rustack up` on the machine)
//! never touch each other's objects; a guard removes everything on failure.
//! Needs `udhcpc` (Debian package udhcpc) and `ping` (iputils-ping).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustack_netplane::linux::metadata::listen_in_namespace;
use rustack_netplane::*;

fn skip_reason() -> Option<String> {
    if let Err(why) = rustack_netplane::linux::host_supports_linux() {
        return Some(why);
    }
    for p in ["udhcpc", "ping"] {
        if !std::process::Command::new("sh")
            .args(["-c", &format!("command -v {p}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
        {
            return Some(format!("`{p}` is not installed"));
        }
    }
    None
}

macro_rules! root_only {
    () => {
        if let Some(why) = skip_reason() {
            eprintln!("SKIP: host test needs root, ip, nft, dnsmasq, udhcpc, ping: {why}");
            return;
        }
    };
}

fn sh(cmd: &str) -> std::process::Output {
    std::process::Command::new("sh").args(["-c", cmd]).output().expect("sh")
}
fn sh_ok(cmd: &str) -> String {
    let o = sh(cmd);
    assert!(o.status.success(), "{cmd}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A short tag no other test run uses at the same time.
fn unique_tag() -> String {
    let n = (std::process::id() as u64 ^ Instant::now().elapsed().as_nanos() as u64 ^ rand_u64()) % (26 * 36);
    let a = (b'a' + (n / 36) as u8) as char;
    let b = b"abcdefghijklmnopqrstuvwxyz0123456789"[(n % 36) as usize] as char;
    format!("{a}{b}")
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

/// Removes everything a test made, also when it panics: the data plane's
/// objects (by its tag) and the stand-in VMs.
struct Guard {
    tag: String,
    state_dir: std::path::PathBuf,
    vms: Vec<String>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let t = &self.tag;
        for vm in &self.vms {
            sh(&format!("ip netns pids {vm} 2>/dev/null | xargs -r kill -9; ip netns del {vm} 2>/dev/null"));
        }
        sh(&format!(
            "for ns in $(ip netns list | awk '{{print $1}}' | grep -E '^{t}-q(dhcp|router)-'); do ip netns pids $ns | xargs -r kill -9; ip netns del $ns; done; \
             for l in $(ip -o link show | awk -F': ' '{{print $2}}' | cut -d@ -f1 | grep -E '^(bq{t}-|vx{t}-|vl{t}-)'); do ip link del $l; done; \
             for t in rustack_{t}_sg rustack_{t}_sgf; do nft delete table bridge $t 2>/dev/null; nft delete table inet $t 2>/dev/null; done; \
             nft delete table ip rustack_{t}_ext 2>/dev/null; true"
        ));
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

fn new_plane(extra: impl FnOnce(&mut LinuxSettings)) -> (Arc<LinuxDataPlane>, Guard) {
    let tag = unique_tag();
    let state_dir = std::env::temp_dir().join(format!("netplane-test-{tag}-{}", std::process::id()));
    let mut s = LinuxSettings {
        state_dir: state_dir.clone(),
        tag: tag.clone(),
        external_host_gateway: false,
        ..Default::default()
    };
    extra(&mut s);
    (Arc::new(LinuxDataPlane::new(s)), Guard { tag, state_dir, vms: vec![] })
}

/// A stand-in VM: namespace `name`, its `eth0` the far end of a veth whose
/// host end is the port's tap.
fn add_vm(g: &mut Guard, name: &str, port: &Port) {
    let ns = format!("{}-{name}", g.tag);
    g.vms.push(ns.clone());
    sh_ok(&format!(
        "ip netns add {ns} && ip -n {ns} link set lo up && ip link add {tap} type veth peer name eth0 netns {ns} && \
         ip -n {ns} link set eth0 address {mac} up && ip link set {tap} up",
        tap = port.device_name,
        mac = port.mac
    ));
}
fn vm_ns(g: &Guard, name: &str) -> String {
    format!("{}-{name}", g.tag)
}

/// The VM asks for an address by DHCP (udhcpc), configures what it got.
fn dhcp(ns: &str) -> String {
    let script = std::env::temp_dir().join(format!("udhcpc-{ns}.sh"));
    std::fs::write(
        &script,
        "#!/bin/sh\ncase \"$1\" in bound|renew)\n ip addr flush dev $interface\n ip addr add $ip/$mask dev $interface\n \
         [ -n \"$router\" ] && ip route replace default via $router\n \
         set -- $staticroutes\n while [ $# -ge 2 ]; do ip route replace $1 via $2 dev $interface; shift 2; done\n;; esac\n",
    )
    .unwrap();
    sh_ok(&format!("chmod +x {}", script.display()));
    let out = sh(&format!(
        "ip netns exec {ns} timeout 30 udhcpc -i eth0 -n -q -f -t 10 -T 2 -O staticroutes -s {} 2>&1",
        script.display()
    ));
    let _ = std::fs::remove_file(&script);
    let addr = sh_ok(&format!("ip -n {ns} -4 -o addr show dev eth0"));
    assert!(out.status.success(), "udhcpc in {ns} failed: {}", String::from_utf8_lossy(&out.stdout));
    addr
}

fn ping(ns: &str, ip: &str) -> bool {
    sh(&format!("ip netns exec {ns} ping -c1 -W2 {ip}")).status.success()
}

/// Runs `f` on a thread that has entered namespace `ns`.
fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("netns");
        // SAFETY: setns on this short-lived thread only.
        assert_eq!(unsafe { libc_setns(file.as_raw_fd()) }, 0, "setns");
        f()
    })
    .join()
    .expect("thread")
}
unsafe fn libc_setns(fd: i32) -> i32 {
    extern "C" {
        fn setns(fd: i32, nstype: i32) -> i32;
    }
    setns(fd, 0x4000_0000) // CLONE_NEWNET
}

/// Connects from inside `ns`; sends `req`, returns the answer (None: no connection).
fn tcp_from(ns: &str, to: &str, req: &'static str) -> Option<String> {
    let to: SocketAddr = to.parse().unwrap();
    in_ns(ns, move || {
        let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(2)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        s.write_all(req.as_bytes()).ok()?;
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        Some(out)
    })
}

/// A TCP server inside `ns` that answers each connection with the peer's address.
fn echo_peer_server(ns: &str, addr: &str) {
    let l = listen_in_namespace(ns, addr.parse().unwrap()).expect("listen");
    let l = tokio::net::TcpListener::from_std(l).unwrap();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut s, peer)) = l.accept().await {
            let _ = s.write_all(format!("peer={}\n", peer.ip()).as_bytes()).await;
        }
    });
}

/// A tiny metadata API on 127.0.0.1 that answers with the headers it got.
async fn fake_metadata_api(seen: Arc<Mutex<Vec<String>>>) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = l.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                seen.lock().unwrap().push(req);
                let body = "instance-id\nlocal-ipv4\n";
                let _ = s
                    .write_all(
                        format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len())
                            .as_bytes(),
                    )
                    .await;
            });
        }
    });
    url
}

fn subnet(id: &str, cidr: &str, gw: &str, dhcp: bool) -> Subnet {
    Subnet {
        id: id.into(),
        cidr: cidr.into(),
        ip_version: 4,
        gateway_ip: Some(gw.into()),
        enable_dhcp: dhcp,
        ..Default::default()
    }
}
fn fip(subnet_id: &str, ip: &str) -> FixedIp {
    FixedIp { subnet_id: subnet_id.into(), ip_address: ip.into() }
}
fn port(net: &str, subnet_id: &str, ip: &str, secure: bool, sgs: Vec<String>) -> Port {
    let id = uuid();
    Port {
        device_name: tap_name(&id),
        id,
        network_id: net.into(),
        mac: mac(),
        fixed_ips: vec![fip(subnet_id, ip)],
        device_id: Some(uuid()),
        project_id: Some("p1".into()),
        admin_state_up: true,
        port_security_enabled: secure,
        security_group_ids: sgs,
        allowed_address_pairs: vec![],
    }
}
fn host_entry(p: &Port, hostname: &str) -> DhcpHost {
    DhcpHost { mac: p.mac.clone(), ip: p.fixed_ips[0].ip_address.clone(), hostname: hostname.into() }
}
fn sg_rule(dir: Direction, proto: Option<&str>, min: Option<u32>, max: Option<u32>) -> SecurityGroupRule {
    SecurityGroupRule {
        id: uuid(),
        direction: dir,
        ethertype: EtherType::IPv4,
        protocol: proto.map(String::from),
        port_range_min: min,
        port_range_max: max,
        remote_ip_prefix: None,
        remote_group_id: None,
    }
}

/// The scenario of the issue: two subnets behind a router with SNAT and a
/// floating IP, DHCP, a security group, metadata; then everything is deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vms_get_dhcp_route_snat_floating_ip_security_group_metadata_then_nothing_remains() {
    root_only!();
    let (dp, mut g) = new_plane(|_| {});
    let r8 = (rand_u64() % 200) as u8 + 20;
    let (ext, net_a, net_b) = (uuid(), uuid(), uuid());
    let ext_cidr = format!("172.31.{r8}.0/24");
    let ext_ip = |h: u8| format!("172.31.{r8}.{h}");
    let sg_id = uuid();
    let vm_a = port(&net_a, "sa", "10.61.0.5", true, vec![sg_id.clone()]);
    let vm_b = port(&net_b, "sb", "10.62.0.5", false, vec![]);
    let outside = port(&ext, "se", &ext_ip(1), false, vec![]);
    for (name, p) in [("vma", &vm_a), ("vmb", &vm_b), ("out", &outside)] {
        add_vm(&mut g, name, p);
    }
    let (out_ns, a_ns, b_ns) = (vm_ns(&g, "out"), vm_ns(&g, "vma"), vm_ns(&g, "vmb"));
    sh_ok(&format!("ip -n {out_ns} addr add {}/24 dev eth0", ext_ip(1)));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let md_url = fake_metadata_api(seen.clone()).await;
    let router_id = uuid();
    let dhcp_port =
        |_net: &str, sn: &str, ip: &str| Some(DhcpPort { id: uuid(), mac: mac(), fixed_ips: vec![fip(sn, ip)] });
    let mut state = HostState {
        networks: vec![
            Network {
                id: ext.clone(),
                network_type: NetworkType::Flat,
                physical_network: Some("public".into()),
                is_external: true,
                subnets: vec![subnet("se", &ext_cidr, &ext_ip(1), false)],
                ..Default::default()
            },
            Network {
                id: net_a.clone(),
                network_type: NetworkType::Vxlan,
                segmentation_id: Some(100_000 + (rand_u64() % 100_000) as u32),
                mtu: 1450,
                subnets: vec![subnet("sa", "10.61.0.0/24", "10.61.0.1", true)],
                dhcp_port: dhcp_port(&net_a, "sa", "10.61.0.2"),
                dhcp_hosts: vec![host_entry(&vm_a, "vm-a")],
                ..Default::default()
            },
            Network {
                id: net_b.clone(),
                network_type: NetworkType::Local,
                subnets: vec![subnet("sb", "10.62.0.0/24", "10.62.0.1", true)],
                dhcp_port: dhcp_port(&net_b, "sb", "10.62.0.2"),
                dhcp_hosts: vec![host_entry(&vm_b, "vm-b")],
                ..Default::default()
            },
        ],
        routers: vec![Router {
            id: router_id.clone(),
            admin_state_up: true,
            gateway: Some(RouterGateway {
                network_id: ext.clone(),
                port_id: uuid(),
                mac: mac(),
                fixed_ips: vec![fip("se", &ext_ip(10))],
                enable_snat: true,
            }),
            interfaces: vec![
                RouterInterface {
                    port_id: uuid(),
                    network_id: net_a.clone(),
                    mac: mac(),
                    fixed_ips: vec![fip("sa", "10.61.0.1")],
                },
                RouterInterface {
                    port_id: uuid(),
                    network_id: net_b.clone(),
                    mac: mac(),
                    fixed_ips: vec![fip("sb", "10.62.0.1")],
                },
            ],
            routes: vec![],
            floating_ips: vec![FloatingIp {
                id: uuid(),
                floating_ip_address: ext_ip(20),
                fixed_ip_address: "10.61.0.5".into(),
                port_id: Some(vm_a.id.clone()),
            }],
        }],
        ports: vec![vm_a.clone(), vm_b.clone(), outside.clone()],
        security_groups: vec![SecurityGroup {
            id: sg_id.clone(),
            rules: vec![
                sg_rule(Direction::Ingress, Some("tcp"), Some(22), Some(22)),
                sg_rule(Direction::Ingress, Some("icmp"), None, None),
                sg_rule(Direction::Egress, None, None, None),
            ],
            member_ips: vec!["10.61.0.5".into()],
        }],
        metadata: MetadataSettings { url: Some(md_url), shared_secret: Some("s3cret".into()) },
    };

    let t0 = Instant::now();
    let rep = dp.apply(&state).await.expect("first apply");
    eprintln!("first apply: {} actions in {:?}; pending {:?}", rep.actions.len(), t0.elapsed(), rep.pending);
    assert!(rep.pending.is_empty(), "{:?}", rep.pending);
    let again = dp.apply(&state).await.expect("second apply");
    assert!(again.actions.is_empty(), "a second apply changed things: {:?}", again.actions);

    // DHCP: each VM gets its fixed IP.
    assert!(dhcp(&a_ns).contains("10.61.0.5/24"));
    assert!(dhcp(&b_ns).contains("10.62.0.5/24"));
    // Two subnets route through the router.
    assert!(ping(&b_ns, "10.61.0.5"), "vm-b cannot reach vm-a through the router");
    assert!(ping(&a_ns, "10.62.0.5"), "vm-a cannot reach vm-b through the router");
    // SNAT: vm-b reaches the outside as the router's gateway address.
    echo_peer_server(&out_ns, &format!("{}:8080", ext_ip(1)));
    let got = tcp_from(&b_ns, &format!("{}:8080", ext_ip(1)), "").expect("vm-b reaches outside");
    assert_eq!(got.trim(), format!("peer={}", ext_ip(10)));
    // The floating IP: the outside reaches vm-a on TCP 22 and ICMP; the outside sees it as the floating IP.
    echo_peer_server(&a_ns, "10.61.0.5:22");
    echo_peer_server(&a_ns, "10.61.0.5:2222");
    let got = tcp_from(&out_ns, &format!("{}:22", ext_ip(20)), "").expect("TCP 22 to the floating IP");
    assert_eq!(got.trim(), format!("peer={}", ext_ip(1)));
    assert!(ping(&out_ns, &ext_ip(20)), "ICMP to the floating IP");
    // Hairpin: vm-b reaches vm-a by its floating IP, through the router.
    let got = tcp_from(&b_ns, &format!("{}:22", ext_ip(20)), "").expect("vm-b to vm-a's floating IP");
    assert_eq!(got.trim(), "peer=10.61.0.1", "hairpin traffic is masqueraded to the router's interface");
    let got = tcp_from(&a_ns, &format!("{}:8080", ext_ip(1)), "").expect("vm-a reaches outside");
    assert_eq!(got.trim(), format!("peer={}", ext_ip(20)), "vm-a leaves as its floating IP");
    // The security group blocks the rest.
    assert!(tcp_from(&out_ns, &format!("{}:2222", ext_ip(20)), "").is_none(), "TCP 2222 must be blocked");
    assert!(tcp_from(&b_ns, "10.61.0.5:2222", "").is_none(), "TCP 2222 from vm-b must be blocked");
    assert!(tcp_from(&b_ns, "10.61.0.5:22", "").is_some(), "TCP 22 from vm-b is allowed");
    // Anti-spoofing: vm-a sending from another address gets nowhere.
    sh_ok(&format!("ip -n {a_ns} addr add 10.61.0.99/24 dev eth0"));
    assert!(
        !sh(&format!("ip netns exec {a_ns} ping -c1 -W2 -I 10.61.0.99 10.61.0.1")).status.success(),
        "spoofed source passed"
    );
    sh_ok(&format!("ip -n {a_ns} addr del 10.61.0.99/24 dev eth0"));
    // Metadata answers at 169.254.169.254, with the instance identified.
    let got = tcp_from(
        &a_ns,
        "169.254.169.254:80",
        "GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n\r\n",
    )
    .expect("metadata");
    assert!(got.starts_with("HTTP/1.1 200") && got.contains("instance-id"), "{got}");
    let req = seen.lock().unwrap().last().cloned().unwrap_or_default().to_ascii_lowercase();
    assert!(req.starts_with("get /latest/meta-data/ "), "{req}");
    assert!(req.contains("x-forwarded-for: 10.61.0.5"), "{req}");
    assert!(req.contains(&format!("x-neutron-router-id: {router_id}")), "{req}");
    assert!(req.contains(&format!("x-instance-id: {}", vm_a.device_id.clone().unwrap())), "{req}");
    assert!(req.contains("x-instance-id-signature: "), "{req}");

    // A new port: time from apply() to its dnsmasq host entry and nft rules in place.
    let mut times = Vec::new();
    let dir = dp.settings().state_dir.join("dhcp").join(&net_a);
    for i in 0..5 {
        let p = port(&net_a, "sa", &format!("10.61.0.{}", 50 + i), true, vec![sg_id.clone()]);
        add_vm(&mut g, &format!("n{i}"), &p);
        state.ports.push(p.clone());
        state.networks[1].dhcp_hosts.push(host_entry(&p, ""));
        let t = Instant::now();
        dp.apply(&state).await.expect("apply with a new port");
        let hosts = std::fs::read_to_string(dir.join("host")).unwrap();
        let rules = sh_ok(&format!("nft -j list table bridge rustack_{}_sg", g.tag));
        times.push(t.elapsed());
        assert!(hosts.contains(&p.mac), "no host entry for the new port");
        assert!(rules.contains(&p.device_name), "no nft rules for the new port");
    }
    times.sort();
    eprintln!("MEASURE new port -> dnsmasq host entry + nft rules: median {:?}, max {:?}", times[2], times[4]);
    let fresh_vm = vm_ns(&g, "n0");
    assert!(dhcp(&fresh_vm).contains("10.61.0.50/24"), "the new port got its address");

    // Delete everything: nothing of ours remains.
    dp.apply(&HostState::default()).await.expect("empty apply");
    let left = dp.leftovers().await.unwrap();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(!sh_ok("ps -eo args")
        .lines()
        .any(|l| l.contains("dnsmasq") && l.contains(&*g.state_dir.to_string_lossy())));
}

/// After a restart (a new data plane on the same state dir) apply rebuilds
/// what is missing and removes what is no longer desired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciler_rebuilds_after_restart_and_removes_stale_objects() {
    root_only!();
    let (dp, mut g) = new_plane(|s| s.external_host_gateway = true);
    let r8 = (rand_u64() % 200) as u8 + 20;
    let (ext, net) = (uuid(), uuid());
    let state = HostState {
        networks: vec![
            Network {
                id: ext.clone(),
                is_external: true,
                subnets: vec![subnet("se", &format!("172.30.{r8}.0/24"), &format!("172.30.{r8}.1"), false)],
                ..Default::default()
            },
            Network {
                id: net.clone(),
                subnets: vec![subnet("sn", "10.70.0.0/24", "10.70.0.1", true)],
                dhcp_port: Some(DhcpPort { id: uuid(), mac: mac(), fixed_ips: vec![fip("sn", "10.70.0.2")] }),
                ..Default::default()
            },
        ],
        routers: vec![Router {
            id: uuid(),
            admin_state_up: true,
            gateway: Some(RouterGateway {
                network_id: ext.clone(),
                port_id: uuid(),
                mac: mac(),
                fixed_ips: vec![fip("se", &format!("172.30.{r8}.5"))],
                enable_snat: true,
            }),
            interfaces: vec![RouterInterface {
                port_id: uuid(),
                network_id: net.clone(),
                mac: mac(),
                fixed_ips: vec![fip("sn", "10.70.0.1")],
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut state = state;
    let vm = port(&net, "sn", "10.70.0.9", true, vec![]);
    add_vm(&mut g, "vm", &vm);
    state.networks[1].dhcp_hosts.push(host_entry(&vm, "vm"));
    state.ports.push(vm);
    dp.apply(&state).await.unwrap();
    let ext_br = dp.names().bridge(&ext);
    assert!(
        sh_ok(&format!("ip -4 -o addr show dev {ext_br}")).contains(&format!("172.30.{r8}.1/24")),
        "host gateway address on the external bridge"
    );
    let router_ns = dp.names().router_ns(&state.routers[0].id);
    // Another data plane with the same names but its own state dir (another
    // cloud on this host) removes nothing of ours.
    let other_dir = g.state_dir.with_extension("other");
    let intruder =
        LinuxDataPlane::new(LinuxSettings { state_dir: other_dir.clone(), tag: g.tag.clone(), ..Default::default() });
    intruder.apply(&HostState::default()).await.unwrap();
    let _ = std::fs::remove_dir_all(&other_dir);
    assert!(sh_ok("ip netns list").contains(&router_ns), "another data plane removed our router");
    assert!(
        sh(&format!("ip link show {}", dp.names().bridge(&net))).status.success(),
        "another data plane removed our bridge"
    );
    // The host can reach the router's gateway address.
    assert!(sh(&format!("ping -c1 -W2 172.30.{r8}.5")).status.success());

    // "Restart": a new data plane, same tag and state dir. Someone removed a bridge meanwhile.
    drop(dp);
    let dp2 = LinuxDataPlane::new(LinuxSettings {
        state_dir: g.state_dir.clone(),
        tag: g.tag.clone(),
        external_host_gateway: true,
        ..Default::default()
    });
    sh_ok(&format!("ip link del {}", dp2.names().bridge(&net)));
    let rep = dp2.apply(&state).await.unwrap();
    assert!(rep.actions.iter().any(|a| a.contains("created bridge")), "{:?}", rep.actions);
    assert!(rep.actions.iter().any(|a| a.contains("plugged")), "the port is plugged again: {:?}", rep.actions);
    // Someone removes our security-group table and kills dnsmasq: the next apply puts them back.
    let dhcp_dir = g.state_dir.join("dhcp").join(&net);
    let pid = std::fs::read_to_string(dhcp_dir.join("pid")).unwrap();
    sh_ok(&format!("nft delete table inet rustack_{}_sgf && kill {}", g.tag, pid.trim()));
    std::thread::sleep(Duration::from_millis(200));
    let rep = dp2.apply(&state).await.unwrap();
    assert!(rep.actions.iter().any(|a| a.contains("loaded security groups")), "{:?}", rep.actions);
    assert!(rep.actions.iter().any(|a| a.contains("started dnsmasq")), "{:?}", rep.actions);
    assert!(dhcp(&vm_ns(&g, "vm")).contains("10.70.0.9/24"), "DHCP works after the repair");
    assert!(
        sh(&format!("ip netns exec {router_ns} ping -c1 -W2 10.70.0.2")).status.success(),
        "router reaches DHCP port after the rebuild"
    );

    // The router goes: its namespace goes; the rest stays.
    let mut less = state.clone();
    less.routers.clear();
    dp2.apply(&less).await.unwrap();
    assert!(!sh_ok("ip netns list").contains(&router_ns));
    assert!(sh_ok("ip netns list").contains(&dp2.names().dhcp_ns(&net)));
    // A VM that starts after the apply: its tap is plugged as soon as it appears.
    let late = port(&net, "sn", "10.70.0.10", false, vec![]);
    let mut with_late = less.clone();
    with_late.ports.push(late.clone());
    let rep = dp2.apply(&with_late).await.unwrap();
    assert!(rep.pending.iter().any(|p| p.contains(&late.device_name)), "{:?}", rep.pending);
    let t = Instant::now();
    add_vm(&mut g, "late", &late);
    let bridge = dp2.names().bridge(&net);
    while !sh_ok(&format!("ip -o link show {}", late.device_name)).contains(&format!("master {bridge}")) {
        assert!(t.elapsed() < Duration::from_secs(5), "the late tap was not plugged");
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("MEASURE a tap appearing after the apply is plugged in {:?}", t.elapsed());
    dp2.apply(&HostState::default()).await.unwrap();
    assert!(dp2.leftovers().await.unwrap().is_empty());
    assert!(!sh_ok("ip -4 -o addr show").contains(&format!("172.30.{r8}.1/24")));
}

/// How `apply` scales: a network with N filtered ports (their taps absent:
/// the rules and DHCP entries are made all the same), then one port more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_time_with_many_ports() {
    root_only!();
    let (dp, _g) = new_plane(|_| {});
    let net = uuid();
    let sg_id = uuid();
    let mut state = HostState {
        networks: vec![Network {
            id: net.clone(),
            subnets: vec![subnet("s", "10.90.0.0/16", "10.90.0.1", true)],
            dhcp_port: Some(DhcpPort { id: uuid(), mac: mac(), fixed_ips: vec![fip("s", "10.90.0.2")] }),
            ..Default::default()
        }],
        security_groups: vec![SecurityGroup {
            id: sg_id.clone(),
            rules: vec![
                sg_rule(Direction::Ingress, Some("tcp"), Some(22), Some(22)),
                SecurityGroupRule {
                    remote_group_id: Some(sg_id.clone()),
                    ..sg_rule(Direction::Ingress, None, None, None)
                },
                sg_rule(Direction::Egress, None, None, None),
            ],
            member_ips: vec![],
        }],
        ..Default::default()
    };
    let mut report = Vec::new();
    for target in [100usize, 500, 1000] {
        while state.ports.len() < target {
            let i = state.ports.len() + 10;
            let ip = format!("10.90.{}.{}", i / 250, i % 250 + 3);
            let p = port(&net, "s", &ip, true, vec![sg_id.clone()]);
            state.networks[0].dhcp_hosts.push(host_entry(&p, ""));
            state.security_groups[0].member_ips.push(ip);
            state.ports.push(p);
        }
        let t = Instant::now();
        dp.apply(&state).await.expect("bulk apply");
        let bulk = t.elapsed();
        // One port more.
        let ip = format!("10.90.250.{}", target % 250 + 3);
        let p = port(&net, "s", &ip, true, vec![sg_id.clone()]);
        state.networks[0].dhcp_hosts.push(host_entry(&p, ""));
        state.security_groups[0].member_ips.push(ip);
        state.ports.push(p.clone());
        let t = Instant::now();
        dp.apply(&state).await.expect("apply one more");
        let one = t.elapsed();
        let t = Instant::now();
        let rep = dp.apply(&state).await.expect("apply unchanged");
        let same = t.elapsed();
        assert!(rep.actions.is_empty(), "{:?}", rep.actions);
        let hosts = std::fs::read_to_string(dp.settings().state_dir.join("dhcp").join(&net).join("host")).unwrap();
        assert!(hosts.contains(&p.mac));
        report.push(format!("{target} ports: bulk apply {bulk:?}, +1 port {one:?}, unchanged {same:?}"));
    }
    for r in &report {
        eprintln!("MEASURE {r}");
    }
    dp.apply(&HostState::default()).await.unwrap();
    assert!(dp.leftovers().await.unwrap().is_empty());
}

/// A network with no router: its DHCP namespace answers metadata, and
/// dnsmasq pushes the route there (option 121) with the subnet's host routes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolated_network_metadata_and_host_routes_from_the_dhcp_namespace() {
    root_only!();
    let (dp, mut g) = new_plane(|_| {});
    let net = uuid();
    let vm = port(&net, "s", "10.95.0.7", true, vec![]);
    add_vm(&mut g, "vm", &vm);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let url = fake_metadata_api(seen.clone()).await;
    let mut sn = subnet("s", "10.95.0.0/24", "10.95.0.1", true);
    sn.host_routes = vec![Route { destination: "10.96.0.0/16".into(), nexthop: "10.95.0.254".into() }];
    sn.dns_nameservers = vec!["10.95.0.53".into()];
    let state = HostState {
        networks: vec![Network {
            id: net.clone(),
            subnets: vec![sn],
            dhcp_port: Some(DhcpPort { id: uuid(), mac: mac(), fixed_ips: vec![fip("s", "10.95.0.2")] }),
            dhcp_hosts: vec![host_entry(&vm, "iso")],
            ..Default::default()
        }],
        ports: vec![vm.clone()],
        metadata: MetadataSettings { url: Some(url), shared_secret: None },
        ..Default::default()
    };
    dp.apply(&state).await.unwrap();
    let ns = vm_ns(&g, "vm");
    assert!(dhcp(&ns).contains("10.95.0.7/24"));
    let routes = sh_ok(&format!("ip -n {ns} route"));
    assert!(routes.contains("169.254.169.254 via 10.95.0.2"), "{routes}");
    assert!(routes.contains("10.96.0.0/16 via 10.95.0.254"), "{routes}");
    assert!(routes.contains("default via 10.95.0.1"), "{routes}");
    // No security group on the port: its egress is dropped (but DHCP went through).
    let get = "GET /openstack/latest/meta_data.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert!(tcp_from(&ns, "169.254.169.254:80", get).is_none(), "egress without a rule must be dropped");
    // A group allowing egress, applied to the running port.
    let mut state = state;
    let sg = uuid();
    state.security_groups.push(SecurityGroup {
        id: sg.clone(),
        rules: vec![sg_rule(Direction::Egress, None, None, None)],
        member_ips: vec![],
    });
    state.ports[0].security_group_ids.push(sg);
    dp.apply(&state).await.unwrap();
    let got = tcp_from(&ns, "169.254.169.254:80", get).expect("metadata");
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    let req = seen.lock().unwrap().last().cloned().unwrap_or_default().to_ascii_lowercase();
    assert!(req.contains("x-forwarded-for: 10.95.0.7"), "{req}");
    assert!(req.contains(&format!("x-neutron-network-id: {net}")), "{req}");
    assert!(!req.contains("x-neutron-router-id"), "{req}");
    dp.apply(&HostState::default()).await.unwrap();
    assert!(dp.leftovers().await.unwrap().is_empty());
}

/// One broken object does not stop the others: the apply reports it and
/// reconciles the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_object_fails_alone() {
    root_only!();
    let (dp, _g) = new_plane(|_| {});
    let (good, bad) = (uuid(), uuid());
    let state = HostState {
        networks: vec![
            Network {
                id: bad.clone(),
                network_type: NetworkType::Vxlan,
                segmentation_id: None, // a VXLAN network needs a VNI
                ..Default::default()
            },
            Network {
                id: good.clone(),
                subnets: vec![subnet("s", "10.97.0.0/24", "10.97.0.1", true)],
                dhcp_port: Some(DhcpPort { id: uuid(), mac: mac(), fixed_ips: vec![fip("s", "10.97.0.2")] }),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    match dp.apply(&state).await {
        Err(Error::Partial(f)) => assert!(f.len() == 1 && f[0].contains(&bad), "{f:?}"),
        other => panic!("expected a partial failure, got {other:?}"),
    }
    assert!(sh_ok("ip netns list").contains(&dp.names().dhcp_ns(&good)), "the good network is served");
    dp.apply(&HostState::default()).await.unwrap();
    assert!(dp.leftovers().await.unwrap().is_empty());
}
