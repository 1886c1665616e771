//! Consumers and their allocations. Every write goes through
//! [`Store::write_allocations`]: one transaction that checks consumer
//! generations, moves each touched provider's generation, and changes each
//! inventory's `used` by the difference with a conditional UPDATE
//! (`used + d <= capacity`), so concurrent claims can never overcommit and
//! no claim reads the other allocations of a provider.

use std::collections::{BTreeMap, BTreeSet};

use rustack_common::Error;
use rustack_db::sqlx;
use rustack_db::WriteTx;

use super::inventories;
use super::providers::touch;
use super::{conflict, db_err, i, now, os, s, Store};
use crate::model::{Allocations, Consumer, ConsumerWrite, Resources};

/// Usage of one consumer type (1.38 `GET /usages`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TypedUsage {
    pub consumer_count: i64,
    pub resources: Resources,
}

impl Store {
    /// Writes the allocations of each consumer (replacing what it held; an
    /// empty set removes the consumer), all or nothing.
    pub async fn write_allocations(&self, writes: &[ConsumerWrite]) -> Result<(), Error> {
        let mut seen = BTreeSet::new();
        for cw in writes {
            if !seen.insert(cw.consumer.as_str()) {
                return Err(Error::bad_request(format!("Consumer {} is named twice.", cw.consumer)));
            }
        }
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        // (provider, class) → change of `used`
        let mut delta: BTreeMap<(String, String), i64> = BTreeMap::new();
        let mut providers: BTreeSet<String> = BTreeSet::new();
        let mut existing: Vec<Option<Consumer>> = Vec::with_capacity(writes.len());
        for cw in writes {
            let c = consumer_in(&mut w, &cw.consumer).await?;
            if let Some(expected) = cw.expected_generation {
                let got = c.as_ref().map(|c| c.generation);
                if got != expected {
                    // upstream's words: "expected" is what the consumer has,
                    // "got" what the request said
                    let show = |g: Option<i64>| g.map(|g| g.to_string()).unwrap_or_else(|| "null".into());
                    return Err(conflict(
                        "placement.concurrent_update",
                        format!("consumer generation conflict - expected {} but got {}", show(got), show(expected)),
                    ));
                }
            }
            let old = sqlx::query(
                "SELECT provider_uuid, resource_class, used FROM placement_allocation WHERE consumer_uuid = $1",
            )
            .bind(&cw.consumer)
            .fetch_all(&mut *w.tx)
            .await
            .map_err(db_err)?;
            // only the providers that receive allocations move their
            // generation (as upstream): giving resources back does not
            for r in &old {
                *delta.entry((s(r, "provider_uuid"), s(r, "resource_class"))).or_default() -= i(r, "used");
            }
            for (p, res) in &cw.allocations {
                for (class, n) in res {
                    *delta.entry((p.clone(), class.clone())).or_default() += n;
                }
                providers.insert(p.clone());
            }
            existing.push(c);
        }
        // providers in a fixed order: PostgreSQL writers lock them alike
        for p in &providers {
            touch(&mut w, p).await.map_err(|e| match e.kind {
                rustack_common::ErrorKind::NotFound => {
                    Error::bad_request(format!("Allocation for resource provider '{p}' that does not exist."))
                }
                _ => e,
            })?;
        }
        // the units of each new allocation against its inventory
        for cw in writes {
            for (p, res) in &cw.allocations {
                let rows = sqlx::query(
                    "SELECT provider_uuid, resource_class, total, reserved, min_unit, max_unit, step_size, \
                     allocation_ratio, used FROM placement_inventory WHERE provider_uuid = $1",
                )
                .bind(p)
                .fetch_all(&mut *w.tx)
                .await
                .map_err(db_err)?;
                for (class, n) in res {
                    let Some(inv) = rows.iter().find(|r| s(r, "resource_class") == *class).map(inventories::row) else {
                        return Err(Error::conflict(format!(
                            "Unable to allocate inventory: Inventory for '{class}' on resource provider '{p}' invalid."
                        )));
                    };
                    if !inv.inventory.admits(*n) {
                        return Err(Error::conflict(format!(
                            "Unable to allocate inventory: Unable to create allocation for '{class}' on resource provider '{p}'. \
                             The requested amount would violate inventory constraints."
                        )));
                    }
                }
            }
        }
        for ((p, class), d) in &delta {
            if *d == 0 {
                continue;
            }
            let sql = if *d > 0 {
                "UPDATE placement_inventory SET used = used + $1 \
                 WHERE provider_uuid = $2 AND resource_class = $3 AND used + $1 <= capacity"
            } else {
                "UPDATE placement_inventory SET used = used + $1 WHERE provider_uuid = $2 AND resource_class = $3"
            };
            let r = sqlx::query(sql).bind(d).bind(p).bind(class).execute(&mut *w.tx).await.map_err(db_err)?;
            if r.rows_affected() == 0 && *d > 0 {
                return Err(Error::conflict(format!(
                    "Unable to allocate inventory: Unable to create allocation for '{class}' on resource provider '{p}'. \
                     The requested amount would exceed the capacity."
                )));
            }
        }
        let t = now();
        for (cw, old) in writes.iter().zip(&existing) {
            sqlx::query("DELETE FROM placement_allocation WHERE consumer_uuid = $1")
                .bind(&cw.consumer)
                .execute(&mut *w.tx)
                .await
                .map_err(db_err)?;
            let empty = cw.allocations.values().all(|r| r.is_empty());
            if empty {
                sqlx::query("DELETE FROM placement_consumer WHERE uuid = $1")
                    .bind(&cw.consumer)
                    .execute(&mut *w.tx)
                    .await
                    .map_err(db_err)?;
                continue;
            }
            for (p, res) in &cw.allocations {
                for (class, n) in res {
                    sqlx::query(
                        "INSERT INTO placement_allocation (consumer_uuid, provider_uuid, resource_class, used, created_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&cw.consumer)
                    .bind(p)
                    .bind(class)
                    .bind(n)
                    .bind(&t)
                    .execute(&mut *w.tx)
                    .await
                    .map_err(db_err)?;
                }
            }
            let ctype = cw.consumer_type.clone().or_else(|| old.as_ref().and_then(|c| c.consumer_type.clone()));
            if old.is_some() {
                sqlx::query(
                    "UPDATE placement_consumer SET project_id = $1, user_id = $2, consumer_type = $3, \
                     generation = generation + 1, updated_at = $4 WHERE uuid = $5",
                )
                .bind(&cw.project_id)
                .bind(&cw.user_id)
                .bind(ctype)
                .bind(&t)
                .bind(&cw.consumer)
                .execute(&mut *w.tx)
                .await
                .map_err(db_err)?;
            } else {
                sqlx::query(
                    "INSERT INTO placement_consumer (uuid, project_id, user_id, consumer_type, generation, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 1, $5, $5)",
                )
                .bind(&cw.consumer)
                .bind(&cw.project_id)
                .bind(&cw.user_id)
                .bind(ctype)
                .bind(&t)
                .execute(&mut *w.tx)
                .await
                .map_err(|e| {
                    if rustack_db::is_unique_violation(&e) {
                        conflict("placement.concurrent_update", "consumer generation conflict - another request created the consumer")
                    } else {
                        db_err(e)
                    }
                })?;
            }
        }
        w.commit().await.map_err(db_err)
    }

    /// A consumer and its allocations; None when it holds nothing.
    pub async fn consumer_allocations(&self, consumer: &str) -> Result<Option<(Consumer, Allocations)>, Error> {
        let c = sqlx::query(
            "SELECT uuid, project_id, user_id, consumer_type, generation FROM placement_consumer WHERE uuid = $1",
        )
        .bind(consumer)
        .fetch_optional(self.db.pool())
        .await
        .map_err(db_err)?;
        let Some(c) = c else { return Ok(None) };
        let rows = sqlx::query(
            "SELECT provider_uuid, resource_class, used FROM placement_allocation WHERE consumer_uuid = $1",
        )
        .bind(consumer)
        .fetch_all(self.db.pool())
        .await
        .map_err(db_err)?;
        let mut a = Allocations::new();
        for r in &rows {
            a.entry(s(r, "provider_uuid")).or_default().insert(s(r, "resource_class"), i(r, "used"));
        }
        Ok(Some((consumer_row(&c), a)))
    }

    /// What each consumer holds on one provider.
    pub async fn provider_allocations(&self, provider: &str) -> Result<BTreeMap<String, Resources>, Error> {
        let rows = sqlx::query(
            "SELECT consumer_uuid, resource_class, used FROM placement_allocation WHERE provider_uuid = $1",
        )
        .bind(provider)
        .fetch_all(self.db.pool())
        .await
        .map_err(db_err)?;
        let mut out: BTreeMap<String, Resources> = BTreeMap::new();
        for r in &rows {
            out.entry(s(r, "consumer_uuid")).or_default().insert(s(r, "resource_class"), i(r, "used"));
        }
        Ok(out)
    }

    /// What a project (and optionally one user of it) holds in all, by
    /// consumer type (None: consumers with no type) .
    pub async fn project_usages(
        &self,
        project_id: &str,
        user_id: Option<&str>,
    ) -> Result<BTreeMap<Option<String>, TypedUsage>, Error> {
        let user_clause = if user_id.is_some() { " AND c.user_id = $2" } else { "" };
        let sql = format!(
            "SELECT c.consumer_type AS consumer_type, a.resource_class AS resource_class, \
             CAST(SUM(a.used) AS BIGINT) AS used FROM placement_allocation a \
             JOIN placement_consumer c ON c.uuid = a.consumer_uuid WHERE c.project_id = $1{user_clause} \
             GROUP BY c.consumer_type, a.resource_class"
        );
        let mut q = sqlx::query(&sql).bind(project_id);
        if let Some(u) = user_id {
            q = q.bind(u);
        }
        let mut out: BTreeMap<Option<String>, TypedUsage> = BTreeMap::new();
        for r in q.fetch_all(self.db.pool()).await.map_err(db_err)? {
            out.entry(os(&r, "consumer_type")).or_default().resources.insert(s(&r, "resource_class"), i(&r, "used"));
        }
        let sql = format!(
            "SELECT c.consumer_type AS consumer_type, COUNT(*) AS n FROM placement_consumer c \
             WHERE c.project_id = $1{user_clause} GROUP BY c.consumer_type"
        );
        let mut q = sqlx::query(&sql).bind(project_id);
        if let Some(u) = user_id {
            q = q.bind(u);
        }
        for r in q.fetch_all(self.db.pool()).await.map_err(db_err)? {
            out.entry(os(&r, "consumer_type")).or_default().consumer_count = i(&r, "n");
        }
        Ok(out)
    }
}

fn consumer_row(r: &rustack_db::sqlx::any::AnyRow) -> Consumer {
    Consumer {
        uuid: s(r, "uuid"),
        project_id: s(r, "project_id"),
        user_id: s(r, "user_id"),
        consumer_type: os(r, "consumer_type"),
        generation: i(r, "generation"),
    }
}

async fn consumer_in(w: &mut WriteTx, uuid: &str) -> Result<Option<Consumer>, Error> {
    let r = sqlx::query(
        "SELECT uuid, project_id, user_id, consumer_type, generation FROM placement_consumer WHERE uuid = $1",
    )
    .bind(uuid)
    .fetch_optional(&mut *w.tx)
    .await
    .map_err(db_err)?;
    Ok(r.as_ref().map(consumer_row))
}
