//! The identity service (OpenStack Identity API v3, Keystone's job).
//!
//! Layout: `model` (entities and their JSON), `store` (SQL), `token` (Fernet
//! keys, payloads, issue/validate/revoke with a validation cache), `auth`
//! (password, token and application-credential methods, scoping),
//! `policy` (Keystone's default rules), `api` (routes and thin handlers),
//! `bootstrap` (the idempotent first-start setup).

pub mod api;
pub mod auth;
pub mod bootstrap;
pub mod credential_keys;
pub mod model;
pub mod oauth1;
pub mod policy;
pub mod roles;
pub mod security;
pub mod store;
pub mod token;
pub mod trusts;
pub mod validator;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use rustack_common::config::Config;
use rustack_common::Error;
use rustack_db::Db;

use crate::store::Store;
use crate::token::fernet_keys::{self, Keys};
use crate::token::revocation::RevocationList;
use crate::token::TokenCache;

/// Everything the identity service needs to start.
#[derive(Clone)]
pub struct IdentityOptions {
    pub config: Config,
    pub data_dir: PathBuf,
    /// The base URL of the public endpoint, e.g. `http://127.0.0.1:5000`; used
    /// in `links` and version discovery.
    pub public_url: String,
}

/// The identity service; cheap to clone.
#[derive(Clone)]
pub struct Identity {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub store: Store,
    pub config: Config,
    pub public_url: String,
    pub key_dir: PathBuf,
    pub keys: RwLock<Arc<Keys>>,
    pub policy: rustack_policy::Policy,
    pub revocations: RwLock<RevocationList>,
    pub cache: TokenCache,
    /// Every user, rendered, as of a users version (SQLite only: one node).
    pub users_list: RwLock<Option<(u64, Arc<Vec<model::User>>, Arc<Vec<String>>)>>,
    /// Bumped by every change that can alter a token's validity or content;
    /// cached validations from an older generation are recomputed.
    pub generation: AtomicU64,
}

impl Identity {
    /// Opens the service on `db`: applies migrations, creates the Fernet keys
    /// if absent, loads the policy and the revocation list.
    pub async fn open(db: Db, opts: IdentityOptions) -> Result<Identity, StartError> {
        let store = Store::new(db);
        store.migrate().await.map_err(StartError::Db)?;
        let key_dir = key_repository(&opts.config, &opts.data_dir);
        fernet_keys::setup(&key_dir).map_err(StartError::Keys)?;
        let keys = fernet_keys::load(&key_dir).map_err(StartError::Keys)?;
        let policy = policy::load(&opts.config).map_err(StartError::Policy)?;
        let identity = Identity {
            inner: Arc::new(Inner {
                store,
                config: opts.config,
                public_url: opts.public_url.trim_end_matches('/').to_string(),
                key_dir,
                keys: RwLock::new(Arc::new(keys)),
                policy,
                revocations: RwLock::new(RevocationList::default()),
                cache: TokenCache::default(),
                users_list: RwLock::new(None),
                generation: AtomicU64::new(0),
            }),
        };
        identity.refresh_revocations().await.map_err(StartError::Db)?;
        Ok(identity)
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn public_url(&self) -> &str {
        &self.inner.public_url
    }

    pub(crate) fn keys(&self) -> Arc<Keys> {
        self.inner.keys.read().unwrap().clone()
    }

    /// Re-reads the Fernet keys (after `rustack token rotate`).
    pub fn reload_keys(&self) -> Result<(), Error> {
        let k = fernet_keys::load(&self.inner.key_dir).map_err(|e| Error::internal(&e))?;
        *self.inner.keys.write().unwrap() = Arc::new(k);
        self.changed();
        Ok(())
    }

    /// Something that tokens depend on changed: forget cached validations,
    /// here and (through the database) on the other nodes.
    pub(crate) fn changed(&self) {
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
        if self.inner.store.db.backend() == rustack_db::Backend::Postgres {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let store = self.inner.store.clone();
                rt.spawn(async move {
                    if let Err(e) = store.bump_shared_generation().await {
                        tracing::warn!(error = %e, "could not publish an identity change");
                    }
                });
            }
        }
    }

    pub(crate) fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::SeqCst)
    }

    /// Loads revocation events written since the last load (by this process
    /// or another node sharing the database). On PostgreSQL it looks a few
    /// seconds further back than the newest event it has, so an event another
    /// node stamped earlier but committed later is not missed (events it has
    /// are skipped); on SQLite this process is the only writer.
    pub async fn refresh_revocations(&self) -> Result<usize, Error> {
        let look_back = match self.inner.store.db.backend() {
            rustack_db::Backend::Postgres => chrono::Duration::seconds(5),
            rustack_db::Backend::Sqlite => chrono::Duration::zero(),
        };
        let since = self.inner.revocations.read().unwrap().newest.as_deref().and_then(rustack_common::time::parse_iso);
        let since = since.map(|t| rustack_common::time::iso_micro(&(t - look_back)));
        let events = self.inner.store.list_revocations(since.as_deref()).await?;
        let mut added = 0;
        {
            let mut l = self.inner.revocations.write().unwrap();
            for e in events {
                if !l.contains(&e.id) {
                    l.add(e);
                    added += 1;
                }
            }
        }
        if added > 0 {
            self.changed();
        }
        Ok(added)
    }

    /// Drops revocation events older than any token that can still be alive
    /// (a token lives at most `[token] expiration`), in the database and here.
    pub async fn prune_revocations(&self) -> Result<u64, Error> {
        let horizon =
            rustack_common::time::now() - chrono::Duration::seconds(self.config().token_expiration as i64 + 60);
        let n = self.inner.store.prune_revocations(&rustack_common::time::iso_micro(&horizon)).await?;
        if n > 0 {
            let all = self.inner.store.list_revocations(None).await?;
            let mut fresh = RevocationList::default();
            for e in all {
                fresh.add(e);
            }
            *self.inner.revocations.write().unwrap() = fresh;
            tracing::info!(pruned = n, "dropped revocation events older than any live token");
        }
        Ok(n)
    }

    /// One pass of the periodic work, idempotent: pick up revocations and
    /// changes made by other nodes, and Fernet keys rotated on disk.
    pub async fn reconcile(&self, state: &mut ReconcileState) {
        if let Err(e) = self.refresh_revocations().await {
            tracing::warn!(error = %e, "revocation refresh failed");
        }
        if state.last_prune.is_none_or(|t| t.elapsed() > std::time::Duration::from_secs(600)) {
            if let Err(e) = self.prune_revocations().await {
                tracing::warn!(error = %e, "revocation pruning failed");
            }
            state.last_prune = Some(std::time::Instant::now());
        }
        if self.inner.store.db.backend() == rustack_db::Backend::Postgres {
            match self.inner.store.shared_generation().await {
                Ok(g) if Some(g) != state.shared_generation => {
                    if state.shared_generation.is_some() {
                        self.inner.generation.fetch_add(1, Ordering::SeqCst);
                    }
                    state.shared_generation = Some(g);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not read the shared generation"),
            }
        }
        let sig = fernet_keys::signature(&self.inner.key_dir);
        if state.key_signature.as_ref().is_some_and(|s| *s != sig) {
            match self.reload_keys() {
                Ok(()) => tracing::info!(dir = %self.inner.key_dir.display(), "reloaded rotated Fernet keys"),
                Err(e) => tracing::warn!(error = %e, "could not reload Fernet keys"),
            }
        }
        state.key_signature = Some(sig);
    }

    /// Runs [`Identity::reconcile`] every 2 seconds.
    pub fn spawn_reconciler(&self) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut state = ReconcileState::default();
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
            loop {
                tick.tick().await;
                me.reconcile(&mut state).await;
            }
        })
    }
}

/// What the reconciler remembers between passes.
#[derive(Default)]
pub struct ReconcileState {
    shared_generation: Option<i64>,
    last_prune: Option<std::time::Instant>,
    key_signature: Option<Vec<(String, u64)>>,
}

/// Where the Fernet keys live.
pub fn key_repository(config: &Config, data_dir: &std::path::Path) -> PathBuf {
    config.fernet_key_repository.clone().unwrap_or_else(|| data_dir.join("fernet-keys"))
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Db(Error),
    #[error("{0}")]
    Keys(fernet_keys::KeyError),
    #[error("policy: {0}")]
    Policy(rustack_policy::PolicyError),
}
