//! OS-TRUST: trusts and trust-scoped tokens.
//!
//! A trust lets its trustee act on a project with some of the trustor's
//! roles there. A trust-scoped token is the trustee's, or the trustor's when
//! the trust impersonates; either way its roles are the trust's roles that the
//! trustor still holds, recomputed at every validation, so the token ends when
//! the trustor loses one of them or the trust is deleted. Redelegation: a
//! trust-scoped token may create a further trust from it when the trust
//! allows it, with a subset of its roles and one less redelegation left.

use rustack_common::time::Timestamp;
use rustack_common::Error;
use rustack_http::context::TrustRef;
use rustack_http::RequestContext;
use serde_json::Value;

use crate::model::{Extra, Role, TargetKind, User};
use crate::store::trusts::Trust;
use crate::token::payload::PayloadScope;
use crate::token::token_not_found;
use crate::Identity;

/// Keystone's `[trust] max_redelegation_count` default.
pub const MAX_REDELEGATION_COUNT: i64 = 3;

/// How deep a redelegation chain is followed before it is taken as broken.
const MAX_CHAIN: usize = 64;

/// What a trust scope request resolves to.
pub struct TrustScope {
    pub scope: PayloadScope,
    pub trust_id: String,
    /// The token's user: the trustor when the trust impersonates, otherwise
    /// the trustee who authenticated.
    pub user: User,
    /// The trust's expiry, which caps the token's.
    pub expires_at: Option<Timestamp>,
}

fn trust_not_found(id: &str) -> Error {
    Error::not_found_entity("trust", id)
}

/// Checks that `trustee` may use the trust named in the scope request
/// (`{"id": ...}`) and returns what the token is made of. An unknown,
/// expired or used-up trust is a 401, as Keystone answers.
pub async fn resolve_trust_scope(id: &Identity, trustee: &User, trust: &Value) -> Result<TrustScope, Error> {
    let tid =
        trust.as_object().and_then(|o| o.get("id")).and_then(Value::as_str).filter(|s| !s.is_empty()).ok_or_else(
            || {
                Error::bad_request(
                    "Invalid input for field 'scope.OS-TRUST:trust': expected an object with the trust's 'id'.",
                )
            },
        )?;
    let t = id
        .store()
        .get_trust(tid)
        .await?
        .filter(Trust::is_usable)
        .ok_or_else(|| Error::unauthorized(format!("Could not find trust: {tid}.")))?;
    if trustee.id != t.trustee_user_id {
        return Err(Error::forbidden("User is not a trustee."));
    }
    let project_id =
        t.project_id.clone().ok_or_else(|| Error::forbidden("A trust without a project cannot scope a token."))?;
    let trustor = id
        .store()
        .get_user(&t.trustor_user_id)
        .await?
        .ok_or_else(|| Error::unauthorized(format!("Could not find trust: {tid}.")))?;
    if !trustor.enabled {
        return Err(Error::forbidden("Trustor is disabled."));
    }
    let user = if t.impersonation { trustor } else { trustee.clone() };
    Ok(TrustScope { scope: PayloadScope::Project(project_id), trust_id: t.id.clone(), user, expires_at: t.expires() })
}

/// Takes one use of the trust a token was just issued from (Keystone counts
/// a use once the token is made). A trust used up meanwhile is a 401.
pub async fn consume_use(id: &Identity, trust_id: &str) -> Result<(), Error> {
    if id.store().consume_trust_use(trust_id).await? {
        Ok(())
    } else {
        Err(Error::unauthorized(format!("Could not find trust: {trust_id}.")))
    }
}

/// The roles of a trust-scoped token of `user`, and the trust for the token
/// body: the trust's roles (implied ones included) when the trustor at the
/// root of the redelegation chain still holds every one of them on the
/// project. Otherwise, or when the trust is gone or expired, or a party to it
/// is gone or disabled, the token is invalid (404, a 401 where it is used).
/// A used-up trust still backs the tokens already made from it.
pub async fn token_roles(id: &Identity, trust_id: &str, user: &User) -> Result<(Vec<Role>, TrustRef), Error> {
    let store = id.store();
    let t = store.get_trust(trust_id).await?.ok_or_else(token_not_found)?;
    if t.is_expired() {
        return Err(token_not_found());
    }
    let token_user = if t.impersonation { &t.trustor_user_id } else { &t.trustee_user_id };
    if &user.id != token_user {
        return Err(token_not_found());
    }
    for party in [&t.trustor_user_id, &t.trustee_user_id] {
        if *party == user.id {
            continue;
        }
        let u = store.get_user(party).await?.ok_or_else(token_not_found)?;
        let d = store.get_domain(&u.domain_id).await?;
        if !u.enabled || !d.is_some_and(|d| d.enabled) {
            return Err(token_not_found());
        }
    }
    let project_id = t.project_id.as_deref().ok_or_else(token_not_found)?;
    let trustor = original_trustor(id, &t).await?.ok_or_else(token_not_found)?;
    let held = id.effective_roles(&trustor, TargetKind::Project, project_id).await?;
    let delegated = id.expand_implied(&t.role_ids).await?;
    if delegated.iter().any(|r| !held.iter().any(|h| h.id == r.id)) {
        return Err(token_not_found());
    }
    let r = TrustRef {
        id: t.id.clone(),
        trustor_user_id: t.trustor_user_id.clone(),
        trustee_user_id: t.trustee_user_id.clone(),
        impersonation: t.impersonation,
    };
    Ok((delegated, r))
}

/// The trustor of the first trust of a redelegation chain.
async fn original_trustor(id: &Identity, t: &Trust) -> Result<Option<String>, Error> {
    let mut cur = t.clone();
    for _ in 0..MAX_CHAIN {
        match &cur.redelegated_trust_id {
            None => return Ok(Some(cur.trustor_user_id)),
            Some(parent) => match id.store().get_trust(parent).await? {
                Some(p) => cur = p,
                None => return Ok(None),
            },
        }
    }
    Ok(None)
}

/// A role named in a trust request.
#[derive(Debug, Clone)]
pub enum RoleRef {
    Id(String),
    Name(String),
}

/// A trust to create, as read from the request.
#[derive(Debug, Clone)]
pub struct NewTrust {
    pub trustor_user_id: String,
    pub trustee_user_id: String,
    pub project_id: Option<String>,
    pub impersonation: bool,
    pub roles: Vec<RoleRef>,
    pub expires_at: Option<Timestamp>,
    pub remaining_uses: Option<i64>,
    pub allow_redelegation: bool,
    pub redelegation_count: Option<i64>,
    pub extra: Extra,
}

/// Whether a token came from a delegated credential (application
/// credential, OAuth1 access token, EC2 credential) rather than from the
/// user proving who they are. Keystone keeps such tokens away from trusts.
pub fn is_delegated_method(ctx: &RequestContext) -> bool {
    ctx.methods.is_empty()
        || ctx.methods.iter().any(|m| {
            !matches!(
                m.as_str(),
                "password" | "token" | "totp" | "external" | "mapped" | "openid" | "saml2" | "kerberos" | "x509"
            )
        })
}

/// Refuses the trust APIs to delegated tokens (403).
pub fn check_not_delegated(ctx: &RequestContext) -> Result<(), Error> {
    if is_delegated_method(ctx) {
        return Err(Error::forbidden(
            "You are not authorized to perform the requested action: Delegated tokens cannot manage trusts.",
        ));
    }
    Ok(())
}

fn format_expiry(t: &Timestamp) -> String {
    rustack_common::time::iso_micro(t)
}

impl Identity {
    /// A trust as the API shows it: 404 when missing, expired or used up.
    pub async fn find_usable_trust(&self, trust_id: &str) -> Result<Trust, Error> {
        self.store().get_trust(trust_id).await?.filter(Trust::is_usable).ok_or_else(|| trust_not_found(trust_id))
    }

    /// Creates a trust for the caller (its trustor), Keystone's checks in
    /// Keystone's order. The caller's policy check is done.
    pub async fn create_trust(&self, ctx: &RequestContext, n: NewTrust) -> Result<Trust, Error> {
        let store = self.store();
        if n.project_id.is_some() && n.roles.is_empty() {
            return Err(Error::forbidden(
                "You are not authorized to perform the requested action: At least one role should be specified.",
            ));
        }
        if ctx.user_id != n.trustor_user_id {
            return Err(Error::forbidden("You are not authorized to perform the requested action: The authenticated user should match the trustor."));
        }
        if store.get_user(&n.trustee_user_id).await?.is_none() {
            return Err(Error::not_found_entity("user", &n.trustee_user_id));
        }
        // roles by name are global roles
        let mut role_ids: Vec<String> = Vec::new();
        for r in &n.roles {
            let rid = match r {
                RoleRef::Id(i) => i.clone(),
                RoleRef::Name(name) => {
                    store.get_role_by_name(name, None).await?.ok_or_else(|| Error::not_found_entity("role", name))?.id
                }
            };
            if !role_ids.contains(&rid) {
                role_ids.push(rid);
            }
        }
        // the trustor must hold every delegated role on the project
        let held: Vec<String> = match &n.project_id {
            Some(pid) => {
                if store.get_project(pid).await?.is_none() {
                    return Err(Error::not_found_entity("project", pid));
                }
                self.trustor_role_ids(&n.trustor_user_id, pid).await?
            }
            None => Vec::new(),
        };
        if let Some(missing) = role_ids.iter().find(|r| !held.contains(r)) {
            return Err(Error::not_found_entity("role", missing));
        }
        let mut t = Trust {
            id: rustack_common::new_id(),
            trustor_user_id: n.trustor_user_id.clone(),
            trustee_user_id: n.trustee_user_id.clone(),
            project_id: n.project_id.clone(),
            impersonation: n.impersonation,
            expires_at: n.expires_at.as_ref().map(format_expiry),
            remaining_uses: n.remaining_uses,
            redelegated_trust_id: None,
            redelegation_count: 0,
            extra: n.extra.clone(),
            role_ids,
        };
        // redelegation: a trust-scoped caller makes a trust from its own
        let parent = match ctx.trust_id() {
            Some(pid) => Some(self.find_usable_trust(pid).await?),
            None => None,
        };
        let requested = n.redelegation_count;
        let redelegatable = n.allow_redelegation && requested != Some(0);
        if !redelegatable {
            t.redelegation_count = 0;
        } else {
            if let Some(c) = requested {
                if c > MAX_REDELEGATION_COUNT {
                    return Err(Error::forbidden(format!(
                        "Requested redelegation depth of {c} is greater than allowed {MAX_REDELEGATION_COUNT}."
                    )));
                }
            }
            if t.remaining_uses.is_some() {
                return Err(Error::bad_request(
                    "Invalid input for field 'trust.remaining_uses': it must not be set if redelegation is allowed.",
                ));
            }
            t.redelegation_count = requested.unwrap_or(MAX_REDELEGATION_COUNT);
        }
        if let Some(parent) = parent {
            let remaining = parent.redelegation_count - 1;
            if redelegatable && requested.is_some_and(|c| c != remaining) {
                return Err(Error::forbidden("Modifying \"redelegation_count\" upon redelegation is forbidden. Omitting this parameter is advised."));
            }
            if redelegatable {
                t.redelegation_count = remaining;
            }
            t.redelegated_trust_id = Some(parent.id.clone());
            // the new trust must fit within every trust of the chain
            let mut cur = Some(parent);
            let mut depth = 0;
            while let Some(p) = cur {
                validate_redelegation(&p, &mut t)?;
                depth += 1;
                cur = match (&p.redelegated_trust_id, depth < MAX_CHAIN) {
                    (Some(up), true) => Some(
                        self.store()
                            .get_trust(up)
                            .await?
                            .ok_or_else(|| Error::forbidden("The redelegation chain is broken."))?,
                    ),
                    _ => None,
                };
            }
        }
        store.create_trust(&t).await?;
        Ok(t)
    }

    /// The role ids `user_id` holds on a project, domain-specific roles
    /// included (Keystone's check when creating a trust).
    async fn trustor_role_ids(&self, user_id: &str, project_id: &str) -> Result<Vec<String>, Error> {
        let mut ids: Vec<String> =
            self.effective_roles(user_id, TargetKind::Project, project_id).await?.into_iter().map(|r| r.id).collect();
        let mut actors = vec![user_id.to_string()];
        actors.extend(self.store().groups_of_user(user_id).await?.into_iter().map(|g| g.id));
        let f = crate::store::assignments::AssignmentFilter {
            kinds: Some(vec![
                crate::model::AssignmentKind::of(false, TargetKind::Project),
                crate::model::AssignmentKind::of(true, TargetKind::Project),
            ]),
            actor_ids: Some(actors),
            target_id: Some(project_id.to_string()),
            role_id: None,
        };
        for a in self.store().list_assignments(&f).await? {
            if !a.inherited && !ids.contains(&a.role_id) {
                ids.push(a.role_id);
            }
        }
        Ok(ids)
    }
}

/// Keystone's rules for a trust made from `parent` (and from every trust
/// above it): redelegation left, no use limit, not outliving it, a subset of
/// its roles, no impersonation it does not have.
fn validate_redelegation(parent: &Trust, t: &mut Trust) -> Result<(), Error> {
    if !(0 < parent.redelegation_count && parent.redelegation_count <= MAX_REDELEGATION_COUNT) {
        return Err(Error::forbidden(format!(
            "Remaining redelegation depth of {} out of allowed range of [0..{MAX_REDELEGATION_COUNT}].",
            parent.redelegation_count
        )));
    }
    if let Some(n) = t.remaining_uses {
        return Err(Error::forbidden(format!(
            "Field \"remaining_uses\" is set to {n} while it must not be set in order to redelegate a trust."
        )));
    }
    match (t.expires(), parent.expires()) {
        (Some(mine), Some(theirs)) if theirs < mine => {
            return Err(Error::forbidden("Requested expiration time is more than redelegated trust can provide."));
        }
        (None, Some(_)) => t.expires_at = parent.expires_at.clone(),
        _ => {}
    }
    if t.role_ids.iter().any(|r| !parent.role_ids.contains(r)) {
        return Err(Error::forbidden("Some of requested roles are not in redelegated trust."));
    }
    if t.impersonation && !parent.impersonation {
        return Err(Error::forbidden(format!(
            "Impersonation is not allowed because redelegated trust does not specify impersonation. Redelegated trust id: {}",
            parent.id
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trust(count: i64) -> Trust {
        Trust {
            id: "p".into(),
            trustor_user_id: "a".into(),
            trustee_user_id: "b".into(),
            project_id: Some("x".into()),
            impersonation: false,
            expires_at: Some("2100-01-01T00:00:00.000000Z".into()),
            remaining_uses: None,
            redelegated_trust_id: None,
            redelegation_count: count,
            extra: Extra::new(),
            role_ids: vec!["r1".into(), "r2".into()],
        }
    }

    #[test]
    fn redelegation_rules() {
        let parent = trust(2);
        let mut child = trust(1);
        child.expires_at = None;
        child.role_ids = vec!["r1".into()];
        validate_redelegation(&parent, &mut child).unwrap();
        assert_eq!(child.expires_at, parent.expires_at, "a child without expiry inherits the parent's");
        assert_eq!(validate_redelegation(&trust(0), &mut trust(0)).unwrap_err().status(), 403, "depth used up");
        let mut more = trust(1);
        more.role_ids.push("r3".into());
        assert_eq!(validate_redelegation(&parent, &mut more).unwrap_err().status(), 403, "roles not a subset");
        let mut longer = trust(1);
        longer.expires_at = Some("2200-01-01T00:00:00.000000Z".into());
        assert_eq!(validate_redelegation(&parent, &mut longer).unwrap_err().status(), 403, "outlives the parent");
        let mut imp = trust(1);
        imp.impersonation = true;
        assert_eq!(
            validate_redelegation(&parent, &mut imp).unwrap_err().status(),
            403,
            "impersonation not in the parent"
        );
        let mut limited = trust(1);
        limited.remaining_uses = Some(2);
        assert_eq!(validate_redelegation(&parent, &mut limited).unwrap_err().status(), 403);
    }

    #[test]
    fn usable_means_not_expired_and_not_used_up() {
        let mut t = trust(0);
        assert!(t.is_usable());
        t.remaining_uses = Some(0);
        assert!(!t.is_usable());
        t.remaining_uses = Some(1);
        t.expires_at = Some("2000-01-01T00:00:00Z".into());
        assert!(!t.is_usable() && t.is_expired());
    }
}
