//! Registers rustack's test guest (`scripts/build-test-image.sh`) in the image
//! service at bootstrap, as devstack registers cirros: the public qcow2 image
//! `rustack-test`, when `[image] test_image_dir` holds a built `disk.qcow2`.
//! Its id is derived from the name, so a second start finds it and does nothing.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use rustack_common::Error;
use rustack_http::context::{Scope, TokenRole};
use rustack_http::{BootstrapProjects, RequestContext};
use rustack_image::Image;
use serde_json::{json, Map, Value};
use tokio::io::AsyncReadExt;

pub const NAME: &str = "rustack-test";
/// A fixed id: a second bootstrap finds the image by it.
const ID: &str = "5e5a3c1d-7e57-4a6e-9b1d-000000000001";

/// The directory `[image] test_image_dir` names (`~/` is the home
/// directory); None when the option is set empty.
pub fn dir(configured: Option<String>) -> Option<PathBuf> {
    let d = configured?;
    match d.strip_prefix("~/") {
        Some(rest) => {
            let home = std::env::var_os("HOME")?;
            // XDG_CACHE_HOME replaces ~/.cache, as the build script does
            match (rest.strip_prefix(".cache/"), std::env::var_os("XDG_CACHE_HOME")) {
                (Some(sub), Some(cache)) => Some(PathBuf::from(cache).join(sub)),
                _ => Some(PathBuf::from(home).join(rest)),
            }
        }
        None => Some(PathBuf::from(d)),
    }
}

/// Registers the image in the background when the file exists; logs the outcome.
pub fn spawn_register(image: Image, projects: BootstrapProjects, dir: PathBuf) {
    let file = dir.join("disk.qcow2");
    if !file.is_file() {
        tracing::debug!(path = %file.display(), "no test image to register");
        return;
    }
    tokio::spawn(async move {
        match register(&image, &projects, &file).await {
            Ok(Some(id)) => tracing::info!(image = %id, name = NAME, "registered the test image"),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, path = %file.display(), "cannot register the test image"),
        }
    });
}

/// The admin project's view, as the bootstrap admin.
fn admin_context(projects: &BootstrapProjects) -> RequestContext {
    let now = rustack_common::time::now();
    RequestContext {
        user_id: String::new(),
        user_name: "admin".into(),
        user_domain_id: "default".into(),
        user_domain_name: "Default".into(),
        scope: Scope::Project {
            id: projects.admin_project_id.clone(),
            name: "admin".into(),
            domain_id: "default".into(),
            domain_name: "Default".into(),
        },
        roles: vec![TokenRole { id: String::new(), name: "admin".into() }],
        methods: vec![],
        audit_ids: vec![],
        expires_at: now,
        issued_at: now,
        application_credential_id: None,
        is_admin_project: true,
        access_rules: None,
        trust: None,
    }
}

/// Creates and uploads the image unless it is there already; returns its id
/// when it uploaded it.
async fn register(image: &Image, projects: &BootstrapProjects, file: &Path) -> Result<Option<String>, Error> {
    let ctx = admin_context(projects);
    let id = ID.to_string();
    match image.get_for(&ctx, &id).await {
        Ok(rec) if rec.status != "queued" => return Ok(None),
        Ok(_) => {} // an upload cut off by a restart: upload again
        Err(e) if e.status() == 404 => {
            let fields: Map<String, Value> = json!({
                "id": id,
                "disk_format": "qcow2",
                "container_format": "bare",
                "visibility": "public",
                "os_distro": "rustack-test",
            })
            .as_object()
            .cloned()
            .unwrap_or_default();
            image.create_for(&ctx, NAME, &fields).await?;
        }
        Err(e) => return Err(e),
    }
    let f = tokio::fs::File::open(file).await.map_err(|e| Error::internal(&e))?;
    let stream = futures_util::stream::unfold(f, |mut f| async move {
        let mut buf = vec![0u8; 1 << 20];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    image.upload_data(&ctx, &id, Box::pin(stream)).await?;
    Ok(Some(id))
}
