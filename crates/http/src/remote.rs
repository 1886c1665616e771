//! Validating tokens against a remote identity service over HTTP, as
//! keystonemiddleware does: the service authenticates itself, asks
//! `GET /v3/auth/tokens` about each incoming token, and caches the answer for
//! `cache_time` seconds or until the token expires, whichever is sooner.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustack_common::{Error, ErrorKind};
use serde_json::{json, Value};

use crate::token_layer::{BoxFuture, TokenValidator};
use crate::RequestContext;

/// The service's own credentials for asking identity about tokens.
#[derive(Debug, Clone)]
pub struct ServiceCredentials {
    pub auth_url: String,
    pub username: String,
    pub password: String,
    pub project_name: String,
    pub domain_id: String,
}

pub struct RemoteValidator {
    creds: ServiceCredentials,
    http: reqwest::Client,
    cache_time: Duration,
    cache: Mutex<HashMap<String, (Arc<RequestContext>, Instant)>>,
    service_token: tokio::sync::Mutex<Option<(String, Instant)>>,
}

/// Cached entries above this count are swept of stale ones on insert.
const CACHE_SWEEP_AT: usize = 10_000;

impl RemoteValidator {
    pub fn new(creds: ServiceCredentials, cache_time: Duration) -> Self {
        RemoteValidator {
            creds,
            http: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("http client"),
            cache_time,
            cache: Mutex::new(HashMap::new()),
            service_token: tokio::sync::Mutex::new(None),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.creds.auth_url.trim_end_matches('/'), path)
    }

    fn unavailable(e: impl std::fmt::Display) -> Error {
        tracing::warn!(error = %e, "identity service unreachable");
        Error::new(ErrorKind::ServiceUnavailable, "The identity service is unavailable.")
    }

    async fn service_token(&self, renew: bool) -> Result<String, Error> {
        let mut st = self.service_token.lock().await;
        if let Some((t, at)) = st.as_ref() {
            if !renew && at.elapsed() < Duration::from_secs(1800) {
                return Ok(t.clone());
            }
        }
        let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": self.creds.username, "password": self.creds.password,
            "domain": {"id": self.creds.domain_id}}}},
            "scope": {"project": {"name": self.creds.project_name, "domain": {"id": self.creds.domain_id}}}}});
        let r = self
            .http
            .post(self.url("/v3/auth/tokens?nocatalog"))
            .json(&body)
            .send()
            .await
            .map_err(Self::unavailable)?;
        if !r.status().is_success() {
            return Err(Self::unavailable(format!("service authentication failed: {}", r.status())));
        }
        let t = r
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Self::unavailable("no X-Subject-Token"))?
            .to_string();
        *st = Some((t.clone(), Instant::now()));
        Ok(t)
    }

    fn cached(&self, token: &str) -> Option<Arc<RequestContext>> {
        let cache = self.cache.lock().unwrap();
        let (ctx, at) = cache.get(token)?;
        let fresh = at.elapsed() < self.cache_time && ctx.expires_at > rustack_common::time::now();
        fresh.then(|| ctx.clone())
    }

    async fn fetch(&self, token: &str) -> Result<Arc<RequestContext>, Error> {
        for attempt in 0..2 {
            let st = self.service_token(attempt > 0).await?;
            let r = self
                .http
                .get(self.url("/v3/auth/tokens?nocatalog"))
                .header("X-Auth-Token", &st)
                .header("X-Subject-Token", token)
                .send()
                .await
                .map_err(Self::unavailable)?;
            match r.status().as_u16() {
                200 => {
                    let v: Value = r.json().await.map_err(Self::unavailable)?;
                    let ctx = v
                        .get("token")
                        .and_then(RequestContext::from_token_json)
                        .ok_or_else(|| Self::unavailable("unreadable token body"))?;
                    return Ok(Arc::new(ctx));
                }
                // our own service token expired or was revoked: renew once
                401 if attempt == 0 => continue,
                404 | 401 => return Err(Error::unauthorized("The request you have made requires authentication.")),
                s => return Err(Self::unavailable(format!("token validation answered {s}"))),
            }
        }
        Err(Self::unavailable("service token rejected"))
    }
}

impl TokenValidator for RemoteValidator {
    fn validate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Arc<RequestContext>, Error>> {
        Box::pin(async move {
            if let Some(c) = self.cached(token) {
                return Ok(c);
            }
            let ctx = self.fetch(token).await?;
            let mut cache = self.cache.lock().unwrap();
            if cache.len() >= CACHE_SWEEP_AT {
                let ttl = self.cache_time;
                cache.retain(|_, (_, at)| at.elapsed() < ttl);
            }
            cache.insert(token.to_string(), (ctx.clone(), Instant::now()));
            Ok(ctx)
        })
    }
}

impl RemoteValidator {
    /// `GET path` on identity with the service token (renewed once on 401).
    async fn get_json(&self, path: &str) -> Result<Value, Error> {
        for attempt in 0..2 {
            let st = self.service_token(attempt > 0).await?;
            let r =
                self.http.get(self.url(path)).header("X-Auth-Token", &st).send().await.map_err(Self::unavailable)?;
            match r.status().as_u16() {
                200 => return r.json().await.map_err(Self::unavailable),
                401 if attempt == 0 => continue,
                s => return Err(Self::unavailable(format!("GET {path} answered {s}"))),
            }
        }
        Err(Self::unavailable("service token rejected"))
    }
}

/// Unified limits read from the remote identity service: the project's
/// override, else the registered default (the region-less one first).
impl crate::service::LimitLookup for RemoteValidator {
    fn limit<'a>(
        &'a self,
        project_id: &'a str,
        service: &'a str,
        resource_name: &'a str,
    ) -> BoxFuture<'a, Result<Option<i64>, Error>> {
        Box::pin(async move {
            let q = |s: &str| -> String { s.bytes().map(|b| format!("%{b:02X}")).collect() };
            let services = self.get_json(&format!("/v3/services?type={}", q(service))).await?;
            let ids: Vec<String> = services["services"]
                .as_array()
                .map(|a| a.iter().filter_map(|s| s["id"].as_str().map(String::from)).collect())
                .unwrap_or_default();
            for sid in ids {
                let regs = self
                    .get_json(&format!(
                        "/v3/registered_limits?service_id={}&resource_name={}",
                        q(&sid),
                        q(resource_name)
                    ))
                    .await?;
                let mut regs = regs["registered_limits"].as_array().cloned().unwrap_or_default();
                regs.sort_by_key(|r| !r["region_id"].is_null());
                let Some(reg) = regs.first() else { continue };
                let own = self
                    .get_json(&format!(
                        "/v3/limits?project_id={}&service_id={}&resource_name={}",
                        q(project_id),
                        q(&sid),
                        q(resource_name)
                    ))
                    .await?;
                let own = own["limits"].as_array().and_then(|a| a.first().cloned());
                return Ok(own.and_then(|l| l["resource_limit"].as_i64()).or_else(|| reg["default_limit"].as_i64()));
            }
            Ok(None)
        })
    }
}
