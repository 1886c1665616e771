//! A QMP client: JSON lines over QEMU's monitor Unix socket.
//!
//! One connection per VM, kept open: QEMU serves one client per monitor
//! socket, and events (SHUTDOWN, DEVICE_DELETED…) only reach a connected
//! client. A reader task routes replies to their waiting command by `id` and
//! every event to a broadcast channel; the connection closes when QEMU exits.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::UnixStream;
use tokio::sync::{broadcast, oneshot, watch};

use crate::error::{Error, Result};

/// Default bound on a command's reply.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// An asynchronous event QEMU sent (`{"event": NAME, "data": {…}, "timestamp": …}`).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub name: String,
    pub data: Value,
}

impl Event {
    /// `data.device` of DEVICE_DELETED (the device id, when it has one).
    pub fn device(&self) -> Option<&str> {
        self.data.get("device").and_then(Value::as_str)
    }
}

type Reply = std::result::Result<Value, (String, String)>;
type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Reply>>>>;

/// A negotiated QMP connection. Cheap to share (`Arc<Qmp>`); commands may be
/// issued concurrently.
pub struct Qmp {
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    pending: Pending,
    next_id: AtomicU64,
    events: broadcast::Sender<Event>,
    closed: watch::Receiver<bool>,
    /// QEMU's version from the greeting (`10.0.2`).
    pub version: String,
}

impl Qmp {
    /// Connects to `path`, reads the greeting and negotiates capabilities,
    /// all within `timeout`.
    pub async fn connect(path: &Path, timeout: Duration) -> Result<Qmp> {
        let shown = path.display().to_string();
        tokio::time::timeout(timeout, Self::connect_inner(path))
            .await
            .map_err(|_| Error::Timeout(format!("QMP handshake on {shown}")))?
    }

    async fn connect_inner(path: &Path) -> Result<Qmp> {
        let stream = UnixStream::connect(path)
            .await
            .map_err(|e| Error::Disconnected(format!("connect {}: {e}", path.display())))?;
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let greeting = next_json(&mut lines).await?;
        let v = &greeting["QMP"]["version"]["qemu"];
        let version = format!("{}.{}.{}", v["major"], v["minor"], v["micro"]);
        write
            .write_all(b"{\"execute\":\"qmp_capabilities\"}\n")
            .await
            .map_err(|e| Error::Disconnected(format!("write: {e}")))?;
        loop {
            let r = next_json(&mut lines).await?;
            if r.get("event").is_some() {
                continue;
            }
            if let Some(err) = r.get("error") {
                return Err(qmp_error("qmp_capabilities", err));
            }
            break;
        }
        let pending: Pending = Arc::default();
        let (events, _) = broadcast::channel(256);
        let (closed_tx, closed) = watch::channel(false);
        tokio::spawn(read_loop(lines, pending.clone(), events.clone(), closed_tx));
        Ok(Qmp { writer: tokio::sync::Mutex::new(write), pending, next_id: AtomicU64::new(1), events, closed, version })
    }

    /// Events from now on. Subscribe before the command that causes the
    /// event you wait for.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// True once the connection is gone (QEMU exited or closed it).
    pub fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Resolves when the connection closes.
    pub async fn closed(&self) {
        let mut rx = self.closed.clone();
        let _ = rx.wait_for(|c| *c).await;
    }

    /// Runs `command` with `arguments` (null for none) and returns its `return` value.
    pub async fn execute(&self, command: &str, arguments: Value) -> Result<Value> {
        self.execute_timeout(command, arguments, DEFAULT_TIMEOUT).await
    }

    pub async fn execute_timeout(&self, command: &str, arguments: Value, timeout: Duration) -> Result<Value> {
        if self.is_closed() {
            return Err(Error::Disconnected(format!("{command}: QEMU is gone")));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).insert(id, tx);
        let mut msg = json!({ "execute": command, "id": id });
        if !arguments.is_null() {
            msg["arguments"] = arguments;
        }
        let mut line = msg.to_string();
        line.push('\n');
        let sent = {
            let mut w = self.writer.lock().await;
            w.write_all(line.as_bytes()).await
        };
        if let Err(e) = sent {
            self.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            return Err(Error::Disconnected(format!("{command}: {e}")));
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(Ok(v))) => Ok(v),
            Ok(Ok(Err((class, desc)))) => Err(Error::Qmp { command: command.to_string(), class, desc }),
            Ok(Err(_)) => Err(Error::Disconnected(format!("{command}: QEMU closed the connection"))),
            Err(_) => {
                self.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
                Err(Error::Timeout(format!("QMP {command} ({}s)", timeout.as_secs_f32())))
            }
        }
    }
}

/// Waits for the first event named `name` that satisfies `pred` on a
/// receiver obtained before the triggering command.
pub async fn wait_event(
    rx: &mut broadcast::Receiver<Event>,
    name: &str,
    pred: impl Fn(&Event) -> bool,
    timeout: Duration,
) -> Result<Event> {
    let fut = async {
        loop {
            match rx.recv().await {
                Ok(ev) if ev.name == name && pred(&ev) => return Ok(ev),
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => {
                    return Err(Error::Disconnected(format!("waiting for {name}")));
                }
            }
        }
    };
    tokio::time::timeout(timeout, fut).await.map_err(|_| Error::Timeout(format!("event {name}")))?
}

fn qmp_error(command: &str, err: &Value) -> Error {
    Error::Qmp {
        command: command.to_string(),
        class: err["class"].as_str().unwrap_or("GenericError").to_string(),
        desc: err["desc"].as_str().unwrap_or("").to_string(),
    }
}

async fn next_json(lines: &mut tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>) -> Result<Value> {
    loop {
        match lines.next_line().await {
            Ok(Some(l)) if l.trim().is_empty() => continue,
            Ok(Some(l)) => return serde_json::from_str(&l).map_err(|e| Error::host("QMP: bad JSON", e)),
            Ok(None) => return Err(Error::Disconnected("end of stream".into())),
            Err(e) => return Err(Error::Disconnected(e.to_string())),
        }
    }
}

async fn read_loop(
    mut lines: tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>,
    pending: Pending,
    events: broadcast::Sender<Event>,
    closed: watch::Sender<bool>,
) {
    loop {
        let v = match next_json(&mut lines).await {
            Ok(v) => v,
            Err(Error::Host(e)) => {
                tracing::warn!(error = %e, "QMP: skipping a line");
                continue;
            }
            Err(_) => break,
        };
        if let Some(name) = v.get("event").and_then(Value::as_str) {
            tracing::debug!(event = name, "QMP event");
            let _ = events.send(Event { name: name.to_string(), data: v.get("data").cloned().unwrap_or(Value::Null) });
            continue;
        }
        let Some(id) = v.get("id").and_then(Value::as_u64) else { continue };
        let Some(tx) = pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&id) else { continue };
        let reply = match v.get("error") {
            Some(err) => Err((
                err["class"].as_str().unwrap_or("GenericError").to_string(),
                err["desc"].as_str().unwrap_or("").to_string(),
            )),
            None => Ok(v.get("return").cloned().unwrap_or(Value::Null)),
        };
        let _ = tx.send(reply);
    }
    // Dropping the senders fails every waiting command with Disconnected.
    pending.lock().unwrap_or_else(|e| e.into_inner()).clear();
    let _ = closed.send(true);
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::UnixListener;

    /// A fake QEMU monitor: greeting, capabilities, then scripted replies.
    async fn fake_qemu(path: std::path::PathBuf) -> tokio::task::JoinHandle<()> {
        let listener = UnixListener::bind(&path).unwrap();
        tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let (r, mut w) = s.into_split();
            let mut lines = BufReader::new(r).lines();
            w.write_all(b"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 2, \"minor\": 0, \"major\": 10}, \"package\": \"\"}, \"capabilities\": []}}\r\n").await.unwrap();
            while let Ok(Some(l)) = lines.next_line().await {
                let v: Value = serde_json::from_str(&l).unwrap();
                let id = v["id"].clone();
                let out = match v["execute"].as_str().unwrap() {
                    "qmp_capabilities" => json!({"return": {}}),
                    "query-status" => json!({"return": {"status": "running", "running": true}, "id": id}),
                    "device_del" => {
                        w.write_all(b"{\"event\": \"DEVICE_DELETED\", \"data\": {\"device\": \"nic1\", \"path\": \"/x\"}, \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}\r\n").await.unwrap();
                        json!({"return": {}, "id": id})
                    }
                    "hang" => continue,
                    "quit" => break,
                    _ => json!({"error": {"class": "CommandNotFound", "desc": "nope"}, "id": id}),
                };
                w.write_all(format!("{out}\r\n").as_bytes()).await.unwrap();
            }
        })
    }

    #[tokio::test]
    async fn commands_errors_events_timeouts_and_close() {
        let dir = std::env::temp_dir().join(format!("rustack-qmp-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let sock = dir.join("qmp.sock");
        let _ = std::fs::remove_file(&sock);
        let server = fake_qemu(sock.clone()).await;
        let q = Qmp::connect(&sock, Duration::from_secs(5)).await.unwrap();
        assert_eq!(q.version, "10.0.2");
        let st = q.execute("query-status", Value::Null).await.unwrap();
        assert_eq!(st["status"], "running");
        match q.execute("bogus", Value::Null).await {
            Err(Error::Qmp { class, .. }) => assert_eq!(class, "CommandNotFound"),
            other => panic!("unexpected {other:?}"),
        }
        let mut rx = q.subscribe();
        q.execute("device_del", json!({"id": "nic1"})).await.unwrap();
        let ev = wait_event(&mut rx, "DEVICE_DELETED", |e| e.device() == Some("nic1"), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(ev.device(), Some("nic1"));
        match q.execute_timeout("hang", Value::Null, Duration::from_millis(100)).await {
            Err(Error::Timeout(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
        let _ = q.execute_timeout("quit", Value::Null, Duration::from_millis(500)).await;
        server.await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), q.closed()).await.unwrap();
        assert!(matches!(q.execute("query-status", Value::Null).await, Err(Error::Disconnected(_))));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
