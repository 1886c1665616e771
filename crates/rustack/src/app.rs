//! What every subcommand shares: the loaded configuration, the data dir,
//! the database and the services opened on it.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use rustack_common::config::Config;
use rustack_db::Db;
use rustack_identity::bootstrap::BootstrapSpec;
use rustack_identity::{Identity, IdentityOptions};

use crate::cli::{Cli, DEFAULT_CONFIG};
use crate::files::{self, REGION};
use rustack_http::BootstrapProjects;

pub struct App {
    pub config: Config,
    pub data_dir: PathBuf,
    pub started: Instant,
}

/// Loads the configuration file: the default one may be absent, one named
/// with `--config` must exist. Errors are `ConfigError`s (exit status 2).
pub fn load_config(cli: &Cli) -> Result<Config> {
    let (path, required) = match &cli.config {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from(DEFAULT_CONFIG), false),
    };
    Ok(Config::load(&path, required)?)
}

impl App {
    /// Loads the config, sets up logging and the data dir.
    pub fn start(cli: &Cli, config: Config) -> Result<App> {
        let started = Instant::now();
        for u in config.ini.unknown_options() {
            tracing::warn!("unknown option {u} (ignored)");
        }
        files::prepare_data_dir(&cli.data_dir)?;
        let data_dir = std::fs::canonicalize(&cli.data_dir)
            .with_context(|| format!("cannot resolve the data dir {}", cli.data_dir.display()))?;
        Ok(App { config, data_dir, started })
    }

    /// The database URL: `[database] connection`, else SQLite in the data dir.
    pub fn database_url(&self) -> String {
        self.config.database_connection.clone().unwrap_or_else(|| Db::sqlite_url(&self.data_dir.join("rustack.db")))
    }

    pub async fn open_db(&self) -> Result<Db> {
        let url = self.database_url();
        let shown = redact_url(&url);
        let db = Db::connect(&url, self.config.database_max_pool_size)
            .await
            .with_context(|| format!("cannot open the database {shown}"))?;
        tracing::debug!(database = %shown, "database open");
        Ok(db)
    }

    /// Opens the identity service (migrations, Fernet keys, policy, revocations).
    pub async fn open_identity(&self, db: Db, public_url: &str) -> Result<Identity> {
        let identity = Identity::open(
            db,
            IdentityOptions {
                config: self.config.clone(),
                data_dir: self.data_dir.clone(),
                public_url: public_url.to_string(),
            },
        )
        .await
        .context("cannot open the identity service")?;
        Ok(identity)
    }

    /// The address to listen on: `--bind`, else `[DEFAULT] bind_host`.
    pub fn listen_host(&self, bind: &Option<String>) -> String {
        let h = bind.clone().unwrap_or_else(|| self.config.bind_host.clone());
        let h = h.trim().trim_start_matches('[').trim_end_matches(']').to_string();
        if h.is_empty() {
            "127.0.0.1".into()
        } else {
            h
        }
    }

    /// The base URL clients reach a service at: `[DEFAULT] public_host` or
    /// the listen address (127.0.0.1 when listening on every address).
    pub fn public_url(&self, listen_host: &str, port: u16) -> String {
        let host = match &self.config.public_host {
            Some(h) => h.clone(),
            None => match listen_host.parse::<IpAddr>() {
                Ok(ip) if ip.is_unspecified() => "127.0.0.1".into(),
                _ => listen_host.to_string(),
            },
        };
        let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host };
        format!("http://{host}:{port}")
    }

    /// Bootstraps identity (idempotent) and writes the client files.
    pub async fn bootstrap(&self, identity: &Identity, public_url: &str) -> Result<BootstrapProjects> {
        let passwords = files::passwords(&self.config, &self.data_dir)?;
        let t = Instant::now();
        let projects = identity
            .bootstrap(&BootstrapSpec {
                admin_password: passwords.admin.clone(),
                demo_password: passwords.demo.clone(),
                service_password: passwords.service.clone(),
                region: REGION.into(),
                identity_url: format!("{public_url}/v3/"),
            })
            .await
            .context("bootstrap failed")?;
        tracing::info!(elapsed_ms = t.elapsed().as_millis() as u64, "bootstrap done");
        files::write_client_files(&self.data_dir, &format!("{public_url}/v3"), &passwords)?;
        Ok(projects)
    }

    /// Tells the operator where the credentials are and what to try.
    pub fn print_usage(&self, public_url: &str, serving: bool) {
        let d = self.data_dir.display();
        if serving {
            println!("rustack is up: identity at {public_url}/v3");
        } else {
            println!("rustack is bootstrapped: identity will be at {public_url}/v3");
        }
        println!("Credentials of the users admin and demo: {d}/clouds.yaml, {d}/admin-openrc.sh, {d}/demo-openrc.sh");
        println!("Try:");
        println!("  export OS_CLIENT_CONFIG_FILE={d}/clouds.yaml");
        println!("  openstack --os-cloud rustack-admin token issue");
        println!("  openstack --os-cloud rustack-demo project list");
        println!("or: . {d}/admin-openrc.sh && openstack catalog list");
    }
}

/// `scheme://user:secret@host/db` → `scheme://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (auth, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match auth.rsplit_once('@') {
        Some((cred, host)) => {
            let user = cred.split_once(':').map(|(u, _)| u).unwrap_or(cred);
            if cred.contains(':') {
                format!("{scheme}://{user}:***@{host}{tail}")
            } else {
                url.to_string()
            }
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact_url("postgresql://u:p@h:5432/db"), "postgresql://u:***@h:5432/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite:///var/lib/rustack/rustack.db"), "sqlite:///var/lib/rustack/rustack.db");
    }

    fn app(public_host: Option<&str>) -> App {
        let mut config = Config::default();
        config.public_host = public_host.map(String::from);
        App { config, data_dir: "/tmp".into(), started: Instant::now() }
    }

    #[test]
    fn public_urls() {
        let a = app(None);
        assert_eq!(a.public_url("0.0.0.0", 5000), "http://127.0.0.1:5000");
        assert_eq!(a.public_url("::", 5000), "http://127.0.0.1:5000");
        assert_eq!(a.public_url("10.1.2.3", 5000), "http://10.1.2.3:5000");
        assert_eq!(a.public_url("::1", 5000), "http://[::1]:5000");
        assert_eq!(app(Some("cloud.example")).public_url("0.0.0.0", 5000), "http://cloud.example:5000");
        assert_eq!(a.listen_host(&Some("[::1]".into())), "::1");
        assert_eq!(a.listen_host(&None), "127.0.0.1");
    }
}
