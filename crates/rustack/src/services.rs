//! The services this binary can serve, and how each one starts. Each
//! service listens on its own usual port; `rustack up` starts all of them,
//! `rustack serve --services …` a subset.

use anyhow::{bail, Result};
use rustack_common::config::Config;
use rustack_db::Db;
use rustack_http::{BootstrapProjects, ServiceOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Identity,
    Image,
    Network,
    Placement,
    Compute,
    /// The metadata API guests read (8775); served beside compute.
    Metadata,
    /// The noVNC console proxy (6080); served beside compute.
    NovncProxy,
}

impl Service {
    /// Every service, in start order (identity first: the others need it).
    pub const ALL: &'static [Service] = &[
        Service::Identity,
        Service::Image,
        Service::Network,
        Service::Placement,
        Service::Compute,
        Service::Metadata,
        Service::NovncProxy,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::Identity => "identity",
            Service::Image => "image",
            Service::Network => "network",
            Service::Placement => "placement",
            Service::Compute => "compute",
            Service::Metadata => "metadata",
            Service::NovncProxy => "novncproxy",
        }
    }

    /// The port it listens on.
    pub fn port(self, config: &Config) -> u16 {
        match self {
            Service::Identity => config.identity_port,
            Service::Image => config.image_port,
            Service::Network => config.network_port,
            Service::Placement => config.placement_port,
            Service::Compute => config.compute_port,
            Service::Metadata => config.metadata_port,
            Service::NovncProxy => config.novncproxy_port,
        }
    }

    /// Its catalog entry: service type, upstream's service name, and the
    /// path after `http://host:port` in the endpoint URL. None for the
    /// metadata API and the console proxy, which upstream does not list.
    pub fn catalog(self) -> Option<(&'static str, &'static str, &'static str)> {
        match self {
            Service::Identity => Some(("identity", "keystone", "/v3/")),
            Service::Image => Some(("image", "glance", "")),
            Service::Network => Some(("network", "neutron", "")),
            Service::Placement => Some(("placement", "placement", "")),
            Service::Compute => Some(("compute", "nova", "/v2.1")),
            Service::Metadata | Service::NovncProxy => None,
        }
    }

    pub fn from_name(name: &str) -> Option<Service> {
        Service::ALL.iter().copied().find(|s| s.name() == name)
    }
}

/// The other services opened by this process, kept so that a service can
/// reach another one in-process (compute → placement).
#[derive(Default)]
pub struct Opened {
    pub image: Option<rustack_image::Image>,
    pub network: Option<rustack_network::Network>,
    pub placement: Option<rustack_placement::Placement>,
    pub compute: Option<rustack_compute::Compute>,
}

impl Opened {
    /// Opens `service` (migrations), bootstraps it when `projects` is given,
    /// starts its background work when `run`, and returns its router.
    pub async fn open(
        &mut self,
        service: Service,
        db: &Db,
        opts: ServiceOptions,
        projects: Option<&BootstrapProjects>,
        run: bool,
    ) -> Result<axum::Router> {
        let name = service.name();
        let ctx = |e: rustack_common::Error| anyhow::anyhow!("cannot open the {name} service: {e}");
        macro_rules! open {
            ($slot:ident, $ty:ty) => {{
                let s = <$ty>::open(db.clone(), opts).await.map_err(ctx)?;
                if let Some(p) = projects {
                    s.bootstrap(p).await.map_err(|e| anyhow::anyhow!("{name} bootstrap failed: {e}"))?;
                }
                if run {
                    s.spawn_workers();
                }
                let r = s.router();
                self.$slot = Some(s);
                r
            }};
        }
        Ok(match service {
            Service::Identity => bail!("identity is opened on its own"),
            Service::Image => {
                let r = open!(image, rustack_image::Image);
                if let (true, Some(p), Some(image)) = (run, projects, &self.image) {
                    let configured = image.options().config.ini.str("image", "test_image_dir");
                    if let Some(dir) = crate::test_image::dir(configured) {
                        crate::test_image::spawn_register(image.clone(), p.clone(), dir);
                    }
                }
                r
            }
            Service::Network => open!(network, rustack_network::Network),
            Service::Placement => open!(placement, rustack_placement::Placement),
            Service::Compute => {
                let peers = self.compute_peers(db, &opts).await?;
                let s = rustack_compute::Compute::open(db.clone(), opts, peers).await.map_err(ctx)?;
                if let Some(p) = projects {
                    s.bootstrap(p).await.map_err(|e| anyhow::anyhow!("{name} bootstrap failed: {e}"))?;
                }
                if run {
                    s.spawn_workers();
                }
                let r = s.router();
                self.compute = Some(s);
                r
            }
            Service::Metadata | Service::NovncProxy => {
                let Some(compute) = &self.compute else {
                    bail!("the {name} service runs beside compute: serve compute on this node too");
                };
                if service == Service::Metadata {
                    compute.metadata_router()
                } else {
                    compute.console_router()
                }
            }
        })
    }
}

impl Opened {
    /// The services compute reaches in-process: those opened here, else
    /// opened on the shared database without being served (placement and
    /// image); the network only where it is served.
    async fn compute_peers(&mut self, db: &Db, opts: &ServiceOptions) -> Result<rustack_compute::Peers> {
        let placement = match &self.placement {
            Some(p) => p.clone(),
            None => rustack_placement::Placement::open(db.clone(), opts.clone())
                .await
                .map_err(|e| anyhow::anyhow!("cannot open placement for compute: {e}"))?,
        };
        let image = match &self.image {
            Some(i) => i.clone(),
            None => rustack_image::Image::open(db.clone(), opts.clone())
                .await
                .map_err(|e| anyhow::anyhow!("cannot open the image service for compute: {e}"))?,
        };
        Ok(rustack_compute::Peers { placement, image, network: self.network.clone() })
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
    // start order: identity first, compute before what runs beside it
    out.sort_by_key(|s| Service::ALL.iter().position(|a| a == s));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(parse(&v(&["identity", " identity"])).unwrap(), vec![Service::Identity]);
        assert_eq!(parse(&v(&["compute", "image"])).unwrap(), vec![Service::Image, Service::Compute]);
        assert_eq!(parse(&v(&["metadata", "compute"])).unwrap(), vec![Service::Compute, Service::Metadata]);
        let e = parse(&v(&["identity", "nova"])).unwrap_err().to_string();
        assert!(e.contains("'nova'") && e.contains("identity"), "{e}");
        assert!(parse(&v(&[""])).is_err());
    }
}
