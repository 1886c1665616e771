//! `rustack`: OpenStack rebuilt in Rust, as one binary. See `rustack --help`
//! and docs/operations.md.

mod app;
mod cli;
mod files;
mod logging;
mod malloc;
mod server;
mod services;
mod test_image;

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use rustack_common::config::ConfigError;
use rustack_identity::token::fernet_keys;

use crate::app::App;
use crate::cli::{Cli, Command, CredentialCommand, DataplaneCommand, DbCommand, TokenCommand};
use crate::server::Listening;
use crate::services::Service;
use rustack_http::remote::{RemoteValidator, ServiceCredentials};
use rustack_http::ServiceOptions;
use rustack_identity::bootstrap::CatalogEntry;
use std::sync::Arc;
use std::time::Duration;

fn main() -> ExitCode {
    malloc::tune();
    let cli = Cli::parse();
    if let Command::Version = cli.command {
        println!("rustack {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let config = match app::load_config(&cli) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    logging::init(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return fail(&anyhow::Error::new(e).context("cannot start the async runtime")),
    };
    let result = runtime.block_on(async {
        let app = App::start(&cli, config)?;
        run(&app, cli.command).await
    });
    // do not wait for background tasks (the reconciler) to notice
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// Prints `rustack: <error>: <cause>…`; exit status 2 for a bad
/// configuration, 1 otherwise.
fn fail(e: &anyhow::Error) -> ExitCode {
    eprintln!("rustack: {e:#}");
    if e.downcast_ref::<ConfigError>().is_some() {
        ExitCode::from(2)
    } else {
        ExitCode::from(1)
    }
}

async fn run(app: &App, command: Command) -> Result<()> {
    match command {
        Command::Up(args) => {
            let host = app.listen_host(&args.bind.bind);
            start(app, &host, Service::ALL, true).await
        }
        Command::Serve(args) => {
            let services = services::parse(&args.services)?;
            let host = app.listen_host(&args.bind.bind);
            start(app, &host, &services, false).await
        }
        Command::Bootstrap(args) => {
            let host = app.listen_host(&args.bind);
            let public_url = app.public_url(&host, app.config.identity_port);
            let identity = app.open_identity(app.open_db().await?, &public_url).await?;
            app.bootstrap(&identity, &public_url).await?;
            app.print_usage(&public_url, false);
            Ok(())
        }
        Command::Db { command: DbCommand::Sync } => {
            let host = app.listen_host(&None);
            let public_url = app.public_url(&host, app.config.identity_port);
            let db = app.open_db().await?;
            let identity = app.open_identity(db.clone(), &public_url).await?;
            let mut opened = services::Opened::default();
            for &service in &Service::ALL[1..] {
                let opts = ServiceOptions {
                    config: app.config.clone(),
                    data_dir: app.data_dir.clone(),
                    public_url: app.public_url(&host, service.port(&app.config)),
                    identity_url: format!("{public_url}/v3"),
                    validator: identity.validator(),
                    limits: identity.limits(),
                };
                let _router = opened.open(service, &db, opts, None, false).await?;
            }
            println!("database {} is up to date", app::redact_url(&app.database_url()));
            Ok(())
        }
        Command::Token { command: TokenCommand::Rotate } => rotate_keys(app),
        Command::Credential { command: CredentialCommand::Rotate } => {
            let public_url = app.public_url(&app.listen_host(&None), app.config.identity_port);
            let identity = app.open_identity(app.open_db().await?, &public_url).await?;
            let report = identity.rotate_credential_keys().await.context("cannot rotate the credential keys")?;
            println!(
                "rotated the credential keys in {}: {} keys, {} credentials re-encrypted with the new primary key",
                identity.credential_key_dir().display(),
                report.keys,
                report.reencrypted
            );
            println!("copy the directory to every other node serving identity");
            Ok(())
        }
        Command::Dataplane { command: DataplaneCommand::Clear } => clear_dataplane(app).await,
        Command::Version => unreachable!("handled before start"),
    }
}

/// `up` and `serve`: listen, open the services, bootstrap when asked, serve.
async fn start(app: &App, host: &str, services: &[Service], bootstrap: bool) -> Result<()> {
    // listen first: a port in use fails fast, before any other work
    let mut bound = Vec::new();
    for &service in services {
        let port = service.port(&app.config);
        bound.push((service, port, server::bind(host, port, service.name()).await?));
    }
    let db = app.open_db().await?;
    let identity_url = app.public_url(host, app.config.identity_port);
    let local_identity = if services.contains(&Service::Identity) {
        let identity = app.open_identity(db.clone(), &identity_url).await?;
        let projects = if bootstrap { Some(app.bootstrap(&identity, &identity_url).await?) } else { None };
        identity.spawn_reconciler();
        Some((identity, projects))
    } else {
        None
    };
    let access = match &local_identity {
        Some((identity, _)) => IdentityAccess::local(identity, &identity_url),
        None => IdentityAccess::remote(app)?,
    };
    let projects = local_identity.as_ref().and_then(|(_, p)| p.clone());
    let mut opened = services::Opened::default();
    let mut listening = Vec::new();
    for (service, port, listener) in bound {
        let public_url = app.public_url(host, port);
        let router = match (service, &local_identity) {
            (Service::Identity, Some((identity, _))) => identity.router(),
            (Service::Identity, None) => unreachable!("identity is opened when served"),
            (other, _) => {
                let opts = ServiceOptions {
                    config: app.config.clone(),
                    data_dir: app.data_dir.clone(),
                    public_url: public_url.clone(),
                    identity_url: access.url.clone(),
                    validator: access.validator.clone(),
                    limits: access.limits.clone(),
                };
                let router = opened.open(other, &db, opts, projects.as_ref(), true).await?;
                if let (true, Some((identity, _)), Some((service_type, name, path))) =
                    (bootstrap, &local_identity, other.catalog())
                {
                    let entry = CatalogEntry {
                        service_type: service_type.into(),
                        name: name.into(),
                        url: format!("{public_url}{path}"),
                    };
                    identity
                        .register_service(files::REGION, &entry)
                        .await
                        .with_context(|| format!("cannot register {service_type} in the catalog"))?;
                }
                router
            }
        };
        listening.push(Listening { name: service.name(), listener, router });
    }
    for l in &listening {
        let addr = l.listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
        tracing::info!(service = l.name, %addr, "listening");
    }
    tracing::info!(
        startup_ms = app.started.elapsed().as_millis() as u64,
        data_dir = %app.data_dir.display(),
        "rustack ready"
    );
    if bootstrap {
        app.print_usage(&identity_url, true);
    }
    server::serve_all(listening, local_identity.map(|(i, _)| i)).await
}

/// How the other services of this process reach identity: in-process when it
/// is served here, else over HTTP as the service user (`[service_user]`).
struct IdentityAccess {
    url: String,
    validator: Arc<dyn rustack_http::TokenValidator>,
    limits: Arc<dyn rustack_http::LimitLookup>,
}

impl IdentityAccess {
    fn local(identity: &rustack_identity::Identity, public_url: &str) -> IdentityAccess {
        IdentityAccess { url: format!("{public_url}/v3"), validator: identity.validator(), limits: identity.limits() }
    }

    fn remote(app: &App) -> Result<IdentityAccess> {
        let su = &app.config.service_user;
        let Some(auth_url) = su.auth_url.clone() else {
            anyhow::bail!(
                "identity is not served by this process: set [service_user] auth_url (and password) to the identity \
                 endpoint other services validate tokens against, or add identity to --services"
            );
        };
        let password = match &su.password {
            Some(p) => p.clone(),
            None => files::stored_password(&app.data_dir, "service")?.ok_or_else(|| {
                anyhow::anyhow!(
                    "no [service_user] password, and no service= line in {}/passwords",
                    app.data_dir.display()
                )
            })?,
        };
        let base = auth_url.trim_end_matches('/').trim_end_matches("/v3").to_string();
        let remote = Arc::new(RemoteValidator::new(
            ServiceCredentials {
                auth_url: base,
                username: su.username.clone(),
                password,
                project_name: su.project_name.clone(),
                domain_id: "default".into(),
            },
            Duration::from_secs(app.config.token_cache_time),
        ));
        tracing::info!(identity = %auth_url, user = %su.username, "validating tokens against a remote identity service");
        Ok(IdentityAccess { url: auth_url, validator: remote.clone(), limits: remote })
    }
}

/// `dataplane clear`: the Linux data plane of this data dir applies an empty
/// state, which removes what its ledger says it made (and nothing else).
async fn clear_dataplane(app: &App) -> Result<()> {
    use rustack_netplane::DataPlane;
    let state_dir = app.data_dir.join("network");
    if !state_dir.exists() {
        println!("no network data plane state in {}: nothing to clear", state_dir.display());
        return Ok(());
    }
    let dp = rustack_netplane::LinuxDataPlane::new(rustack_netplane::LinuxSettings {
        state_dir: state_dir.clone(),
        ..Default::default()
    });
    dp.apply(&rustack_netplane::HostState::default())
        .await
        .map_err(|e| anyhow::anyhow!("cannot clear the data plane of {}: {e}", state_dir.display()))?;
    println!("cleared the network data plane recorded in {}", state_dir.display());
    Ok(())
}

/// `token rotate`: set the repository up if absent, then rotate it.
fn rotate_keys(app: &App) -> Result<()> {
    let dir = rustack_identity::key_repository(&app.config, &app.data_dir);
    if fernet_keys::setup(&dir)? {
        println!("created the Fernet key repository {}", dir.display());
    }
    fernet_keys::rotate(&dir, app.config.fernet_max_active_keys as usize)
        .with_context(|| format!("cannot rotate the keys in {}", dir.display()))?;
    let mut ids: Vec<u64> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    ids.sort_unstable();
    let primary = ids.iter().copied().max().unwrap_or(0);
    let described: Vec<String> = ids
        .iter()
        .map(|&n| match n {
            0 => "0 (staged)".to_string(),
            n if n == primary => format!("{n} (primary)"),
            n => format!("{n} (secondary)"),
        })
        .collect();
    println!("rotated the Fernet keys in {}: {}", dir.display(), described.join(", "));
    println!("running servers load them within seconds (at once on SIGHUP); copy the directory to every other node");
    Ok(())
}
