//! Host test of VLAN networks tagged by tc eBPF (no 802.1Q module here).
//! Two "hosts": two data planes with their own tags and ledgers, each with
//! its own physical interface, the two interfaces a veth pair (the trunk).
//! Namespaces stand in for VMs. Root only: prints SKIP and passes elsewhere.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

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
fn tag() -> String {
    let n = rand_u64() % (26 * 36);
    let a = (b'a' + (n / 36) as u8) as char;
    let b = b"abcdefghijklmnopqrstuvwxyz0123456789"[(n % 36) as usize] as char;
    format!("{a}{b}")
}
fn uuid() -> String {
    let h = format!("{:016x}{:016x}", rand_u64(), rand_u64());
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}
fn mac() -> String {
    let r = rand_u64().to_le_bytes();
    format!("fa:16:3e:{:02x}:{:02x}:{:02x}", r[0], r[1], r[2])
}

/// Removes both planes' objects, the VMs and the trunk, also on failure.
struct Guard {
    tags: Vec<String>,
    dirs: Vec<std::path::PathBuf>,
    vms: Vec<String>,
    trunk: String,
}
impl Drop for Guard {
    fn drop(&mut self) {
        for vm in &self.vms {
            sh(&format!("ip netns del {vm} 2>/dev/null"));
        }
        for t in &self.tags {
            sh(&format!(
                "for l in $(ip -o link show | awk -F': ' '{{print $2}}' | cut -d@ -f1 | grep -E '^(bq{t}-|vl{t}-)'); do ip link del $l; done; \
                 rm -rf /sys/fs/bpf/rustack_{t}; \
                 for t in rustack_{t}_sg rustack_{t}_sgf; do nft delete table bridge $t 2>/dev/null; nft delete table inet $t 2>/dev/null; done; \
                 nft delete table ip rustack_{t}_ext 2>/dev/null; true"
            ));
        }
        sh(&format!("ip link del {} 2>/dev/null", self.trunk));
        for d in &self.dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn network(id: &str, ty: NetworkType, vid: Option<u32>, cidr: &str) -> Network {
    Network {
        id: id.into(),
        network_type: ty,
        segmentation_id: vid,
        physical_network: Some("physnet1".into()),
        subnets: vec![Subnet {
            id: format!("s-{id}"),
            cidr: cidr.into(),
            ip_version: 4,
            enable_dhcp: false,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A stand-in VM on `net` with address `ip`/24, its tap plugged by the plane.
fn vm(g: &mut Guard, name: &str, net: &Network, ip: &str) -> Port {
    let id = uuid();
    let p = Port {
        device_name: format!("tap{}", &id[..11]),
        id,
        network_id: net.id.clone(),
        mac: mac(),
        fixed_ips: vec![FixedIp { subnet_id: net.subnets[0].id.clone(), ip_address: ip.into() }],
        port_security_enabled: false,
        ..Default::default()
    };
    let ns = format!("{}-{name}", g.tags[0]);
    g.vms.push(ns.clone());
    sh_ok(&format!(
        "ip netns add {ns} && ip -n {ns} link set lo up && ip link add {tap} type veth peer name eth0 netns {ns} && \
         ip -n {ns} link set eth0 address {mac} up && ip -n {ns} addr add {ip}/24 dev eth0 && ip link set {tap} up",
        tap = p.device_name,
        mac = p.mac
    ));
    p
}

fn ping(g: &Guard, from: &str, ip: &str) -> bool {
    sh(&format!("ip netns exec {}-{from} ping -c2 -i0.2 -W1 {ip}", g.tags[0])).status.success()
}

/// Counts frames on `dev` (both directions) whose 802.1Q tag the kernel
/// reports (PACKET_AUXDATA: on veths the tag travels beside the frame).
/// Returns (frames with vid 100, frames with vid 101, untagged frames).
fn sniff(dev: &str, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<(u32, u32, u32)> {
    let ifindex: i32 =
        std::fs::read_to_string(format!("/sys/class/net/{dev}/ifindex")).unwrap().trim().parse().unwrap();
    std::thread::spawn(move || {
        // SAFETY: plain socket calls on a socket this thread owns; buffers outlive the calls.
        unsafe {
            let proto = (libc::ETH_P_ALL as u16).to_be() as i32;
            let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, proto);
            assert!(fd >= 0, "AF_PACKET socket");
            let fd = OwnedFd::from_raw_fd(fd);
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = proto as u16;
            sll.sll_ifindex = ifindex;
            let r = libc::bind(
                fd.as_raw_fd(),
                &sll as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            );
            assert_eq!(r, 0, "bind");
            let on: i32 = 1;
            libc::setsockopt(fd.as_raw_fd(), libc::SOL_PACKET, libc::PACKET_AUXDATA, &on as *const _ as *const _, 4);
            let tv = libc::timeval { tv_sec: 0, tv_usec: 200_000 };
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const _ as *const _,
                std::mem::size_of::<libc::timeval>() as u32,
            );
            let (mut v100, mut v101, mut untagged) = (0, 0, 0);
            let mut buf = [0u8; 2048];
            let mut cbuf = [0u64; 64];
            while !stop.load(Ordering::SeqCst) {
                let mut iov = libc::iovec { iov_base: buf.as_mut_ptr() as *mut _, iov_len: buf.len() };
                let mut msg: libc::msghdr = std::mem::zeroed();
                msg.msg_iov = &mut iov;
                msg.msg_iovlen = 1;
                msg.msg_control = cbuf.as_mut_ptr() as *mut _;
                msg.msg_controllen = std::mem::size_of_val(&cbuf);
                let n = libc::recvmsg(fd.as_raw_fd(), &mut msg, 0);
                if n < 14 {
                    continue;
                }
                // A tag inline in the frame (ethertype 0x8100) counts too.
                let mut vid =
                    (buf[12] == 0x81 && buf[13] == 0x00).then(|| u16::from_be_bytes([buf[14], buf[15]]) & 0xfff);
                let mut c = libc::CMSG_FIRSTHDR(&msg);
                while !c.is_null() {
                    if (*c).cmsg_level == libc::SOL_PACKET && (*c).cmsg_type == libc::PACKET_AUXDATA {
                        let aux = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::tpacket_auxdata);
                        if aux.tp_status & libc::TP_STATUS_VLAN_VALID != 0 {
                            vid = Some(aux.tp_vlan_tci & 0xfff);
                        }
                    }
                    c = libc::CMSG_NXTHDR(&msg, c);
                }
                match vid {
                    Some(100) => v100 += 1,
                    Some(101) => v101 += 1,
                    Some(_) => {}
                    None => untagged += 1,
                }
            }
            (v100, v101, untagged)
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vlan_networks_are_tagged_on_the_trunk_and_isolated_then_nothing_remains() {
    if let Err(why) = rustack_netplane::linux::host_supports_linux() {
        eprintln!("SKIP: VLAN host test needs root, ip, nft, dnsmasq: {why}");
        return;
    }
    if !sh("command -v ping").status.success() {
        eprintln!("SKIP: VLAN host test needs ping (iputils-ping)");
        return;
    }
    let (ta, tb) = loop {
        let (a, b) = (tag(), tag());
        if a != b {
            break (a, b);
        }
    };
    let trunk = format!("tk{ta}-a");
    let trunk_b = format!("tk{ta}-b");
    let mut g = Guard { tags: vec![ta.clone(), tb.clone()], dirs: vec![], vms: vec![], trunk: trunk.clone() };
    sh_ok(&format!(
        "ip link add {trunk} type veth peer name {trunk_b} && ip link set {trunk} up && ip link set {trunk_b} up"
    ));
    let plane = |tag: &str, dev: &str, g: &mut Guard| {
        let dir = std::env::temp_dir().join(format!("netplane-vlan-{tag}-{}", std::process::id()));
        g.dirs.push(dir.clone());
        LinuxDataPlane::new(LinuxSettings {
            state_dir: dir,
            tag: tag.into(),
            external_host_gateway: false,
            physical_interface_mappings: [("physnet1".to_string(), dev.to_string())].into(),
            ..Default::default()
        })
    };
    let (a, b) = (plane(&ta, &trunk, &mut g), plane(&tb, &trunk_b, &mut g));
    if let Err(why) = rustack_netplane::linux::vlan_tagging_supported() {
        eprintln!("SKIP: tc eBPF does not work here: {why}");
        return;
    }

    // The same networks on both hosts (as Neutron's agents would see them).
    let n100 = network(&uuid(), NetworkType::Vlan, Some(100), "10.100.0.0/24");
    let n101 = network(&uuid(), NetworkType::Vlan, Some(101), "10.100.0.0/24");
    let flat = network(&uuid(), NetworkType::Flat, None, "10.200.0.0/24");
    let (a100, b100) = (vm(&mut g, "a100", &n100, "10.100.0.1"), vm(&mut g, "b100", &n100, "10.100.0.2"));
    let (a101, b101) = (vm(&mut g, "a101", &n101, "10.100.0.3"), vm(&mut g, "b101", &n101, "10.100.0.4"));
    let (aflat, bflat) = (vm(&mut g, "aflat", &flat, "10.200.0.1"), vm(&mut g, "bflat", &flat, "10.200.0.2"));
    let nets = vec![n100.clone(), n101.clone(), flat.clone()];
    let state_a = HostState { networks: nets.clone(), ports: vec![a100, a101, aflat], ..Default::default() };
    let state_b = HostState { networks: nets, ports: vec![b100, b101, bflat], ..Default::default() };
    let t0 = std::time::Instant::now();
    let ra = a.apply(&state_a).await.expect("apply A");
    let first_apply = t0.elapsed();
    let rb = b.apply(&state_b).await.expect("apply B");
    assert!(ra.pending.is_empty() && rb.pending.is_empty(), "{ra:?} {rb:?}");
    let filters = sh_ok(&format!("tc filter show dev {trunk} ingress"));
    assert!(filters.contains("pref 100") && filters.contains("pref 101"), "{filters}");
    // Idempotent: a second apply changes nothing and loads no program.
    let mut unchanged = vec![];
    let mut again = ApplyReport::default();
    for _ in 0..5 {
        let t1 = std::time::Instant::now();
        again = a.apply(&state_a).await.expect("apply A again");
        unchanged.push(t1.elapsed().as_secs_f64() * 1e3);
    }
    unchanged.sort_by(f64::total_cmp);
    eprintln!(
        "apply of 3 networks (2 VLANs) and 3 ports: first {:.0} ms, unchanged min {:.0} / median {:.0} ms",
        first_apply.as_secs_f64() * 1e3,
        unchanged[0],
        unchanged[2]
    );
    assert!(again.actions.is_empty(), "{:?}", again.actions);

    let stop = Arc::new(AtomicBool::new(false));
    let sniffer = sniff(&trunk, stop.clone());
    std::thread::sleep(Duration::from_millis(200));
    assert!(ping(&g, "a100", "10.100.0.2"), "VLAN 100 across the trunk");
    assert!(ping(&g, "b101", "10.100.0.3"), "VLAN 101 across the trunk");
    assert!(ping(&g, "aflat", "10.200.0.2"), "the flat network on the same interface");
    stop.store(true, Ordering::SeqCst);
    let (v100, v101, untagged) = sniffer.join().expect("sniffer");
    eprintln!("on the trunk: {v100} frames tagged 100, {v101} tagged 101, {untagged} untagged");
    assert!(v100 >= 4 && v101 >= 4, "802.1Q frames on the trunk: 100: {v100}, 101: {v101}");
    assert!(untagged >= 4, "the flat network's frames are untagged: {untagged}");
    // Round trips over the tagged path and the flat one (for docs/PERFORMANCE.md).
    let rtt = |from: &str, ip: &str| {
        let o = sh(&format!("ip netns exec {}-{from} ping -q -c 50 -i 0.01 {ip}", g.tags[0]));
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        out.lines().find(|l| l.contains("rtt")).unwrap_or_default().to_string()
    };
    eprintln!("VLAN 100 {}", rtt("a100", "10.100.0.2"));
    eprintln!("flat     {}", rtt("aflat", "10.200.0.2"));
    // Isolation: VLAN 101 reaches neither VLAN 100 VM, on either host.
    assert!(!ping(&g, "b101", "10.100.0.1"), "VLAN 101 reached VLAN 100 across the trunk");
    assert!(!ping(&g, "b101", "10.100.0.2"), "VLAN 101 reached VLAN 100 on its own host");
    assert!(!ping(&g, "a100", "10.100.0.3"), "VLAN 100 reached VLAN 101");

    // Moving VLAN 101 away on host B: its leg and filter go, 100 keeps working.
    let state_b2 = HostState { networks: vec![n100.clone(), flat.clone()], ..state_b.clone() };
    let state_b2 =
        HostState { ports: state_b2.ports.iter().filter(|p| p.network_id != n101.id).cloned().collect(), ..state_b2 };
    b.apply(&state_b2).await.expect("apply B without 101");
    let filters = sh_ok(&format!("tc filter show dev {trunk_b} ingress"));
    assert!(filters.contains("pref 100") && !filters.contains("pref 101"), "{filters}");
    assert!(ping(&g, "a100", "10.100.0.2"));

    // Everything goes: legs, filters, pins, the clsact qdiscs we added.
    // Host A as `rustack dataplane clear` does it: a fresh data plane on the
    // same state dir, without the mappings, applies an empty state.
    let a =
        LinuxDataPlane::new(LinuxSettings { physical_interface_mappings: Default::default(), ..a.settings().clone() });
    a.apply(&HostState::default()).await.expect("clear A");
    b.apply(&HostState::default()).await.expect("clear B");
    assert_eq!(a.leftovers().await.unwrap(), Vec::<String>::new());
    assert_eq!(b.leftovers().await.unwrap(), Vec::<String>::new());
    for dev in [&trunk, &trunk_b] {
        let q = sh_ok(&format!("tc qdisc show dev {dev}"));
        assert!(!q.contains("clsact"), "{dev}: {q}");
        assert!(sh_ok(&format!("ip -o link show master {dev} 2>/dev/null; ip -o link show dev {dev}"))
            .contains(dev.as_str()));
    }
    let links = sh_ok("ip -o link show");
    for t in [&ta, &tb] {
        assert!(!links.contains(&format!("vl{t}-")) && !links.contains(&format!("vp{t}-")), "{links}");
    }
}
