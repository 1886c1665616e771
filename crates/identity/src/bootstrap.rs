//! The idempotent first-start setup, as `keystone-manage bootstrap`: the
//! Default domain; roles reader, member, manager, admin and service with
//! admin ⇒ manager ⇒ member ⇒ reader; projects admin, service and demo;
//! users admin (admin on project admin and on the system), demo (member
//! on demo) and rustack (admin and service on service: the services' own user); region RegionOne; the identity service and its endpoints.
//! Running it again changes nothing that exists (passwords included).

use rustack_common::{new_id, Error};
use rustack_http::BootstrapProjects;
use serde_json::Map;

use crate::model::{Assignment, AssignmentKind, Domain, Endpoint, Project, Region, Role, Service, User, SYSTEM_TARGET};
use crate::Identity;

pub const DEFAULT_DOMAIN_ID: &str = "default";
/// The user rustack's own services authenticate as (one for every service,
/// where devstack makes nova, glance, neutron, …).
pub const SERVICE_USER: &str = "rustack";

/// What to create.
#[derive(Debug, Clone)]
pub struct BootstrapSpec {
    pub admin_password: String,
    pub demo_password: String,
    /// Password of the service user [`SERVICE_USER`] (admin and service on
    /// project service) the services of other nodes authenticate as.
    pub service_password: String,
    pub region: String,
    /// The URL of the identity endpoints in the catalog, e.g. `http://127.0.0.1:5000/v3/`.
    pub identity_url: String,
}

/// A service to register in the catalog with the same URL on all three interfaces.
#[derive(Debug, Clone)]
pub struct CatalogEntry {
    pub service_type: String,
    pub name: String,
    pub url: String,
}

impl Identity {
    /// Returns the ids of the admin, demo and service projects.
    pub async fn bootstrap(&self, spec: &BootstrapSpec) -> Result<BootstrapProjects, Error> {
        let store = self.store();
        if store.get_domain(DEFAULT_DOMAIN_ID).await?.is_none() {
            store
                .create_domain(&Domain {
                    id: DEFAULT_DOMAIN_ID.into(),
                    name: "Default".into(),
                    description: "The default domain".into(),
                    enabled: true,
                    extra: Map::new(),
                })
                .await?;
        }
        let mut role_ids = std::collections::HashMap::new();
        for name in ["reader", "member", "manager", "admin", "service"] {
            let role = match store.get_role_by_name(name, None).await? {
                Some(r) => r,
                None => {
                    let r =
                        Role { id: new_id(), name: name.into(), domain_id: None, description: None, extra: Map::new() };
                    store.create_role(&r).await?;
                    r
                }
            };
            role_ids.insert(name, role.id);
        }
        let implied = store.implied_roles().await?;
        for (p, i) in [("admin", "manager"), ("manager", "member"), ("member", "reader")] {
            let pair = (role_ids[p].clone(), role_ids[i].clone());
            if !implied.contains(&pair) {
                store.add_implied_role(&pair.0, &pair.1).await?;
            }
        }
        let admin_project = self.ensure_project("admin", "Bootstrap project for initializing the cloud.").await?;
        let service_project = self.ensure_project("service", "Project for the services' own users.").await?;
        let demo_project = self.ensure_project("demo", "A project for a first, non-admin user.").await?;
        // three bcrypt hashes on a first start: made side by side
        let (admin, demo, service) = tokio::try_join!(
            self.ensure_user("admin", &spec.admin_password),
            self.ensure_user("demo", &spec.demo_password),
            self.ensure_user(SERVICE_USER, &spec.service_password)
        )?;
        let grants = [
            (AssignmentKind::UserProject, &admin.id, &admin_project.id, "admin"),
            (AssignmentKind::UserSystem, &admin.id, &SYSTEM_TARGET.to_string(), "admin"),
            (AssignmentKind::UserProject, &demo.id, &demo_project.id, "member"),
            (AssignmentKind::UserProject, &service.id, &service_project.id, "admin"),
            (AssignmentKind::UserProject, &service.id, &service_project.id, "service"),
        ];
        for (kind, actor, target, role) in grants {
            store
                .grant(&Assignment {
                    kind,
                    actor_id: actor.clone(),
                    target_id: target.clone(),
                    role_id: role_ids[role].clone(),
                    inherited: false,
                })
                .await?;
        }
        if store.get_region(&spec.region).await?.is_none() {
            store
                .create_region(&Region {
                    id: spec.region.clone(),
                    description: String::new(),
                    parent_region_id: None,
                    extra: Map::new(),
                })
                .await?;
        }
        self.register_service(
            &spec.region,
            &CatalogEntry { service_type: "identity".into(), name: "keystone".into(), url: spec.identity_url.clone() },
        )
        .await?;
        self.changed();
        Ok(BootstrapProjects {
            admin_project_id: admin_project.id,
            demo_project_id: demo_project.id,
            service_project_id: service_project.id,
        })
    }

    /// Registers a service with public, internal and admin endpoints at `url`
    /// in `region`, or updates its endpoints' URL if it exists.
    pub async fn register_service(&self, region: &str, entry: &CatalogEntry) -> Result<(), Error> {
        let store = self.store();
        let existing = store.list_services(Some(&entry.service_type), None).await?;
        let service = match existing.into_iter().next() {
            Some(s) => s,
            None => {
                let s = Service {
                    id: new_id(),
                    service_type: entry.service_type.clone(),
                    name: entry.name.clone(),
                    description: None,
                    enabled: true,
                    extra: Map::new(),
                };
                store.create_service(&s).await?;
                s
            }
        };
        let endpoints = store.list_endpoints(None, Some(&service.id), None).await?;
        for interface in ["public", "internal", "admin"] {
            match endpoints.iter().find(|e| e.interface == interface && e.region_id.as_deref() == Some(region)) {
                Some(e) if e.url == entry.url => {}
                Some(e) => {
                    let mut e = e.clone();
                    e.url = entry.url.clone();
                    store.update_endpoint(&e).await?;
                }
                None => {
                    store
                        .create_endpoint(&Endpoint {
                            id: new_id(),
                            service_id: service.id.clone(),
                            interface: interface.into(),
                            region_id: Some(region.into()),
                            url: entry.url.clone(),
                            enabled: true,
                            extra: Map::new(),
                        })
                        .await?;
                }
            }
        }
        self.changed();
        Ok(())
    }

    async fn ensure_project(&self, name: &str, description: &str) -> Result<Project, Error> {
        if let Some(p) = self.store().get_project_by_name(DEFAULT_DOMAIN_ID, name).await? {
            return Ok(p);
        }
        let p = Project {
            id: new_id(),
            name: name.into(),
            domain_id: DEFAULT_DOMAIN_ID.into(),
            parent_id: None,
            description: description.into(),
            enabled: true,
            extra: Map::new(),
        };
        self.store().create_project(&p).await?;
        Ok(p)
    }

    async fn ensure_user(&self, name: &str, password: &str) -> Result<User, Error> {
        if let Some(u) = self.store().get_user_by_name(DEFAULT_DOMAIN_ID, name).await? {
            return Ok(u);
        }
        let hash = self.hash_password(password).await?;
        let u = User {
            id: new_id(),
            name: name.into(),
            domain_id: DEFAULT_DOMAIN_ID.into(),
            enabled: true,
            default_project_id: None,
            password_hash: Some(hash),
            password_expires_at: None,
            extra: Map::new(),
            options: Map::new(),
            security: Default::default(),
        };
        self.store().create_user(&u).await?;
        Ok(u)
    }
}
