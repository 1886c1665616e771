//! The Identity API v3 routes. Handlers are thin: parse, authorize, call the
//! store or service, render. Errors are rendered once, in Keystone's shape, by
//! the layer installed in [`Identity::router`].

mod access_rules;
mod app_creds;
mod auth;
mod body;
mod catalog;
mod credentials;
mod discovery;
mod domain_config;
mod domains;
mod ec2;
mod endpoint_filter;
mod grants;
mod groups;
mod inherit;
mod limits;
mod oauth1;
mod policies;
mod projects;
mod roles;
mod trusts;
mod unserved;
mod users;

use std::collections::HashMap;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{middleware, Json, Router};
use rustack_common::Error;
use rustack_http::context::Scope;
use rustack_http::{ErrorStyle, RequestContext};
use rustack_policy::Target;
use serde_json::{json, Value};

use crate::Identity;

pub(crate) type Query = axum::extract::Query<HashMap<String, String>>;

impl Identity {
    /// Every Identity API route, with request logging, error rendering and
    /// token validation installed.
    pub fn router(&self) -> Router {
        let api = Router::new()
            .merge(discovery::routes())
            .merge(auth::routes())
            .merge(domains::routes())
            .merge(projects::routes())
            .merge(users::routes())
            .merge(groups::routes())
            .merge(roles::routes())
            .merge(grants::routes())
            .merge(catalog::routes())
            .merge(app_creds::routes())
            .merge(inherit::routes())
            .merge(domain_config::routes())
            .merge(policies::routes())
            .merge(limits::routes())
            .merge(credentials::routes())
            .merge(ec2::routes())
            .merge(oauth1::routes())
            .merge(endpoint_filter::routes())
            .merge(trusts::routes())
            .merge(access_rules::routes())
            .merge(unserved::routes())
            .fallback(|| async { rustack_http::ApiError(Error::not_found("The resource could not be found.")) })
            .with_state(self.clone());
        let api = rustack_http::token_layer::with_validator(api, "identity", self.validator());
        let www = axum::http::HeaderValue::from_str(&format!("Keystone uri=\"{}/v3\"", self.public_url()))
            .unwrap_or_else(|_| axum::http::HeaderValue::from_static("Keystone"));
        api.layer(DefaultBodyLimit::max(self.config().max_request_body_size))
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(rustack_http::error::panic_response))
            .layer(middleware::map_response(move |r: Response| {
                let www = www.clone();
                async move { ErrorStyle::Keystone.render(r, &www).await }
            }))
            .layer(middleware::from_fn(|req, next| rustack_http::request_log::log_requests("identity", req, next)))
    }

    /// Checks a policy rule for the caller, with Keystone's scope types.
    pub(crate) fn enforce(&self, rule: &str, ctx: &RequestContext, target: Target) -> Result<(), Error> {
        if !scope_allowed(rule, &ctx.scope) {
            return Err(Error::forbidden(format!("You are not authorized to perform the requested action: {rule}.")));
        }
        if self.inner.policy.enforce(rule, &ctx.credentials(), &target) {
            Ok(())
        } else {
            Err(Error::forbidden(format!("You are not authorized to perform the requested action: {rule}.")))
        }
    }

    /// `<public url>/v3/<path>`
    pub(crate) fn link(&self, path: &str) -> String {
        format!("{}/v3/{path}", self.public_url())
    }
}

/// Rules whose scope_types leave out domain scope (system and project only).
const NOT_FOR_DOMAIN_SCOPE: &[&str] = &[
    "identity:create_domain",
    "identity:update_domain",
    "identity:delete_domain",
    "identity:create_role",
    "identity:update_role",
    "identity:delete_role",
    "identity:get_domain_role",
    "identity:list_domain_roles",
    "identity:create_domain_role",
    "identity:update_domain_role",
    "identity:delete_domain_role",
    "identity:get_implied_role",
    "identity:list_implied_roles",
    "identity:check_implied_role",
    "identity:list_role_inference_rules",
    "identity:create_implied_role",
    "identity:delete_implied_role",
    "identity:check_system_grant_for_user",
    "identity:list_system_grants_for_user",
    "identity:create_system_grant_for_user",
    "identity:revoke_system_grant_for_user",
    "identity:check_system_grant_for_group",
    "identity:list_system_grants_for_group",
    "identity:create_system_grant_for_group",
    "identity:revoke_system_grant_for_group",
    "identity:create_region",
    "identity:update_region",
    "identity:delete_region",
    "identity:get_service",
    "identity:list_services",
    "identity:create_service",
    "identity:update_service",
    "identity:delete_service",
    "identity:get_endpoint",
    "identity:list_endpoints",
    "identity:create_endpoint",
    "identity:update_endpoint",
    "identity:delete_endpoint",
    "identity:get_application_credential",
    "identity:list_application_credentials",
    "identity:delete_application_credential",
];

/// The policy rules the extension APIs add to the core ones.
pub(crate) fn extension_rules() -> impl Iterator<Item = &'static (&'static str, &'static str, bool)> {
    [
        projects::RULES,
        inherit::RULES,
        domain_config::RULES,
        policies::RULES,
        limits::RULES,
        credentials::RULES,
        ec2::RULES,
        oauth1::RULES,
        endpoint_filter::RULES,
        trusts::RULES,
        access_rules::RULES,
    ]
    .into_iter()
    .flatten()
}

/// oslo.policy's scope check: an unscoped token counts as project scope.
fn scope_allowed(rule: &str, scope: &Scope) -> bool {
    let ext_not_for_domain = || extension_rules().any(|(n, _, dom)| *n == rule && !dom);
    match scope {
        Scope::Domain { .. } => {
            rule != "identity:create_application_credential"
                && !NOT_FOR_DOMAIN_SCOPE.contains(&rule)
                && !ext_not_for_domain()
        }
        Scope::System => rule != "identity:create_application_credential",
        Scope::Project { .. } | Scope::Unscoped => true,
    }
}

/// `{"<key>": [...], "links": {...}}` for a list.
pub(crate) fn list_response(
    id: &Identity,
    key: &str,
    path: &str,
    q: &HashMap<String, String>,
    items: Vec<Value>,
) -> Json<Value> {
    let mut items = items;
    let mut body = json!({"links": list_links(id, path, q)});
    if let Some(limit) = id.config().list_limit {
        if items.len() > limit {
            items.truncate(limit);
            body["truncated"] = json!(true);
        }
    }
    body[key] = Value::Array(items);
    Json(body)
}

/// The same envelope as [`list_response`] around items already serialized:
/// large lists are written without building a JSON tree.
pub(crate) fn list_response_raw(
    id: &Identity,
    key: &str,
    path: &str,
    q: &HashMap<String, String>,
    mut items: Vec<&str>,
) -> Response {
    let mut truncated = false;
    if let Some(limit) = id.config().list_limit {
        if items.len() > limit {
            items.truncate(limit);
            truncated = true;
        }
    }
    let len: usize = items.iter().map(|s| s.len() + 1).sum();
    let mut out = String::with_capacity(len + 256);
    out.push_str("{\"");
    out.push_str(key);
    out.push_str("\":[");
    out.push_str(&items.join(","));
    out.push_str("],\"links\":");
    out.push_str(&list_links(id, path, q).to_string());
    if truncated {
        out.push_str(",\"truncated\":true");
    }
    out.push('}');
    ([(axum::http::header::CONTENT_TYPE, "application/json")], out).into_response()
}

/// `links` of a list: `self` is the path with the query as given.
fn list_links(id: &Identity, path: &str, q: &HashMap<String, String>) -> Value {
    let mut self_link = id.link(path);
    if !q.is_empty() {
        let mut pairs: Vec<_> = q.iter().collect();
        pairs.sort();
        let qs: Vec<String> =
            pairs.iter().map(|(k, v)| if v.is_empty() { k.to_string() } else { format!("{k}={v}") }).collect();
        self_link = format!("{self_link}?{}", qs.join("&"));
    }
    json!({"self": self_link, "previous": null, "next": null})
}

/// A query-string boolean as oslo reads it: false/0/no/n/off are false,
/// anything else (even empty) is true.
pub(crate) fn query_bool(q: &HashMap<String, String>, key: &str) -> Option<bool> {
    q.get(key).map(|v| !matches!(v.to_ascii_lowercase().as_str(), "false" | "0" | "no" | "n" | "off" | "f"))
}

pub(crate) fn created(key: &str, v: Value) -> Response {
    (StatusCode::CREATED, Json(json!({ key: v }))).into_response()
}

pub(crate) fn ok(key: &str, v: Value) -> Response {
    (StatusCode::OK, Json(json!({ key: v }))).into_response()
}

pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}
