//! The command line: global options and one subcommand per operator task.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub const DEFAULT_CONFIG: &str = "/etc/rustack/rustack.conf";
pub const DEFAULT_DATA_DIR: &str = "/var/lib/rustack";

/// OpenStack rebuilt in Rust, as one binary.
///
/// `rustack up` starts an all-in-one cloud: it bootstraps the identity
/// service on first start, writes clouds.yaml and admin-openrc.sh into the
/// data dir, and serves the OpenStack APIs on their usual ports.
#[derive(Debug, Parser)]
#[command(name = "rustack", version, propagate_version = true)]
pub struct Cli {
    /// The configuration file (oslo-style INI). The default may be absent;
    /// a file named here must exist.
    #[arg(long, global = true, value_name = "PATH", help = format!("The configuration file [default: {DEFAULT_CONFIG}]"))]
    pub config: Option<PathBuf>,

    /// Where rustack keeps its state: the SQLite database, Fernet keys,
    /// generated passwords, clouds.yaml. Created (mode 0700) if missing.
    #[arg(long, global = true, value_name = "PATH", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the all-in-one: bootstrap (idempotent), write clouds.yaml and
    /// the openrc files, then serve every service until SIGINT/SIGTERM.
    Up(UpArgs),
    /// Serve a subset of the services, without bootstrapping (for nodes of
    /// a multi-node cloud sharing one PostgreSQL database).
    Serve(ServeArgs),
    /// Database maintenance.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Create the default domain, roles, projects, users, region and the
    /// catalog (idempotent) and write clouds.yaml and the openrc files;
    /// does not serve.
    Bootstrap(BindArgs),
    /// Token maintenance.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Credential (EC2 secrets, TOTP seeds, …) encryption key maintenance.
    Credential {
        #[command(subcommand)]
        command: CredentialCommand,
    },
    /// The network data plane on this host.
    Dataplane {
        #[command(subcommand)]
        command: DataplaneCommand,
    },
    /// Print the version.
    Version,
}

#[derive(Debug, Args)]
pub struct BindArgs {
    /// The address to listen on (and, unless `[DEFAULT] public_host` is
    /// set, to put in the catalog). Default: `[DEFAULT] bind_host`
    /// (127.0.0.1). The ports come from the configuration, e.g. `[identity] port`.
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub bind: BindArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Comma-separated services to serve, e.g. `identity`.
    #[arg(long, value_name = "LIST", value_delimiter = ',', required = true)]
    pub services: Vec<String>,
    #[command(flatten)]
    pub bind: BindArgs,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply every pending schema migration, then exit.
    Sync,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Rotate the Fernet keys: the staged key becomes the primary, a new
    /// staged key is written, the oldest secondaries beyond
    /// `[fernet_tokens] max_active_keys` are removed. Running servers pick
    /// the new keys up on SIGHUP or restart.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum DataplaneCommand {
    /// Remove everything the network data plane made on this host — bridges,
    /// namespaces, dnsmasq processes, nftables tables — as its ledger
    /// (`<data dir>/network/owned.json`) lists them. Stop rustack first;
    /// the next start makes them again from the database.
    Clear,
}

#[derive(Debug, Subcommand)]
pub enum CredentialCommand {
    /// Rotate the keys that encrypt stored credentials and re-encrypt every
    /// credential with the new primary key (Keystone's `credential_rotate`
    /// and `credential_migrate` in one step). Needs the database.
    Rotate,
}
