//! Custom resource classes and traits, and what hangs off a provider by
//! name: its traits and its aggregates.

use std::collections::{BTreeSet, HashMap};

use rustack_common::Error;
use rustack_db::sqlx;

use super::providers::bump_generation;
use super::{conflict, db_err, now, placeholders, s, Store, CHUNK};

impl Store {
    pub async fn custom_classes(&self) -> Result<Vec<String>, Error> {
        self.names("SELECT name FROM placement_custom_class ORDER BY name").await
    }

    pub async fn custom_class_exists(&self, name: &str) -> Result<bool, Error> {
        self.one_exists("SELECT name FROM placement_custom_class WHERE name = $1", name).await
    }

    /// Creates a custom class; false when it already existed.
    pub async fn create_custom_class(&self, name: &str) -> Result<bool, Error> {
        self.insert_name("placement_custom_class", name).await
    }

    /// Deletes a custom class no inventory uses.
    pub async fn delete_custom_class(&self, name: &str) -> Result<bool, Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        let used = sqlx::query("SELECT provider_uuid FROM placement_inventory WHERE resource_class = $1 LIMIT 1")
            .bind(name)
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(db_err)?;
        if used.is_some() {
            return Err(conflict(
                "placement.undefined_code",
                format!("Error in delete resource class: Unable to delete resource class {name}. Class is in use in inventory."),
            ));
        }
        let r = sqlx::query("DELETE FROM placement_custom_class WHERE name = $1")
            .bind(name)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        w.commit().await.map_err(db_err)?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn custom_traits(&self) -> Result<Vec<String>, Error> {
        self.names("SELECT name FROM placement_custom_trait ORDER BY name").await
    }

    pub async fn custom_trait_exists(&self, name: &str) -> Result<bool, Error> {
        self.one_exists("SELECT name FROM placement_custom_trait WHERE name = $1", name).await
    }

    /// Every trait some provider has.
    pub async fn traits_in_use(&self) -> Result<BTreeSet<String>, Error> {
        Ok(self.names("SELECT DISTINCT trait AS name FROM placement_provider_trait").await?.into_iter().collect())
    }

    pub async fn create_custom_trait(&self, name: &str) -> Result<bool, Error> {
        self.insert_name("placement_custom_trait", name).await
    }

    /// Deletes a custom trait no provider has.
    pub async fn delete_custom_trait(&self, name: &str) -> Result<bool, Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        let used = sqlx::query("SELECT provider_uuid FROM placement_provider_trait WHERE trait = $1 LIMIT 1")
            .bind(name)
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(db_err)?;
        if used.is_some() {
            return Err(conflict(
                "placement.undefined_code",
                format!("The trait {name} is in use by a resource provider."),
            ));
        }
        let r = sqlx::query("DELETE FROM placement_custom_trait WHERE name = $1")
            .bind(name)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        w.commit().await.map_err(db_err)?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn provider_traits(&self, uuid: &str) -> Result<Vec<String>, Error> {
        self.names_of(
            "SELECT trait AS name FROM placement_provider_trait WHERE provider_uuid = $1 ORDER BY trait",
            uuid,
        )
        .await
    }

    pub async fn provider_aggregates(&self, uuid: &str) -> Result<Vec<String>, Error> {
        self.names_of(
            "SELECT aggregate_uuid AS name FROM placement_provider_aggregate WHERE provider_uuid = $1 ORDER BY aggregate_uuid",
            uuid,
        )
        .await
    }

    /// Replaces a provider's traits (or aggregates, `aggregates = true`);
    /// returns its new generation.
    pub async fn set_provider_names(
        &self,
        uuid: &str,
        generation: Option<i64>,
        names: &BTreeSet<String>,
        aggregates: bool,
    ) -> Result<i64, Error> {
        let (table, col) = if aggregates {
            ("placement_provider_aggregate", "aggregate_uuid")
        } else {
            ("placement_provider_trait", "trait")
        };
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        let gen = bump_generation(&mut w, uuid, generation).await?;
        sqlx::query(&format!("DELETE FROM {table} WHERE provider_uuid = $1"))
            .bind(uuid)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        for n in names {
            sqlx::query(&format!("INSERT INTO {table} (provider_uuid, {col}) VALUES ($1, $2)"))
                .bind(uuid)
                .bind(n)
                .execute(&mut *w.tx)
                .await
                .map_err(db_err)?;
        }
        w.commit().await.map_err(db_err)?;
        Ok(gen)
    }

    /// For each provider, which of these traits it has.
    pub async fn traits_of_named(&self, traits: &[String]) -> Result<HashMap<String, BTreeSet<String>>, Error> {
        self.pairs("SELECT provider_uuid, trait AS name FROM placement_provider_trait WHERE trait IN", traits).await
    }

    /// For each provider, which of these aggregates it is in.
    pub async fn aggregates_of_named(&self, aggs: &[String]) -> Result<HashMap<String, BTreeSet<String>>, Error> {
        self.pairs(
            "SELECT provider_uuid, aggregate_uuid AS name FROM placement_provider_aggregate WHERE aggregate_uuid IN",
            aggs,
        )
        .await
    }

    /// Every trait of these providers.
    pub async fn traits_of_providers(&self, uuids: &[String]) -> Result<HashMap<String, BTreeSet<String>>, Error> {
        self.pairs("SELECT provider_uuid, trait AS name FROM placement_provider_trait WHERE provider_uuid IN", uuids)
            .await
    }

    /// Every aggregate of these providers.
    pub async fn aggregates_of_providers(&self, uuids: &[String]) -> Result<HashMap<String, BTreeSet<String>>, Error> {
        self.pairs(
            "SELECT provider_uuid, aggregate_uuid AS name FROM placement_provider_aggregate WHERE provider_uuid IN",
            uuids,
        )
        .await
    }

    async fn pairs(&self, head: &str, keys: &[String]) -> Result<HashMap<String, BTreeSet<String>>, Error> {
        let mut out: HashMap<String, BTreeSet<String>> = HashMap::new();
        for chunk in keys.chunks(CHUNK) {
            let sql = format!("{head} ({})", placeholders(1, chunk.len()));
            let mut q = sqlx::query(&sql);
            for k in chunk {
                q = q.bind(k);
            }
            for r in q.fetch_all(self.db.pool()).await.map_err(db_err)? {
                out.entry(s(&r, "provider_uuid")).or_default().insert(s(&r, "name"));
            }
        }
        Ok(out)
    }

    async fn names(&self, sql: &str) -> Result<Vec<String>, Error> {
        Ok(sqlx::query(sql).fetch_all(self.db.pool()).await.map_err(db_err)?.iter().map(|r| s(r, "name")).collect())
    }

    async fn names_of(&self, sql: &str, key: &str) -> Result<Vec<String>, Error> {
        Ok(sqlx::query(sql)
            .bind(key)
            .fetch_all(self.db.pool())
            .await
            .map_err(db_err)?
            .iter()
            .map(|r| s(r, "name"))
            .collect())
    }

    async fn one_exists(&self, sql: &str, key: &str) -> Result<bool, Error> {
        Ok(sqlx::query(sql).bind(key).fetch_optional(self.db.pool()).await.map_err(db_err)?.is_some())
    }

    async fn insert_name(&self, table: &str, name: &str) -> Result<bool, Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        let exists = sqlx::query(&format!("SELECT name FROM {table} WHERE name = $1"))
            .bind(name)
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(db_err)?
            .is_some();
        if exists {
            return Ok(false);
        }
        sqlx::query(&format!("INSERT INTO {table} (name, created_at) VALUES ($1, $2)"))
            .bind(name)
            .bind(now())
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        w.commit().await.map_err(db_err)?;
        Ok(true)
    }
}
