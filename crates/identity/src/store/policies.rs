//! The v3 policy blobs (`/v3/policies`): stored and returned, never interpreted.

use rustack_common::Error;
use rustack_db::sqlx::{self, any::AnyRow};
use serde_json::{json, Value};

use super::{db_err, extra, extra_text, s, Arg, Select, Store};
use crate::model::Extra;

/// A policy blob with its type and free-form attributes.
#[derive(Debug, Clone)]
pub struct PolicyBlob {
    pub id: String,
    pub policy_type: String,
    pub blob: String,
    pub extra: Extra,
}

impl PolicyBlob {
    pub fn to_json(&self, base: &str) -> Value {
        let mut v = json!({"id": self.id, "type": self.policy_type, "blob": self.blob,
                           "links": {"self": format!("{base}/v3/policies/{}", self.id)}});
        if let Value::Object(m) = &mut v {
            for (k, x) in &self.extra {
                m.entry(k.clone()).or_insert_with(|| x.clone());
            }
        }
        v
    }
}

fn policy(r: &AnyRow) -> PolicyBlob {
    PolicyBlob { id: s(r, "id"), policy_type: s(r, "policy_type"), blob: s(r, "blob_data"), extra: extra(r) }
}

impl Store {
    pub async fn create_policy(&self, p: &PolicyBlob) -> Result<(), Error> {
        sqlx::query("INSERT INTO identity_policy (id, policy_type, blob_data, extra) VALUES ($1, $2, $3, $4)")
            .bind(&p.id)
            .bind(&p.policy_type)
            .bind(&p.blob)
            .bind(extra_text(&p.extra))
            .execute(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    pub async fn get_policy(&self, id: &str) -> Result<Option<PolicyBlob>, Error> {
        self.fetch_opt("SELECT * FROM identity_policy WHERE id = $1", &[id], policy).await
    }

    pub async fn list_policies(&self, policy_type: Option<&str>) -> Result<Vec<PolicyBlob>, Error> {
        let mut q = Select::new("SELECT * FROM identity_policy");
        if let Some(t) = policy_type {
            q.eq("policy_type", Arg::Text(t.to_string()));
        }
        q.order("id");
        Ok(q.fetch(&self.db).await?.iter().map(policy).collect())
    }

    pub async fn update_policy(&self, p: &PolicyBlob) -> Result<(), Error> {
        sqlx::query("UPDATE identity_policy SET policy_type = $2, blob_data = $3, extra = $4 WHERE id = $1")
            .bind(&p.id)
            .bind(&p.policy_type)
            .bind(&p.blob)
            .bind(extra_text(&p.extra))
            .execute(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// Deletes a policy; false when there was none.
    pub async fn delete_policy(&self, id: &str) -> Result<bool, Error> {
        Ok(self.execute("DELETE FROM identity_policy WHERE id = $1", &[id]).await? > 0)
    }
}
