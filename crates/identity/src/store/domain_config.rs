//! Domain-specific configuration: one row per (domain, group, option).

use rustack_common::Error;
use rustack_db::sqlx;
use serde_json::Value;

use super::{b, db_err, int, s, Store};

/// One stored option of a domain's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigOption {
    pub group: String,
    pub option: String,
    pub value: Value,
    pub sensitive: bool,
}

impl Store {
    /// The options of a domain, optionally of one group or one option of a
    /// group, sorted by group and option.
    pub async fn domain_config(
        &self,
        domain_id: &str,
        group: Option<&str>,
        option: Option<&str>,
    ) -> Result<Vec<ConfigOption>, Error> {
        let rows =
            sqlx::query("SELECT * FROM identity_domain_config WHERE domain_id = $1 ORDER BY group_name, option_name")
                .bind(domain_id)
                .fetch_all(self.db.pool())
                .await
                .map_err(db_err)?;
        Ok(rows
            .iter()
            .map(|r| ConfigOption {
                group: s(r, "group_name"),
                option: s(r, "option_name"),
                value: serde_json::from_str(&s(r, "value")).unwrap_or(Value::Null),
                sensitive: b(r, "sensitive"),
            })
            .filter(|o| group.is_none_or(|g| o.group == g) && option.is_none_or(|x| o.option == x))
            .collect())
    }

    /// Replaces a domain's whole configuration.
    pub async fn replace_domain_config(&self, domain_id: &str, options: &[ConfigOption]) -> Result<(), Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        sqlx::query("DELETE FROM identity_domain_config WHERE domain_id = $1")
            .bind(domain_id)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        for o in options {
            insert(&mut w, domain_id, o).await?;
        }
        w.commit().await.map_err(db_err)
    }

    /// Creates or replaces the given options, keeping the others.
    pub async fn upsert_domain_config(&self, domain_id: &str, options: &[ConfigOption]) -> Result<(), Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        for o in options {
            sqlx::query(
                "DELETE FROM identity_domain_config WHERE domain_id = $1 AND group_name = $2 AND option_name = $3",
            )
            .bind(domain_id)
            .bind(&o.group)
            .bind(&o.option)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
            insert(&mut w, domain_id, o).await?;
        }
        w.commit().await.map_err(db_err)
    }

    /// Deletes a domain's configuration, one group of it or one option.
    pub async fn delete_domain_config(
        &self,
        domain_id: &str,
        group: Option<&str>,
        option: Option<&str>,
    ) -> Result<(), Error> {
        let q = match (group, option) {
            (Some(g), Some(o)) => sqlx::query(
                "DELETE FROM identity_domain_config WHERE domain_id = $1 AND group_name = $2 AND option_name = $3",
            )
            .bind(domain_id)
            .bind(g.to_string())
            .bind(o.to_string()),
            (Some(g), None) => {
                sqlx::query("DELETE FROM identity_domain_config WHERE domain_id = $1 AND group_name = $2")
                    .bind(domain_id)
                    .bind(g.to_string())
            }
            _ => sqlx::query("DELETE FROM identity_domain_config WHERE domain_id = $1").bind(domain_id),
        };
        q.execute(self.db.pool()).await.map_err(db_err)?;
        Ok(())
    }
}

async fn insert(w: &mut rustack_db::WriteTx, domain_id: &str, o: &ConfigOption) -> Result<(), Error> {
    sqlx::query("INSERT INTO identity_domain_config (domain_id, group_name, option_name, value, sensitive) VALUES ($1, $2, $3, $4, $5)")
        .bind(domain_id)
        .bind(&o.group)
        .bind(&o.option)
        .bind(o.value.to_string())
        .bind(int(o.sensitive))
        .execute(&mut *w.tx)
        .await
        .map_err(db_err)?;
    Ok(())
}
