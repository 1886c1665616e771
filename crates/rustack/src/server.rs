//! Serving: one listener per service on its usual port, graceful shutdown
//! on SIGINT/SIGTERM, Fernet keys reloaded at once on SIGHUP (identity's
//! reconciler also picks up a changed key repository within seconds).

use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use rustack_identity::Identity;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How long in-flight requests get to finish after a stop signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// One service ready to serve.
pub struct Listening {
    pub name: &'static str,
    pub listener: TcpListener,
    pub router: axum::Router,
}

pub async fn bind(host: &str, port: u16, service: &str) -> Result<TcpListener> {
    TcpListener::bind((host, port)).await.with_context(|| format!("{service}: cannot listen on {host} port {port}"))
}

/// Serves every listener until SIGINT or SIGTERM, then drains.
/// `identity` is the identity service when it is served here (SIGHUP
/// reloads its Fernet keys).
pub async fn serve_all(servers: Vec<Listening>, identity: Option<Identity>) -> Result<()> {
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
    let outcome: Result<()> = loop {
        tokio::select! {
            _ = int.recv() => { tracing::info!("SIGINT received: shutting down"); break Ok(()); }
            _ = term.recv() => { tracing::info!("SIGTERM received: shutting down"); break Ok(()); }
            _ = hup.recv() => {
                tracing::info!("SIGHUP received: reloading Fernet keys");
                match identity.as_ref().map(|i| i.reload_keys()) {
                    Some(Ok(())) => tracing::info!("Fernet keys reloaded"),
                    Some(Err(e)) => tracing::error!(error = %e, "cannot reload the Fernet keys; keeping the old ones"),
                    None => {}
                }
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
