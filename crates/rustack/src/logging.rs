//! Structured logs (tracing) on stderr: human-readable text by default, one
//! JSON object per line with `[DEFAULT] log_format = json`. `RUST_LOG`
//! overrides the level (`info`, or `debug` with `[DEFAULT] debug = true`).

use std::io::IsTerminal;

use rustack_common::config::Config;
use tracing_subscriber::EnvFilter;

/// Dependencies that are too chatty at debug level.
const QUIET: &str = "sqlx=warn,hyper=info,h2=info,tower=info";

pub fn init(config: &Config) {
    let default = if config.debug { format!("debug,{QUIET}") } else { format!("info,{QUIET}") };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = if config.log_json {
        builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init()
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).try_init()
    };
    if let Err(e) = result {
        eprintln!("rustack: cannot set up logging: {e}");
    }
}
