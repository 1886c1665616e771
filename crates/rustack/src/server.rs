//! Serving: one listener per service on its usual port, graceful shutdown
//! on SIGINT/SIGTERM, Fernet keys reloaded on SIGHUP or when the key
//! repository changes on disk (after `rustack token rotate` or a copy from
//! another node).

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, Context, Result};
use rustack_identity::Identity;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How long in-flight requests get to finish after a stop signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the Fernet key repository is checked for changes.
const KEY_POLL: Duration = Duration::from_secs(5);

/// One service ready to serve.
pub struct Listening {
    pub name: &'static str,
    pub listener: TcpListener,
    pub router: axum::Router,
}

pub async fn bind(host: &str, port: u16, service: &str) -> Result<TcpListener> {
    TcpListener::bind((host, port))
        .await
        .with_context(|| format!("{service}: cannot listen on {host} port {port}"))
}

/// Serves every listener until SIGINT or SIGTERM, then drains.
/// `keys` is the identity service and its Fernet key repository, when
/// identity is served here.
pub async fn serve_all(servers: Vec<Listening>, keys: Option<(Identity, PathBuf)>) -> Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut set = JoinSet::new();
    for s in servers {
        let mut rx = stop_rx.clone();
        let name = s.name;
        set.spawn(async move {
            let stop = async move {
                let _ = rx.wait_for(|stop| *stop).await;
            };
            (name, rustack_http::serve(s.listener, s.router, stop).await)
        });
    }
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut hup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    let mut watcher = keys.map(|(identity, dir)| KeyWatcher::new(identity, dir));
    let mut poll = tokio::time::interval(KEY_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let outcome: Result<()> = loop {
        tokio::select! {
            _ = int.recv() => { tracing::info!("SIGINT received: shutting down"); break Ok(()); }
            _ = term.recv() => { tracing::info!("SIGTERM received: shutting down"); break Ok(()); }
            _ = hup.recv() => {
                tracing::info!("SIGHUP received: reloading Fernet keys");
                if let Some(w) = watcher.as_mut() { w.reload(); }
            }
            _ = poll.tick() => {
                if let Some(w) = watcher.as_mut() { w.check(); }
            }
            Some(done) = set.join_next() => {
                break Err(match done {
                    Ok((name, Ok(()))) => anyhow!("{name} stopped serving unexpectedly"),
                    Ok((name, Err(e))) => anyhow!("{name} stopped serving: {e}"),
                    Err(e) => anyhow!("a server task failed: {e}"),
                });
            }
        }
    };
    let _ = stop_tx.send(true);
    let drain = async {
        while let Some(done) = set.join_next().await {
            if let Ok((name, Err(e))) = done {
                tracing::warn!(service = name, error = %e, "error while stopping");
            }
        }
    };
    if tokio::time::timeout(DRAIN_TIMEOUT, drain).await.is_err() {
        tracing::warn!("requests still running after {}s; stopping anyway", DRAIN_TIMEOUT.as_secs());
    }
    if outcome.is_ok() {
        tracing::info!("stopped");
    }
    outcome
}

/// Reloads identity's Fernet keys when the files in the repository change.
struct KeyWatcher {
    identity: Identity,
    dir: PathBuf,
    seen: Vec<(String, u64, Option<SystemTime>)>,
}

impl KeyWatcher {
    fn new(identity: Identity, dir: PathBuf) -> KeyWatcher {
        let mut w = KeyWatcher { identity, dir, seen: Vec::new() };
        w.seen = w.fingerprint();
        w
    }

    fn fingerprint(&self) -> Vec<(String, u64, Option<SystemTime>)> {
        let Ok(rd) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        let mut v: Vec<_> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_str().is_some_and(|n| n.parse::<u64>().is_ok()))
            .filter_map(|e| {
                let m = e.metadata().ok()?;
                Some((e.file_name().to_string_lossy().into_owned(), m.len(), m.modified().ok()))
            })
            .collect();
        v.sort();
        v
    }

    fn check(&mut self) {
        let now = self.fingerprint();
        if !now.is_empty() && now != self.seen {
            tracing::info!(dir = %self.dir.display(), "Fernet key repository changed: reloading keys");
            self.reload();
        }
    }

    fn reload(&mut self) {
        match self.identity.reload_keys() {
            Ok(()) => {
                self.seen = self.fingerprint();
                tracing::info!(keys = self.seen.len(), "Fernet keys reloaded");
            }
            Err(e) => tracing::error!(error = %e, "cannot reload the Fernet keys; keeping the old ones"),
        }
    }
}
