//! Tokens: issue, validate (with a cache), revoke.
//!
//! A token is a Fernet token over a small [`payload::Payload`]; validating it
//! decrypts it, checks expiry and revocation events, and rebuilds what it
//! says (user, scope, roles) from the database, so a disabled user or a
//! removed role ends it. Validations are cached until the identity data
//! changes (a generation counter) or the token expires.

pub mod catalog;
pub mod fernet_keys;
pub mod payload;
pub mod revocation;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{TimeZone, Utc};
use rustack_common::time::{iso_micro, now, Timestamp};
use rustack_common::Error;
use rustack_http::context::{Scope, TokenRole};
use rustack_http::RequestContext;
use serde_json::{json, Value};

use crate::model::{AppCred, Domain, Project, Role, TargetKind, User, SYSTEM_TARGET};
use crate::store::RevocationEvent;
use crate::Identity;
use payload::{Payload, PayloadScope};
use revocation::TokenFacts;

/// What a token is scoped to, resolved to entities.
#[derive(Debug, Clone)]
pub enum TokenScope {
    Unscoped,
    Project { project: Project, domain: Domain },
    Domain(Domain),
    System,
}

/// A valid token and everything it stands for.
#[derive(Debug)]
pub struct ValidToken {
    pub id: String,
    pub payload: Payload,
    pub user: User,
    pub user_domain: Domain,
    pub scope: TokenScope,
    pub roles: Vec<Role>,
    pub app_cred: Option<AppCred>,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    pub context: Arc<RequestContext>,
    /// The OAuth1 consumer of an oauth1 token.
    pub oauth_consumer_id: Option<String>,
    /// The rendered validation body, without and with the catalog, made on
    /// first use: a cached token is served without rebuilding JSON.
    pub rendered: [std::sync::OnceLock<axum::body::Bytes>; 2],
}

fn ts(secs: f64) -> Timestamp {
    let micros = (secs * 1_000_000.0).round() as i64;
    Utc.timestamp_micros(micros).single().unwrap_or_else(now)
}

fn secs(t: &Timestamp) -> f64 {
    t.timestamp_micros() as f64 / 1_000_000.0
}

/// A token that is not (or no longer) valid: Keystone's 404 for a subject
/// token; callers authenticating with it turn it into a 401.
pub fn token_not_found() -> Error {
    Error::not_found("Could not recognize Fernet token")
}

impl ValidToken {
    pub fn project_id(&self) -> Option<&str> {
        match &self.scope {
            TokenScope::Project { project, .. } => Some(&project.id),
            _ => None,
        }
    }

    /// The `token` object of Keystone's token responses.
    pub fn to_json(&self, catalog: Option<Value>) -> Value {
        let dom = |d: &Domain| json!({"id": d.id, "name": d.name});
        let mut t = json!({
            "methods": payload::method_names(self.payload.methods),
            "user": {"id": self.user.id, "name": self.user.name, "domain": dom(&self.user_domain),
                     "password_expires_at": self.user.password_expires_at},
            "audit_ids": self.payload.audit_ids,
            "expires_at": iso_micro(&self.expires_at),
            "issued_at": iso_micro(&self.issued_at),
        });
        match &self.scope {
            TokenScope::Unscoped => {}
            TokenScope::Project { project, domain } => {
                t["project"] = json!({"id": project.id, "name": project.name, "domain": dom(domain)});
                t["is_domain"] = json!(false);
            }
            TokenScope::Domain(d) => t["domain"] = dom(d),
            TokenScope::System => t["system"] = json!({"all": true}),
        }
        if !matches!(self.scope, TokenScope::Unscoped) {
            t["roles"] = self.roles.iter().map(|r| json!({"id": r.id, "name": r.name})).collect();
            if let Some(c) = catalog {
                t["catalog"] = c;
            }
        }
        if let Some(a) = &self.app_cred {
            t["application_credential"] = json!({"id": a.id, "name": a.name, "restricted": !a.unrestricted});
            if let Some(rules) = &self.context.access_rules {
                t["application_credential"]["access_rules"] = rules
                    .iter()
                    .map(|r| json!({"id": r.id, "service": r.service, "method": r.method, "path": r.path}))
                    .collect();
            }
        }
        if let (Some(at), Some(consumer)) = (&self.payload.access_token_id, &self.oauth_consumer_id) {
            t["OS-OAUTH1"] = json!({"access_token_id": at, "consumer_id": consumer});
        }
        if let Some(tr) = &self.context.trust {
            t["OS-TRUST:trust"] = json!({"id": tr.id, "impersonation": tr.impersonation,
                                         "trustor_user": {"id": tr.trustor_user_id}, "trustee_user": {"id": tr.trustee_user_id}});
            if let Some(m) = t.as_object_mut() {
                m.remove("is_domain");
            }
        }
        t
    }
}

fn context(
    user: &User,
    user_domain: &Domain,
    scope: &TokenScope,
    roles: &[Role],
    p: &Payload,
    issued: Timestamp,
    expires: Timestamp,
    admin_project: bool,
) -> RequestContext {
    RequestContext {
        user_id: user.id.clone(),
        user_name: user.name.clone(),
        user_domain_id: user_domain.id.clone(),
        user_domain_name: user_domain.name.clone(),
        scope: match scope {
            TokenScope::Unscoped => Scope::Unscoped,
            TokenScope::Project { project, domain } => Scope::Project {
                id: project.id.clone(),
                name: project.name.clone(),
                domain_id: domain.id.clone(),
                domain_name: domain.name.clone(),
            },
            TokenScope::Domain(d) => Scope::Domain { id: d.id.clone(), name: d.name.clone() },
            TokenScope::System => Scope::System,
        },
        roles: roles.iter().map(|r| TokenRole { id: r.id.clone(), name: r.name.clone() }).collect(),
        methods: payload::method_names(p.methods),
        audit_ids: p.audit_ids.clone(),
        expires_at: expires,
        issued_at: issued,
        application_credential_id: p.app_cred_id.clone(),
        is_admin_project: admin_project,
        access_rules: None,
        trust: None,
    }
}

/// Validated tokens by their string.
#[derive(Default)]
pub struct TokenCache {
    map: RwLock<HashMap<String, (u64, Arc<ValidToken>)>>,
}

/// Above this many entries the cache is emptied rather than grown.
const CACHE_MAX: usize = 200_000;

impl TokenCache {
    fn get(&self, token: &str, generation: u64) -> Option<Arc<ValidToken>> {
        let m = self.map.read().unwrap();
        let (g, t) = m.get(token)?;
        (*g == generation && t.expires_at > now()).then(|| t.clone())
    }

    fn put(&self, token: &str, generation: u64, t: Arc<ValidToken>) {
        let mut m = self.map.write().unwrap();
        if m.len() >= CACHE_MAX {
            m.clear();
        }
        m.insert(token.to_string(), (generation, t));
    }
}

/// What to put in a new token.
pub struct NewToken {
    pub user: User,
    pub scope: PayloadScope,
    pub methods: u8,
    pub audit_ids: Vec<String>,
    pub expires_at: Option<Timestamp>,
    pub app_cred: Option<AppCred>,
    pub trust_id: Option<String>,
    pub access_token_id: Option<String>,
}

impl Identity {
    /// Issues a token; a scoped token needs at least one role on its scope.
    pub async fn issue_token(&self, n: NewToken) -> Result<Arc<ValidToken>, Error> {
        let issued = now();
        let lifetime = chrono::Duration::seconds(self.config().token_expiration as i64);
        let mut expires = issued + lifetime;
        if let Some(e) = n.expires_at {
            expires = expires.min(e);
        }
        if let Some(e) =
            n.app_cred.as_ref().and_then(|a| a.expires_at.as_deref()).and_then(rustack_common::time::parse_iso)
        {
            expires = expires.min(e);
        }
        let payload = Payload {
            version: payload::VERSION,
            user_id: n.user.id.clone(),
            methods: n.methods,
            scope: n.scope,
            issued_at: secs(&issued),
            expires_at: secs(&expires),
            audit_ids: n.audit_ids,
            app_cred_id: n.app_cred.as_ref().map(|a| a.id.clone()),
            trust_id: n.trust_id,
            access_token_id: n.access_token_id,
        };
        let id = self.keys().encrypt(&payload.encode());
        let t = self.build(id, payload, Some(n.user), n.app_cred).await.map_err(|e| match e.kind {
            rustack_common::ErrorKind::NotFound => {
                Error::unauthorized("The request you have made requires authentication.")
            }
            _ => e,
        })?;
        let t = Arc::new(t);
        if self.config().token_cache_validations {
            self.inner.cache.put(&t.id, self.generation(), t.clone());
        }
        Ok(t)
    }

    /// Validates a token string; errors are 404 (Keystone's answer for a bad
    /// subject token) or 401 for scope problems found while rebuilding.
    pub async fn validate_token(&self, token: &str) -> Result<Arc<ValidToken>, Error> {
        let generation = self.generation();
        let caching = self.config().token_cache_validations;
        if caching {
            if let Some(t) = self.inner.cache.get(token, generation) {
                return Ok(t);
            }
        }
        let bytes = self.keys().decrypt(token).ok_or_else(token_not_found)?;
        let payload = Payload::decode(&bytes).ok_or_else(token_not_found)?;
        if ts(payload.expires_at) <= now() {
            return Err(Error::not_found("The token has expired."));
        }
        let t = self.build(token.to_string(), payload, None, None).await?;
        let facts_domains: Vec<&str> = match &t.scope {
            TokenScope::Project { domain, .. } => vec![t.user_domain.id.as_str(), domain.id.as_str()],
            TokenScope::Domain(d) => vec![t.user_domain.id.as_str(), d.id.as_str()],
            _ => vec![t.user_domain.id.as_str()],
        };
        let role_ids: Vec<String> = t.roles.iter().map(|r| r.id.clone()).collect();
        let issued = iso_micro(&t.issued_at);
        let facts = TokenFacts {
            audit_ids: &t.payload.audit_ids,
            user_id: &t.user.id,
            project_id: t.project_id(),
            domain_ids: &facts_domains,
            role_ids: &role_ids,
            issued_at: &issued,
        };
        if self.inner.revocations.read().unwrap().is_revoked(&facts) {
            return Err(token_not_found());
        }
        // a trust-scoped token also ends with the other party's tokens (as
        // Keystone matches trustor and trustee ids): the trustee's password
        // change ends the tokens it made impersonating the trustor
        if let Some(tr) = &t.context.trust {
            for party in [&tr.trustor_user_id, &tr.trustee_user_id] {
                if *party != t.user.id
                    && self.inner.revocations.read().unwrap().is_revoked(&TokenFacts { user_id: party, ..facts })
                {
                    return Err(token_not_found());
                }
            }
        }
        let t = Arc::new(t);
        if caching {
            self.inner.cache.put(token, generation, t.clone());
        }
        Ok(t)
    }

    /// Rebuilds a token's meaning from the database.
    async fn build(
        &self,
        id: String,
        p: Payload,
        user: Option<User>,
        app_cred: Option<AppCred>,
    ) -> Result<ValidToken, Error> {
        let store = self.store();
        let user = match user {
            Some(u) => u,
            None => store.get_user(&p.user_id).await?.ok_or_else(token_not_found)?,
        };
        if !user.enabled {
            return Err(token_not_found());
        }
        let user_domain = store.get_domain(&user.domain_id).await?.ok_or_else(token_not_found)?;
        if !user_domain.enabled {
            return Err(token_not_found());
        }
        let app_cred = match (&p.app_cred_id, app_cred) {
            (Some(_), Some(a)) => Some(a),
            (Some(aid), None) => Some(store.get_app_cred(aid).await?.ok_or_else(token_not_found)?),
            _ => None,
        };
        let (scope, mut roles, admin_project) = match &p.scope {
            PayloadScope::Unscoped => (TokenScope::Unscoped, Vec::new(), false),
            PayloadScope::Project(pid) => {
                let project = store.get_project(pid).await?.ok_or_else(token_not_found)?;
                let domain = store.get_domain(&project.domain_id).await?.ok_or_else(token_not_found)?;
                if !project.enabled || !domain.enabled {
                    return Err(Error::unauthorized(format!("Project {} is disabled.", project.id)));
                }
                let roles = self.effective_roles(&user.id, TargetKind::Project, pid).await?;
                let admin = project.name == "admin" && domain.id == "default";
                (TokenScope::Project { project, domain }, roles, admin)
            }
            PayloadScope::Domain(did) => {
                let d = store.get_domain(did).await?.ok_or_else(token_not_found)?;
                if !d.enabled {
                    return Err(Error::unauthorized(format!("Domain {} is disabled.", d.id)));
                }
                let roles = self.effective_roles(&user.id, TargetKind::Domain, did).await?;
                (TokenScope::Domain(d), roles, false)
            }
            PayloadScope::System => {
                let roles = self.effective_roles(&user.id, TargetKind::System, SYSTEM_TARGET).await?;
                (TokenScope::System, roles, false)
            }
        };
        if let Some(a) = &app_cred {
            // an application credential carries at most the roles it was made with
            let granted = self.expand_implied(&a.role_ids).await?;
            roles.retain(|r| granted.iter().any(|g| g.id == r.id));
        }
        let mut trust = None;
        if let Some(tid) = &p.trust_id {
            let (r, t) = crate::trusts::token_roles(self, tid, &user).await?;
            roles = r;
            trust = Some(t);
        }
        let mut oauth_consumer_id = None;
        if let Some(aid) = &p.access_token_id {
            let (r, consumer) = crate::oauth1::token_roles(self, aid, roles).await?;
            roles = r;
            oauth_consumer_id = Some(consumer);
        }
        if !matches!(scope, TokenScope::Unscoped) && roles.is_empty() {
            return Err(Error::unauthorized(format!("User {} has no access to the requested scope.", user.id)));
        }
        let issued = ts(p.issued_at);
        let expires = ts(p.expires_at);
        let mut ctx = context(&user, &user_domain, &scope, &roles, &p, issued, expires, admin_project);
        ctx.trust = trust;
        if let Some(a) = &app_cred {
            let rules = store.app_cred_access_rules(&a.id).await?;
            ctx.access_rules = (!rules.is_empty()).then_some(rules);
        }
        Ok(ValidToken {
            id,
            payload: p,
            user,
            user_domain,
            scope,
            roles,
            app_cred,
            issued_at: issued,
            expires_at: expires,
            context: Arc::new(ctx),
            oauth_consumer_id,
            rendered: Default::default(),
        })
    }

    /// Records a revocation event and drops cached validations.
    pub async fn revoke(&self, mut e: RevocationEvent) -> Result<(), Error> {
        if e.id.is_empty() {
            e.id = rustack_common::new_id();
        }
        let t = iso_micro(&now());
        if e.issued_before.is_empty() {
            e.issued_before = t.clone();
        }
        e.revoked_at = t;
        self.store().add_revocation(&e).await?;
        self.inner.revocations.write().unwrap().add(e);
        self.changed();
        Ok(())
    }

    /// Revokes one token and, with `cascade`, the tokens rescoped from it
    /// when it is the root of their chain (as Keystone's `?cascade`).
    pub async fn revoke_token(&self, t: &ValidToken, cascade: bool) -> Result<(), Error> {
        let own = t.payload.audit_ids.first().cloned();
        self.revoke(RevocationEvent { audit_id: own.clone(), ..Default::default() }).await?;
        if cascade {
            self.revoke(RevocationEvent { audit_chain_id: own, ..Default::default() }).await?;
        }
        Ok(())
    }

    /// Ends every token of a user (disabled, deleted, password changed).
    pub async fn revoke_user_tokens(&self, user_id: &str) -> Result<(), Error> {
        self.revoke(RevocationEvent { user_id: Some(user_id.to_string()), ..Default::default() }).await
    }
}
