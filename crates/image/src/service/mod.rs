//! The rules of the image service: who sees and changes what (Glance's
//! visibility and policy), quotas, and the image, member and data workflows.

pub mod data;
pub mod images;
pub mod list;
pub mod members;
pub mod metadefs;
pub mod patch;

use rustack_common::{Error, ErrorKind};
use rustack_http::RequestContext;
use rustack_policy::Target;

use crate::model::ImageRecord;
use crate::Image;

/// Glance's 404 for an image that does not exist or that the caller may not see.
pub fn image_not_found(id: &str) -> Error {
    Error::not_found(format!("No image found with ID {id}"))
}

pub fn forbidden_action(action: &str) -> Error {
    Error::forbidden(format!("You are not authorized to complete {action} action."))
}

impl Image {
    pub(crate) fn store(&self) -> &crate::store::Store {
        &self.inner.store
    }

    pub(crate) fn settings(&self) -> &crate::Settings {
        &self.inner.settings
    }

    pub(crate) fn is_admin(&self, ctx: &RequestContext) -> bool {
        self.inner.policy.enforce("context_is_admin", &ctx.credentials(), &Target::new())
    }

    /// The policy target of an image for `ctx`: its owner as `project_id`,
    /// and the caller's project as `member_id` when it is a member.
    pub(crate) fn target(&self, img: &ImageRecord, member_id: Option<&str>) -> Target {
        let mut t = Target::new()
            .with("project_id", img.owner.clone().unwrap_or_default())
            .with("owner", img.owner.clone().unwrap_or_default())
            .with("visibility", img.visibility.clone());
        if let Some(m) = member_id {
            t = t.with("member_id", m);
        }
        t
    }

    pub(crate) fn allowed(&self, rule: &str, ctx: &RequestContext, target: &Target) -> bool {
        self.inner.policy.enforce(rule, &ctx.credentials(), target)
    }

    /// Checks `rule` on an image (403 in Glance's words when refused).
    pub(crate) async fn authorize(&self, rule: &str, ctx: &RequestContext, img: &ImageRecord) -> Result<(), Error> {
        let member = match ctx.project_id() {
            Some(p) if self.store().get_member(&img.id, p).await?.is_some() => Some(p.to_string()),
            _ => None,
        };
        if self.allowed(rule, ctx, &self.target(img, member.as_deref())) {
            Ok(())
        } else {
            Err(forbidden_action(rule))
        }
    }

    /// Whether `ctx` may see `img`: admins see all; others their project's
    /// images, public and community ones, and shared ones they are a member
    /// of (in any member status, as Glance shows them).
    pub(crate) async fn can_see(&self, ctx: &RequestContext, img: &ImageRecord) -> Result<bool, Error> {
        if self.is_admin(ctx) {
            return Ok(true);
        }
        let project = ctx.project_id();
        if project.is_some() && img.owner.as_deref() == project {
            return Ok(true);
        }
        Ok(match img.visibility.as_str() {
            "public" | "community" => true,
            "shared" => match project {
                Some(p) => self.store().get_member(&img.id, p).await?.is_some(),
                None => false,
            },
            _ => false,
        })
    }

    /// The image `id` if `ctx` may see it, else Glance's 404.
    pub(crate) async fn load_visible(&self, ctx: &RequestContext, id: &str) -> Result<ImageRecord, Error> {
        let img = self.store().get_image(id).await?.ok_or_else(|| image_not_found(id))?;
        if !self.can_see(ctx, &img).await? {
            return Err(image_not_found(id));
        }
        if !self.allowed("get_image", ctx, &self.target(&img, ctx.project_id())) {
            return Err(forbidden_action("get_image"));
        }
        Ok(img)
    }

    /// A unified limit of `project` (None: unlimited).
    pub(crate) async fn limit(&self, project: &str, name: &str) -> Result<Option<i64>, Error> {
        self.inner.opts.limits.limit(project, "image", name).await
    }

    /// Glance's 413 for a unified limit that a change would pass.
    pub(crate) fn over_limit(name: &str, limit: i64, usage: i64, delta: i64) -> Error {
        Error::new(
            ErrorKind::PayloadTooLarge,
            format!("Resource {name} is over limit of {limit} due to current usage {usage} and delta {delta}"),
        )
    }
}
