//! The Placement service: resource providers, inventories, allocations,
//! traits, resource classes and aggregates, on port 8778 (microversions
//! 1.0–1.39).
//!
//! `Placement` is the handle the binary opens, serves and bootstraps; it is
//! also the in-process API compute calls (no HTTP in between):
//!
//! ```ignore
//! let p: Placement = peers.placement.clone();
//! // the compute agent, periodically (a no-op when nothing changed):
//! p.ensure_provider(&node_uuid, "host1").await?;
//! p.set_inventory(&node_uuid, &[("VCPU", Inventory::new(8)), ("MEMORY_MB", Inventory::new(16384))].into_iter()
//!     .map(|(c, i)| (c.to_string(), i)).collect()).await?;
//! // the scheduler:
//! let found = p.allocation_candidates(&CandidateRequest::resources([("VCPU", 1), ("MEMORY_MB", 512)])).await?;
//! let pick = &found.candidates[0];           // after filtering and weighing
//! p.claim(&instance_uuid, &pick.allocations, &project_id, &user_id).await?; // 409 when it no longer fits
//! // resize: hold the old flavor under the migration, claim the new one for the instance
//! p.move_allocations(&instance_uuid, &migration_uuid).await?;
//! p.claim(&instance_uuid, &new_allocs, &project_id, &user_id).await?;
//! p.release(&migration_uuid).await?;         // confirm (revert: release instance, move back)
//! p.release(&instance_uuid).await?;          // delete
//! ```
//!
//! Claims are atomic: one write transaction that changes each inventory's
//! running usage with a conditional UPDATE, so concurrent claims never
//! exceed capacity, and a claim costs the same however many allocations a
//! provider already has.

mod api;
pub mod model;
pub mod names;
mod policy;
pub mod store;
pub mod validate;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rustack_common::Error;
use rustack_db::Db;
use rustack_http::service::{BootstrapProjects, ServiceOptions};

pub use model::{
    Allocations, Candidate, CandidateRequest, Candidates, ClassSummary, Consumer, ConsumerWrite, Inventory,
    InventoryUsage, ProviderSummary, RequestGroup, ResourceProvider, Resources,
};
use store::Store;

#[derive(Clone)]
pub struct Placement {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    opts: ServiceOptions,
    policy: rustack_policy::Policy,
}

impl Placement {
    /// Opens the service on `db` (applies its migrations).
    pub async fn open(db: Db, opts: ServiceOptions) -> Result<Placement, Error> {
        let store = Store::new(db);
        store.migrate().await?;
        let policy = policy::load(&opts)?;
        Ok(Placement { inner: Arc::new(Inner { store, opts, policy }) })
    }

    /// The API routes with their layers.
    pub fn router(&self) -> axum::Router {
        api::router(self.clone())
    }

    /// The first-start setup of this service (idempotent): nothing to make;
    /// the standard classes and traits are built in.
    pub async fn bootstrap(&self, _projects: &BootstrapProjects) -> Result<(), Error> {
        Ok(())
    }

    /// Starts the periodic background work: placement has none.
    pub fn spawn_workers(&self) {}

    pub fn options(&self) -> &ServiceOptions {
        &self.inner.opts
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn policy(&self) -> &rustack_policy::Policy {
        &self.inner.policy
    }

    // ---- the in-process API compute uses ----

    /// The provider `uuid`, created as a root provider named `name` if it
    /// does not exist (renamed if its name changed). A name held by another
    /// provider is a 409.
    pub async fn ensure_provider(&self, uuid: &str, name: &str) -> Result<ResourceProvider, Error> {
        let s = self.store();
        match s.get_provider(uuid).await? {
            Some(p) if p.name == name => Ok(p),
            Some(p) => s.update_provider(uuid, name, p.parent_provider_uuid.as_deref(), None, false).await,
            None => match s.create_provider(uuid, name, None).await {
                // another caller made it in between
                Err(e) if e.status() == 409 => s.get_provider(uuid).await?.ok_or(e),
                r => r,
            },
        }
    }

    pub async fn provider(&self, uuid: &str) -> Result<Option<ResourceProvider>, Error> {
        self.store().get_provider(uuid).await
    }

    /// Deletes a provider (409 while it has allocations or children).
    pub async fn delete_provider(&self, uuid: &str) -> Result<(), Error> {
        self.store().delete_provider(uuid).await
    }

    /// Sets all of a provider's inventory; returns whether anything changed.
    /// Cheap when nothing did (one indexed read, no write): the compute
    /// agent calls it on every periodic report. A class that goes away must
    /// have nothing allocated (409 `placement.inventory.inuse`).
    pub async fn set_inventory(&self, provider: &str, inv: &BTreeMap<String, Inventory>) -> Result<bool, Error> {
        let cur = self.store().inventories(provider).await?;
        let same = cur.len() == inv.len() && inv.iter().all(|(c, i)| cur.get(c).is_some_and(|u| u.inventory == *i));
        if same {
            if cur.is_empty() && self.store().get_provider(provider).await?.is_none() {
                return Err(store::provider_not_found(provider));
            }
            return Ok(false);
        }
        for (c, i) in inv {
            self.check_class(c).await?;
            validate::inventory(provider, c, i, true)?;
        }
        self.store().set_inventories(provider, None, inv).await?;
        Ok(true)
    }

    /// A provider's inventories with what is used of each.
    pub async fn inventory(&self, provider: &str) -> Result<BTreeMap<String, InventoryUsage>, Error> {
        self.store().inventories(provider).await
    }

    /// Sets a provider's traits (custom ones are created as needed).
    pub async fn set_traits(&self, provider: &str, traits: &[String]) -> Result<(), Error> {
        for t in traits {
            if !names::is_standard_trait(t) {
                if !names::is_custom_name(t) {
                    return Err(Error::bad_request(format!("No such trait(s): {t}")));
                }
                self.store().create_custom_trait(t).await?;
            }
        }
        let set: BTreeSet<String> = traits.iter().cloned().collect();
        if self.store().provider_traits(provider).await?.into_iter().collect::<BTreeSet<_>>() == set {
            return Ok(());
        }
        self.store().set_provider_names(provider, None, &set, false).await.map(|_| ())
    }

    /// Sets the aggregates (uuids) a provider is in.
    pub async fn set_aggregates(&self, provider: &str, aggregates: &[String]) -> Result<(), Error> {
        let set: BTreeSet<String> = aggregates.iter().cloned().collect();
        self.store().set_provider_names(provider, None, &set, true).await.map(|_| ())
    }

    pub async fn aggregates(&self, provider: &str) -> Result<Vec<String>, Error> {
        self.store().provider_aggregates(provider).await
    }

    /// The trees that can hold `req`, with how, and a summary of each of
    /// their providers (capacity, used, traits, aggregates).
    pub async fn allocation_candidates(&self, req: &CandidateRequest) -> Result<Candidates, Error> {
        self.store().allocation_candidates(req).await
    }

    /// Gives `consumer` exactly `allocations` (replacing what it held) for
    /// `project`/`user`, atomically; 409 when it does not fit, with nothing
    /// changed.
    pub async fn claim(
        &self,
        consumer: &str,
        allocations: &Allocations,
        project: &str,
        user: &str,
    ) -> Result<(), Error> {
        self.store()
            .write_allocations(&[ConsumerWrite {
                consumer: consumer.into(),
                allocations: allocations.clone(),
                project_id: project.into(),
                user_id: user.into(),
                ..Default::default()
            }])
            .await
    }

    /// Writes several consumers' allocations in one transaction (an empty
    /// set removes a consumer's): all or nothing.
    pub async fn write_allocations(&self, writes: &[ConsumerWrite]) -> Result<(), Error> {
        self.store().write_allocations(writes).await
    }

    /// Moves everything `from` holds to `to` (which gives up what it held),
    /// in one transaction: how a resize keeps the old flavor's resources
    /// under the migration while the instance claims the new one.
    pub async fn move_allocations(&self, from: &str, to: &str) -> Result<(), Error> {
        let Some((c, allocs)) = self.store().consumer_allocations(from).await? else {
            return Err(Error::not_found(format!("No allocations for consumer '{from}'")));
        };
        self.store()
            .write_allocations(&[
                ConsumerWrite {
                    consumer: from.into(),
                    project_id: c.project_id.clone(),
                    user_id: c.user_id.clone(),
                    expected_generation: Some(Some(c.generation)),
                    ..Default::default()
                },
                ConsumerWrite {
                    consumer: to.into(),
                    allocations: allocs,
                    project_id: c.project_id,
                    user_id: c.user_id,
                    consumer_type: c.consumer_type,
                    ..Default::default()
                },
            ])
            .await
    }

    /// Frees everything `consumer` holds; false when it held nothing.
    pub async fn release(&self, consumer: &str) -> Result<bool, Error> {
        let Some((c, _)) = self.store().consumer_allocations(consumer).await? else { return Ok(false) };
        self.store()
            .write_allocations(&[ConsumerWrite {
                consumer: consumer.into(),
                project_id: c.project_id,
                user_id: c.user_id,
                ..Default::default()
            }])
            .await?;
        Ok(true)
    }

    /// What `consumer` holds (empty when nothing).
    pub async fn allocations(&self, consumer: &str) -> Result<Allocations, Error> {
        Ok(self.store().consumer_allocations(consumer).await?.map(|(_, a)| a).unwrap_or_default())
    }

    /// What a project (or one of its users) holds in all, by class.
    pub async fn usages_by_project(&self, project: &str, user: Option<&str>) -> Result<Resources, Error> {
        let mut out = Resources::new();
        for u in self.store().project_usages(project, user).await?.into_values() {
            for (c, n) in u.resources {
                *out.entry(c).or_default() += n;
            }
        }
        Ok(out)
    }

    /// Whether a resource class exists (standard, or custom and created):
    /// else a 400 in placement's words.
    pub(crate) async fn check_class(&self, class: &str) -> Result<(), Error> {
        if names::is_standard_class(class) || self.store().custom_class_exists(class).await? {
            Ok(())
        } else {
            Err(Error::bad_request(format!("No such resource class {class}.")))
        }
    }
}
