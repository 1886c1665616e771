//! `POST /v3/auth/tokens`: who is authenticating (password, token,
//! application credential) and what the token is scoped to.

use std::sync::Arc;

use rustack_common::Error;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::model::{AppCred, TargetKind, User, SYSTEM_TARGET};
use crate::token::payload::{self, PayloadScope};
use crate::token::{NewToken, ValidToken};
use crate::Identity;

// ---- request body (Keystone's auth schema) ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthRequest {
    pub auth: Auth,
}

#[derive(Debug, Deserialize)]
pub struct Auth {
    pub identity: AuthIdentity,
    #[serde(default)]
    pub scope: Option<ScopeRequest>,
}

#[derive(Debug, Deserialize)]
pub struct AuthIdentity {
    pub methods: Vec<String>,
    #[serde(default)]
    pub password: Option<PasswordMethod>,
    #[serde(default)]
    pub token: Option<TokenMethod>,
    #[serde(default)]
    pub application_credential: Option<AppCredMethod>,
    /// OS-OAUTH1: the body part is empty; the signed request carries the proof.
    #[serde(default)]
    pub oauth1: Option<serde_json::Value>,
}

/// What of the HTTP request an authentication method may need besides the body
/// (OAuth1 signs the method, URL and Authorization header).
#[derive(Debug, Clone, Default)]
pub struct AuthHttp {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Deserialize)]
pub struct PasswordMethod {
    pub user: UserRef,
}

#[derive(Debug, Deserialize)]
pub struct UserRef {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub domain: Option<DomainRef>,
    #[serde(default)]
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, Clone)]
pub struct DomainRef {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct TokenMethod {
    pub id: String,
}

#[derive(Debug, Deserialize)]
pub struct AppCredMethod {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub user: Option<UserRef>,
    pub secret: String,
}

#[derive(Debug, Deserialize)]
pub struct ScopeRequest {
    #[serde(default)]
    pub project: Option<ProjectRef>,
    #[serde(default)]
    pub domain: Option<DomainRef>,
    #[serde(default)]
    pub system: Option<SystemRef>,
    #[serde(default, rename = "OS-TRUST:trust")]
    pub trust: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub struct ProjectRef {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub domain: Option<DomainRef>,
}

#[derive(Debug, Deserialize)]
pub struct SystemRef {
    #[serde(default)]
    pub all: bool,
}

fn unauthorized() -> Error {
    Error::unauthorized("The request you have made requires authentication.")
}

/// The outcome of the identity methods, before scoping.
struct Proven {
    user: User,
    methods: u8,
    audit_ids: Vec<String>,
    expires_at: Option<rustack_common::time::Timestamp>,
    app_cred: Option<AppCred>,
    base_token: Option<Arc<ValidToken>>,
    access_token_id: Option<String>,
    /// Set by a method that fixes the scope itself (OAuth1 access tokens).
    forced_scope: Option<PayloadScope>,
}

impl Identity {
    /// bcrypt on the blocking pool, so hashing never stalls the server.
    pub async fn hash_password(&self, password: &str) -> Result<String, Error> {
        let cost = self.config().password_hash_rounds;
        let pw = password.to_string();
        tokio::task::spawn_blocking(move || bcrypt::hash(pw, cost))
            .await
            .map_err(|e| Error::internal(&e))?
            .map_err(|e| Error::internal(&e))
    }

    /// Checks a password against a bcrypt hash on the blocking pool. bcrypt's
    /// own comparison of the derived hash is constant-time.
    pub async fn verify_password(&self, password: &str, hash: &str) -> Result<bool, Error> {
        let pw = password.to_string();
        let h = hash.to_string();
        tokio::task::spawn_blocking(move || bcrypt::verify(pw, &h).unwrap_or(false))
            .await
            .map_err(|e| Error::internal(&e))
    }

    pub(crate) async fn resolve_domain(&self, d: &DomainRef) -> Result<Option<crate::model::Domain>, Error> {
        match (&d.id, &d.name) {
            (Some(id), _) => self.store().get_domain(id).await,
            (None, Some(name)) => self.store().get_domain_by_name(name).await,
            (None, None) => Err(Error::bad_request("Invalid input for field 'domain': expected an id or a name.")),
        }
    }

    async fn resolve_user(&self, u: &UserRef) -> Result<User, Error> {
        if let Some(id) = &u.id {
            return self.store().get_user(id).await?.ok_or_else(unauthorized);
        }
        let name = u
            .name
            .as_ref()
            .ok_or_else(|| Error::bad_request("Invalid input for field 'user': expected an id or a name."))?;
        let d = u
            .domain
            .as_ref()
            .ok_or_else(|| Error::bad_request("Invalid input for field 'user': a user name needs its domain."))?;
        let domain = self.resolve_domain(d).await?.ok_or_else(unauthorized)?;
        self.store().get_user_by_name(&domain.id, name).await?.ok_or_else(unauthorized)
    }

    async fn check_user_usable(&self, user: &User) -> Result<(), Error> {
        if !user.enabled {
            return Err(unauthorized());
        }
        let d = self.store().get_domain(&user.domain_id).await?.ok_or_else(unauthorized)?;
        if !d.enabled {
            return Err(unauthorized());
        }
        Ok(())
    }

    async fn password_method(&self, m: &PasswordMethod) -> Result<User, Error> {
        let password = m
            .user
            .password
            .as_deref()
            .ok_or_else(|| Error::bad_request("Invalid input for field 'password': the password is required."))?;
        let user = self.resolve_user(&m.user).await?;
        self.check_not_locked(&user)?;
        let ok = match &user.password_hash {
            Some(h) => self.verify_password(password, h).await?,
            None => false,
        };
        if !ok {
            tracing::info!(user_id = %user.id, "password authentication failed");
        }
        self.after_password_check(&user, ok, false).await?;
        self.check_user_usable(&user).await?;
        Ok(user)
    }

    async fn app_cred_method(&self, m: &AppCredMethod) -> Result<(User, AppCred), Error> {
        let cred = if let Some(id) = &m.id {
            self.store().get_app_cred(id).await?
        } else {
            let name = m.name.as_ref().ok_or_else(|| {
                Error::bad_request(
                    "Invalid input for field 'application_credential': expected an id, or a name and a user.",
                )
            })?;
            let u = m.user.as_ref().ok_or_else(|| {
                Error::bad_request("Invalid input for field 'application_credential': a name needs its user.")
            })?;
            let user = self.resolve_user(u).await?;
            self.store().get_app_cred_by_name(&user.id, name).await?
        }
        .ok_or_else(unauthorized)?;
        let ok = self.verify_password(&m.secret, &cred.secret_hash).await?;
        if !ok {
            return Err(unauthorized());
        }
        if let Some(exp) = cred.expires_at.as_deref().and_then(rustack_common::time::parse_iso) {
            if exp <= rustack_common::time::now() {
                return Err(Error::unauthorized("The application credential has expired."));
            }
        }
        let user = self.store().get_user(&cred.user_id).await?.ok_or_else(unauthorized)?;
        self.check_user_usable(&user).await?;
        Ok((user, cred))
    }

    async fn prove(&self, id: &AuthIdentity, http: &AuthHttp, scope: Option<&ScopeRequest>) -> Result<Proven, Error> {
        if id.methods.is_empty() {
            // Keystone finds no user to authenticate: 401, not a schema error
            return Err(unauthorized());
        }
        let mut proven: Option<Proven> = None;
        let mut oauth: Option<crate::oauth1::OAuthProof> = None;
        for m in &id.methods {
            let (user, bit, base, app_cred) = match m.as_str() {
                "oauth1" => {
                    let proof = crate::oauth1::prove(self, http).await?;
                    let user = proof.user.clone();
                    oauth = Some(proof);
                    (user, payload::METHOD_OAUTH1, None, None)
                }
                "password" => {
                    let pm = id.password.as_ref().ok_or_else(|| {
                        Error::bad_request(
                            "Invalid input for field 'identity': 'password' is listed in methods but missing.",
                        )
                    })?;
                    (self.password_method(pm).await?, payload::METHOD_PASSWORD, None, None)
                }
                "token" => {
                    let tm = id.token.as_ref().ok_or_else(|| {
                        Error::bad_request(
                            "Invalid input for field 'identity': 'token' is listed in methods but missing.",
                        )
                    })?;
                    // an invalid token is a 404 here too, as Keystone answers
                    let t = self.validate_token(&tm.id).await?;
                    if t.app_cred.is_some() {
                        return Err(Error::forbidden("Tokens made with an application credential cannot be rescoped."));
                    }
                    if t.payload.trust_id.is_some() {
                        return Err(Error::forbidden("Using a trust-scoped token to create another token is not allowed: create a new trust-scoped token instead."));
                    }
                    if t.payload.access_token_id.is_some()
                        || t.payload.methods & (payload::METHOD_OAUTH1 | payload::METHOD_EC2) != 0
                    {
                        return Err(Error::forbidden(
                            "Using a delegated token to create another token is not allowed.",
                        ));
                    }
                    let narrower = scope.is_some_and(|s| s.project.is_some() || s.domain.is_some());
                    if matches!(t.scope, crate::token::TokenScope::System) && narrower {
                        return Err(Error::forbidden(
                            "Using a system-scoped token to create a project-scoped or domain-scoped token is not allowed.",
                        ));
                    }
                    (t.user.clone(), payload::METHOD_TOKEN, Some(t), None)
                }
                "application_credential" => {
                    let am = id.application_credential.as_ref().ok_or_else(|| Error::bad_request("Invalid input for field 'identity': 'application_credential' is listed in methods but missing."))?;
                    let (u, c) = self.app_cred_method(am).await?;
                    (u, payload::METHOD_APP_CRED, None, Some(c))
                }
                _ => return Err(Error::unauthorized("Attempted to authenticate with an unsupported method.")),
            };
            match &mut proven {
                None => {
                    proven = Some(Proven {
                        user,
                        methods: bit,
                        audit_ids: Vec::new(),
                        expires_at: None,
                        app_cred,
                        base_token: base,
                        access_token_id: None,
                        forced_scope: None,
                    })
                }
                Some(p) => {
                    if p.user.id != user.id {
                        return Err(Error::unauthorized("User IDs of the authentication methods do not match."));
                    }
                    p.methods |= bit;
                    if base.is_some() {
                        p.base_token = base;
                    }
                    if app_cred.is_some() {
                        p.app_cred = app_cred;
                    }
                }
            }
        }
        let mut p = proven.expect("methods is not empty");
        if let Some(o) = oauth {
            p.access_token_id = Some(o.access_token_id);
            p.forced_scope = Some(PayloadScope::Project(o.project_id));
            p.expires_at = o.expires_at;
        }
        p.audit_ids = vec![payload::new_audit_id()];
        if let Some(t) = &p.base_token {
            // a token made from a token keeps its expiry and its audit chain
            p.expires_at = Some(t.expires_at);
            p.methods |= t.payload.methods;
            p.audit_ids.push(t.payload.audit_ids.last().cloned().unwrap_or_default());
        }
        Ok(p)
    }

    async fn resolve_scope(&self, user: &User, scope: Option<&ScopeRequest>) -> Result<PayloadScope, Error> {
        let Some(s) = scope else {
            // Keystone scopes to the default project when the user still has a role on it
            if let Some(pid) = &user.default_project_id {
                if let Some(p) = self.store().get_project(pid).await? {
                    if p.enabled && !self.effective_roles(&user.id, TargetKind::Project, pid).await?.is_empty() {
                        return Ok(PayloadScope::Project(pid.clone()));
                    }
                }
            }
            return Ok(PayloadScope::Unscoped);
        };
        let given = [s.project.is_some(), s.domain.is_some(), s.system.is_some(), s.trust.is_some()]
            .iter()
            .filter(|x| **x)
            .count();
        if given > 1 {
            return Err(Error::bad_request("Specify only one of project, domain, system or trust as the scope."));
        }
        if s.trust.is_some() {
            return Err(Error::bad_request("A trust scope is resolved by authenticate(), not here."));
        }
        if let Some(p) = &s.project {
            let project = match (&p.id, &p.name) {
                (Some(id), _) => self.store().get_project(id).await?,
                (None, Some(name)) => {
                    let d = p.domain.as_ref().ok_or_else(|| {
                        Error::bad_request("Invalid input for field 'scope.project': a project name needs its domain.")
                    })?;
                    match self.resolve_domain(d).await? {
                        Some(dom) => self.store().get_project_by_name(&dom.id, name).await?,
                        None => None,
                    }
                }
                (None, None) => {
                    return Err(Error::bad_request(
                        "Invalid input for field 'scope.project': expected an id or a name.",
                    ))
                }
            };
            let project = project.ok_or_else(|| Error::unauthorized("The project to scope to does not exist."))?;
            return Ok(PayloadScope::Project(project.id));
        }
        if let Some(d) = &s.domain {
            let dom = self
                .resolve_domain(d)
                .await?
                .ok_or_else(|| Error::unauthorized("The domain to scope to does not exist."))?;
            return Ok(PayloadScope::Domain(dom.id));
        }
        if let Some(sys) = &s.system {
            if !sys.all {
                return Err(Error::bad_request(
                    "Invalid input for field 'scope.system': only {\"all\": true} is a system scope.",
                ));
            }
            return Ok(PayloadScope::System);
        }
        Err(Error::bad_request("Invalid input for field 'scope': expected a project, a domain or the system."))
    }

    /// Authenticates and issues a token.
    pub async fn authenticate(&self, req: &AuthRequest, http: &AuthHttp) -> Result<Arc<ValidToken>, Error> {
        let mut p = self.prove(&req.auth.identity, http, req.auth.scope.as_ref()).await?;
        let mut trust_id = None;
        let scope = if let Some(s) = &p.forced_scope {
            if req.auth.scope.is_some() {
                return Err(Error::forbidden("This token's scope is fixed by its OAuth access token."));
            }
            s.clone()
        } else if let Some(trust) = req.auth.scope.as_ref().and_then(|s| s.trust.as_ref()) {
            if p.app_cred.is_some() {
                return Err(Error::forbidden("An application credential cannot be used to get a trust-scoped token."));
            }
            if req.auth.scope.as_ref().is_some_and(|s| s.project.is_some() || s.domain.is_some() || s.system.is_some())
            {
                return Err(Error::bad_request("Specify only one of project, domain, system or trust as the scope."));
            }
            let ts = crate::trusts::resolve_trust_scope(self, &p.user, trust).await?;
            trust_id = Some(ts.trust_id);
            // the token is the trustor's when the trust impersonates; the trust's expiry caps it
            p.user = ts.user;
            p.expires_at = [p.expires_at, ts.expires_at].into_iter().flatten().min();
            ts.scope
        } else if let Some(c) = &p.app_cred {
            // an application credential's token is scoped to its project, always
            let own = PayloadScope::Project(c.project_id.clone().ok_or_else(unauthorized)?);
            if let Some(s) = &req.auth.scope {
                let asked = self.resolve_scope(&p.user, Some(s)).await?;
                if asked != own {
                    return Err(Error::unauthorized(
                        "An application credential can only be scoped to its own project.",
                    ));
                }
            }
            own
        } else {
            self.resolve_scope(&p.user, req.auth.scope.as_ref()).await?
        };
        if let PayloadScope::System = scope {
            // checked here too so the error names the cause
            if self.effective_roles(&p.user.id, TargetKind::System, SYSTEM_TARGET).await?.is_empty() {
                return Err(Error::unauthorized(format!("User {} has no access to the system.", p.user.id)));
            }
        }
        let t = self
            .issue_token(NewToken {
                user: p.user,
                scope,
                methods: p.methods,
                audit_ids: p.audit_ids,
                expires_at: p.expires_at,
                app_cred: p.app_cred,
                trust_id,
                access_token_id: p.access_token_id,
            })
            .await?;
        if let Some(tid) = &t.payload.trust_id {
            // a use of the trust is counted once its token is made
            crate::trusts::consume_use(self, tid).await?;
        }
        Ok(t)
    }

    /// Constant-time comparison of two secrets of any length.
    pub fn secrets_equal(a: &str, b: &str) -> bool {
        a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
    }
}
