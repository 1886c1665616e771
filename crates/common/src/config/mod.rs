//! The oslo-style INI configuration file (`/etc/rustack/rustack.conf`).
//!
//! Every option rustack reads is declared once in [`OPTIONS`], with its type,
//! default and help; docs/config.md documents the same list (a test keeps the
//! two in step). A bad file stops the start with `file:line: [section] option: why`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptType {
    Str,
    Int,
    Bool,
}

/// One configuration option.
#[derive(Debug)]
pub struct OptSpec {
    pub section: &'static str,
    pub name: &'static str,
    pub ty: OptType,
    /// The default, as it would be written in the file; "" means unset.
    pub default: &'static str,
    pub help: &'static str,
}

macro_rules! opt {
    ($s:literal, $n:literal, $t:ident, $d:literal, $h:literal) => {
        $crate::config::OptSpec { section: $s, name: $n, ty: $crate::config::OptType::$t, default: $d, help: $h }
    };
}

mod compute;
mod image;
mod network;

/// The option tables, each with the page of docs/ that documents it.
pub static OPTION_GROUPS: &[(&[OptSpec], &str)] = &[
    (OPTIONS, "config.md"),
    (image::OPTIONS, "config-image.md"),
    (network::OPTIONS, "config-network.md"),
    (compute::OPTIONS, "config-compute.md"),
];

/// Every option rustack understands, over all groups.
pub fn all_options() -> impl Iterator<Item = &'static OptSpec> {
    OPTION_GROUPS.iter().flat_map(|(g, _)| g.iter())
}

/// The general and identity options (docs/config.md). Each other service
/// declares its own in `config/<service>.rs`, documented in docs/config-<service>.md.
pub static OPTIONS: &[OptSpec] = &[
    opt!("DEFAULT", "debug", Bool, "false", "Log at debug level."),
    opt!("DEFAULT", "log_format", Str, "text", "Log line format: `text` or `json`."),
    opt!("DEFAULT", "bind_host", Str, "127.0.0.1", "Address every API listens on (`--bind` overrides)."),
    opt!("DEFAULT", "public_host", Str, "", "Host name or address put in catalog endpoint URLs; defaults to the bind address (or 127.0.0.1 when bound to 0.0.0.0)."),
    opt!("DEFAULT", "max_request_body_size", Int, "114688", "Largest JSON request body accepted, in bytes (Keystone's default)."),
    opt!("database", "connection", Str, "", "SQL URL. Empty: SQLite at `<data dir>/rustack.db`. `postgresql://user:pass@host/db` for PostgreSQL."),
    opt!("database", "max_pool_size", Int, "8", "Connections kept open to the database."),
    opt!("identity", "port", Int, "5000", "Port of the Identity API."),
    opt!("identity", "admin_password", Str, "", "Password of the bootstrap user `admin`; empty: generated and written to `<data dir>/passwords` (mode 0600)."),
    opt!("identity", "demo_password", Str, "", "Password of the bootstrap user `demo`; empty: generated like the admin's."),
    opt!("identity", "password_hash_rounds", Int, "12", "bcrypt cost for new password hashes (Keystone's default is 12)."),
    opt!("identity", "max_password_length", Int, "4096", "Longest password accepted."),
    opt!("identity", "list_limit", Int, "0", "Most entities a list returns (then `truncated: true`); 0: no limit."),
    opt!("token", "expiration", Int, "3600", "Lifetime of a token, in seconds."),
    opt!("token", "cache_time", Int, "300", "How long a remote token validation stays cached by the other services, in seconds (revocations seen in-process clear it at once)."),
    opt!("token", "cache_validations", Bool, "true", "Keep validated tokens in memory until the identity data changes (a revocation, a role change, …) or they expire; off: every validation decrypts and rebuilds the token."),
    opt!("fernet_tokens", "key_repository", Str, "", "Directory of Fernet keys; empty: `<data dir>/fernet-keys`."),
    opt!("fernet_tokens", "max_active_keys", Int, "3", "Keys kept by `rustack token rotate` (staged + primary + secondaries)."),
    opt!("credential", "key_repository", Str, "", "Directory of the Fernet keys that encrypt credential blobs; empty: `credential-keys` beside the token key repository (`<data dir>/credential-keys`)."),
    opt!("credential", "auth_ttl", Int, "15", "Minutes an EC2-signed request stays valid after the time it was signed (`POST /v3/ec2tokens`)."),
    opt!("oauth1", "request_token_duration", Int, "28800", "Seconds an OAuth1 request token stays valid; 0: forever."),
    opt!("oauth1", "access_token_duration", Int, "86400", "Seconds an OAuth1 access token stays valid; 0: forever."),
    opt!("endpoint_filter", "return_all_endpoints_if_no_filter", Bool, "true", "A project with no endpoint associations or endpoint groups gets the whole catalog (false: an empty one)."),
    opt!("security_compliance", "lockout_failure_attempts", Int, "0", "Failed password authentications after which a user is locked out; 0: never (Keystone's option)."),
    opt!("security_compliance", "lockout_duration", Int, "1800", "Seconds a locked-out user stays locked."),
    opt!("security_compliance", "disable_user_account_days_inactive", Int, "0", "Days without authenticating after which a user is disabled; 0: never."),
    opt!("security_compliance", "password_expires_days", Int, "0", "Days a password stays valid; 0: forever."),
    opt!("security_compliance", "unique_last_password_count", Int, "0", "How many of a user's last passwords (the current one included) a new self-chosen password must differ from; 0: no check."),
    opt!("security_compliance", "minimum_password_age", Int, "0", "Days a user must keep a password before changing it again themselves."),
    opt!("security_compliance", "password_regex", Str, "", "A regular expression every new password must match; empty: none."),
    opt!("security_compliance", "password_regex_description", Str, "", "What `password_regex` requires, in words, shown when a password is refused."),
    opt!("security_compliance", "change_password_upon_first_use", Bool, "false", "A password set by an administrator (new user or reset) must be changed by the user before it can be used to authenticate."),
    opt!("service_user", "auth_url", Str, "", "Identity URL (`http://host:5000/v3`) the services of a node that does not serve identity validate tokens against; empty: identity is served by this process."),
    opt!("service_user", "username", Str, "rustack", "The user those services authenticate as (bootstrap makes `rustack`, admin and service on project `service`)."),
    opt!("service_user", "password", Str, "", "Its password; empty: `service=` in `<data dir>/passwords` (written by bootstrap on the identity node)."),
    opt!("service_user", "project_name", Str, "service", "The project it scopes its token to (in the Default domain)."),
    opt!("oslo_policy", "policy_file", Str, "", "A JSON or YAML file of policy rules overriding the defaults; empty: `/etc/rustack/policy.yaml` if present."),
];

/// Why the configuration could not be loaded.
#[derive(Debug)]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub option: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(o) = &self.option {
            write!(f, ": {o}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// A value as written in the file, with the line it came from.
#[derive(Debug, Clone)]
struct RawValue {
    value: String,
    line: usize,
}

/// The parsed file: section -> option -> value. Section names keep their case
/// (oslo's `DEFAULT` is upper case); option names are as written.
#[derive(Debug, Clone, Default)]
pub struct Ini {
    file: String,
    sections: BTreeMap<String, BTreeMap<String, RawValue>>,
}

impl Ini {
    pub fn parse(file: &str, text: &str) -> Result<Ini, ConfigError> {
        let mut ini = Ini { file: file.to_string(), sections: BTreeMap::new() };
        let mut section: Option<String> = None;
        let mut last: Option<(String, String)> = None;
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let err = |m: &str| ConfigError {
                file: file.to_string(),
                line: Some(line_no),
                option: None,
                message: m.to_string(),
            };
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            // An indented line continues the previous value (oslo multi-line values).
            if raw.starts_with([' ', '\t']) {
                if let (Some(s), Some((_, k))) = (&section, &last) {
                    let v = ini.sections.get_mut(s).and_then(|m| m.get_mut(k));
                    if let Some(v) = v {
                        v.value.push('\n');
                        v.value.push_str(trimmed);
                        continue;
                    }
                }
                return Err(err("indented line outside any option"));
            }
            if let Some(rest) = trimmed.strip_prefix('[') {
                let name =
                    rest.strip_suffix(']').ok_or_else(|| err("section header is missing its closing ']'"))?.trim();
                if name.is_empty() {
                    return Err(err("empty section name"));
                }
                ini.sections.entry(name.to_string()).or_default();
                section = Some(name.to_string());
                last = None;
                continue;
            }
            let (k, v) = trimmed
                .split_once(['=', ':'])
                .ok_or_else(|| err("expected `option = value`, a `[section]` or a comment"))?;
            let k = k.trim();
            if k.is_empty() {
                return Err(err("option name is empty"));
            }
            let s = section.clone().ok_or_else(|| err("option before any [section] header"))?;
            let v = v.trim().to_string();
            ini.sections.entry(s.clone()).or_default().insert(k.to_string(), RawValue { value: v, line: line_no });
            last = Some((s, k.to_string()));
        }
        Ok(ini)
    }

    pub fn load(path: &Path) -> Result<Ini, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: None,
            option: None,
            message: format!("cannot read: {e}"),
        })?;
        Ini::parse(&file, &text)
    }

    /// The raw string of an option, if set.
    pub fn get(&self, section: &str, name: &str) -> Option<&str> {
        self.sections.get(section)?.get(name).map(|v| v.value.as_str())
    }

    fn line_of(&self, section: &str, name: &str) -> Option<usize> {
        self.sections.get(section)?.get(name).map(|v| v.line)
    }

    /// Options set in a section rustack reads that it does not know.
    pub fn unknown_options(&self) -> Vec<String> {
        let known_sections: Vec<&str> = all_options().map(|o| o.section).collect();
        let mut out = Vec::new();
        for (s, opts) in &self.sections {
            if !known_sections.contains(&s.as_str()) {
                continue;
            }
            for (k, v) in opts {
                if spec(s, k).is_none() {
                    out.push(format!("{}:{}: [{s}] {k}", self.file, v.line));
                }
            }
        }
        out
    }

    /// A TCP port option (1..65535).
    pub fn port(&self, section: &str, name: &str) -> Result<u16, ConfigError> {
        let port = self.int(section, name)?;
        u16::try_from(port)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| self.error(section, name, format!("{port} is not a TCP port")))
    }

    /// An error about an option, naming the file and line it was set on.
    pub fn error(&self, section: &str, name: &str, message: String) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line: self.line_of(section, name),
            option: Some(format!("[{section}] {name}")),
            message,
        }
    }

    /// The value of a declared option: the file's, else the default.
    fn value(&self, section: &str, name: &str) -> &str {
        match self.get(section, name) {
            Some(v) => v,
            None => {
                spec(section, name)
                    .unwrap_or_else(|| panic!("option [{section}] {name} is not declared in any option table"))
                    .default
            }
        }
    }

    pub fn str(&self, section: &str, name: &str) -> Option<String> {
        let v = self.value(section, name);
        (!v.is_empty()).then(|| v.to_string())
    }

    pub fn int(&self, section: &str, name: &str) -> Result<u64, ConfigError> {
        let v = self.value(section, name);
        v.parse::<u64>().map_err(|_| self.error(section, name, format!("'{v}' is not a non-negative integer")))
    }

    pub fn bool(&self, section: &str, name: &str) -> Result<bool, ConfigError> {
        let v = self.value(section, name);
        match v.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(true),
            "false" | "no" | "off" | "0" => Ok(false),
            _ => Err(self.error(section, name, format!("'{v}' is not a boolean (true/false)"))),
        }
    }

    /// An enumerated string option.
    pub fn choice(&self, section: &str, name: &str, allowed: &[&str]) -> Result<String, ConfigError> {
        let v = self.value(section, name);
        if allowed.contains(&v) {
            Ok(v.to_string())
        } else {
            Err(self.error(section, name, format!("'{v}' is not one of {}", allowed.join(", "))))
        }
    }

    /// Checks every declared option in the file parses as its type.
    fn check_types(&self) -> Result<(), ConfigError> {
        for o in all_options() {
            if self.get(o.section, o.name).is_none() {
                continue;
            }
            match o.ty {
                OptType::Int => {
                    self.int(o.section, o.name)?;
                }
                OptType::Bool => {
                    self.bool(o.section, o.name)?;
                }
                OptType::Str => {}
            }
        }
        Ok(())
    }
}

fn spec(section: &str, name: &str) -> Option<&'static OptSpec> {
    all_options().find(|o| o.section == section && o.name == name)
}

/// The typed configuration every service starts from.
#[derive(Debug, Clone)]
pub struct Config {
    pub ini: Ini,
    pub debug: bool,
    pub log_json: bool,
    pub bind_host: String,
    pub public_host: Option<String>,
    pub max_request_body_size: usize,
    pub database_connection: Option<String>,
    pub database_max_pool_size: u32,
    pub identity_port: u16,
    pub image_port: u16,
    pub network_port: u16,
    pub compute_port: u16,
    pub placement_port: u16,
    pub metadata_port: u16,
    pub novncproxy_port: u16,
    pub admin_password: Option<String>,
    pub demo_password: Option<String>,
    pub password_hash_rounds: u32,
    pub max_password_length: usize,
    pub list_limit: Option<usize>,
    pub token_expiration: u64,
    pub token_cache_time: u64,
    pub token_cache_validations: bool,
    pub fernet_key_repository: Option<PathBuf>,
    pub fernet_max_active_keys: u32,
    /// `[oslo_policy] policy_file`, else `/etc/rustack/policy.yaml` when it exists.
    pub policy_file: Option<PathBuf>,
    pub security: SecurityCompliance,
    pub service_user: ServiceUser,
}

/// `[service_user]`: how services reach identity on another node.
#[derive(Debug, Clone, Default)]
pub struct ServiceUser {
    pub auth_url: Option<String>,
    pub username: String,
    pub password: Option<String>,
    pub project_name: String,
}

/// Keystone's `[security_compliance]` options.
#[derive(Debug, Clone, Default)]
pub struct SecurityCompliance {
    pub lockout_failure_attempts: u32,
    pub lockout_duration: u64,
    pub disable_user_account_days_inactive: u32,
    pub password_expires_days: u32,
    pub unique_last_password_count: u32,
    pub minimum_password_age: u32,
    pub password_regex: Option<String>,
    pub password_regex_description: Option<String>,
    pub change_password_upon_first_use: bool,
}

/// The policy file used when `[oslo_policy] policy_file` is empty, if present.
fn default_policy_file() -> Option<PathBuf> {
    Some(PathBuf::from("/etc/rustack/policy.yaml")).filter(|p| p.exists())
}

impl Default for Config {
    fn default() -> Self {
        Config::from_ini(Ini::default()).expect("the defaults are valid")
    }
}

impl Config {
    /// Loads `path`; a missing file is an error only when `required`.
    pub fn load(path: &Path, required: bool) -> Result<Config, ConfigError> {
        if !required && !path.exists() {
            return Ok(Config::default());
        }
        Config::from_ini(Ini::load(path)?)
    }

    pub fn from_ini(ini: Ini) -> Result<Config, ConfigError> {
        ini.check_types()?;
        let port = ini.port("identity", "port")?;
        let rounds = ini.int("identity", "password_hash_rounds")?;
        if !(4..=31).contains(&rounds) {
            return Err(ini.error("identity", "password_hash_rounds", format!("{rounds} is outside bcrypt's 4..31")));
        }
        let keys = ini.int("fernet_tokens", "max_active_keys")?;
        if keys < 1 {
            return Err(ini.error("fernet_tokens", "max_active_keys", "must be at least 1".into()));
        }
        let expiration = ini.int("token", "expiration")?;
        if expiration == 0 {
            return Err(ini.error("token", "expiration", "must be positive".into()));
        }
        let list_limit = ini.int("identity", "list_limit")? as usize;
        let conn = ini.str("database", "connection");
        if let Some(c) = &conn {
            let ok = ["sqlite:", "postgres://", "postgresql://"].iter().any(|p| c.starts_with(p));
            if !ok {
                return Err(ini.error(
                    "database",
                    "connection",
                    format!("'{c}' is neither a sqlite: nor a postgresql:// URL"),
                ));
            }
        }
        Ok(Config {
            debug: ini.bool("DEFAULT", "debug")?,
            log_json: ini.choice("DEFAULT", "log_format", &["text", "json"])? == "json",
            bind_host: ini.str("DEFAULT", "bind_host").unwrap_or_default(),
            public_host: ini.str("DEFAULT", "public_host"),
            max_request_body_size: ini.int("DEFAULT", "max_request_body_size")? as usize,
            database_connection: conn,
            database_max_pool_size: ini.int("database", "max_pool_size")?.clamp(1, 1000) as u32,
            identity_port: port,
            image_port: ini.port("image", "port")?,
            network_port: ini.port("network", "port")?,
            compute_port: ini.port("compute", "port")?,
            placement_port: ini.port("placement", "port")?,
            metadata_port: ini.port("metadata", "port")?,
            novncproxy_port: ini.port("vnc", "port")?,
            admin_password: ini.str("identity", "admin_password"),
            demo_password: ini.str("identity", "demo_password"),
            password_hash_rounds: rounds as u32,
            max_password_length: ini.int("identity", "max_password_length")? as usize,
            list_limit: (list_limit > 0).then_some(list_limit),
            token_expiration: expiration,
            token_cache_time: ini.int("token", "cache_time")?,
            token_cache_validations: ini.bool("token", "cache_validations")?,
            fernet_key_repository: ini.str("fernet_tokens", "key_repository").map(PathBuf::from),
            fernet_max_active_keys: keys as u32,
            policy_file: ini.str("oslo_policy", "policy_file").map(PathBuf::from).or_else(default_policy_file),
            service_user: ServiceUser {
                auth_url: ini.str("service_user", "auth_url"),
                username: ini.str("service_user", "username").unwrap_or_default(),
                password: ini.str("service_user", "password"),
                project_name: ini.str("service_user", "project_name").unwrap_or_default(),
            },
            security: SecurityCompliance {
                lockout_failure_attempts: ini.int("security_compliance", "lockout_failure_attempts")? as u32,
                lockout_duration: ini.int("security_compliance", "lockout_duration")?,
                disable_user_account_days_inactive: ini
                    .int("security_compliance", "disable_user_account_days_inactive")?
                    as u32,
                password_expires_days: ini.int("security_compliance", "password_expires_days")? as u32,
                unique_last_password_count: ini.int("security_compliance", "unique_last_password_count")? as u32,
                minimum_password_age: ini.int("security_compliance", "minimum_password_age")? as u32,
                password_regex: ini.str("security_compliance", "password_regex"),
                password_regex_description: ini.str("security_compliance", "password_regex_description"),
                change_password_upon_first_use: ini.bool("security_compliance", "change_password_upon_first_use")?,
            },
            ini,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sections_comments_and_continuations() {
        let ini =
            Ini::parse("t.conf", "# c\n[DEFAULT]\ndebug = true\n[database]\nconnection = postgresql://a\n  /b\n; x\n")
                .unwrap();
        assert_eq!(ini.get("DEFAULT", "debug"), Some("true"));
        assert_eq!(ini.get("database", "connection"), Some("postgresql://a\n/b"));
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let e = Ini::parse("x.conf", "[DEFAULT]\ndebug = 1\nnonsense\n").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.to_string().starts_with("x.conf:3:"), "{e}");
        let e = Ini::parse("x.conf", "debug = 1\n").unwrap_err();
        assert_eq!(e.line, Some(1));
        let e = Ini::parse("x.conf", "[token\n").unwrap_err();
        assert!(e.message.contains("']'"));
    }

    #[test]
    fn bad_values_name_the_option_and_its_line() {
        let ini = Ini::parse("r.conf", "[token]\n\nexpiration = soon\n").unwrap();
        let e = Config::from_ini(ini).unwrap_err();
        assert_eq!(e.to_string(), "r.conf:3: [token] expiration: 'soon' is not a non-negative integer");
        let ini = Ini::parse("r.conf", "[DEFAULT]\ndebug = maybe\n").unwrap();
        assert!(Config::from_ini(ini).unwrap_err().to_string().contains("[DEFAULT] debug"));
        let ini = Ini::parse("r.conf", "[database]\nconnection = mysql://x\n").unwrap();
        assert!(Config::from_ini(ini).unwrap_err().to_string().contains("r.conf:2"));
        let ini = Ini::parse("r.conf", "[identity]\npassword_hash_rounds = 40\n").unwrap();
        assert!(Config::from_ini(ini).is_err());
    }

    #[test]
    fn defaults_apply_and_unknown_options_are_reported() {
        let c = Config::default();
        assert_eq!(c.token_expiration, 3600);
        assert_eq!(c.password_hash_rounds, 12);
        assert_eq!(c.identity_port, 5000);
        assert!(c.database_connection.is_none());
        let ini = Ini::parse("u.conf", "[token]\nexpiraton = 5\n[nova]\nx = 1\n").unwrap();
        assert_eq!(ini.unknown_options(), vec!["u.conf:2: [token] expiraton".to_string()]);
    }

    #[test]
    fn docs_list_every_option() {
        for (group, page) in OPTION_GROUPS {
            let path = format!("{}/../../docs/{page}", env!("CARGO_MANIFEST_DIR"));
            let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            for o in group.iter() {
                let section = format!("[{}]", o.section);
                let needle = format!("`{}`", o.name);
                assert!(
                    doc.contains(&needle) && doc.contains(&section),
                    "docs/{page} misses [{}] {}",
                    o.section,
                    o.name
                );
            }
        }
    }
}
