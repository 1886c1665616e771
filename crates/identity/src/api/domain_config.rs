//! Domain-specific configuration, as Keystone serves it:
//! `/v3/domains/{domain_id}/config[/{group}[/{option}]]` (PUT the whole
//! configuration, GET/PATCH/DELETE it, a group or an option),
//! `/v3/domains/config[/{group}[/{option}]]/default` (the defaults), and the
//! readable `security_compliance` options of the default domain.
//!
//! Only the `identity` and `ldap` groups and Keystone's allowed options are
//! accepted; anything else is a 403 (Keystone's InvalidDomainConfig). The
//! sensitive `ldap.password` is stored but never shown.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rustack_common::Error;
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody, RequestContext};
use rustack_policy::Target;
use serde_json::{json, Map, Value};

use super::{no_content, ok};
use crate::bootstrap::DEFAULT_DOMAIN_ID;
use crate::store::domain_config::ConfigOption;
use crate::Identity;

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/domains/{domain_id}/config", get(show_all).put(create).patch(update_all).delete(delete_all))
        .route("/v3/domains/{domain_id}/config/{group}", get(show_group).patch(update_group).delete(delete_group))
        .route(
            "/v3/domains/{domain_id}/config/{group}/{option}",
            get(show_option).patch(update_option).delete(delete_option),
        )
        .route("/v3/domains/config/default", get(default_all))
        .route("/v3/domains/config/{group}/default", get(default_group))
        .route("/v3/domains/config/{group}/{option}/default", get(default_option))
}

const ADMIN: &str = "rule:admin_required";
const ADMIN_OR_SYSTEM_READER: &str = "rule:admin_required or (role:reader and system_scope:all)";

/// Policy rules of this API: (name, check string, allowed with a domain-scoped token).
pub(crate) const RULES: &[(&str, &str, bool)] = &[
    ("identity:create_domain_config", ADMIN, false),
    ("identity:get_domain_config", ADMIN_OR_SYSTEM_READER, false),
    ("identity:get_security_compliance_domain_config", "", true),
    ("identity:update_domain_config", ADMIN, false),
    ("identity:delete_domain_config", ADMIN, false),
    ("identity:get_domain_config_default", ADMIN_OR_SYSTEM_READER, false),
];

/// The options a domain may set, per group, with Keystone's defaults.
fn allowed(group: &str) -> &'static [(&'static str, OptDefault)] {
    match group {
        "identity" => IDENTITY_OPTIONS,
        "ldap" => LDAP_OPTIONS,
        _ => &[],
    }
}

/// Options stored but never shown.
fn sensitive(group: &str, option: &str) -> bool {
    group == "ldap" && option == "password"
}

const GROUPS: &[&str] = &["identity", "ldap"];

/// A default value of an option (Keystone's configuration defaults).
#[derive(Clone, Copy)]
enum OptDefault {
    Null,
    Str(&'static str),
    Int(i64),
    Float(f64),
    Bool(bool),
    List(&'static [&'static str]),
    /// `[identity] list_limit`: rustack's own setting.
    ListLimit,
}

const IDENTITY_OPTIONS: &[(&str, OptDefault)] =
    &[("driver", OptDefault::Str("sql")), ("list_limit", OptDefault::ListLimit)];

const LDAP_OPTIONS: &[(&str, OptDefault)] = &[
    ("url", OptDefault::Str("ldap://localhost")),
    ("user", OptDefault::Null),
    ("suffix", OptDefault::Str("cn=example,cn=com")),
    ("query_scope", OptDefault::Str("one")),
    ("page_size", OptDefault::Int(0)),
    ("alias_dereferencing", OptDefault::Str("default")),
    ("debug_level", OptDefault::Null),
    ("chase_referrals", OptDefault::Null),
    ("user_tree_dn", OptDefault::Null),
    ("user_filter", OptDefault::Null),
    ("user_objectclass", OptDefault::Str("inetOrgPerson")),
    ("user_id_attribute", OptDefault::Str("cn")),
    ("user_name_attribute", OptDefault::Str("sn")),
    ("user_mail_attribute", OptDefault::Str("mail")),
    ("user_description_attribute", OptDefault::Str("description")),
    ("user_pass_attribute", OptDefault::Str("userPassword")),
    ("user_enabled_attribute", OptDefault::Str("enabled")),
    ("user_enabled_invert", OptDefault::Bool(false)),
    ("user_enabled_mask", OptDefault::Int(0)),
    ("user_enabled_default", OptDefault::Str("True")),
    ("user_attribute_ignore", OptDefault::List(&["default_project_id"])),
    ("user_default_project_id_attribute", OptDefault::Null),
    ("user_enabled_emulation", OptDefault::Bool(false)),
    ("user_enabled_emulation_dn", OptDefault::Null),
    ("user_enabled_emulation_use_group_config", OptDefault::Bool(false)),
    ("user_additional_attribute_mapping", OptDefault::List(&[])),
    ("group_tree_dn", OptDefault::Null),
    ("group_filter", OptDefault::Null),
    ("group_objectclass", OptDefault::Str("groupOfNames")),
    ("group_id_attribute", OptDefault::Str("cn")),
    ("group_name_attribute", OptDefault::Str("ou")),
    ("group_members_are_ids", OptDefault::Bool(false)),
    ("group_member_attribute", OptDefault::Str("member")),
    ("group_desc_attribute", OptDefault::Str("description")),
    ("group_attribute_ignore", OptDefault::List(&[])),
    ("group_additional_attribute_mapping", OptDefault::List(&[])),
    ("tls_cacertfile", OptDefault::Null),
    ("tls_cacertdir", OptDefault::Null),
    ("use_tls", OptDefault::Bool(false)),
    ("tls_req_cert", OptDefault::Str("demand")),
    ("use_pool", OptDefault::Bool(true)),
    ("pool_size", OptDefault::Int(10)),
    ("pool_retry_max", OptDefault::Int(3)),
    ("pool_retry_delay", OptDefault::Float(0.1)),
    ("pool_connection_timeout", OptDefault::Int(-1)),
    ("pool_connection_lifetime", OptDefault::Int(600)),
    ("use_auth_pool", OptDefault::Bool(true)),
    ("auth_pool_size", OptDefault::Int(100)),
    ("auth_pool_connection_lifetime", OptDefault::Int(60)),
];

fn default_value(id: &Identity, d: OptDefault) -> Value {
    match d {
        OptDefault::Null => Value::Null,
        OptDefault::Str(s) => json!(s),
        OptDefault::Int(i) => json!(i),
        OptDefault::Float(f) => json!(f),
        OptDefault::Bool(b) => json!(b),
        OptDefault::List(l) => json!(l),
        OptDefault::ListLimit => id.config().list_limit.map(|l| json!(l)).unwrap_or(Value::Null),
    }
}

/// Keystone's InvalidDomainConfig: a 403.
fn invalid(reason: impl std::fmt::Display) -> Error {
    Error::forbidden(format!("Invalid domain specific configuration: {reason}."))
}

fn not_found(domain_id: &str, group: Option<&str>, option: Option<&str>) -> Error {
    let what = match (group, option) {
        (Some(g), Some(o)) => format!("option {o} in group {g}"),
        (Some(g), None) => format!("group {g}"),
        _ => "any options".to_string(),
    };
    Error::not_found(format!("Could not find {what} in domain configuration for domain {domain_id}."))
}

/// The group (and option) of a URL must be ones Keystone supports.
fn check_group_option(group: Option<&str>, option: Option<&str>) -> Result<(), Error> {
    let Some(g) = group else { return Ok(()) };
    if !GROUPS.contains(&g) {
        return Err(invalid(format_args!("Group {g} is not supported for domain specific configurations")));
    }
    if let Some(o) = option {
        if !allowed(g).iter().any(|(n, _)| *n == o) && !sensitive(g, o) {
            return Err(invalid(format_args!(
                "Option {o} in group {g} is not supported for domain specific configurations"
            )));
        }
    }
    Ok(())
}

/// A configuration in a request: groups of options, none empty, all supported.
fn check_config(config: &Map<String, Value>) -> Result<(), Error> {
    if config.is_empty() {
        return Err(invalid("No options specified"));
    }
    for (g, opts) in config {
        match opts {
            Value::Object(m) if !m.is_empty() => {
                for o in m.keys() {
                    check_group_option(Some(g), Some(o))?;
                }
            }
            _ => {
                return Err(invalid(format_args!(
                    "The value of group {g} specified in the config should be a dictionary of options"
                )))
            }
        }
    }
    Ok(())
}

fn to_options(config: &Map<String, Value>) -> Vec<ConfigOption> {
    let mut out = Vec::new();
    for (g, opts) in config {
        if let Value::Object(m) = opts {
            for (o, v) in m {
                out.push(ConfigOption {
                    group: g.clone(),
                    option: o.clone(),
                    value: v.clone(),
                    sensitive: sensitive(g, o),
                });
            }
        }
    }
    out
}

/// `{group: {option: value}}`, or `{option: value}` when one option was asked.
fn render(options: &[ConfigOption], option: Option<&str>) -> Value {
    if let (Some(o), Some(first)) = (option, options.first()) {
        return json!({ o: first.value.clone() });
    }
    let mut out = Map::new();
    for o in options {
        let g = out.entry(o.group.clone()).or_insert_with(|| json!({}));
        g[o.option.as_str()] = o.value.clone();
    }
    Value::Object(out)
}

/// The `config` object of a request body.
fn config_of(v: Value) -> Result<Map<String, Value>, Error> {
    match v {
        Value::Object(mut m) => match m.remove("config") {
            None | Some(Value::Null) => Ok(Map::new()),
            Some(Value::Object(c)) => Ok(c),
            Some(_) => Err(Error::bad_request("Invalid input for field 'config': expected an object.")),
        },
        _ => Err(Error::bad_request("Invalid input for the request body: expected a JSON object.")),
    }
}

async fn domain_exists(id: &Identity, domain_id: &str) -> Result<(), Error> {
    id.store().get_domain(domain_id).await?.map(|_| ()).ok_or_else(|| Error::not_found_entity("domain", domain_id))
}

// ---------------------------------------------------------------- read

async fn read(
    id: &Identity,
    ctx: &RequestContext,
    domain_id: &str,
    group: Option<&str>,
    option: Option<&str>,
) -> Result<Response, Error> {
    if group == Some("security_compliance") {
        id.enforce("identity:get_security_compliance_domain_config", ctx, Target::new())?;
        domain_exists(id, domain_id).await?;
        return Ok(ok("config", security_compliance(id, domain_id, option)?));
    }
    id.enforce("identity:get_domain_config", ctx, Target::new())?;
    domain_exists(id, domain_id).await?;
    check_group_option(group, option)?;
    let shown: Vec<ConfigOption> =
        id.store().domain_config(domain_id, group, option).await?.into_iter().filter(|o| !o.sensitive).collect();
    if shown.is_empty() {
        return Err(not_found(domain_id, group, option));
    }
    Ok(ok("config", render(&shown, option)))
}

/// The password rules of the default domain, readable with any token.
fn security_compliance(id: &Identity, domain_id: &str, option: Option<&str>) -> Result<Value, Error> {
    if domain_id != DEFAULT_DOMAIN_ID {
        return Err(invalid(
            "Reading security compliance information for any domain other than the default domain is not allowed or supported.",
        ));
    }
    const READABLE: &[&str] = &["password_regex", "password_regex_description"];
    let value = |o: &str| {
        id.config().ini.get("security_compliance", o).filter(|v| !v.is_empty()).map(|v| json!(v)).unwrap_or(Value::Null)
    };
    match option {
        Some(o) if READABLE.contains(&o) => Ok(json!({ o: value(o) })),
        Some(_) => Err(invalid(
            "Reading security compliance values other than password_regex and password_regex_description is not allowed.",
        )),
        None => Ok(json!({"security_compliance": {"password_regex": value("password_regex"),
                                                   "password_regex_description": value("password_regex_description")}})),
    }
}

async fn show_all(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(d): Path<String>,
) -> ApiResult<Response> {
    Ok(read(&id, &ctx, &d, None, None).await?)
}

async fn show_group(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((d, g)): Path<(String, String)>,
) -> ApiResult<Response> {
    Ok(read(&id, &ctx, &d, Some(&g), None).await?)
}

async fn show_option(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((d, g, o)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    Ok(read(&id, &ctx, &d, Some(&g), Some(&o)).await?)
}

// ---------------------------------------------------------------- create

async fn create(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(domain_id): Path<String>,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    id.enforce("identity:create_domain_config", &ctx, Target::new())?;
    domain_exists(&id, &domain_id).await?;
    let config = config_of(v)?;
    check_config(&config)?;
    let had_config = !id.store().domain_config(&domain_id, None, None).await?.is_empty();
    id.store().replace_domain_config(&domain_id, &to_options(&config)).await?;
    let shown: Vec<ConfigOption> =
        id.store().domain_config(&domain_id, None, None).await?.into_iter().filter(|o| !o.sensitive).collect();
    let status = if had_config { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(json!({"config": render(&shown, None)}))).into_response())
}

// ---------------------------------------------------------------- update

async fn update(
    id: &Identity,
    ctx: &RequestContext,
    domain_id: &str,
    group: Option<&str>,
    option: Option<&str>,
    v: Value,
) -> Result<Response, Error> {
    id.enforce("identity:update_domain_config", ctx, Target::new())?;
    domain_exists(id, domain_id).await?;
    let body = config_of(v)?;
    // `PATCH .../{group}/{option}` carries `{option: value}`
    let config = match (group, option) {
        (Some(g), Some(_)) => {
            let mut m = Map::new();
            m.insert(g.to_string(), Value::Object(body));
            m
        }
        _ => body,
    };
    check_config(&config)?;
    check_group_option(group, option)?;
    if let Some(g) = group {
        let opts = config.get(g).and_then(Value::as_object);
        if config.len() != 1 || option.is_some() && opts.is_some_and(|m| m.len() != 1) {
            return Err(invalid(match option {
                Some(o) => format!("Trying to update option {o} in group {g}, so that, and only that, option must be specified  in the config"),
                None => format!("Trying to update group {g}, so that, and only that, group must be specified in the config"),
            }));
        }
        let Some(opts) = opts else {
            let other = config.keys().next().cloned().unwrap_or_default();
            return Err(invalid(format_args!(
                "request to update group {g}, but config provided contains group {other} instead"
            )));
        };
        if let Some(o) = option {
            if !opts.contains_key(o) {
                let other = opts.keys().next().cloned().unwrap_or_default();
                return Err(invalid(format_args!(
                    "Trying to update option {o} in group {g}, but config provided contains option {other} instead"
                )));
            }
        }
        // an update changes what is there
        if id.store().domain_config(domain_id, Some(g), option).await?.is_empty() {
            return Err(not_found(domain_id, Some(g), option));
        }
    }
    id.store().upsert_domain_config(domain_id, &to_options(&config)).await?;
    let shown: Vec<ConfigOption> =
        id.store().domain_config(domain_id, None, None).await?.into_iter().filter(|o| !o.sensitive).collect();
    if shown.is_empty() {
        return Err(not_found(domain_id, None, None));
    }
    Ok(ok("config", render(&shown, None)))
}

async fn update_all(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(d): Path<String>,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    Ok(update(&id, &ctx, &d, None, None, v).await?)
}

async fn update_group(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((d, g)): Path<(String, String)>,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    Ok(update(&id, &ctx, &d, Some(&g), None, v).await?)
}

async fn update_option(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((d, g, o)): Path<(String, String, String)>,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    Ok(update(&id, &ctx, &d, Some(&g), Some(&o), v).await?)
}

// ---------------------------------------------------------------- delete

async fn delete(
    id: &Identity,
    ctx: &RequestContext,
    domain_id: &str,
    group: Option<&str>,
    option: Option<&str>,
) -> Result<Response, Error> {
    id.enforce("identity:delete_domain_config", ctx, Target::new())?;
    domain_exists(id, domain_id).await?;
    check_group_option(group, option)?;
    if let Some(g) = group {
        let current = id.store().domain_config(domain_id, Some(g), None).await?;
        if current.is_empty() {
            return Err(not_found(domain_id, Some(g), None));
        }
        if let Some(o) = option {
            if !current.iter().any(|c| c.option == o) {
                return Err(not_found(domain_id, Some(g), Some(o)));
            }
        }
    }
    id.store().delete_domain_config(domain_id, group, option).await?;
    Ok(no_content())
}

async fn delete_all(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(d): Path<String>,
) -> ApiResult<Response> {
    Ok(delete(&id, &ctx, &d, None, None).await?)
}

async fn delete_group(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((d, g)): Path<(String, String)>,
) -> ApiResult<Response> {
    Ok(delete(&id, &ctx, &d, Some(&g), None).await?)
}

async fn delete_option(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((d, g, o)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    Ok(delete(&id, &ctx, &d, Some(&g), Some(&o)).await?)
}

// ---------------------------------------------------------------- defaults

fn defaults(id: &Identity, ctx: &RequestContext, group: Option<&str>, option: Option<&str>) -> Result<Response, Error> {
    id.enforce("identity:get_domain_config_default", ctx, Target::new())?;
    check_group_option(group, option)?;
    let groups: Vec<&str> = match group {
        Some(g) => vec![g],
        None => GROUPS.to_vec(),
    };
    if let (Some(g), Some(o)) = (group, option) {
        let Some((_, d)) = allowed(g).iter().find(|(n, _)| *n == o) else {
            return Err(invalid(format_args!("Reading the default for option {o} in group {g} is not supported")));
        };
        return Ok(ok("config", json!({ o: default_value(id, *d) })));
    }
    let mut out = Map::new();
    for g in groups {
        let opts: Map<String, Value> = allowed(g).iter().map(|(n, d)| (n.to_string(), default_value(id, *d))).collect();
        out.insert(g.to_string(), Value::Object(opts));
    }
    Ok(ok("config", Value::Object(out)))
}

async fn default_all(State(id): State<Identity>, Authenticated(ctx): Authenticated) -> ApiResult<Response> {
    Ok(defaults(&id, &ctx, None, None)?)
}

async fn default_group(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(g): Path<String>,
) -> ApiResult<Response> {
    Ok(defaults(&id, &ctx, Some(&g), None)?)
}

async fn default_option(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((g, o)): Path<(String, String)>,
) -> ApiResult<Response> {
    Ok(defaults(&id, &ctx, Some(&g), Some(&o))?)
}
