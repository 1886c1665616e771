//! The `rustack` binary as an operator runs it: a temporary data dir, a
//! temporary config file, free ports. Identity's API itself is tested in
//! crates/identity.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("rustack-cli-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Free ports for every service but identity (tests run side by side), and
/// the fake network data plane: these tests are about the binary, and a real
/// one (as root) would leave bridges and dnsmasq behind the temp data dir.
/// No test image registration either (an upload per test for nothing).
fn other_ports() -> String {
    let ports: String = ["image", "network", "compute", "placement", "metadata", "vnc"]
        .iter()
        .map(|s| format!("[{s}]\nport = {}\n", free_port()))
        .collect();
    format!("{ports}[network]\ndataplane = fake\n[image]\ntest_image_dir =\n[compute]\ndriver = fake\n")
}

/// A temp dir holding `rustack.conf` (with `extra` appended to a config
/// using a free identity port and cheap bcrypt) and a `data` dir.
struct Env {
    dir: TempDir,
    port: u16,
}

impl Env {
    fn new(tag: &str, extra: &str) -> Env {
        let dir = TempDir::new(tag);
        let port = free_port();
        // extra options without a section header belong to [identity]: it comes last
        let conf = format!("{}[identity]\nport = {port}\npassword_hash_rounds = 4\n{extra}", other_ports());
        std::fs::write(dir.path().join("rustack.conf"), conf).unwrap();
        Env { dir, port }
    }
    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rustack"));
        c.arg("--config").arg(self.dir.path().join("rustack.conf")).arg("--data-dir").arg(self.data());
        c.args(args).env_remove("RUST_LOG");
        c
    }
    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(o: &Output) {
    assert!(o.status.success(), "status {:?}\nstdout: {}\nstderr: {}", o.status, text(&o.stdout), text(&o.stderr));
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn version_prints_the_package_version() {
    let o = Command::new(env!("CARGO_BIN_EXE_rustack")).arg("version").output().unwrap();
    ok(&o);
    assert_eq!(text(&o.stdout).trim(), format!("rustack {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn every_subcommand_has_help() {
    for sub in [
        &["up"][..],
        &["serve"],
        &["db", "sync"],
        &["bootstrap"],
        &["token", "rotate"],
        &["credential", "rotate"],
        &["version"],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_rustack")).args(sub).arg("--help").output().unwrap();
        ok(&o);
        assert!(text(&o.stdout).contains("Usage: rustack"), "{sub:?}: {}", text(&o.stdout));
    }
}

#[test]
fn a_bad_config_names_file_line_and_option() {
    let dir = TempDir::new("badconf");
    let conf = dir.path().join("bad.conf");
    std::fs::write(&conf, "[token]\nexpiration = soon\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_rustack"))
        .arg("--config")
        .arg(&conf)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["db", "sync"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains(&format!("{}:2", conf.display())), "{err}");
    assert!(err.contains("[token] expiration"), "{err}");
    assert!(err.contains("soon"), "{err}");
    assert!(!dir.path().join("data").exists(), "nothing is created before the config is valid");
}

#[test]
fn a_missing_explicit_config_is_an_error() {
    let dir = TempDir::new("noconf");
    let missing = dir.path().join("nope.conf");
    let o = Command::new(env!("CARGO_BIN_EXE_rustack"))
        .arg("--config")
        .arg(&missing)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["db", "sync"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("nope.conf"), "{}", text(&o.stderr));
}

#[test]
fn unknown_services_are_refused_with_the_known_list() {
    let env = Env::new("services", "");
    let o = env.run(&["serve", "--services", "identity,compute-typo"]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("compute-typo") && err.contains("known services: identity"), "{err}");
}

#[test]
fn an_unusable_data_dir_is_reported() {
    let dir = TempDir::new("baddata");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_rustack"))
        .arg("--data-dir")
        .arg(file.join("sub"))
        .args(["db", "sync"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("data dir"), "{}", text(&o.stderr));
}

#[test]
fn db_sync_creates_the_schema() {
    let env = Env::new("dbsync", "");
    let o = env.run(&["db", "sync"]);
    ok(&o);
    assert!(env.data().join("rustack.db").exists());
    assert_eq!(mode(&env.data()), 0o700);
    ok(&env.run(&["db", "sync"]));
}

#[test]
fn bootstrap_is_idempotent_and_keeps_the_generated_passwords() {
    let env = Env::new("bootstrap", "");
    let first = env.run(&["bootstrap"]);
    ok(&first);
    assert!(text(&first.stdout).contains("openstack --os-cloud rustack-admin token issue"));
    let data = env.data();
    let passwords = std::fs::read_to_string(data.join("passwords")).unwrap();
    let clouds = std::fs::read_to_string(data.join("clouds.yaml")).unwrap();
    for f in ["passwords", "clouds.yaml", "admin-openrc.sh", "demo-openrc.sh"] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
    let admin = passwords.lines().find_map(|l| l.strip_prefix("admin=")).expect("admin password").to_string();
    assert_eq!(admin.len(), 20);
    assert!(clouds.contains("rustack-admin:") && clouds.contains("rustack-demo:"), "{clouds}");
    assert!(clouds.contains(&format!("auth_url: 'http://127.0.0.1:{}/v3'", env.port)), "{clouds}");
    assert!(clouds.contains(&admin));
    let openrc = std::fs::read_to_string(data.join("admin-openrc.sh")).unwrap();
    assert!(openrc.contains(&format!("export OS_PASSWORD='{admin}'")), "{openrc}");

    ok(&env.run(&["bootstrap"]));
    assert_eq!(std::fs::read_to_string(data.join("passwords")).unwrap(), passwords);
    assert_eq!(std::fs::read_to_string(data.join("clouds.yaml")).unwrap(), clouds);
}

#[test]
fn configured_passwords_are_used_and_not_written_to_the_passwords_file() {
    let env = Env::new("confpw", "admin_password = s3cr'et\n");
    ok(&env.run(&["bootstrap"]));
    let clouds = std::fs::read_to_string(env.data().join("clouds.yaml")).unwrap();
    assert!(clouds.contains("password: 's3cr''et'"), "{clouds}");
    let passwords = std::fs::read_to_string(env.data().join("passwords")).unwrap();
    assert!(!passwords.contains("admin=") && passwords.contains("demo="), "{passwords}");
}

fn key_ids(dir: &Path) -> Vec<u64> {
    let mut v: Vec<u64> =
        std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
    v.sort();
    v
}

#[test]
fn token_rotate_promotes_the_staged_key() {
    let env = Env::new("rotate", "[fernet_tokens]\nmax_active_keys = 3\n");
    let keys = env.data().join("fernet-keys");
    let o = env.run(&["token", "rotate"]);
    ok(&o);
    assert_eq!(key_ids(&keys), vec![0, 1, 2]);
    let staged = std::fs::read_to_string(keys.join("0")).unwrap();
    ok(&env.run(&["token", "rotate"]));
    assert_eq!(key_ids(&keys), vec![0, 2, 3], "the oldest secondary goes beyond max_active_keys");
    assert_eq!(std::fs::read_to_string(keys.join("3")).unwrap(), staged, "the staged key became primary");
    assert_eq!(mode(&keys.join("3")), 0o600);
}

/// `GET path` over plain HTTP/1.1; the status code, or None if nothing answers.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http(port, "GET", path, &[], "")
}

/// One request over plain HTTP/1.1: the status code and the whole response text.
fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let resp = text(&buf);
    let code = resp.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, resp))
}

fn wait_exit(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let t = Instant::now();
    while t.elapsed() < within {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Kills the server if the test fails half-way.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn up_serves_identity_and_stops_on_sigterm() {
    let env = Env::new("up", "");
    let log = env.dir.path().join("up.log");
    let out = env.dir.path().join("up.out");
    let child = env
        .cmd(&["up", "--bind", "127.0.0.1"])
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let started = Instant::now();
    let mut last = None;
    while started.elapsed() < Duration::from_secs(20) {
        if let Some(st) = server.0.try_wait().unwrap() {
            panic!("rustack up exited early: {st}\n{}", std::fs::read_to_string(&log).unwrap_or_default());
        }
        last = http_get(env.port, "/v3");
        if last.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let logs = || std::fs::read_to_string(&log).unwrap_or_default();
    let (code, body) = last.unwrap_or_else(|| panic!("nothing answered on port {}\n{}", env.port, logs()));
    assert_eq!(code, 200, "GET /v3:\n{body}\n{}", logs());
    assert!(body.contains("v3."), "{body}");
    assert!(body.to_ascii_lowercase().contains("x-openstack-request-id"), "{body}");
    eprintln!("first 200 after {:?} (debug build, first start)", started.elapsed());
    let printed = std::fs::read_to_string(&out).unwrap();
    assert!(printed.contains("openstack --os-cloud rustack-admin token issue"), "{printed}");
    assert!(env.data().join("clouds.yaml").exists());

    let st = Command::new("kill").args(["-TERM", &server.0.id().to_string()]).status().unwrap();
    assert!(st.success());
    let status = wait_exit(&mut server.0, Duration::from_secs(15)).expect("rustack up did not stop on SIGTERM");
    assert!(status.success(), "exit status {status}\n{}", logs());
    assert!(logs().contains("SIGTERM"), "{}", logs());
    assert!(http_get(env.port, "/v3").is_none(), "the port is closed after shutdown");
}

#[test]
fn a_busy_port_fails_fast() {
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let env = Env::new("busy", "");
    std::fs::write(env.dir.path().join("rustack.conf"), format!("[identity]\nport = {port}\n{}", other_ports()))
        .unwrap();
    let mut child = env.cmd(&["up"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let status = wait_exit(&mut child, Duration::from_secs(15)).expect("up should exit when its port is taken");
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("port {port}")), "{err}");
}

#[test]
fn credential_rotate_keeps_a_staged_primary_and_secondary_key() {
    let env = Env::new("credrotate", "");
    ok(&env.run(&["credential", "rotate"]));
    let o = env.run(&["credential", "rotate"]);
    ok(&o);
    assert!(text(&o.stdout).contains("re-encrypted"), "{}", text(&o.stdout));
    let keys = env.data().join("credential-keys");
    assert_eq!(key_ids(&keys), vec![0, 2, 3]);
}

/// Starts `rustack up` and waits for its first answer.
fn start_up(env: &Env, log: &Path) -> Server {
    let child = env
        .cmd(&["up", "--bind", "127.0.0.1"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    wait_bootstrapped(&mut server, env, log);
    server
}

/// Waits until `up` answers on its identity port and its bootstrap wrote the
/// client files (so the passwords are on disk too). A child that exits, or a
/// start slower than a minute (CI runs every test side by side on 2 cores),
/// fails here with its log, not later with a missing file.
fn wait_bootstrapped(server: &mut Server, env: &Env, log: &Path) {
    let started = Instant::now();
    let log_text = || std::fs::read_to_string(log).unwrap_or_default();
    loop {
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!("rustack up exited with {status} before it served\n{}", log_text());
        }
        if env.data().join("clouds.yaml").exists() && http_get(env.port, "/v3").is_some() {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(90), "rustack up did not start in 90 s\n{}", log_text());
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn stop(mut server: Server) {
    Command::new("kill").args(["-TERM", &server.0.id().to_string()]).status().unwrap();
    wait_exit(&mut server.0, Duration::from_secs(15)).expect("rustack up stops on SIGTERM");
}

#[test]
fn tokens_survive_a_restart_and_revocations_too() {
    let env = Env::new("restart", "admin_password = s3cret\n");
    let log = env.dir.path().join("up.log");
    let auth = r#"{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin",
        "domain": {"id": "default"}, "password": "s3cret"}}}, "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}"#;
    let server = start_up(&env, &log);
    let issue = || {
        let (code, resp) = http(env.port, "POST", "/v3/auth/tokens", &[], auth).expect("an answer");
        assert_eq!(code, 201, "{resp}");
        resp.lines()
            .find_map(|l| l.to_ascii_lowercase().starts_with("x-subject-token:").then(|| l[16..].trim().to_string()))
            .expect("X-Subject-Token")
    };
    let kept = issue();
    let revoked = issue();
    let (code, _) =
        http(env.port, "DELETE", "/v3/auth/tokens", &[("X-Auth-Token", &kept), ("X-Subject-Token", &revoked)], "")
            .unwrap();
    assert_eq!(code, 204);
    stop(server);

    let server = start_up(&env, &log);
    let check = |subject: &str| {
        http(env.port, "GET", "/v3/auth/tokens", &[("X-Auth-Token", &kept), ("X-Subject-Token", subject)], "")
            .unwrap()
            .0
    };
    assert_eq!(check(&kept), 200, "a token issued before the restart is still valid");
    assert_eq!(check(&revoked), 404, "a revocation made before the restart still holds");
    stop(server);
}

/// Two nodes on one PostgreSQL database and one Fernet key repository: a token
/// made on one is valid on the other, and a revocation on one reaches the
/// other through the database (its reconciler runs every 2 s).
#[test]
fn two_nodes_share_tokens_and_revocations_over_postgresql() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(rustack_db::testing::postgres()) else {
        eprintln!("no PostgreSQL configured (RUSTACK_TEST_POSTGRES_URL): the SQLite tests cover one node");
        return;
    };
    let keys = TempDir::new("shared-keys");
    let shared = format!(
        "admin_password = s3cret\n[database]\nconnection = {}\n[fernet_tokens]\nkey_repository = {}\n",
        db.url,
        keys.path().join("fernet").display()
    );
    let (a, b) = (Env::new("node-a", &shared), Env::new("node-b", &shared));
    let node_a = start_up(&a, &a.dir.path().join("a.log"));
    let log_b = b.dir.path().join("b.log");
    let child = b
        .cmd(&["serve", "--services", "identity", "--bind", "127.0.0.1"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_b).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let node_b = Server(child);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) && http_get(b.port, "/v3").is_none() {
        std::thread::sleep(Duration::from_millis(25));
    }
    let auth = r#"{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin",
        "domain": {"id": "default"}, "password": "s3cret"}}}, "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}"#;
    let issue = |port: u16| {
        let (code, resp) = http(port, "POST", "/v3/auth/tokens", &[], auth).expect("an answer");
        assert_eq!(code, 201, "{resp}");
        resp.lines()
            .find_map(|l| l.to_ascii_lowercase().starts_with("x-subject-token:").then(|| l[16..].trim().to_string()))
            .expect("X-Subject-Token")
    };
    let on_a = issue(a.port);
    let on_b = issue(b.port);
    let check = |port: u16, subject: &str| {
        http(port, "GET", "/v3/auth/tokens", &[("X-Auth-Token", &on_b), ("X-Subject-Token", subject)], "").unwrap().0
    };
    assert_eq!(check(b.port, &on_a), 200, "node B validates node A's token");
    assert_eq!(check(a.port, &on_b), 200, "and the other way round");
    let (code, _) =
        http(a.port, "DELETE", "/v3/auth/tokens", &[("X-Auth-Token", &on_a), ("X-Subject-Token", &on_a)], "").unwrap();
    assert_eq!(code, 204);
    let t = Instant::now();
    while check(b.port, &on_a) == 200 {
        assert!(t.elapsed() < Duration::from_secs(10), "node B still accepts a token node A revoked");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(check(b.port, &on_a), 404);
    stop(node_a);
    stop(node_b);
}

/// A node that serves the image service without identity validates tokens
/// against the identity node over HTTP, as the service user bootstrap made.
#[test]
fn a_node_without_identity_validates_tokens_remotely() {
    let a = Env::new("remote-a", "admin_password = s3cret\n");
    let node_a = start_up(&a, &a.dir.path().join("a.log"));
    let service_pw = std::fs::read_to_string(a.data().join("passwords"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("service=").map(String::from))
        .expect("bootstrap wrote the service user's password");
    // node B: its own data dir, node A's database, image only
    let image_port = free_port();
    let b = TempDir::new("remote-b");
    let conf = format!(
        "[image]\nport = {image_port}\n[database]\nconnection = sqlite://{}\n[service_user]\nauth_url = http://127.0.0.1:{}/v3\npassword = {service_pw}\n",
        a.data().join("rustack.db").display(),
        a.port
    );
    std::fs::write(b.path().join("rustack.conf"), conf).unwrap();
    let log_b = b.path().join("b.log");
    let child = Command::new(env!("CARGO_BIN_EXE_rustack"))
        .arg("--config")
        .arg(b.path().join("rustack.conf"))
        .arg("--data-dir")
        .arg(b.path().join("data"))
        .args(["serve", "--services", "image", "--bind", "127.0.0.1"])
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_b).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let node_b = Server(child);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) && http_get(image_port, "/").is_none() {
        std::thread::sleep(Duration::from_millis(25));
    }
    let auth = r#"{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin",
        "domain": {"id": "default"}, "password": "s3cret"}}}, "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}"#;
    let (code, resp) = http(a.port, "POST", "/v3/auth/tokens", &[], auth).expect("an answer");
    assert_eq!(code, 201, "{resp}");
    let token = resp
        .lines()
        .find_map(|l| l.to_ascii_lowercase().starts_with("x-subject-token:").then(|| l[16..].trim().to_string()))
        .expect("X-Subject-Token");
    let logs = || std::fs::read_to_string(&log_b).unwrap_or_default();
    let (code, body) = http(image_port, "GET", "/v2/images", &[("X-Auth-Token", &token)], "").expect("node B answers");
    assert_eq!(code, 200, "{body}\n{}", logs());
    let (code, _) = http(image_port, "GET", "/v2/images", &[("X-Auth-Token", "not-a-token")], "").unwrap();
    assert_eq!(code, 401, "a bad token is refused");
    let (code, _) = http(image_port, "GET", "/v2/images", &[], "").unwrap();
    assert_eq!(code, 401, "no token is refused");
    stop(node_b);
    stop(node_a);
}

#[test]
fn a_node_without_identity_needs_its_url() {
    let env = Env::new("no-identity", "");
    let o = env.run(&["serve", "--services", "image"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("[service_user] auth_url"), "{}", text(&o.stderr));
}
