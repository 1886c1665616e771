//! Resource providers: create, read, list with filters, update (rename,
//! re-parent), delete; each write moves the provider's generation.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use rustack_common::Error;
use rustack_db::sqlx::{self, any::AnyRow};
use rustack_db::WriteTx;

use super::{conflict, db_err, generation_conflict, i, now, os, placeholders, s, Store, CHUNK};
use crate::model::{ResourceProvider, Resources};

const COLS: &str = "uuid, name, generation, parent_uuid, root_uuid";

fn row(r: &AnyRow) -> ResourceProvider {
    ResourceProvider {
        uuid: s(r, "uuid"),
        name: s(r, "name"),
        generation: i(r, "generation"),
        parent_provider_uuid: os(r, "parent_uuid"),
        root_provider_uuid: s(r, "root_uuid"),
    }
}

/// What `GET /resource_providers` filters on; every field narrows the list.
#[derive(Debug, Default, Clone)]
pub struct ProviderFilter {
    pub name: Option<String>,
    pub uuid: Option<String>,
    /// Each inner list is an any-of set of aggregates.
    pub member_of: Vec<Vec<String>>,
    pub forbidden_aggregates: Vec<String>,
    pub in_tree: Option<String>,
    /// Providers with room for each of these amounts.
    pub resources: Resources,
    /// Each inner list is an any-of set of traits.
    pub required: Vec<Vec<String>>,
    pub forbidden: Vec<String>,
}

impl Store {
    pub async fn get_provider(&self, uuid: &str) -> Result<Option<ResourceProvider>, Error> {
        let r = sqlx::query(&format!("SELECT {COLS} FROM placement_provider WHERE uuid = $1"))
            .bind(uuid)
            .fetch_optional(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(r.as_ref().map(row))
    }

    /// Creates a provider; a parent must exist (it lends its root).
    pub async fn create_provider(
        &self,
        uuid: &str,
        name: &str,
        parent: Option<&str>,
    ) -> Result<ResourceProvider, Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        let dup_name = sqlx::query("SELECT uuid FROM placement_provider WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(db_err)?;
        if dup_name.is_some() {
            return Err(conflict(
                "placement.duplicate_name",
                format!("Conflicting resource provider name: {name} already exists."),
            ));
        }
        if provider_in(&mut w, uuid).await?.is_some() {
            return Err(conflict(
                "placement.undefined_code",
                format!("Conflicting resource provider uuid: {uuid} already exists."),
            ));
        }
        if parent == Some(uuid) {
            return Err(Error::bad_request(format!(
                "Unable to create resource provider \"{name}\", {uuid}: parent provider UUID cannot be same as UUID. \
                 Please set parent provider UUID to None if there is no parent."
            )));
        }
        let root = match parent {
            None => uuid.to_string(),
            Some(p) => match provider_in(&mut w, p).await? {
                Some(pp) => pp.root_provider_uuid,
                None => {
                    return Err(Error::bad_request(format!(
                        "Unable to create resource provider \"{name}\", {uuid}: parent provider UUID does not exist."
                    )))
                }
            },
        };
        let t = now();
        sqlx::query(
            "INSERT INTO placement_provider (uuid, name, generation, parent_uuid, root_uuid, created_at, updated_at) \
             VALUES ($1, $2, 0, $3, $4, $5, $5)",
        )
        .bind(uuid)
        .bind(name)
        .bind(parent)
        .bind(&root)
        .bind(&t)
        .execute(&mut *w.tx)
        .await
        .map_err(|e| {
            if rustack_db::is_unique_violation(&e) {
                conflict(
                    "placement.duplicate_name",
                    format!("Conflicting resource provider name: {name} already exists."),
                )
            } else {
                db_err(e)
            }
        })?;
        w.commit().await.map_err(db_err)?;
        Ok(ResourceProvider {
            uuid: uuid.into(),
            name: name.into(),
            generation: 0,
            parent_provider_uuid: parent.map(String::from),
            root_provider_uuid: root,
        })
    }

    /// Renames and/or re-parents a provider whose generation is `generation`.
    /// `allow_reparent` (1.37+) lets an existing parent change or go away.
    pub async fn update_provider(
        &self,
        uuid: &str,
        name: &str,
        parent: Option<&str>,
        generation: Option<i64>,
        allow_reparent: bool,
    ) -> Result<ResourceProvider, Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        let cur = provider_in(&mut w, uuid).await?.ok_or_else(|| not_found(uuid))?;
        if let Some(g) = generation {
            if g != cur.generation {
                return Err(generation_conflict("resource provider"));
            }
        }
        if name != cur.name {
            let dup = sqlx::query("SELECT uuid FROM placement_provider WHERE name = $1")
                .bind(name)
                .fetch_optional(&mut *w.tx)
                .await
                .map_err(db_err)?;
            if dup.is_some() {
                return Err(conflict(
                    "placement.duplicate_name",
                    format!("Conflicting resource provider name: {name} already exists."),
                ));
            }
        }
        let mut root = cur.root_provider_uuid.clone();
        if parent != cur.parent_provider_uuid.as_deref() {
            if cur.parent_provider_uuid.is_some() && !allow_reparent {
                return Err(Error::bad_request("re-parenting a provider is not currently allowed."));
            }
            root = match parent {
                None => uuid.to_string(),
                Some(p) => {
                    if p == uuid {
                        return Err(Error::bad_request("creating loop in the provider tree is not allowed."));
                    }
                    let pp = provider_in(&mut w, p).await?.ok_or_else(|| {
                        Error::bad_request(format!(
                            "Unable to save resource provider {uuid}: parent provider UUID does not exist."
                        ))
                    })?;
                    // the new parent must not sit below this provider
                    let below = descendants(&mut w, uuid).await?;
                    if below.contains(p) {
                        return Err(Error::bad_request("creating loop in the provider tree is not allowed."));
                    }
                    pp.root_provider_uuid
                }
            };
        }
        // a rename or re-parent does not move the generation (as upstream)
        let r = sqlx::query(
            "UPDATE placement_provider SET name = $1, parent_uuid = $2, root_uuid = $3, \
             updated_at = $4 WHERE uuid = $5 AND generation = $6",
        )
        .bind(name)
        .bind(parent)
        .bind(&root)
        .bind(now())
        .bind(uuid)
        .bind(cur.generation)
        .execute(&mut *w.tx)
        .await
        .map_err(db_err)?;
        if r.rows_affected() == 0 {
            return Err(generation_conflict("resource provider"));
        }
        if root != cur.root_provider_uuid {
            for d in descendants(&mut w, uuid).await? {
                sqlx::query("UPDATE placement_provider SET root_uuid = $1 WHERE uuid = $2")
                    .bind(&root)
                    .bind(&d)
                    .execute(&mut *w.tx)
                    .await
                    .map_err(db_err)?;
            }
        }
        w.commit().await.map_err(db_err)?;
        Ok(ResourceProvider {
            uuid: uuid.into(),
            name: name.into(),
            generation: cur.generation,
            parent_provider_uuid: parent.map(String::from),
            root_provider_uuid: root,
        })
    }

    /// Deletes a provider with no children and no allocations, with its
    /// inventories, traits and aggregates.
    pub async fn delete_provider(&self, uuid: &str) -> Result<(), Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        provider_in(&mut w, uuid).await?.ok_or_else(|| not_found(uuid))?;
        let child = sqlx::query("SELECT uuid FROM placement_provider WHERE parent_uuid = $1 LIMIT 1")
            .bind(uuid)
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(db_err)?;
        if child.is_some() {
            return Err(conflict(
                "placement.resource_provider.cannot_delete_parent",
                format!("Unable to delete parent resource provider {uuid}: It has child resource providers."),
            ));
        }
        let alloc = sqlx::query("SELECT consumer_uuid FROM placement_allocation WHERE provider_uuid = $1 LIMIT 1")
            .bind(uuid)
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(db_err)?;
        if alloc.is_some() {
            return Err(conflict(
                "placement.resource_provider.inuse",
                format!("Unable to delete resource provider {uuid}: Resource provider has allocations."),
            ));
        }
        for t in ["placement_inventory", "placement_provider_trait", "placement_provider_aggregate"] {
            sqlx::query(&format!("DELETE FROM {t} WHERE provider_uuid = $1"))
                .bind(uuid)
                .execute(&mut *w.tx)
                .await
                .map_err(db_err)?;
        }
        sqlx::query("DELETE FROM placement_provider WHERE uuid = $1")
            .bind(uuid)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        w.commit().await.map_err(db_err)
    }

    /// Providers matching `f`, by creation order then uuid.
    pub async fn list_providers(&self, f: &ProviderFilter) -> Result<Vec<ResourceProvider>, Error> {
        let mut sql = format!("SELECT {COLS} FROM placement_provider WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        if let Some(n) = &f.name {
            binds.push(n.clone());
            sql.push_str(&format!(" AND name = ${}", binds.len()));
        }
        if let Some(u) = &f.uuid {
            binds.push(u.clone());
            sql.push_str(&format!(" AND uuid = ${}", binds.len()));
        }
        if let Some(t) = &f.in_tree {
            let Some(p) = self.get_provider(t).await? else { return Ok(vec![]) };
            binds.push(p.root_provider_uuid);
            sql.push_str(&format!(" AND root_uuid = ${}", binds.len()));
        }
        sql.push_str(" ORDER BY created_at, uuid");
        let mut q = sqlx::query(&sql);
        for b in &binds {
            q = q.bind(b);
        }
        let mut list: Vec<ResourceProvider> =
            q.fetch_all(self.db.pool()).await.map_err(db_err)?.iter().map(row).collect();
        if !f.member_of.is_empty() || !f.forbidden_aggregates.is_empty() {
            let wanted: Vec<String> =
                f.member_of.iter().flatten().chain(f.forbidden_aggregates.iter()).cloned().collect();
            let aggs = self.aggregates_of_named(&wanted).await?;
            list.retain(|p| {
                let mine = aggs.get(&p.uuid);
                let has = |a: &String| mine.is_some_and(|m| m.contains(a));
                f.member_of.iter().all(|any| any.iter().any(has)) && !f.forbidden_aggregates.iter().any(has)
            });
        }
        if !f.required.is_empty() || !f.forbidden.is_empty() {
            let wanted: Vec<String> = f.required.iter().flatten().chain(f.forbidden.iter()).cloned().collect();
            let traits = self.traits_of_named(&wanted).await?;
            list.retain(|p| {
                let mine = traits.get(&p.uuid);
                let has = |t: &String| mine.is_some_and(|m| m.contains(t));
                f.required.iter().all(|any| any.iter().any(has)) && !f.forbidden.iter().any(has)
            });
        }
        if !f.resources.is_empty() {
            let classes: Vec<String> = f.resources.keys().cloned().collect();
            let inv = self.inventories_of_classes(&classes).await?;
            list.retain(|p| {
                f.resources.iter().all(|(c, n)| {
                    inv.get(&(p.uuid.clone(), c.clone()))
                        .is_some_and(|u| u.inventory.capacity() - u.used >= *n && u.inventory.admits(*n))
                })
            });
        }
        Ok(list)
    }

    /// Providers by uuid (chunked `IN` lists).
    pub async fn providers_by_uuid(&self, uuids: &[String]) -> Result<BTreeMap<String, ResourceProvider>, Error> {
        let mut out = BTreeMap::new();
        for chunk in uuids.chunks(CHUNK) {
            let sql = format!("SELECT {COLS} FROM placement_provider WHERE uuid IN ({})", placeholders(1, chunk.len()));
            let mut q = sqlx::query(&sql);
            for u in chunk {
                q = q.bind(u);
            }
            for r in q.fetch_all(self.db.pool()).await.map_err(db_err)? {
                let p = row(&r);
                out.insert(p.uuid.clone(), p);
            }
        }
        Ok(out)
    }

    /// Every provider of the trees rooted at `roots`.
    pub async fn providers_in_trees(&self, roots: &[String]) -> Result<Vec<ResourceProvider>, Error> {
        let mut out = Vec::new();
        for chunk in roots.chunks(CHUNK) {
            let sql =
                format!("SELECT {COLS} FROM placement_provider WHERE root_uuid IN ({})", placeholders(1, chunk.len()));
            let mut q = sqlx::query(&sql);
            for u in chunk {
                q = q.bind(u);
            }
            out.extend(q.fetch_all(self.db.pool()).await.map_err(db_err)?.iter().map(row));
        }
        Ok(out)
    }
}

pub(crate) fn not_found(uuid: &str) -> Error {
    Error::not_found(format!("No resource provider with uuid {uuid} found")).with_code("placement.undefined_code")
}

/// A provider read inside a write transaction.
pub(crate) async fn provider_in(w: &mut WriteTx, uuid: &str) -> Result<Option<ResourceProvider>, Error> {
    let r = sqlx::query(&format!("SELECT {COLS} FROM placement_provider WHERE uuid = $1"))
        .bind(uuid)
        .fetch_optional(&mut *w.tx)
        .await
        .map_err(db_err)?;
    Ok(r.as_ref().map(row))
}

/// Checks a provider's generation (when `expected` is given) and moves it
/// on, inside `w`; returns the new generation. The UPDATE also holds the
/// provider's row until commit on PostgreSQL, so writers of one provider
/// queue up there.
pub(crate) async fn bump_generation(w: &mut WriteTx, uuid: &str, expected: Option<i64>) -> Result<i64, Error> {
    let mut sql =
        String::from("UPDATE placement_provider SET generation = generation + 1, updated_at = $1 WHERE uuid = $2");
    if expected.is_some() {
        sql.push_str(" AND generation = $3");
    }
    let mut q = sqlx::query(&sql).bind(now()).bind(uuid);
    if let Some(g) = expected {
        q = q.bind(g);
    }
    let r = q.execute(&mut *w.tx).await.map_err(db_err)?;
    if r.rows_affected() == 0 {
        return Err(match provider_in(w, uuid).await? {
            None => not_found(uuid),
            Some(_) => generation_conflict("resource provider"),
        });
    }
    let r = sqlx::query("SELECT generation FROM placement_provider WHERE uuid = $1")
        .bind(uuid)
        .fetch_one(&mut *w.tx)
        .await
        .map_err(db_err)?;
    Ok(i(&r, "generation"))
}

/// Moves a provider's generation on inside `w` (an allocation touched it);
/// 404-style error when the provider does not exist.
pub(crate) async fn touch(w: &mut WriteTx, uuid: &str) -> Result<(), Error> {
    let r = sqlx::query("UPDATE placement_provider SET generation = generation + 1 WHERE uuid = $1")
        .bind(uuid)
        .execute(&mut *w.tx)
        .await
        .map_err(db_err)?;
    if r.rows_affected() == 0 {
        return Err(not_found(uuid));
    }
    Ok(())
}

/// Every provider below `uuid` (children, their children, …).
async fn descendants(w: &mut WriteTx, uuid: &str) -> Result<HashSet<String>, Error> {
    let mut out = HashSet::new();
    let mut frontier: BTreeSet<String> = [uuid.to_string()].into();
    while let Some(p) = frontier.pop_first() {
        let rows = sqlx::query("SELECT uuid FROM placement_provider WHERE parent_uuid = $1")
            .bind(&p)
            .fetch_all(&mut *w.tx)
            .await
            .map_err(db_err)?;
        for r in rows {
            let c = s(&r, "uuid");
            if out.insert(c.clone()) {
                frontier.insert(c);
            }
        }
    }
    Ok(out)
}
