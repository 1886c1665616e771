//! Inventories: one row per (provider, class), carrying the running sum of
//! what is allocated from it (`used`), so capacity checks read one row.

use std::collections::{BTreeMap, HashMap};

use rustack_common::Error;
use rustack_db::sqlx::{self, any::AnyRow};
use rustack_db::WriteTx;

use super::providers::bump_generation;
use super::{conflict, db_err, i, placeholders, s, Store, CHUNK};
use crate::model::{Inventory, InventoryUsage};

const COLS: &str =
    "provider_uuid, resource_class, total, reserved, min_unit, max_unit, step_size, allocation_ratio, used";

pub(crate) fn row(r: &AnyRow) -> InventoryUsage {
    InventoryUsage {
        inventory: Inventory {
            total: i(r, "total"),
            reserved: i(r, "reserved"),
            min_unit: i(r, "min_unit"),
            max_unit: i(r, "max_unit"),
            step_size: i(r, "step_size"),
            allocation_ratio: s(r, "allocation_ratio").parse().unwrap_or(1.0),
        },
        used: i(r, "used"),
    }
}

/// The ratio as text: the shortest form that reads back the same.
fn ratio_text(r: f64) -> String {
    format!("{r}")
}

impl Store {
    /// A provider's inventories with their usage, by class.
    pub async fn inventories(&self, uuid: &str) -> Result<BTreeMap<String, InventoryUsage>, Error> {
        let rows = sqlx::query(&format!("SELECT {COLS} FROM placement_inventory WHERE provider_uuid = $1"))
            .bind(uuid)
            .fetch_all(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(|r| (s(r, "resource_class"), row(r))).collect())
    }

    /// Every inventory of these classes, by (provider, class).
    pub async fn inventories_of_classes(
        &self,
        classes: &[String],
    ) -> Result<HashMap<(String, String), InventoryUsage>, Error> {
        let mut out = HashMap::new();
        for chunk in classes.chunks(CHUNK) {
            let sql = format!(
                "SELECT {COLS} FROM placement_inventory WHERE resource_class IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for c in chunk {
                q = q.bind(c);
            }
            for r in q.fetch_all(self.db.pool()).await.map_err(db_err)? {
                out.insert((s(&r, "provider_uuid"), s(&r, "resource_class")), row(&r));
            }
        }
        Ok(out)
    }

    /// Every inventory of these providers, by provider then class.
    pub async fn inventories_of_providers(
        &self,
        uuids: &[String],
    ) -> Result<HashMap<String, BTreeMap<String, InventoryUsage>>, Error> {
        let mut out: HashMap<String, BTreeMap<String, InventoryUsage>> = HashMap::new();
        for chunk in uuids.chunks(CHUNK) {
            let sql = format!(
                "SELECT {COLS} FROM placement_inventory WHERE provider_uuid IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for c in chunk {
                q = q.bind(c);
            }
            for r in q.fetch_all(self.db.pool()).await.map_err(db_err)? {
                out.entry(s(&r, "provider_uuid")).or_default().insert(s(&r, "resource_class"), row(&r));
            }
        }
        Ok(out)
    }

    /// Replaces all of a provider's inventories; a class that goes away must
    /// have nothing allocated. Returns the provider's new generation.
    pub async fn set_inventories(
        &self,
        uuid: &str,
        generation: Option<i64>,
        inv: &BTreeMap<String, Inventory>,
    ) -> Result<i64, Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        let gen = bump_generation(&mut w, uuid, generation).await?;
        let rows = sqlx::query(&format!("SELECT {COLS} FROM placement_inventory WHERE provider_uuid = $1"))
            .bind(uuid)
            .fetch_all(&mut *w.tx)
            .await
            .map_err(db_err)?;
        let cur: BTreeMap<String, InventoryUsage> = rows.iter().map(|r| (s(r, "resource_class"), row(r))).collect();
        // every class that would go while in use is named, standard
        // classes in their standard order (as upstream lists them)
        let mut busy: Vec<&String> =
            cur.iter().filter(|(c, u)| !inv.contains_key(*c) && u.used > 0).map(|(c, _)| c).collect();
        if !busy.is_empty() {
            let rank =
                |c: &String| crate::names::STANDARD_RESOURCE_CLASSES.iter().position(|s| s == c).unwrap_or(usize::MAX);
            busy.sort_by_key(|c| (rank(c), (*c).clone()));
            let names: Vec<&str> = busy.iter().map(|c| c.as_str()).collect();
            return Err(in_use(uuid, &names.join(", ")));
        }
        for class in cur.keys() {
            if !inv.contains_key(class) {
                delete_row(&mut w, uuid, class).await?;
            }
        }
        for (class, new) in inv {
            match cur.get(class) {
                Some(old) if old.inventory == *new => {}
                Some(_) => update_row(&mut w, uuid, class, new).await?,
                None => insert_row(&mut w, uuid, class, new).await?,
            }
        }
        w.commit().await.map_err(db_err)?;
        Ok(gen)
    }

    /// Creates or replaces one class of inventory.
    pub async fn set_inventory(
        &self,
        uuid: &str,
        class: &str,
        generation: Option<i64>,
        inv: &Inventory,
    ) -> Result<i64, Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        let gen = bump_generation(&mut w, uuid, generation).await?;
        let exists =
            sqlx::query("SELECT used FROM placement_inventory WHERE provider_uuid = $1 AND resource_class = $2")
                .bind(uuid)
                .bind(class)
                .fetch_optional(&mut *w.tx)
                .await
                .map_err(db_err)?
                .is_some();
        if exists {
            update_row(&mut w, uuid, class, inv).await?;
        } else {
            insert_row(&mut w, uuid, class, inv).await?;
        }
        w.commit().await.map_err(db_err)?;
        Ok(gen)
    }

    /// Deletes one class of inventory: 404 when absent, 409 when in use.
    pub async fn delete_inventory(&self, uuid: &str, class: &str, generation: Option<i64>) -> Result<i64, Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        let gen = bump_generation(&mut w, uuid, generation).await?;
        let r = sqlx::query("SELECT used FROM placement_inventory WHERE provider_uuid = $1 AND resource_class = $2")
            .bind(uuid)
            .bind(class)
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(db_err)?;
        match r {
            None => return Err(Error::not_found(format!("No inventory of class {class} found for delete"))),
            Some(r) if i(&r, "used") > 0 => return Err(in_use(uuid, class)),
            Some(_) => delete_row(&mut w, uuid, class).await?,
        }
        w.commit().await.map_err(db_err)?;
        Ok(gen)
    }
}

fn in_use(uuid: &str, class: &str) -> Error {
    conflict(
        "placement.inventory.inuse",
        format!("update conflict: Inventory for '{class}' on resource provider '{uuid}' in use."),
    )
}

async fn insert_row(w: &mut WriteTx, uuid: &str, class: &str, inv: &Inventory) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO placement_inventory (provider_uuid, resource_class, total, reserved, min_unit, max_unit, \
         step_size, allocation_ratio, capacity, used) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0)",
    )
    .bind(uuid)
    .bind(class)
    .bind(inv.total)
    .bind(inv.reserved)
    .bind(inv.min_unit)
    .bind(inv.max_unit)
    .bind(inv.step_size)
    .bind(ratio_text(inv.allocation_ratio))
    .bind(inv.capacity())
    .execute(&mut *w.tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn update_row(w: &mut WriteTx, uuid: &str, class: &str, inv: &Inventory) -> Result<(), Error> {
    sqlx::query(
        "UPDATE placement_inventory SET total = $1, reserved = $2, min_unit = $3, max_unit = $4, step_size = $5, \
         allocation_ratio = $6, capacity = $7 WHERE provider_uuid = $8 AND resource_class = $9",
    )
    .bind(inv.total)
    .bind(inv.reserved)
    .bind(inv.min_unit)
    .bind(inv.max_unit)
    .bind(inv.step_size)
    .bind(ratio_text(inv.allocation_ratio))
    .bind(inv.capacity())
    .bind(uuid)
    .bind(class)
    .execute(&mut *w.tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn delete_row(w: &mut WriteTx, uuid: &str, class: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM placement_inventory WHERE provider_uuid = $1 AND resource_class = $2")
        .bind(uuid)
        .bind(class)
        .execute(&mut *w.tx)
        .await
        .map_err(db_err)?;
    Ok(())
}
