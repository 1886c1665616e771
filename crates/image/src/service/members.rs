//! Image members: only the owner adds and removes them, only the member
//! changes its own status; the owner sees every member, a member only itself.

use rustack_common::Error;
use rustack_http::RequestContext;

use super::forbidden_action;
use super::patch::over_quota;
use crate::model::{now_iso, ImageRecord, Member, MEMBER_STATUSES};
use crate::Image;

fn member_not_found(image_id: &str, member: &str) -> Error {
    Error::not_found(format!("{member} is not a member of image {image_id}"))
}

impl Image {
    fn owns(&self, ctx: &RequestContext, img: &ImageRecord) -> bool {
        ctx.project_id().is_some() && img.owner.as_deref() == ctx.project_id()
    }

    /// `POST /v2/images/{id}/members`.
    pub(crate) async fn add_member(&self, ctx: &RequestContext, id: &str, member: &str) -> Result<Member, Error> {
        let img = self.load_visible(ctx, id).await?;
        if !self.owns(ctx, &img) && !self.is_admin(ctx) {
            return Err(forbidden_action("add_member"));
        }
        self.authorize("add_member", ctx, &img).await?;
        if img.visibility != "shared" {
            return Err(Error::forbidden(format!(
                "Only shared images have members. Image {id} is {}.",
                img.visibility
            )));
        }
        if member.is_empty() || member.chars().count() > 255 {
            return Err(Error::bad_request("Provided object does not match schema 'member': invalid member id"));
        }
        let members = self.store().members(id).await?;
        if members.iter().any(|m| m.member_id == member) {
            return Err(Error::conflict(format!("Member {member} already associated with image {id}")));
        }
        if members.len() + 1 > self.settings().member_quota {
            return Err(over_quota("image members", self.settings().member_quota));
        }
        let now = now_iso();
        let m = Member {
            image_id: id.to_string(),
            member_id: member.to_string(),
            status: "pending".into(),
            created_at: now.clone(),
            updated_at: now,
        };
        self.store().insert_member(&m).await?;
        Ok(m)
    }

    /// `GET /v2/images/{id}/members`: all for the owner, one's own for a member.
    pub(crate) async fn list_members(&self, ctx: &RequestContext, id: &str) -> Result<Vec<Member>, Error> {
        let img = self.load_visible(ctx, id).await?;
        if img.visibility != "shared" {
            return Err(Error::forbidden(format!(
                "Only shared images have members. Image {id} is {}.",
                img.visibility
            )));
        }
        self.authorize("get_members", ctx, &img).await?;
        let all = self.store().members(id).await?;
        if self.owns(ctx, &img) || self.is_admin(ctx) {
            return Ok(all);
        }
        let me = ctx.project_id().unwrap_or_default();
        Ok(all.into_iter().filter(|m| m.member_id == me).collect())
    }

    /// `GET /v2/images/{id}/members/{member}`.
    pub(crate) async fn get_member(&self, ctx: &RequestContext, id: &str, member: &str) -> Result<Member, Error> {
        let img = self.load_visible(ctx, id).await?;
        let me = ctx.project_id().unwrap_or_default();
        if !(self.owns(ctx, &img) || self.is_admin(ctx) || me == member) {
            return Err(member_not_found(id, member));
        }
        self.authorize("get_member", ctx, &img).await?;
        self.store().get_member(id, member).await?.ok_or_else(|| member_not_found(id, member))
    }

    /// `PUT /v2/images/{id}/members/{member}`: only the member itself.
    pub(crate) async fn update_member(
        &self,
        ctx: &RequestContext,
        id: &str,
        member: &str,
        status: &str,
    ) -> Result<Member, Error> {
        let img = self.load_visible(ctx, id).await?;
        if !MEMBER_STATUSES.contains(&status) {
            return Err(Error::bad_request(format!(
                "Provided object does not match schema 'member': '{status}' is not one of {MEMBER_STATUSES:?}"
            )));
        }
        let existing = self.store().get_member(id, member).await?.ok_or_else(|| member_not_found(id, member))?;
        let me = ctx.project_id().unwrap_or_default();
        if me != member && !self.is_admin(ctx) {
            return Err(Error::forbidden(format!(
                "You are not permitted to modify the membership of {member} on image {id}: only the member may."
            )));
        }
        let mut t = self.target(&img, Some(member));
        t = t.with("member_id", member);
        if !self.allowed("modify_member", ctx, &t) {
            return Err(forbidden_action("modify_member"));
        }
        let now = now_iso();
        self.store().set_member_status(id, member, status, &now).await?;
        Ok(Member { status: status.to_string(), updated_at: now, ..existing })
    }

    /// `DELETE /v2/images/{id}/members/{member}`: only the owner.
    pub(crate) async fn delete_member(&self, ctx: &RequestContext, id: &str, member: &str) -> Result<(), Error> {
        let img = self.load_visible(ctx, id).await?;
        if !self.owns(ctx, &img) && !self.is_admin(ctx) {
            return Err(forbidden_action("delete_member"));
        }
        self.authorize("delete_member", ctx, &img).await?;
        if !self.store().delete_member(id, member).await? {
            return Err(member_not_found(id, member));
        }
        Ok(())
    }
}
