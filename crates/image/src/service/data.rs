//! Image bytes: upload (`PUT …/file`), download with ranges (`GET …/file`),
//! staging and the glance-direct import.
//!
//! Bytes stream from the client through a pipeline (size cap, disk format
//! inspection, md5 and sha512 on their own threads) into the data store,
//! which writes a temporary file and renames it only when everything passed.
//! Status moves queued → saving → active; any failure puts the image back to
//! queued with nothing stored. The work runs in its own task, so a client
//! that goes away mid-upload still gets its image put back.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::StreamExt;
use rustack_common::{Error, ErrorKind};
use rustack_http::RequestContext;
use serde_json::json;
use tokio::sync::mpsc;

use super::forbidden_action;
use crate::data::{ByteStream, StoreError};
use crate::digest::{Algorithm, Hasher};
use crate::format::Inspector;
use crate::model::{now_iso, status, ImageRecord};
use crate::store::Task;
use crate::Image;

const MIB: u64 = 1024 * 1024;

/// What a download yields.
pub enum Download {
    /// The image has no data yet (Glance answers 204).
    NoData,
    Data {
        image: Box<ImageRecord>,
        /// Bytes in `stream`.
        size: u64,
        /// The whole image's size.
        total: u64,
        /// The inclusive byte range served, for a range request.
        range: Option<(u64, u64)>,
        stream: ByteStream,
    },
}

/// A `Range` request header, resolved against a size.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeOutcome {
    Whole,
    Part(u64, u64),
    Unsatisfiable,
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` (one range; several are refused as
/// unsatisfiable, as Glance serves one).
pub fn resolve_range(header: &str, size: u64) -> RangeOutcome {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeOutcome::Whole; // other units are ignored (RFC 9110)
    };
    if spec.contains(',') || size == 0 {
        return RangeOutcome::Unsatisfiable;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeOutcome::Unsatisfiable;
    };
    let (a, b) = (a.trim(), b.trim());
    let parsed = match (a.is_empty(), b.is_empty()) {
        (true, false) => b.parse::<u64>().ok().filter(|n| *n > 0).map(|n| (size.saturating_sub(n), size - 1)),
        (false, true) => a.parse::<u64>().ok().map(|s| (s, size - 1)),
        (false, false) => match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(s), Ok(e)) if s <= e => Some((s, e.min(size - 1))),
            _ => None,
        },
        (true, true) => None,
    };
    match parsed {
        Some((s, e)) if s < size => RangeOutcome::Part(s, e),
        _ => RangeOutcome::Unsatisfiable,
    }
}

/// What the pipeline learned about the bytes.
struct Ingested {
    size: u64,
    md5: String,
    sha512: String,
    virtual_size: Option<i64>,
}

/// The pipeline's state, shared with the stream the store reads.
struct PipeState {
    size: u64,
    inspector: Option<Inspector>,
    virtual_size: Option<i64>,
    /// Why the pipeline stopped the stream (a 400 or 413 for the client).
    failure: Option<Error>,
}

/// A digest computed on its own named thread from chunks sent to it; the
/// result comes back once the sender is dropped. A plain thread rather than
/// the blocking pool: it lives as long as the upload, and its name shows
/// where the CPU goes (`bench/image.sh` reports CPU time per thread).
type HashResult = tokio::sync::oneshot::Receiver<std::io::Result<String>>;

fn hash_worker(alg: Algorithm, name: &str) -> Result<(mpsc::Sender<Bytes>, HashResult), Error> {
    let (tx, mut rx) = mpsc::channel::<Bytes>(16);
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let mut h = Hasher::new(alg);
            let mut res = Ok(());
            while let Some(b) = rx.blocking_recv() {
                if res.is_ok() {
                    res = h.update(&b); // after a failure, drain so the sender never blocks
                }
            }
            let _ = done_tx.send(res.and_then(|()| h.finish_hex()));
        })
        .map_err(|e| Error::internal(&e))?;
    Ok((tx, done_rx))
}

fn storage_full() -> Error {
    Error::new(
        ErrorKind::PayloadTooLarge,
        "Image storage media is full: there is not enough disk space on the image storage media.",
    )
}

fn too_large(max: u64) -> Error {
    Error::new(ErrorKind::PayloadTooLarge, format!("Image exceeds the storage quota or size cap of {max} bytes."))
}

impl Image {
    /// Streams `body` into the data store under `key`: size cap `max`,
    /// inspection against `disk_format` (None: none), md5 and sha512. All
    /// or nothing.
    async fn ingest(
        &self,
        key: &str,
        body: ByteStream,
        disk_format: Option<&str>,
        max: u64,
    ) -> Result<Ingested, Error> {
        let state = Arc::new(Mutex::new(PipeState {
            size: 0,
            inspector: disk_format.map(Inspector::new),
            virtual_size: None,
            failure: None,
        }));
        let (md5_tx, md5_h) = hash_worker(Algorithm::Md5, "img-md5")?;
        let (sha_tx, sha_h) = hash_worker(Algorithm::Sha512, "img-sha512")?;
        let st = state.clone();
        // Some(chunk) for the data, then one None: the end, where the last checks run
        let items = body.map(Some).chain(futures_util::stream::once(async { None }));
        let piped = items.then(move |item| {
            let (st, md5_tx, sha_tx) = (st.clone(), md5_tx.clone(), sha_tx.clone());
            async move {
                let fail = |st: &Arc<Mutex<PipeState>>, e: Error| {
                    let msg = e.message.clone();
                    if let Ok(mut s) = st.lock() {
                        s.failure.get_or_insert(e);
                    }
                    Err(std::io::Error::other(msg))
                };
                match item {
                    Some(Ok(chunk)) => {
                        {
                            let Ok(mut s) = st.lock() else { return Err(std::io::Error::other("poisoned")) };
                            s.size += chunk.len() as u64;
                            if s.size > max {
                                drop(s);
                                return fail(&st, too_large(max));
                            }
                            if let Some(i) = s.inspector.as_mut() {
                                if let Err(e) = i.feed(&chunk) {
                                    drop(s);
                                    return fail(&st, e);
                                }
                            }
                        }
                        let _ = md5_tx.send(chunk.clone()).await;
                        let _ = sha_tx.send(chunk.clone()).await;
                        Ok(chunk)
                    }
                    Some(Err(e)) => Err(e),
                    None => {
                        let Ok(mut s) = st.lock() else { return Err(std::io::Error::other("poisoned")) };
                        let size = s.size as i64;
                        let vs = match s.inspector.as_mut() {
                            Some(i) => i.finish(),
                            None => Ok(Some(size)),
                        };
                        match vs {
                            Ok(v) => {
                                s.virtual_size = v;
                                Ok(Bytes::new())
                            }
                            Err(e) => {
                                drop(s);
                                fail(&st, e)
                            }
                        }
                    }
                }
            }
        });
        let put = self.inner.data.put(key, Box::pin(piped)).await;
        let hashed = |r: Result<std::io::Result<String>, _>| r.unwrap_or_else(|e| Err(std::io::Error::other(e)));
        let (md5, sha512) = (hashed(md5_h.await), hashed(sha_h.await));
        let (failure, size, virtual_size) = match state.lock() {
            Ok(mut s) => (s.failure.take(), s.size, s.virtual_size),
            Err(_) => (Some(Error::internal(&std::io::Error::other("pipeline state poisoned"))), 0, None),
        };
        match put {
            Ok(n) => match (md5, sha512) {
                (Ok(md5), Ok(sha512)) => Ok(Ingested { size: n.max(size), md5, sha512, virtual_size }),
                (Err(e), _) | (_, Err(e)) => {
                    // stored but without its digests: not an image anyone may get
                    let _ = self.inner.data.delete(key).await;
                    Err(Error::internal(&e))
                }
            },
            Err(e) => Err(match (failure, e) {
                (Some(f), _) => f,
                (None, StoreError::Full) => storage_full(),
                (None, StoreError::Source(e)) => {
                    tracing::info!(key, error = %e, "image upload cut off");
                    Error::bad_request("The image data could not be read in full: the upload was cut off.")
                }
                (None, e) => Error::internal(&e),
            }),
        }
    }

    /// The bytes a project may still store under `image_size_total`, capped
    /// by `image_size_cap`; 413 when already over.
    async fn upload_allowance(&self, owner: &str, announced: Option<u64>) -> Result<u64, Error> {
        let cap = self.settings().image_size_cap;
        let mut max = cap;
        if let Some(limit) = self.limit(owner, "image_size_total").await? {
            let (_, used) = self.store().usage(owner).await?;
            let limit_bytes = (limit.max(0) as u64).saturating_mul(MIB);
            let used = used.max(0) as u64;
            let delta_mib = announced.map(|n| n.div_ceil(MIB) as i64).unwrap_or(0);
            if used >= limit_bytes {
                return Err(Self::over_limit("image_size_total", limit, (used / MIB) as i64, delta_mib.max(1)));
            }
            max = max.min(limit_bytes - used);
        }
        if let Some(n) = announced {
            if n > max {
                return Err(too_large(max));
            }
        }
        Ok(max)
    }

    /// `PUT /v2/images/{id}/file` (and [`Image::upload_data`]).
    pub(crate) async fn upload(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: ByteStream,
        announced: Option<u64>,
    ) -> Result<ImageRecord, Error> {
        let img = self.load_visible(ctx, id).await?;
        self.authorize("upload_image", ctx, &img).await?;
        let Some(disk_format) = img.disk_format.clone().filter(|_| img.container_format.is_some()) else {
            return Err(Error::bad_request(
                "Properties disk_format, container_format must be set prior to saving data.",
            ));
        };
        if img.status != status::QUEUED {
            return Err(Error::conflict(format!(
                "Image status transition from {} to {} is not allowed",
                img.status,
                status::SAVING
            )));
        }
        let max = self.upload_allowance(img.owner.as_deref().unwrap_or_default(), announced).await?;
        if !self.store().transition(id, status::QUEUED, status::SAVING).await? {
            return Err(Error::conflict(format!("Image {id} is already being uploaded or has data.")));
        }
        // its own task: a client that goes away does not stop the clean-up
        let svc = self.clone();
        let id2 = id.to_string();
        let task = tokio::spawn(async move {
            let res = svc.ingest(&id2, body, Some(&disk_format), max).await;
            svc.finish_upload(&id2, status::SAVING, &id2, res).await
        });
        task.await.map_err(|e| Error::internal(&e))?
    }

    /// Records the outcome of an ingest into `key` of an image in status
    /// `during`: active with its hashes, or back to queued.
    async fn finish_upload(
        &self,
        id: &str,
        during: &str,
        key: &str,
        res: Result<Ingested, Error>,
    ) -> Result<ImageRecord, Error> {
        let got = match res {
            Ok(g) => g,
            Err(e) => {
                self.store().transition(id, during, status::QUEUED).await?;
                return Err(e);
            }
        };
        let gone = || {
            Error::new(
                ErrorKind::Gone,
                format!(
                    "Image {id} could not be found after upload. The image may have been deleted during the upload."
                ),
            )
        };
        let fresh = match self.store().get_image(id).await? {
            Some(f) if f.status == during => f,
            _ => {
                let _ = self.inner.data.delete(key).await;
                return Err(gone());
            }
        };
        let mut img = fresh.clone();
        img.status = status::ACTIVE.into();
        img.size = Some(got.size as i64);
        img.virtual_size = got.virtual_size;
        img.checksum = Some(got.md5);
        img.os_hash_algo = Some("sha512".into());
        img.os_hash_value = Some(got.sha512);
        img.location = Some(key.to_string());
        img.updated_at = now_iso();
        if !self.store().update_image(&img, Some(during)).await? {
            let _ = self.inner.data.delete(key).await;
            return Err(gone());
        }
        Ok(img)
    }

    /// `GET /v2/images/{id}/file`, with an optional `Range` header.
    pub(crate) async fn download(
        &self,
        ctx: &RequestContext,
        id: &str,
        range: Option<&str>,
    ) -> Result<Download, Error> {
        let img = self.load_visible(ctx, id).await?;
        self.authorize("download_image", ctx, &img).await?;
        if img.status == status::DEACTIVATED && !self.is_admin(ctx) {
            return Err(Error::forbidden(
                "The requested image has been deactivated. Image data download is prohibited.",
            ));
        }
        let Some(key) =
            img.location.clone().filter(|_| img.status == status::ACTIVE || img.status == status::DEACTIVATED)
        else {
            return Ok(Download::NoData);
        };
        let total = self.inner.data.size(&key).await.map_err(|e| match e {
            StoreError::NotFound => Error::not_found(format!("Image data of {id} not found.")),
            e => Error::internal(&e),
        })?;
        let range = match range.map(|r| resolve_range(r, total)) {
            None | Some(RangeOutcome::Whole) => None,
            Some(RangeOutcome::Part(s, e)) => Some((s, e)),
            Some(RangeOutcome::Unsatisfiable) => {
                return Err(Error::new(ErrorKind::RangeNotSatisfiable, "Requested range not satisfiable")
                    .with_code(format!("bytes */{total}")))
            }
        };
        let (total, stream) = self.inner.data.get(&key, range).await.map_err(|e| match e {
            StoreError::NotFound => Error::not_found(format!("Image data of {id} not found.")),
            e => Error::internal(&e),
        })?;
        let size = match range {
            Some((s, e)) => e - s + 1,
            None => total,
        };
        Ok(Download::Data { image: Box::new(img), size, total, range, stream })
    }

    /// `PUT /v2/images/{id}/stage`: the bytes wait for `POST …/import`.
    pub(crate) async fn stage(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: ByteStream,
        announced: Option<u64>,
    ) -> Result<(), Error> {
        let img = self.load_visible(ctx, id).await?;
        self.authorize("stage_image", ctx, &img).await?;
        if img.status != status::QUEUED {
            return Err(Error::conflict(format!(
                "Image status transition from {} to {} is not allowed",
                img.status,
                status::UPLOADING
            )));
        }
        let max = self.upload_allowance(img.owner.as_deref().unwrap_or_default(), announced).await?;
        if !self.store().transition(id, status::QUEUED, status::UPLOADING).await? {
            return Err(Error::conflict(format!("Image {id} is already being uploaded.")));
        }
        let svc = self.clone();
        let id2 = id.to_string();
        let task = tokio::spawn(async move {
            let key = format!("staging-{id2}");
            match svc.ingest(&key, body, None, max).await {
                Ok(_) => {
                    let Some(mut img) = svc.store().get_image(&id2).await? else {
                        let _ = svc.inner.data.delete(&key).await;
                        return Err(super::image_not_found(&id2));
                    };
                    img.staged = Some(key.clone());
                    img.updated_at = now_iso();
                    if !svc.store().update_image(&img, Some(status::UPLOADING)).await? {
                        let _ = svc.inner.data.delete(&key).await;
                        return Err(Error::conflict(format!("Image {id2} changed while staging.")));
                    }
                    Ok(())
                }
                Err(e) => {
                    svc.store().transition(&id2, status::UPLOADING, status::QUEUED).await?;
                    Err(e)
                }
            }
        });
        task.await.map_err(|e| Error::internal(&e))?
    }

    /// `POST /v2/images/{id}/import` with method glance-direct: moves the
    /// staged bytes into the store in the background (202).
    pub(crate) async fn import(
        &self,
        ctx: &RequestContext,
        id: &str,
        method: &str,
        request_id: &str,
    ) -> Result<(), Error> {
        let img = self.load_visible(ctx, id).await?;
        self.authorize("import_image", ctx, &img).await?;
        if method != "glance-direct" {
            return Err(Error::bad_request(format!(
                "Import method {method} is not valid for this cloud. Valid values are: glance-direct"
            )));
        }
        if img.disk_format.is_none() || img.container_format.is_none() {
            return Err(Error::bad_request("'disk_format' needs to be set before import"));
        }
        let Some(staged) = img.staged.clone().filter(|_| img.status == status::UPLOADING) else {
            return Err(Error::conflict("Image needs to be staged before 'glance-direct' method can be used"));
        };
        if !self.store().transition(id, status::UPLOADING, status::IMPORTING).await? {
            return Err(Error::conflict(format!("Image {id} is already being imported.")));
        }
        let now = now_iso();
        let task = Task {
            id: uuid::Uuid::new_v4().to_string(),
            image_id: id.to_string(),
            status: "processing".into(),
            input: json!({"image_id": id, "import_req": {"method": {"name": method}}, "backend": ["file"]}),
            message: String::new(),
            request_id: request_id.to_string(),
            user_id: ctx.user_id.clone(),
            owner: img.owner.clone().unwrap_or_default(),
            created_at: now.clone(),
            updated_at: now,
        };
        self.store().insert_task(&task).await?;
        let svc = self.clone();
        let id = id.to_string();
        let disk_format = img.disk_format.clone().unwrap_or_default();
        let owner = img.owner.clone().unwrap_or_default();
        tokio::spawn(async move {
            let res = async {
                let max = svc.upload_allowance(&owner, None).await?;
                let (_, stream) = svc.inner.data.get(&staged, None).await.map_err(|e| Error::internal(&e))?;
                let got = svc.ingest(&id, stream, Some(&disk_format), max).await;
                svc.finish_upload(&id, status::IMPORTING, &id, got).await
            }
            .await;
            let _ = svc.inner.data.delete(&staged).await;
            if let Ok(Some(mut img)) = svc.store().get_image(&id).await {
                img.staged = None;
                if res.is_err() {
                    img.properties.insert("os_glance_failed_import".into(), "file".into());
                }
                let _ = svc.store().update_image(&img, Some(&img.status.clone())).await;
            }
            let (st, msg) = match &res {
                Ok(_) => ("success", String::new()),
                Err(e) => ("failure", e.message.clone()),
            };
            if let Err(e) = svc.store().finish_task(&task.id, st, &msg).await {
                tracing::warn!(error = %e, "could not record the end of an import task");
            }
        });
        Ok(())
    }

    /// `GET /v2/images/{id}/tasks`.
    pub(crate) async fn image_tasks(&self, ctx: &RequestContext, id: &str) -> Result<Vec<Task>, Error> {
        let img = self.load_visible(ctx, id).await?;
        if !self.is_admin(ctx) && img.owner.as_deref() != ctx.project_id() {
            return Err(forbidden_action("get_task"));
        }
        self.store().tasks_of(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(resolve_range("bytes=0-9", 100), RangeOutcome::Part(0, 9));
        assert_eq!(resolve_range("bytes=90-", 100), RangeOutcome::Part(90, 99));
        assert_eq!(resolve_range("bytes=-10", 100), RangeOutcome::Part(90, 99));
        assert_eq!(resolve_range("bytes=50-500", 100), RangeOutcome::Part(50, 99));
        assert_eq!(resolve_range("bytes=100-", 100), RangeOutcome::Unsatisfiable);
        assert_eq!(resolve_range("bytes=5-1", 100), RangeOutcome::Unsatisfiable);
        assert_eq!(resolve_range("bytes=0-1,5-6", 100), RangeOutcome::Unsatisfiable);
        assert_eq!(resolve_range("items=0-1", 100), RangeOutcome::Whole);
    }
}
