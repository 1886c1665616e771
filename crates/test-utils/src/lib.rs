//! An in-process cloud for tests: every service that exists, on port 0 of
//! 127.0.0.1, over a fresh database, bootstrapped with known passwords.
//!
//! ```ignore
//! let cloud = TestCloud::start().await;
//! let token = cloud.admin_token().await;
//! let r = cloud.get("/v3/users", &token).await;
//! ```

use std::net::SocketAddr;

use reqwest::{Method, StatusCode};
use rustack_common::config::{Config, Ini};
use rustack_db::testing::TestDb;
use rustack_http::{BootstrapProjects, ServiceOptions};
use rustack_identity::bootstrap::{BootstrapSpec, CatalogEntry};
use rustack_identity::{Identity, IdentityOptions};
use serde_json::{json, Value};

pub const ADMIN_PASSWORD: &str = "admin-secret";
pub const DEMO_PASSWORD: &str = "demo-secret";
pub const SERVICE_PASSWORD: &str = "service-secret";

#[cfg(feature = "compute")]
mod compute;
#[cfg(feature = "image")]
mod image;
#[cfg(feature = "network")]
mod network;
#[cfg(feature = "placement")]
mod placement;

/// A running cloud; stopped when dropped. Identity always runs; each other
/// service runs when test-utils is built with its feature, on its own port
/// (`cloud.image.url` etc.), registered in the catalog.
pub struct TestCloud {
    pub identity: Identity,
    pub addr: SocketAddr,
    /// The identity service's base URL (`http://127.0.0.1:port`).
    pub base: String,
    pub http: reqwest::Client,
    pub db: TestDb,
    pub projects: BootstrapProjects,
    #[cfg(feature = "image")]
    pub image: Served<rustack_image::Image>,
    #[cfg(feature = "network")]
    pub network: Served<rustack_network::Network>,
    #[cfg(feature = "placement")]
    pub placement: Served<rustack_placement::Placement>,
    #[cfg(feature = "compute")]
    pub compute: Served<rustack_compute::Compute>,
    data_dir: std::path::PathBuf,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestCloud {
    fn drop(&mut self) {
        self.server.abort();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// One more service of the test cloud, serving on its own port until dropped.
pub struct Served<T> {
    pub svc: T,
    /// Its base URL, `http://127.0.0.1:port` (the catalog's, minus any version path).
    pub url: String,
    server: tokio::task::JoinHandle<()>,
}

impl<T> Drop for Served<T> {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// What a service of the test cloud is started with.
#[allow(dead_code)]
pub(crate) struct StartCtx<'a> {
    pub db: rustack_db::Db,
    pub config: Config,
    pub data_dir: std::path::PathBuf,
    pub identity: &'a Identity,
    pub identity_url: String,
    pub projects: &'a BootstrapProjects,
}

impl StartCtx<'_> {
    /// Binds port 0 and the options a service opens with.
    #[allow(dead_code)]
    pub async fn listen(&self) -> (tokio::net::TcpListener, ServiceOptions) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let opts = ServiceOptions {
            config: self.config.clone(),
            data_dir: self.data_dir.clone(),
            public_url: url,
            identity_url: self.identity_url.clone(),
            validator: self.identity.validator(),
            limits: self.identity.limits(),
        };
        (listener, opts)
    }

    /// Serves `router`. The service is not put in the catalog: the identity
    /// tests, built with every service when the workspace is, see only
    /// identity there; a test that wants the entry calls
    /// [`TestCloud::register`].
    #[allow(dead_code)]
    pub async fn serve<T>(
        &self,
        svc: T,
        listener: tokio::net::TcpListener,
        router: axum::Router,
        _service_type: &str,
        _name: &str,
        _catalog_path: &str,
    ) -> Served<T> {
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Served { svc, url, server }
    }
}

/// A response: status, headers and JSON body (Null when empty).
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Resp {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.body);
        self
    }

    /// Asserts an error in Keystone's shape with this status.
    #[track_caller]
    pub fn expect_error(self, status: u16) -> Resp {
        let r = self.expect(status);
        assert_eq!(r.body["error"]["code"], json!(status), "error body: {}", r.body);
        assert!(
            r.body["error"]["title"].is_string() && r.body["error"]["message"].is_string(),
            "error body: {}",
            r.body
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
        r
    }
}

/// Config lines every test cloud uses (bcrypt at its cheapest: tests are
/// about behaviour, and cost 12 takes 0.3 s a hash; the fake hypervisor,
/// whatever the host could run; a test's own config may say otherwise).
const TEST_CONFIG: &str = "[identity]\npassword_hash_rounds = 4\n[compute]\ndriver = fake\n";

/// A workspace build compiles every service into the test cloud, so the
/// other crates' tests run compute too: only compute's own tests (and the
/// binary's) get its default fake host, which would otherwise be one more
/// resource provider in placement's tests. A test's own config may set it.
fn fake_hosts_default() -> &'static str {
    match std::env::var("CARGO_PKG_NAME").as_deref() {
        Ok("rustack-compute") | Err(_) => "",
        Ok(_) => "[compute]\nfake_hosts = 0\n",
    }
}

impl TestCloud {
    /// A cloud over a fresh SQLite database.
    pub async fn start() -> TestCloud {
        Self::start_with(rustack_db::testing::sqlite().await, "").await
    }

    /// A cloud over `db`, with extra config lines (INI text).
    pub async fn start_with(db: TestDb, extra_config: &str) -> TestCloud {
        let data_dir = rustack_db::testing::temp_dir("rustack-cloud");
        let ini = Ini::parse("test.conf", &format!("{TEST_CONFIG}{}{extra_config}", fake_hosts_default()))
            .expect("test config parses");
        let config = Config::from_ini(ini).expect("test config is valid");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let identity = Identity::open(
            db.db.clone(),
            IdentityOptions { config, data_dir: data_dir.clone(), public_url: base.clone() },
        )
        .await
        .expect("identity opens");
        let projects = identity
            .bootstrap(&BootstrapSpec {
                admin_password: ADMIN_PASSWORD.into(),
                demo_password: DEMO_PASSWORD.into(),
                service_password: SERVICE_PASSWORD.into(),
                region: "RegionOne".into(),
                identity_url: format!("{base}/v3/"),
            })
            .await
            .expect("bootstrap");
        let router = identity.router();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        #[allow(unused_variables)]
        let ctx = StartCtx {
            db: db.db.clone(),
            config: identity.config().clone(),
            data_dir: data_dir.clone(),
            identity: &identity,
            identity_url: format!("{base}/v3"),
            projects: &projects,
        };
        #[cfg(feature = "image")]
        let image = image::start(&ctx).await;
        #[cfg(feature = "network")]
        let network = network::start(&ctx).await;
        #[cfg(feature = "placement")]
        let placement = placement::start(&ctx).await;
        #[cfg(feature = "compute")]
        let compute = compute::start(
            &ctx,
            rustack_compute::Peers {
                placement: placement.svc.clone(),
                image: image.svc.clone(),
                network: Some(network.svc.clone()),
            },
        )
        .await;
        TestCloud {
            identity,
            addr,
            base,
            http: reqwest::Client::new(),
            db,
            projects,
            #[cfg(feature = "image")]
            image,
            #[cfg(feature = "network")]
            network,
            #[cfg(feature = "placement")]
            placement,
            #[cfg(feature = "compute")]
            compute,
            data_dir,
            server,
        }
    }

    pub async fn request(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        self.request_with(method, path, token, body, &[]).await
    }

    pub async fn request_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        // a full URL reaches another service (`cloud.image.url`); a path is identity's
        let url = if path.starts_with("http") { path.to_string() } else { format!("{}{path}", self.base) };
        let mut rb = self.http.request(method, url);
        if let Some(t) = token {
            rb = rb.header("X-Auth-Token", t);
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.expect("request sent");
        let status = r.status();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.expect("body read");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Resp { status, headers, body }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.request(Method::GET, path, Some(token), None).await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.request(Method::POST, path, Some(token), Some(body)).await
    }
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Resp {
        self.request(Method::PATCH, path, Some(token), Some(body)).await
    }
    pub async fn put(&self, path: &str, token: &str) -> Resp {
        self.request(Method::PUT, path, Some(token), None).await
    }
    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.request(Method::DELETE, path, Some(token), None).await
    }
    pub async fn head(&self, path: &str, token: &str) -> Resp {
        self.request(Method::HEAD, path, Some(token), None).await
    }

    /// Creates a raw image of 1 KiB in the image service (public or the
    /// caller's own), uploads its bytes and returns its id: something to boot.
    #[cfg(feature = "image")]
    pub async fn tiny_image(&self, token: &str, name: &str, public: bool) -> String {
        let mut body = json!({"name": name, "disk_format": "raw", "container_format": "bare"});
        if public {
            body["visibility"] = json!("public");
        }
        let r = self.post(&format!("{}/v2/images", self.image.url), token, body).await.expect(201);
        let id = r.body["id"].as_str().expect("image id").to_string();
        let put = self
            .http
            .put(format!("{}/v2/images/{id}/file", self.image.url))
            .header("X-Auth-Token", token)
            .header("Content-Type", "application/octet-stream")
            .body(vec![0u8; 1024])
            .send()
            .await
            .expect("upload");
        assert_eq!(put.status().as_u16(), 204, "image upload");
        id
    }

    /// `POST /v3/auth/tokens` with a password; returns the response.
    pub async fn password_auth(&self, user: &str, password: &str, scope: Option<Value>) -> Resp {
        let mut auth = json!({"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "password": password, "domain": {"id": "default"}}}}});
        if let Some(s) = scope {
            auth["scope"] = s;
        }
        self.request(Method::POST, "/v3/auth/tokens", None, Some(json!({ "auth": auth }))).await
    }

    /// A token of `user` scoped to project `project` (both in Default).
    pub async fn project_token(&self, user: &str, password: &str, project: &str) -> String {
        let r = self
            .password_auth(user, password, Some(json!({"project": {"name": project, "domain": {"id": "default"}}})))
            .await
            .expect(201);
        r.header("x-subject-token").expect("X-Subject-Token").to_string()
    }

    /// Puts a service in the catalog (public, internal and admin endpoints at `url`).
    pub async fn register(&self, service_type: &str, name: &str, url: &str) {
        self.identity
            .register_service(
                "RegionOne",
                &CatalogEntry { service_type: service_type.into(), name: name.into(), url: url.into() },
            )
            .await
            .expect("catalog entry");
    }

    /// The admin's project-scoped token.
    pub async fn admin_token(&self) -> String {
        self.project_token("admin", ADMIN_PASSWORD, "admin").await
    }

    /// The demo user's token on project demo (role member).
    pub async fn demo_token(&self) -> String {
        self.project_token("demo", DEMO_PASSWORD, "demo").await
    }

    /// The data dir (Fernet keys live under it).
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.data_dir.clone()
    }

    /// The id of a global role by name.
    pub async fn role_id(&self, name: &str) -> String {
        self.identity.store().get_role_by_name(name, None).await.unwrap().expect("role exists").id
    }

    /// A new project `name` with a user `name` (password `pw-secret`) holding
    /// `role` on it: (project id, the user's project-scoped token).
    pub async fn project_with_user(&self, name: &str, role: &str) -> (String, String) {
        let admin = self.admin_token().await;
        let p = self
            .post("/v3/projects", &admin, json!({"project": {"name": name, "domain_id": "default"}}))
            .await
            .expect(201);
        let pid = p.body["project"]["id"].as_str().expect("project id").to_string();
        let u = self
            .post("/v3/users", &admin, json!({"user": {"name": name, "password": "pw-secret", "domain_id": "default"}}))
            .await
            .expect(201);
        let uid = u.body["user"]["id"].as_str().expect("user id").to_string();
        let rid = self.role_id(role).await;
        self.put(&format!("/v3/projects/{pid}/users/{uid}/roles/{rid}"), &admin).await.expect(204);
        (pid, self.project_token(name, "pw-secret", name).await)
    }
}
