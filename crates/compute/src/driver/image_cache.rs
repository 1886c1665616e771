//! The per-host image cache of the `qemu` driver: each image a VM boots from
//! (and its `kernel_id`/`ramdisk_id`) is fetched once from the image service,
//! streamed to a temporary file while its md5 `checksum` and multihash
//! (`os_hash_algo`/`os_hash_value`) are computed, checked, then renamed into
//! place. A cached image is `<dir>/<image id>` plus `<id>.json` (its format
//! and properties); the data file appears last, so its presence means the
//! entry is complete. Base images are only ever read (instance disks are
//! qcow2 overlays over them).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use md5::{Digest, Md5};
use rustack_common::Error;
use rustack_http::RequestContext;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use crate::peers::Images;

/// An image in the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedImage {
    #[serde(skip)]
    pub path: PathBuf,
    /// Glance's `disk_format`.
    pub disk_format: String,
    pub properties: BTreeMap<String, String>,
}

pub struct ImageCache {
    dir: PathBuf,
    images: Arc<dyn Images>,
    /// One fetch at a time per image: concurrent boots of one image wait
    /// for the first fetch instead of downloading it again.
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Image ids are UUIDs; anything that could leave the directory is refused.
fn safe_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn new(algo: &str) -> Option<Hasher> {
        match algo {
            "sha256" => Some(Hasher::Sha256(sha2::Sha256::new())),
            "sha512" => Some(Hasher::Sha512(sha2::Sha512::new())),
            _ => None,
        }
    }
    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha512(h) => h.update(b),
        }
    }
    fn hex(self) -> String {
        match self {
            Hasher::Sha256(h) => hex(&h.finalize()),
            Hasher::Sha512(h) => hex(&h.finalize()),
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn io_err(what: impl std::fmt::Display, e: impl std::fmt::Display) -> Error {
    Error::internal(&std::io::Error::other(format!("image cache: {what}: {e}")))
}

impl ImageCache {
    pub fn new(dir: &Path, images: Arc<dyn Images>) -> Result<ImageCache, Error> {
        std::fs::create_dir_all(dir).map_err(|e| io_err(format!("mkdir {}", dir.display()), e))?;
        // leftovers of fetches a crash cut off
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().ends_with(".part") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(ImageCache { dir: dir.to_path_buf(), images, fetching: Mutex::new(HashMap::new()) })
    }

    fn lock_of(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.fetching.lock().unwrap_or_else(|e| e.into_inner()).entry(id.to_string()).or_default().clone()
    }

    /// The cached copy of image `id` (fetched now when missing).
    pub async fn get(&self, ctx: Option<&RequestContext>, id: &str) -> Result<CachedImage, Error> {
        if !safe_id(id) {
            return Err(Error::bad_request(format!("Invalid image id {id:?}.")));
        }
        let data = self.dir.join(id);
        let meta = self.dir.join(format!("{id}.json"));
        let lock = self.lock_of(id);
        let _held = lock.lock().await;
        if data.is_file() {
            if let Some(mut c) = std::fs::read(&meta).ok().and_then(|b| serde_json::from_slice::<CachedImage>(&b).ok())
            {
                c.path = data;
                return Ok(c);
            }
        }
        let ctx = ctx.ok_or_else(|| Error::conflict(format!("Image {id} is not cached on this host.")))?;
        self.fetch(ctx, id, &data, &meta).await
    }

    async fn fetch(&self, ctx: &RequestContext, id: &str, data: &Path, meta: &Path) -> Result<CachedImage, Error> {
        let t0 = std::time::Instant::now();
        let mut dl = self.images.download(ctx, id).await?;
        let part = self.dir.join(format!("{id}.{}.part", uuid::Uuid::new_v4().simple()));
        let res: Result<u64, Error> = async {
            let mut f = tokio::fs::File::create(&part).await.map_err(|e| io_err("create", e))?;
            let mut md5 = Md5::new();
            let mut multi = dl.os_hash.as_ref().and_then(|(algo, _)| Hasher::new(algo));
            let mut n = 0u64;
            while let Some(chunk) = dl.stream.next().await {
                let chunk = chunk.map_err(|e| io_err(format!("download of image {id}"), e))?;
                md5.update(&chunk);
                if let Some(h) = multi.as_mut() {
                    h.update(&chunk);
                }
                n += chunk.len() as u64;
                f.write_all(&chunk).await.map_err(|e| io_err("write", e))?;
            }
            f.sync_all().await.map_err(|e| io_err("sync", e))?;
            if n != dl.size {
                return Err(io_err(format!("image {id}"), format!("got {n} bytes, expected {}", dl.size)));
            }
            if let Some(want) = &dl.checksum {
                let got = hex(&md5.finalize());
                if &got != want {
                    return Err(io_err(format!("image {id}"), format!("md5 {got} is not the checksum {want}")));
                }
            }
            if let (Some(h), Some((algo, want))) = (multi, &dl.os_hash) {
                let got = h.hex();
                if &got != want {
                    return Err(io_err(format!("image {id}"), format!("{algo} {got} is not os_hash_value {want}")));
                }
            }
            Ok(n)
        }
        .await;
        let n = match res {
            Ok(n) => n,
            Err(e) => {
                let _ = std::fs::remove_file(&part);
                return Err(e);
            }
        };
        let entry = CachedImage {
            path: data.to_path_buf(),
            disk_format: dl.disk_format.clone(),
            properties: dl.properties.clone(),
        };
        let body = serde_json::to_vec(&entry).map_err(|e| Error::internal(&e))?;
        let written = std::fs::write(meta, body)
            .and_then(|_| std::fs::rename(&part, data))
            .map_err(|e| io_err(format!("store image {id}"), e));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&part);
            return Err(e);
        }
        tracing::info!(image = id, bytes = n, ms = t0.elapsed().as_millis() as u64, "image fetched into the cache");
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peers::{ImageDownload, ImageInfo};
    use rustack_http::token_layer::BoxFuture;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Serves one image; counts downloads; may lie about its checksum.
    struct OneImage {
        data: Vec<u8>,
        checksum: String,
        downloads: AtomicUsize,
    }

    impl Images for OneImage {
        fn get<'a>(&'a self, _: &'a RequestContext, _: &'a str) -> BoxFuture<'a, Result<Option<ImageInfo>, Error>> {
            Box::pin(async { Ok(None) })
        }
        fn create_snapshot<'a>(
            &'a self,
            _: &'a RequestContext,
            _: &'a str,
            _: BTreeMap<String, String>,
        ) -> BoxFuture<'a, Result<String, Error>> {
            Box::pin(async { Ok(String::new()) })
        }
        fn upload<'a>(&'a self, _: &'a RequestContext, _: &'a str, _: Vec<u8>) -> BoxFuture<'a, Result<(), Error>> {
            Box::pin(async { Ok(()) })
        }
        fn upload_file<'a>(
            &'a self,
            _: &'a RequestContext,
            _: &'a str,
            _: &'a Path,
        ) -> BoxFuture<'a, Result<(), Error>> {
            Box::pin(async { Ok(()) })
        }
        fn download<'a>(&'a self, _: &'a RequestContext, _: &'a str) -> BoxFuture<'a, Result<ImageDownload, Error>> {
            Box::pin(async move {
                self.downloads.fetch_add(1, Ordering::SeqCst);
                let half = self.data.len() / 2;
                let chunks = vec![
                    Ok(bytes::Bytes::from(self.data[..half].to_vec())),
                    Ok(bytes::Bytes::from(self.data[half..].to_vec())),
                ];
                let sha = hex(&sha2::Sha512::digest(&self.data));
                Ok(ImageDownload {
                    disk_format: "qcow2".into(),
                    size: self.data.len() as u64,
                    checksum: Some(self.checksum.clone()),
                    os_hash: Some(("sha512".into(), sha)),
                    properties: BTreeMap::from([("kernel_id".to_string(), "k".to_string())]),
                    stream: Box::pin(futures_util::stream::iter(chunks)),
                })
            })
        }
    }

    #[tokio::test]
    async fn fetched_once_verified_and_renamed() {
        let dir = std::env::temp_dir().join(format!("rustack-imgcache-{}", uuid::Uuid::new_v4().simple()));
        let data = b"not really a disk, but bytes".to_vec();
        let good = Arc::new(OneImage { checksum: hex(&Md5::digest(&data)), data, downloads: AtomicUsize::new(0) });
        let cache = ImageCache::new(&dir, good.clone()).unwrap();
        let c = crate::driver::qemu::tests::test_context();
        let a = cache.get(Some(&c), "img-1").await.unwrap();
        assert_eq!(a.disk_format, "qcow2");
        assert_eq!(a.properties.get("kernel_id").map(String::as_str), Some("k"));
        assert_eq!(std::fs::read(&a.path).unwrap(), good.data);
        // a second boot (even without a caller) reads the cache
        let b = cache.get(None, "img-1").await.unwrap();
        assert_eq!(a, b);
        assert_eq!(good.downloads.load(Ordering::SeqCst), 1);
        assert!(cache.get(Some(&c), "../etc").await.is_err());

        let bad = Arc::new(OneImage { checksum: "0".repeat(32), data: b"x".to_vec(), downloads: AtomicUsize::new(0) });
        let cache = ImageCache::new(&dir, bad).unwrap();
        let e = cache.get(Some(&c), "img-2").await.unwrap_err();
        assert_eq!(e.status(), 500);
        // nothing half-made is left
        let left: Vec<String> =
            std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        assert!(left.iter().all(|n| n.starts_with("img-1")), "{left:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
