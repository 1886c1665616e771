//! The local filesystem store: one file per key under a directory
//! (`<data dir>/images` by default).
//!
//! A put writes a hidden temporary file on its own thread (fed through a
//! small channel, so memory stays bounded), starting the disk's writeback as
//! it goes, fsyncs it and renames it over the key: a reader never sees a
//! half-written image, and a failed or abandoned put removes its temporary
//! file (also when the future is dropped). A get reads on its own thread a
//! few chunks ahead of the socket, with the kernel told the reads are
//! sequential.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;

use super::{valid_key, BoxFuture, ByteStream, DataStore, StoreError};

/// How many chunks may wait between the network and the disk.
const QUEUE: usize = 8;
/// A put asks the kernel to start writing back every this many bytes: the
/// disk then writes while the upload goes on, instead of all of it in the
/// final fsync (with 24 GiB of RAM a 1 GiB image stays dirty until then:
/// the background writeback threshold is 10% of memory).
const WRITEBACK: u64 = 8 << 20;
/// The read size of a download, and how many chunks are read ahead.
const READ_CHUNK: usize = 1 << 20;
const READ_AHEAD: usize = 4;

pub struct FilesystemStore {
    dir: PathBuf,
}

impl FilesystemStore {
    /// A store over `dir` (created, 0700, if absent).
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<FilesystemStore> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(FilesystemStore { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        if !valid_key(key) {
            return Err(StoreError::Io(io::Error::new(io::ErrorKind::InvalidInput, "invalid store key")));
        }
        Ok(self.dir.join(key))
    }
}

/// Sends `len` bytes of `f` from `start` in chunks of [`READ_CHUNK`]; an
/// error ends the stream.
fn read_range(mut f: std::fs::File, start: u64, len: u64, tx: tokio::sync::mpsc::Sender<io::Result<Bytes>>) {
    if let Err(e) = f.seek(SeekFrom::Start(start)) {
        let _ = tx.blocking_send(Err(e));
        return;
    }
    if len == 0 {
        return;
    }
    let end = start + len;
    // Linux doubles the open file's read-ahead window. Measured on a cold
    // 1 GiB file (docs/perf/image.md): 0.09–0.13 s of reader CPU and
    // 0.44–0.48 s, against 0.31–0.47 s and 0.61–0.78 s without; adding
    // POSIX_FADV_WILLNEED ahead of the reader was worse than either
    advise_sequential(&f);
    let mut pos = start;
    while pos < end {
        let want = (end - pos).min(READ_CHUNK as u64) as usize;
        // one full-size read loop per chunk (read_to_end would start with
        // small reads and grow them)
        let mut buf = vec![0u8; want];
        let mut got = 0;
        while got < want {
            match f.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
        buf.truncate(got);
        if got == 0 {
            let _ = tx.blocking_send(Err(io::Error::new(io::ErrorKind::UnexpectedEof, "image data truncated")));
            return;
        }
        pos += got as u64;
        if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
            return; // the reader went away
        }
    }
}

/// Starts writing back `len` bytes of `f` from `from`, without waiting
/// (`sync_file_range(SYNC_FILE_RANGE_WRITE)`): not a durability guarantee
/// (the fsync at the end is), only an earlier start. Best effort.
fn start_writeback(f: &std::fs::File, from: u64, len: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let (Ok(from), Ok(len)) = (i64::try_from(from), i64::try_from(len)) else { return };
        // SAFETY: a syscall on a descriptor this function borrows; no memory is passed
        unsafe { libc::sync_file_range(f.as_raw_fd(), from, len, libc::SYNC_FILE_RANGE_WRITE) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (f, from, len);
}

/// `posix_fadvise(POSIX_FADV_SEQUENTIAL)` on the whole of `f`. Best effort.
fn advise_sequential(f: &std::fs::File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a syscall on a descriptor this function borrows; no memory is passed
        unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_SEQUENTIAL) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = f;
}

/// Removes the temporary file unless the put succeeded.
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl DataStore for FilesystemStore {
    fn id(&self) -> &'static str {
        "file"
    }

    fn put<'a>(&'a self, key: &'a str, mut data: ByteStream) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let dest = self.path(key)?;
            let tmp = self.dir.join(format!(".tmp-{key}-{}", uuid::Uuid::new_v4().simple()));
            let guard = TempGuard(Some(tmp.clone()));
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(QUEUE);
            let dir = self.dir.clone();
            // set when every chunk was sent: a writer that sees its channel
            // close without it was abandoned (the put's future was dropped)
            let complete = Arc::new(AtomicBool::new(false));
            let done = complete.clone();
            // the disk side, on its own named thread: plain blocking writes,
            // writeback started as it goes, fsync; then the rename below
            let (result_tx, result_rx) = tokio::sync::oneshot::channel();
            std::thread::Builder::new()
                .name("img-write".into())
                .spawn(move || {
                    let res = (|| {
                        let mut f = std::fs::OpenOptions::new()
                            .write(true)
                            .create_new(true)
                            .open(&tmp)
                            .map_err(StoreError::from_write)?;
                        let (mut n, mut flushed) = (0u64, 0u64);
                        while let Some(chunk) = rx.blocking_recv() {
                            f.write_all(&chunk).map_err(StoreError::from_write)?;
                            n += chunk.len() as u64;
                            if n - flushed >= WRITEBACK {
                                start_writeback(&f, flushed, n - flushed);
                                flushed = n;
                            }
                        }
                        if done.load(Ordering::SeqCst) {
                            f.sync_all().map_err(StoreError::from_write)?;
                        }
                        Ok(n)
                    })();
                    if res.is_err() || !done.load(Ordering::SeqCst) {
                        let _ = std::fs::remove_file(&tmp);
                    }
                    let _ = result_tx.send(res);
                })
                .map_err(StoreError::Io)?;
            let mut source_err = None;
            while let Some(item) = data.next().await {
                match item {
                    Ok(chunk) if chunk.is_empty() => {}
                    Ok(chunk) => {
                        if tx.send(chunk).await.is_err() {
                            break; // the writer failed; its error is below
                        }
                    }
                    Err(e) => {
                        source_err = Some(e);
                        break;
                    }
                }
            }
            if source_err.is_none() {
                complete.store(true, Ordering::SeqCst);
            }
            drop(tx);
            let written = result_rx.await.map_err(|e| StoreError::Io(io::Error::other(e)))?;
            if let Some(e) = source_err {
                return Err(StoreError::Source(e)); // the guard removes the temporary file
            }
            let n = written?;
            let tmp = guard.0.clone().unwrap_or_default();
            tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
                std::fs::rename(&tmp, &dest).map_err(StoreError::from_write)?;
                // the rename itself survives a crash once the directory is synced
                let _ = std::fs::File::open(&dir).and_then(|d| d.sync_all());
                Ok(())
            })
            .await
            .map_err(|e| StoreError::Io(io::Error::other(e)))??;
            let mut guard = guard;
            guard.0 = None;
            Ok(n)
        })
    }

    fn get<'a>(
        &'a self,
        key: &'a str,
        range: Option<(u64, u64)>,
    ) -> BoxFuture<'a, Result<(u64, ByteStream), StoreError>> {
        Box::pin(async move {
            let path = self.path(key)?;
            // opened here: the stream keeps the file even if it is unlinked meanwhile
            let (file, size) = tokio::task::spawn_blocking(move || -> Result<(std::fs::File, u64), StoreError> {
                let f = std::fs::File::open(&path).map_err(|e| match e.kind() {
                    io::ErrorKind::NotFound => StoreError::NotFound,
                    _ => StoreError::Io(e),
                })?;
                let size = f.metadata().map_err(StoreError::Io)?.len();
                Ok((f, size))
            })
            .await
            .map_err(|e| StoreError::Io(io::Error::other(e)))??;
            let (start, end) = range.unwrap_or((0, size.saturating_sub(1)));
            let remaining = if size == 0 { 0 } else { end.saturating_sub(start) + 1 };
            // a reader thread reads ahead while the network sends: disk and
            // socket overlap; it stops when the stream is dropped
            let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(READ_AHEAD);
            std::thread::Builder::new()
                .name("img-read".into())
                .spawn(move || read_range(file, start, remaining, tx))
                .map_err(StoreError::Io)?;
            let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
            Ok((size, Box::pin(stream) as ByteStream))
        })
    }

    fn size<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let path = self.path(key)?;
            match tokio::fs::metadata(&path).await {
                Ok(m) => Ok(m.len()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::NotFound),
                Err(e) => Err(StoreError::Io(e)),
            }
        })
    }

    /// Temporary files of puts cut short by a crash: not written since `before`.
    fn remove_stale(&self, before: std::time::SystemTime) -> BoxFuture<'_, ()> {
        let dir = self.dir.clone();
        Box::pin(async move {
            let _ = tokio::task::spawn_blocking(move || {
                let Ok(rd) = std::fs::read_dir(&dir) else { return };
                for e in rd.flatten() {
                    let old = e.metadata().and_then(|m| m.modified()).is_ok_and(|m| m < before);
                    if old && e.file_name().to_string_lossy().starts_with(".tmp-") {
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            })
            .await;
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let path = self.path(key)?;
            match tokio::fs::remove_file(&path).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(StoreError::Io(e)),
            }
        })
    }
}
