//! The QEMU driver through the compute API: real guests from the test image
//! (docs/guest-image.md). Each test prints `SKIP: <why>` and passes where
//! QEMU, the test image or root (taps) is missing. One boot per test: each
//! takes 10–40 s under TCG on the shared build machine.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustack_test_utils::TestCloud;
use serde_json::{json, Value};

mod common;
use common::{action, get_v, post_v};

fn test_image() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    let disk = cache.join("rustack/test-image/disk.qcow2");
    disk.is_file().then_some(disk)
}

fn on_path(prog: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
}

/// Why this host cannot run the tests, if it cannot.
fn skip_reason() -> Option<String> {
    for prog in ["qemu-system-x86_64", "qemu-img", "ip"] {
        if !on_path(prog) {
            return Some(format!("{prog} is not installed"));
        }
    }
    if !on_path("genisoimage") && !on_path("xorriso") {
        return Some("neither genisoimage nor xorriso is installed (config drives)".into());
    }
    if test_image().is_none() {
        return Some("no test image (scripts/build-test-image.sh)".into());
    }
    if !is_root() {
        return Some("not root (taps)".into());
    }
    None
}

/// The effective uid is 0 (`/proc/self/status`, `Uid:` real effective …).
fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(2)) == Some("0")
}

const QEMU_CONFIG: &str = "[compute]\ndriver = qemu\nvirt_type = qemu\nhost = qemu-test-host\n\
     sync_power_state_interval = 0\nshutdown_timeout = 20\nreserved_host_memory_mb = 0\n";

async fn qemu_cloud() -> TestCloud {
    TestCloud::start_with(rustack_db::testing::sqlite().await, QEMU_CONFIG).await
}

/// Uploads one file of the test image as a public image with `fields`.
async fn upload(cloud: &TestCloud, token: &str, file: &str, fields: Value) -> String {
    let mut body = json!({"name": file, "visibility": "public"});
    for (k, v) in fields.as_object().cloned().unwrap_or_default() {
        body[k] = v;
    }
    let r = cloud.post(&format!("{}/v2/images", cloud.image.url), token, body).await.expect(201);
    let id = r.body["id"].as_str().unwrap().to_string();
    let path = test_image().unwrap().with_file_name(file);
    let resp = reqwest::Client::new()
        .put(format!("{}/v2/images/{id}/file", cloud.image.url))
        .header("X-Auth-Token", token)
        .header("Content-Type", "application/octet-stream")
        .body(std::fs::read(path).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    id
}

/// The test guest as an AMI-style image: the qcow2 disk with `kernel_id`
/// and `ramdisk_id` (direct kernel boot: twice as fast under TCG) and a
/// command line that waits 3 s for DHCP (the fake data plane serves none).
async fn upload_test_image(cloud: &TestCloud, token: &str) -> String {
    let kernel = upload(cloud, token, "vmlinux", json!({"disk_format": "aki", "container_format": "aki"})).await;
    let ramdisk =
        upload(cloud, token, "initramfs.cpio.gz", json!({"disk_format": "ari", "container_format": "ari"})).await;
    upload(
        cloud,
        token,
        "disk.qcow2",
        json!({"disk_format": "qcow2", "container_format": "bare", "kernel_id": kernel, "ramdisk_id": ramdisk,
               "os_command_line": "console=ttyS0 panic=-1 quiet rustack.dhcp_wait=3"}),
    )
    .await
}

async fn small_flavor(cloud: &TestCloud, token: &str, name: &str, ram: i64, disk: i64) -> String {
    let r = post_v(
        cloud,
        "/flavors",
        token,
        json!({"flavor": {"name": name, "ram": ram, "vcpus": 1, "disk": disk}}),
        "2.55",
    )
    .await
    .expect(200);
    r.body["flavor"]["id"].as_str().unwrap().to_string()
}

async fn private_network(cloud: &TestCloud, token: &str) -> String {
    let r = cloud.get(&format!("{}/v2.0/networks?name=private", cloud.network.url), token).await.expect(200);
    r.body["networks"][0]["id"].as_str().expect("a private network").to_string()
}

/// Waits (up to `secs`) for the server to be `status` with no task.
async fn wait_status(cloud: &TestCloud, token: &str, id: &str, status: &str, secs: u64) -> Value {
    let start = Instant::now();
    loop {
        let r = get_v(cloud, &format!("/servers/{id}"), token, "2.79").await;
        match r.status.as_u16() {
            200 => {
                let s = r.body["server"].clone();
                if s["status"] == status && s["OS-EXT-STS:task_state"].is_null() {
                    return s;
                }
                if s["status"] == "ERROR" && status != "ERROR" {
                    panic!("server {id} went ERROR: {}", s["fault"]);
                }
                if start.elapsed() > Duration::from_secs(secs) {
                    panic!("server {id} never reached {status}: {s}");
                }
            }
            404 if status == "DELETED" => return Value::Null,
            _ => panic!("GET server {id}: {} {}", r.status, r.body),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn console(cloud: &TestCloud, token: &str, id: &str) -> String {
    let r = action(cloud, token, id, json!({"os-getConsoleOutput": {}})).await.expect(200);
    r.body["output"].as_str().unwrap_or_default().to_string()
}

/// Waits for the guest's ready marker to appear `n` times on the console.
async fn wait_marker(cloud: &TestCloud, token: &str, id: &str, n: usize, secs: u64) -> Duration {
    let start = Instant::now();
    loop {
        let out = console(cloud, token, id).await;
        if out.matches("RUSTACK-GUEST-READY").count() >= n {
            return start.elapsed();
        }
        if start.elapsed() > Duration::from_secs(secs) {
            panic!("no RUSTACK-GUEST-READY #{n} after {secs} s; console:\n{out}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// QEMU processes whose `-pidfile` lies under `root`.
fn qemu_processes_under(root: &Path) -> Vec<i32> {
    let mut out = Vec::new();
    let root = root.to_string_lossy().into_owned();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else { continue };
        let args: Vec<String> = cmd.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        if args.first().is_some_and(|a| a.contains("qemu-system"))
            && args.windows(2).any(|w| w[0] == "-pidfile" && w[1].starts_with(&root))
        {
            out.push(pid);
        }
    }
    out
}

/// Kills what a failed test would leave behind: QEMU processes under the
/// cloud's instances dir (they outlive the test process by design) and taps.
struct Leftovers {
    root: PathBuf,
    taps: std::sync::Mutex<Vec<String>>,
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        for pid in qemu_processes_under(&self.root) {
            let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
        for tap in self.taps.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            if link_exists(tap) {
                let _ = std::process::Command::new("ip").args(["link", "del", tap]).status();
            }
        }
    }
}

fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boot_console_power_snapshot_delete() {
    if let Some(why) = skip_reason() {
        println!("SKIP: {why}");
        return;
    }
    let cloud = qemu_cloud().await;
    let token = cloud.admin_token().await;
    let image = upload_test_image(&cloud, &token).await;
    let flavor = small_flavor(&cloud, &token, "qemu.small", 192, 1).await;
    let net = private_network(&cloud, &token).await;
    let root = std::fs::canonicalize(cloud.data_dir().join("instances")).expect("instances dir");
    let guard = Leftovers { root: root.clone(), taps: Default::default() };

    let t0 = Instant::now();
    let r = post_v(
        &cloud,
        "/servers",
        &token,
        json!({"server": {"name": "qemu-vm", "imageRef": image, "flavorRef": flavor,
                          "networks": [{"uuid": net}], "config_drive": true}}),
        "2.37",
    )
    .await
    .expect(202);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    let s = wait_status(&cloud, &token, &id, "ACTIVE", 300).await;
    println!("ACTIVE after {:?}", t0.elapsed());
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], "qemu-test-host");
    assert_eq!(s["OS-EXT-STS:power_state"], 1);
    let dir = root.join(&id);
    assert!(dir.join("qemu.pid").is_file() && dir.join("config.iso").is_file() && dir.join("vnc.sock").exists());
    assert_eq!(qemu_processes_under(&root).len(), 1);

    // the port is bound here and its tap exists
    let ports = cloud.get(&format!("{}/v2.0/ports?device_id={id}", cloud.network.url), &token).await.expect(200).body
        ["ports"]
        .clone();
    let port = ports[0]["id"].as_str().expect("a port").to_string();
    assert_eq!(ports[0]["binding:host_id"], "qemu-test-host");
    assert_eq!(ports[0]["status"], "ACTIVE");
    let tap = format!("tap{}", &port[..11]);
    guard.taps.lock().unwrap().push(tap.clone());
    assert!(link_exists(&tap), "tap {tap} missing");

    let booted = wait_marker(&cloud, &token, &id, 1, 300).await;
    println!("RUSTACK-GUEST-READY {:?} after ACTIVE", booted);

    // stop (ACPI) → SHUTOFF, no process; start → ACTIVE, a process again
    let t = Instant::now();
    action(&cloud, &token, &id, json!({"os-stop": null})).await.expect(202);
    let s = wait_status(&cloud, &token, &id, "SHUTOFF", 120).await;
    println!("stop took {:?}", t.elapsed());
    assert_eq!(s["OS-EXT-STS:power_state"], 4);
    assert!(qemu_processes_under(&root).is_empty());
    action(&cloud, &token, &id, json!({"os-start": null})).await.expect(202);
    wait_status(&cloud, &token, &id, "ACTIVE", 120).await;
    let pid_after_start = qemu_processes_under(&root);
    assert_eq!(pid_after_start.len(), 1);

    // a hard reboot is a fresh QEMU
    action(&cloud, &token, &id, json!({"reboot": {"type": "HARD"}})).await.expect(202);
    wait_status(&cloud, &token, &id, "ACTIVE", 120).await;
    let pid_after_reboot = qemu_processes_under(&root);
    assert_eq!(pid_after_reboot.len(), 1);
    assert_ne!(pid_after_reboot, pid_after_start);

    // the guest must be up to answer a PCIe hot-unplug (a fresh QEMU boots)
    wait_marker(&cloud, &token, &id, 2, 300).await;

    // os-interface: a second port hot-plugged into the running guest, listed,
    // then unplugged and deleted
    let r = post_v(
        &cloud,
        &format!("/servers/{id}/os-interface"),
        &token,
        json!({"interfaceAttachment": {"net_id": net}}),
        "2.79",
    )
    .await
    .expect(200);
    let port2 = r.body["interfaceAttachment"]["port_id"].as_str().expect("port_id").to_string();
    assert_eq!(r.body["interfaceAttachment"]["net_id"], net.as_str());
    assert_eq!(r.body["interfaceAttachment"]["port_state"], "ACTIVE");
    let tap2 = format!("tap{}", &port2[..11]);
    guard.taps.lock().unwrap().push(tap2.clone());
    assert!(link_exists(&tap2), "hot-plugged tap {tap2} missing");
    let list = get_v(&cloud, &format!("/servers/{id}/os-interface"), &token, "2.79").await.expect(200);
    let ids: Vec<&str> =
        list.body["interfaceAttachments"].as_array().unwrap().iter().filter_map(|a| a["port_id"].as_str()).collect();
    assert_eq!(ids, [port.as_str(), port2.as_str()]);
    let s = get_v(&cloud, &format!("/servers/{id}"), &token, "2.79").await.expect(200);
    assert_eq!(s.body["server"]["addresses"]["private"].as_array().map(Vec::len), Some(2), "{}", s.body);
    // both at once is upstream's 400; an unknown port to detach its 404
    post_v(
        &cloud,
        &format!("/servers/{id}/os-interface"),
        &token,
        json!({"interfaceAttachment": {"net_id": net, "port_id": port}}),
        "2.79",
    )
    .await
    .expect(400);
    cloud.delete(&common::url(&cloud, &format!("/servers/{id}/os-interface/nope")), &token).await.expect(404);
    cloud.delete(&common::url(&cloud, &format!("/servers/{id}/os-interface/{port2}")), &token).await.expect(202);
    assert!(!link_exists(&tap2), "unplugged tap {tap2} left");
    let list = get_v(&cloud, &format!("/servers/{id}/os-interface"), &token, "2.79").await.expect(200);
    assert_eq!(list.body["interfaceAttachments"].as_array().map(Vec::len), Some(1), "{}", list.body);
    cloud.get(&format!("{}/v2.0/ports/{port2}", cloud.network.url), &token).await.expect(404);

    // snapshot → an active qcow2 image in the image service; no file left
    let r = post_v(&cloud, &format!("/servers/{id}/action"), &token, json!({"createImage": {"name": "snap"}}), "2.45")
        .await
        .expect(202);
    let snap = r.body["image_id"].as_str().expect("image_id").to_string();
    let start = Instant::now();
    let img = loop {
        let img = cloud.get(&format!("{}/v2/images/{snap}", cloud.image.url), &token).await.expect(200).body;
        if img["status"] == "active" {
            break img;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "snapshot never active: {img}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(img["disk_format"], "qcow2");
    assert!(img["size"].as_i64().unwrap_or(0) > 1 << 20, "{img}");
    wait_status(&cloud, &token, &id, "ACTIVE", 60).await;
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("snapshot-"))
        .collect();
    assert!(left.is_empty(), "snapshot files left: {left:?}");

    // delete: no process, tap, socket or directory left
    cloud.delete(&common::url(&cloud, &format!("/servers/{id}")), &token).await.expect(204);
    wait_status(&cloud, &token, &id, "DELETED", 120).await;
    assert!(qemu_processes_under(&root).is_empty());
    assert!(!dir.exists(), "{} left", dir.display());
    assert!(!link_exists(&tap), "tap {tap} left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashed_qemu_is_shutoff_restart_adopts_and_reaps_orphans() {
    if let Some(why) = skip_reason() {
        println!("SKIP: {why}");
        return;
    }
    let cloud = qemu_cloud().await;
    let token = cloud.admin_token().await;
    let image = upload_test_image(&cloud, &token).await;
    let flavor = small_flavor(&cloud, &token, "qemu.small", 128, 1).await;
    let root = std::fs::canonicalize(cloud.data_dir().join("instances")).expect("instances dir");
    let _guard = Leftovers { root: root.clone(), taps: Default::default() };
    let r = post_v(
        &cloud,
        "/servers",
        &token,
        json!({"server": {"name": "crash-vm", "imageRef": image, "flavorRef": flavor, "networks": "none"}}),
        "2.37",
    )
    .await
    .expect(202);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    wait_status(&cloud, &token, &id, "ACTIVE", 300).await;

    // QEMU dies behind our back: the reconciler records the server SHUTOFF
    let pids = qemu_processes_under(&root);
    assert_eq!(pids.len(), 1);
    std::process::Command::new("kill").args(["-9", &pids[0].to_string()]).status().unwrap();
    let start = Instant::now();
    while cloud.compute.svc.driver("qemu-test-host").unwrap().power_state(&id) != Some(4) {
        assert!(start.elapsed() < Duration::from_secs(10), "the driver never saw QEMU die");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(cloud.compute.svc.sync_power_states().await.unwrap(), 1);
    let s = wait_status(&cloud, &token, &id, "SHUTOFF", 10).await;
    assert_eq!(s["OS-EXT-STS:power_state"], 4);
    action(&cloud, &token, &id, json!({"os-start": null})).await.expect(202);
    wait_status(&cloud, &token, &id, "ACTIVE", 120).await;
    let running = qemu_processes_under(&root);
    assert_eq!(running.len(), 1);

    // what a crashed boot leaves: a directory no instance owns
    let orphan = root.join(uuid::Uuid::new_v4().to_string());
    std::fs::create_dir_all(&orphan).unwrap();
    std::fs::write(orphan.join("disk.qcow2"), b"half-made").unwrap();

    // a new compute process on the same database and host: the running
    // QEMU is adopted (same process), the orphan reaped
    let peers = rustack_compute::Peers {
        placement: cloud.placement.svc.clone(),
        image: cloud.image.svc.clone(),
        network: Some(cloud.network.svc.clone()),
    };
    let again =
        rustack_compute::Compute::open(cloud.db.db.clone(), cloud.compute.svc.options().clone(), peers).await.unwrap();
    assert_eq!(again.hosts(), ["qemu-test-host"]);
    assert_eq!(again.driver("qemu-test-host").unwrap().power_state(&id), Some(1));
    assert_eq!(qemu_processes_under(&root), running, "the VM survived the restart as the same process");
    assert!(!orphan.exists(), "orphan {} not reaped", orphan.display());
    drop(again);

    cloud.delete(&common::url(&cloud, &format!("/servers/{id}")), &token).await.expect(204);
    wait_status(&cloud, &token, &id, "DELETED", 120).await;
    assert!(qemu_processes_under(&root).is_empty());
    assert!(!root.join(&id).exists());
}
