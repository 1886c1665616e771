//! Creating, changing and deleting images; deactivation; tags.

use rustack_common::Error;
use rustack_http::RequestContext;
use serde_json::{Map, Value};

use super::patch::{check_tag, check_writable, is_core, over_quota, set_field, Op, PatchOp};
use super::{forbidden_action, image_not_found};
use crate::model::{now_iso, status, ImageRecord};
use crate::Image;

/// Names a create body may not carry at all (Glance's disallowed list).
const DISALLOWED_ON_CREATE: &[&str] = &["self", "file", "schema", "direct_url", "stores"];

impl Image {
    /// `POST /v2/images`.
    pub(crate) async fn create(&self, ctx: &RequestContext, body: Map<String, Value>) -> Result<ImageRecord, Error> {
        let project = ctx.project_id().ok_or_else(|| forbidden_action("add_image"))?.to_string();
        for k in DISALLOWED_ON_CREATE {
            if body.contains_key(*k) {
                return Err(Error::forbidden(format!("Attribute '{k}' is read-only.")));
            }
        }
        let now = now_iso();
        let mut img = ImageRecord::new(uuid::Uuid::new_v4().to_string(), Some(project.clone()), &now);
        for (k, v) in &body {
            if k != "id" {
                check_writable(k)?;
            }
            set_field(&mut img, k, v)?;
        }
        let owner = img.owner.clone().unwrap_or_default();
        let admin = self.is_admin(ctx);
        if !self.allowed("add_image", ctx, &self.target(&img, None)) {
            return Err(if owner != project {
                Error::forbidden(format!("You are not permitted to create images owned by '{owner}'."))
            } else {
                forbidden_action("add_image")
            });
        }
        if img.visibility == "public" && !admin {
            return Err(forbidden_action("publicize_image"));
        }
        if img.visibility == "community" && !self.allowed("communitize_image", ctx, &self.target(&img, None)) {
            return Err(forbidden_action("communitize_image"));
        }
        if img.properties.len() > self.settings().property_quota {
            return Err(over_quota("properties", self.settings().property_quota));
        }
        if img.tags.len() > self.settings().tag_quota {
            return Err(over_quota("tags", self.settings().tag_quota));
        }
        if let Some(limit) = self.limit(&owner, "image_count_total").await? {
            let (count, _) = self.store().usage(&owner).await?;
            if count + 1 > limit {
                return Err(Self::over_limit("image_count_total", limit, count, 1));
            }
        }
        self.store().insert_image(&img).await?;
        Ok(img)
    }

    /// `PATCH /v2/images/{id}`.
    pub(crate) async fn update(&self, ctx: &RequestContext, id: &str, ops: &[PatchOp]) -> Result<ImageRecord, Error> {
        let old = self.load_visible(ctx, id).await?;
        self.authorize("modify_image", ctx, &old).await?;
        let mut img = old.clone();
        for op in ops {
            let key = op.key.as_str();
            if key == "locations" {
                return Err(Error::forbidden(
                    "It's not allowed to change locations: they are not shown by this cloud.",
                ));
            }
            check_writable(key)?;
            match op.op {
                Op::Add | Op::Replace => {
                    let v = op.value.as_ref().unwrap_or(&Value::Null);
                    if op.op == Op::Replace && !is_core(key) && !img.properties.contains_key(key) {
                        return Err(Error::conflict(format!("Property {key} does not exist.")));
                    }
                    set_field(&mut img, key, v)?;
                }
                Op::Remove => {
                    if is_core(key) {
                        return Err(Error::forbidden(format!(
                            "Attribute '{key}' is a base property and cannot be removed."
                        )));
                    }
                    if img.properties.remove(key).is_none() {
                        return Err(Error::conflict(format!("Property {key} does not exist.")));
                    }
                }
            }
        }
        if img.visibility != old.visibility {
            if img.visibility == "public" && !self.is_admin(ctx) {
                return Err(forbidden_action("publicize_image"));
            }
            if img.visibility == "community" {
                self.authorize("communitize_image", ctx, &old).await?;
            }
        }
        if img.owner != old.owner && !self.is_admin(ctx) {
            return Err(Error::forbidden("Only an administrator may change the owner of an image."));
        }
        if (img.disk_format != old.disk_format || img.container_format != old.container_format)
            && old.status != status::QUEUED
        {
            return Err(Error::forbidden(format!(
                "Properties disk_format, container_format cannot be changed once the image is {}.",
                old.status
            )));
        }
        let new_props = img.properties.keys().filter(|k| !old.properties.contains_key(*k)).count();
        if new_props > 0 && img.properties.len() > self.settings().property_quota {
            return Err(over_quota("properties", self.settings().property_quota));
        }
        if img.tags.len() > self.settings().tag_quota && img.tags.len() > old.tags.len() {
            return Err(over_quota("tags", self.settings().tag_quota));
        }
        if img == old {
            return Ok(img);
        }
        img.updated_at = now_iso();
        self.save_meta(&old, &img).await
    }

    /// Writes the metadata of `img` unless the row changed status meanwhile
    /// (an upload finished): then the change is applied over the fresh row.
    async fn save_meta(&self, old: &ImageRecord, img: &ImageRecord) -> Result<ImageRecord, Error> {
        if self.store().update_image(img, Some(&old.status)).await? {
            return Ok(img.clone());
        }
        let fresh = self.store().get_image(&img.id).await?.ok_or_else(|| image_not_found(&img.id))?;
        let mut merged = img.clone();
        merged.status = fresh.status.clone();
        merged.size = fresh.size;
        merged.virtual_size = fresh.virtual_size;
        merged.checksum = fresh.checksum.clone();
        merged.os_hash_algo = fresh.os_hash_algo.clone();
        merged.os_hash_value = fresh.os_hash_value.clone();
        merged.location = fresh.location.clone();
        merged.staged = fresh.staged.clone();
        if !self.store().update_image(&merged, Some(&fresh.status)).await? {
            return Err(Error::conflict("The image changed while it was being updated; try again."));
        }
        Ok(merged)
    }

    /// `DELETE /v2/images/{id}`: the row first, then the bytes (a download
    /// already under way keeps its open file).
    pub(crate) async fn delete(&self, ctx: &RequestContext, id: &str) -> Result<(), Error> {
        let img = self.load_visible(ctx, id).await?;
        self.authorize("delete_image", ctx, &img).await?;
        if img.protected {
            return Err(Error::forbidden(format!("Image {id} is protected and cannot be deleted.")));
        }
        if !self.store().delete_image(id).await? {
            return Err(image_not_found(id));
        }
        for key in [img.location.as_deref(), img.staged.as_deref()].into_iter().flatten() {
            if let Err(e) = self.inner.data.delete(key).await {
                tracing::warn!(image = id, error = %e, "could not remove the data of a deleted image");
            }
        }
        Ok(())
    }

    /// `POST /v2/images/{id}/actions/deactivate` and `…/reactivate`.
    pub(crate) async fn set_active(&self, ctx: &RequestContext, id: &str, active: bool) -> Result<(), Error> {
        let img = self.load_visible(ctx, id).await?;
        let rule = if active { "reactivate" } else { "deactivate" };
        self.authorize(rule, ctx, &img).await?;
        let (from, to) =
            if active { (status::DEACTIVATED, status::ACTIVE) } else { (status::ACTIVE, status::DEACTIVATED) };
        if img.status == to {
            return Ok(());
        }
        if img.status != from || !self.store().transition(id, from, to).await? {
            let verb = if active { "reactivate" } else { "deactivate" };
            return Err(Error::forbidden(format!("Not allowed to {verb} image in status '{}'", img.status)));
        }
        Ok(())
    }

    /// `PUT /v2/images/{id}/tags/{tag}`.
    pub(crate) async fn add_tag(&self, ctx: &RequestContext, id: &str, tag: &str) -> Result<(), Error> {
        let old = self.load_visible(ctx, id).await?;
        self.authorize("modify_image", ctx, &old).await?;
        check_tag(tag)?;
        if old.tags.iter().any(|t| t == tag) {
            return Ok(());
        }
        if old.tags.len() + 1 > self.settings().tag_quota {
            return Err(over_quota("tags", self.settings().tag_quota));
        }
        let mut img = old.clone();
        img.tags.push(tag.to_string());
        img.updated_at = now_iso();
        self.save_meta(&old, &img).await.map(|_| ())
    }

    /// `DELETE /v2/images/{id}/tags/{tag}`.
    pub(crate) async fn delete_tag(&self, ctx: &RequestContext, id: &str, tag: &str) -> Result<(), Error> {
        let old = self.load_visible(ctx, id).await?;
        self.authorize("modify_image", ctx, &old).await?;
        if !old.tags.iter().any(|t| t == tag) {
            return Err(Error::not_found(format!("Tag {tag} not found.")));
        }
        let mut img = old.clone();
        img.tags.retain(|t| t != tag);
        img.updated_at = now_iso();
        self.save_meta(&old, &img).await.map(|_| ())
    }
}
