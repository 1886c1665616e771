//! The services this binary can serve, and how each one starts. Each
//! service listens on its own usual port; `rustack up` starts all of them,
//! `rustack serve --services …` a subset.

use anyhow::{bail, Result};
use rustack_common::config::Config;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Identity,
}

impl Service {
    /// Every service, in start order (identity first: the others need it).
    pub const ALL: &'static [Service] = &[Service::Identity];

    pub fn name(self) -> &'static str {
        match self {
            Service::Identity => "identity",
        }
    }

    /// The port it listens on.
    pub fn port(self, config: &Config) -> u16 {
        match self {
            Service::Identity => config.identity_port,
        }
    }

    pub fn from_name(name: &str) -> Option<Service> {
        Service::ALL.iter().copied().find(|s| s.name() == name)
    }
}

pub fn known_names() -> String {
    Service::ALL.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
}

/// Parses `--services a,b`: trims, drops duplicates, rejects unknown names.
pub fn parse(list: &[String]) -> Result<Vec<Service>> {
    let mut out = Vec::new();
    for raw in list {
        let name = raw.trim();
        if name.is_empty() {
            continue;
        }
        match Service::from_name(name) {
            Some(s) if !out.contains(&s) => out.push(s),
            Some(_) => {}
            None => bail!("unknown service '{name}' (known services: {})", known_names()),
        }
    }
    if out.is_empty() {
        bail!("no service to serve (known services: {})", known_names());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(parse(&v(&["identity", " identity"])).unwrap(), vec![Service::Identity]);
        let e = parse(&v(&["identity", "nova"])).unwrap_err().to_string();
        assert!(e.contains("'nova'") && e.contains("identity"), "{e}");
        assert!(parse(&v(&[""])).is_err());
    }
}
