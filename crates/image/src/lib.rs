//! The Image service (Glance's job): Image API v2 on port 9292.
//!
//! `Image` is the handle the binary opens, serves and bootstraps, and the one
//! other services call in-process:
//!
//! - [`Image::get_for`]: an image as `ctx` may see it (Glance's visibility
//!   rules; 404 when the caller may not see it).
//! - [`Image::create_for`]: registers a new image (queued) for `ctx`'s project,
//!   from a name and Glance create-body fields (compute's snapshots).
//! - [`Image::open_data`]: the bytes of an active image as a stream (compute
//!   copies them to boot a server); the stream keeps working even if the image
//!   is deleted meanwhile.
//! - [`Image::upload_data`]: streams bytes into a queued image (compute's
//!   snapshots), with the same checks, hashes and quota as `PUT …/file`.
//!
//! Layout: `api/` (routes, thin handlers), `service/` (the rules: visibility,
//! policy, patch, members, upload/download), `store/` (SQL), `data/` (the
//! [`data::DataStore`] trait for image bytes and its filesystem store),
//! `format` (disk format inspection while streaming), `model` (records, JSON).

mod api;
pub mod data;
mod digest;
pub mod format;
mod libcrypto;
pub mod model;
mod policy;
mod service;
mod store;

use std::sync::Arc;

use rustack_common::Error;
use rustack_db::Db;
use rustack_http::service::{BootstrapProjects, ServiceOptions};
use rustack_http::RequestContext;
use serde_json::{Map, Value};

pub use data::{ByteStream, DataStore, FilesystemStore, StoreError};
pub use model::{ImageRecord, Member};

#[derive(Clone)]
pub struct Image {
    inner: Arc<Inner>,
}

/// Limits read from `[image]` at open time.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub image_size_cap: u64,
    pub member_quota: usize,
    pub tag_quota: usize,
    pub property_quota: usize,
    pub limit_default: usize,
    pub limit_max: usize,
}

struct Inner {
    store: store::Store,
    data: Arc<dyn DataStore>,
    policy: rustack_policy::Policy,
    settings: Settings,
    opts: ServiceOptions,
    /// When this handle was opened (ISO time, and for file times).
    started: (String, std::time::SystemTime),
}

/// An open image download: the record and its bytes.
pub struct ImageData {
    pub image: ImageRecord,
    /// The number of bytes the stream yields.
    pub size: u64,
    pub stream: ByteStream,
}

impl Image {
    /// Opens the service on `db` (applies its migrations), keeping image
    /// bytes in the filesystem store under `[image] filesystem_store_datadir`
    /// (default `<data dir>/images`).
    pub async fn open(db: Db, opts: ServiceOptions) -> Result<Image, Error> {
        let dir = match opts.config.ini.str("image", "filesystem_store_datadir") {
            Some(d) => std::path::PathBuf::from(d),
            None => opts.data_dir.join("images"),
        };
        let fs = FilesystemStore::new(&dir).map_err(|e| Error::internal(&e))?;
        Self::open_with_store(db, opts, Arc::new(fs)).await
    }

    /// Opens the service with image bytes kept in `data` (object storage, or
    /// a test's store that injects faults).
    pub async fn open_with_store(db: Db, opts: ServiceOptions, data: Arc<dyn DataStore>) -> Result<Image, Error> {
        let store = store::Store::new(db);
        store.migrate().await?;
        let ini = &opts.config.ini;
        let int = |name: &str| ini.int("image", name).map_err(|e| Error::bad_request(e.to_string()));
        let settings = Settings {
            image_size_cap: int("image_size_cap")?,
            member_quota: int("image_member_quota")? as usize,
            tag_quota: int("image_tag_quota")? as usize,
            property_quota: int("image_property_quota")? as usize,
            limit_default: int("limit_param_default")?.max(1) as usize,
            limit_max: int("api_limit_max")?.max(1) as usize,
        };
        let mut policy = policy::defaults();
        if let Some(p) = &opts.config.policy_file {
            if p.exists() {
                policy.load_overrides(p).map_err(|e| Error::bad_request(e.to_string()))?;
            }
        }
        let started = (model::now_iso(), std::time::SystemTime::now());
        Ok(Image { inner: Arc::new(Inner { store, data, policy, settings, opts, started }) })
    }

    /// The API routes with their layers.
    pub fn router(&self) -> axum::Router {
        api::router(self.clone())
    }

    /// The first-start setup of this service (idempotent): nothing to make.
    pub async fn bootstrap(&self, _projects: &BootstrapProjects) -> Result<(), Error> {
        Ok(())
    }

    /// Starts the background work of a served image service: the repair
    /// after a crash. Uploads begun before this process started cannot
    /// finish: on SQLite (one server) their images go back to queued; the
    /// store drops temporary files older than the start. (Not run by a handle
    /// compute opens without serving images, which must not touch them.)
    pub fn spawn_workers(&self) {
        let svc = self.clone();
        tokio::spawn(async move {
            if let Err(e) = svc.recover().await {
                tracing::warn!(error = %e, "image crash repair failed");
            }
        });
    }

    /// The crash repair of [`Image::spawn_workers`], awaited.
    pub async fn recover(&self) -> Result<(), Error> {
        let (iso, t) = &self.inner.started;
        if self.inner.store.db.backend() == rustack_db::Backend::Sqlite {
            let n = self.inner.store.reset_interrupted(iso).await?;
            if n > 0 {
                tracing::warn!(images = n, "uploads cut by a restart: images back to queued");
            }
        }
        self.inner.data.remove_stale(*t).await;
        Ok(())
    }

    pub fn options(&self) -> &ServiceOptions {
        &self.inner.opts
    }

    /// The store image bytes live in.
    pub fn data_store(&self) -> &Arc<dyn DataStore> {
        &self.inner.data
    }

    /// An image as `ctx` may see it: 404 when it does not exist or is not
    /// visible to the caller (private to another project, shared without
    /// membership).
    pub async fn get_for(&self, ctx: &RequestContext, id: &str) -> Result<ImageRecord, Error> {
        self.load_visible(ctx, id).await
    }

    /// The images `ctx` sees, filtered as `GET /v2/images` filters (one
    /// page; compute's backup rotation lists an instance's backups).
    pub async fn list_for(&self, ctx: &RequestContext, params: &[(String, String)]) -> Result<Vec<ImageRecord>, Error> {
        Ok(self.list(ctx, params).await?.images)
    }

    /// Deletes an image as `DELETE /v2/images/{id}` does for `ctx` (compute's
    /// backup rotation, and unshelve removing the `<name>-shelved` snapshot).
    pub async fn delete_for(&self, ctx: &RequestContext, id: &str) -> Result<(), Error> {
        self.delete(ctx, id).await
    }

    /// Registers a new image (status queued) owned by `ctx`'s project.
    /// `fields` are more fields of a Glance create body (`disk_format`,
    /// `container_format`, `visibility`, `min_disk`, custom properties as
    /// strings, …), validated as `POST /v2/images` validates them.
    pub async fn create_for(
        &self,
        ctx: &RequestContext,
        name: &str,
        fields: &Map<String, Value>,
    ) -> Result<ImageRecord, Error> {
        let mut body = fields.clone();
        body.insert("name".into(), Value::String(name.to_string()));
        self.create(ctx, body).await
    }

    /// The bytes of an active image `ctx` may download, as a stream.
    pub async fn open_data(&self, ctx: &RequestContext, id: &str) -> Result<ImageData, Error> {
        match self.download(ctx, id, None).await? {
            service::data::Download::Data { image, size, stream, .. } => Ok(ImageData { image: *image, size, stream }),
            service::data::Download::NoData => {
                Err(Error::new(rustack_common::ErrorKind::Conflict, format!("Image {id} has no data.")))
            }
        }
    }

    /// Streams `stream` into the queued image `id` (checks, hashes, quota as
    /// `PUT /v2/images/{id}/file`); the image is active when this returns.
    pub async fn upload_data(&self, ctx: &RequestContext, id: &str, stream: ByteStream) -> Result<ImageRecord, Error> {
        self.upload(ctx, id, stream, None).await
    }
}
