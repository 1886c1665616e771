//! What every placement handler shares: the caller with its microversion
//! and policy check, query-string parsing (placement rejects unknown
//! parameters), body field checks, and the links of a provider.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rustack_common::Error;
use rustack_http::microversion::Version;
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiError, RequestContext};
use rustack_policy::Target;
use serde_json::{Map, Value};

use crate::model::ResourceProvider;
use crate::Placement;

pub type Res = Result<Response, ApiError>;

/// The authenticated caller and the microversion of the request.
pub struct Caller {
    pub ctx: Arc<RequestContext>,
    pub v: Version,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Authenticated(ctx) = Authenticated::from_request_parts(parts, state).await?;
        let v = parts.extensions.get::<Version>().copied().unwrap_or(Version::new(1, 0));
        Ok(Caller { ctx, v })
    }
}

impl Caller {
    /// `self.v >= major.minor`
    pub fn at(&self, minor: u16) -> bool {
        self.v.at_least(1, minor)
    }

    /// A route that exists from `1.minor`: older requests get a 404, as
    /// upstream's router answers them.
    pub fn need(&self, minor: u16) -> Result<(), Error> {
        if self.at(minor) {
            Ok(())
        } else {
            Err(Error::not_found("The resource could not be found."))
        }
    }

    /// 403 unless the policy allows `rule` (no target fields).
    pub fn allow(&self, svc: &Placement, rule: &str) -> Result<(), Error> {
        crate::policy::enforce(svc.policy(), rule, &self.ctx, Target::new())
    }

    pub fn allow_target(&self, svc: &Placement, rule: &str, target: Target) -> Result<(), Error> {
        crate::policy::enforce(svc.policy(), rule, &self.ctx, target)
    }
}

/// A request body and its media type; handlers check the type when they
/// read it ([`Body::json`]), after routing and version masking, as
/// upstream's `require_content` does.
pub struct Body {
    ctype: String,
    bytes: axum::body::Bytes,
}

impl<S: Send + Sync> axum::extract::FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let ctype =
            req.headers().get(header::CONTENT_TYPE).and_then(|c| c.to_str().ok()).unwrap_or("").trim().to_string();
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::new(rustack_common::ErrorKind::PayloadTooLarge, "Request is too large.")
            } else {
                Error::bad_request(format!("Could not read the request body: {e}"))
            }
        })?;
        Ok(Body { ctype, bytes })
    }
}

impl Body {
    /// The bytes of a body that must be JSON: 415 for another media type.
    pub fn json(&self) -> Result<&[u8], Error> {
        let base = self.ctype.split(';').next().unwrap_or("").trim();
        if !base.eq_ignore_ascii_case("application/json") {
            let shown = if self.ctype.is_empty() { "None" } else { self.ctype.as_str() };
            return Err(Error::new(
                rustack_common::ErrorKind::UnsupportedMediaType,
                format!("The media type {shown} is not supported, use application/json"),
            ));
        }
        Ok(&self.bytes)
    }
}

/// A query string as (name, value) pairs, names may repeat.
pub type Pairs = axum::extract::Query<Vec<(String, String)>>;

/// Rejects parameters outside `allowed` (each with the microversion it
/// appears in) as placement's schema does; returns the pairs.
pub fn check_params(c: &Caller, pairs: &[(String, String)], allowed: &[(&str, u16)]) -> Result<(), Error> {
    for (k, _) in pairs {
        let ok = allowed.iter().any(|(name, minor)| {
            c.at(*minor) && (k == name || (name.ends_with('*') && k.starts_with(name.trim_end_matches('*'))))
        });
        if !ok {
            return Err(Error::bad_request(format!(
                "Invalid query string parameters: Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
    }
    Ok(())
}

/// The single value of a parameter (a repeated one is a 400).
pub fn one<'a>(pairs: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, Error> {
    let mut it = pairs.iter().filter(|(k, _)| k == name);
    let first = it.next().map(|(_, v)| v.as_str());
    if it.next().is_some() {
        return Err(Error::bad_request(format!("Invalid query string parameters: '{name}' may only be given once")));
    }
    Ok(first)
}

pub fn all<'a>(pairs: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
}

/// Python's repr of a JSON value, as jsonschema's messages show it.
pub fn py_repr(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        Value::Null => "None".into(),
        Value::Bool(b) => {
            if *b {
                "True".into()
            } else {
                "False".into()
            }
        }
        other => other.to_string(),
    }
}

/// A body that breaks the schema, in jsonschema's words as upstream shows them.
pub fn schema_error(validator: &str, msg: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("JSON does not validate: {msg}\n\nFailed validating '{validator}' in schema"))
}

/// Parses a body as JSON: "Malformed JSON: …" otherwise.
pub fn parse_body(body: &[u8]) -> Result<Value, Error> {
    serde_json::from_slice(body).map_err(|e| Error::bad_request(format!("Malformed JSON: {e}")))
}

/// A JSON object body (anything else is a 400) with only `allowed` keys
/// and every one of `required`.
pub fn object(body: &[u8], allowed: &[&str], required: &[&str]) -> Result<Map<String, Value>, Error> {
    let v = parse_body(body)?;
    let Value::Object(m) = v else {
        return Err(schema_error("type", format!("{} is not of type 'object'", py_repr(&v))));
    };
    for k in m.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(schema_error(
                "additionalProperties",
                format!("Additional properties are not allowed ('{k}' was unexpected)"),
            ));
        }
    }
    for r in required {
        if !m.contains_key(*r) {
            return Err(schema_error("required", format!("'{r}' is a required property")));
        }
    }
    Ok(m)
}

pub fn bad_field(field: &str, why: &str) -> Error {
    Error::bad_request(format!("JSON does not validate: {field}: {why}"))
}

pub fn not_type(v: &Value, ty: &str) -> Error {
    schema_error("type", format!("{} is not of type '{ty}'", py_repr(v)))
}

pub fn str_field<'a>(m: &'a Map<String, Value>, k: &str) -> Result<Option<&'a str>, Error> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(not_type(v, "string")),
    }
}

pub fn int_field(m: &Map<String, Value>, k: &str) -> Result<Option<i64>, Error> {
    match m.get(k) {
        None => Ok(None),
        Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
        Some(v) => Err(not_type(v, "integer")),
    }
}

/// A string of 1 to `max` characters.
pub fn length(v: &str, max: usize) -> Result<(), Error> {
    if v.is_empty() {
        return Err(schema_error("minLength", "'' is too short"));
    }
    max_len(v, max)
}

/// A string no longer than `max` characters.
pub fn max_len(v: &str, max: usize) -> Result<(), Error> {
    if v.chars().count() > max {
        return Err(schema_error("maxLength", format!("'{v}' is too long")));
    }
    Ok(())
}

/// `resource_provider_generation`, required.
pub fn generation(m: &Map<String, Value>) -> Result<i64, Error> {
    int_field(m, "resource_provider_generation")?
        .ok_or_else(|| schema_error("required", "'resource_provider_generation' is a required property"))
}

/// A uuid in a body; 400 in jsonschema's words otherwise.
pub fn uuid_of(s: &str) -> Result<String, Error> {
    crate::validate::uuid(s).ok_or_else(|| schema_error("format", format!("'{s}' is not a 'uuid'")))
}

/// A uuid in a query string.
pub fn query_uuid(s: &str) -> Result<String, Error> {
    crate::validate::uuid(s)
        .ok_or_else(|| Error::bad_request(format!("Invalid query string parameters: '{s}' is not a 'uuid'")))
}

/// A path uuid that is not one cannot name anything: 404.
pub async fn provider_or_404(svc: &Placement, uuid: &str) -> Result<ResourceProvider, Error> {
    let Some(u) = crate::validate::uuid(uuid) else { return Err(crate::store::provider_not_found(uuid)) };
    svc.store().get_provider(&u).await?.ok_or_else(|| crate::store::provider_not_found(uuid))
}

pub fn json(status: StatusCode, v: Value) -> Response {
    (status, Json(v)).into_response()
}

pub fn ok(v: Value) -> Response {
    json(StatusCode::OK, v)
}

pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// 201 with a Location and, when given, a body.
pub fn created(location: &str, body: Option<Value>) -> Response {
    let mut r = match body {
        Some(b) => json(StatusCode::CREATED, b),
        None => StatusCode::CREATED.into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// Adds a Location header.
pub fn with_location(mut r: Response, location: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// A provider as the API shows it at `c`'s microversion.
pub fn provider_json(c: &Caller, p: &ResourceProvider) -> Value {
    let base = format!("/resource_providers/{}", p.uuid);
    let mut links = vec![
        serde_json::json!({"rel": "self", "href": base}),
        serde_json::json!({"rel": "inventories", "href": format!("{base}/inventories")}),
        serde_json::json!({"rel": "usages", "href": format!("{base}/usages")}),
    ];
    if c.at(1) {
        links.push(serde_json::json!({"rel": "aggregates", "href": format!("{base}/aggregates")}));
    }
    if c.at(6) {
        links.push(serde_json::json!({"rel": "traits", "href": format!("{base}/traits")}));
    }
    if c.at(11) {
        links.push(serde_json::json!({"rel": "allocations", "href": format!("{base}/allocations")}));
    }
    let mut v = serde_json::json!({"uuid": p.uuid, "name": p.name, "generation": p.generation, "links": links});
    if c.at(14) {
        v["parent_provider_uuid"] = serde_json::json!(p.parent_provider_uuid);
        v["root_provider_uuid"] = serde_json::json!(p.root_provider_uuid);
    }
    v
}

/// `VCPU:1,MEMORY_MB:512` → classes and amounts (each class known), in
/// upstream's words when malformed.
pub async fn parse_resources(svc: &Placement, s: &str) -> Result<BTreeMap<String, i64>, Error> {
    const FORM: &str =
        "Badly formed resources parameter. Expected resources query string parameter in form: ?resources=VCPU:2,MEMORY_MB:1024.";
    if s.trim().is_empty() {
        return Err(Error::bad_request(format!("{FORM} Got: empty string.")));
    }
    let mut out = BTreeMap::new();
    for part in s.split(',') {
        let mut it = part.split(':');
        let (Some(c), Some(n), None) = (it.next(), it.next(), it.next()) else {
            return Err(Error::bad_request(format!("{FORM} Got: {part}.")));
        };
        let n: i64 = n.trim().parse().map_err(|_| {
            Error::bad_request(format!("Requested resource {c} expected positive integer amount. Got: {n}."))
        })?;
        if n < 1 {
            return Err(Error::bad_request(format!("Requested resource {c} requires amount >= 1. Got: {n}.")));
        }
        let c = c.trim();
        svc.check_class(c).await.map_err(|_| {
            Error::bad_request(format!("Invalid resource class in resources parameter: No such resource class {c}."))
        })?;
        out.insert(c.to_string(), n);
    }
    Ok(out)
}

/// `member_of` values: `in:a,b` or `a` (any-of), `!a` / `!in:a,b`
/// (forbidden, 1.32). Returns (any-of lists, forbidden).
pub fn parse_member_of(c: &Caller, values: &[&str]) -> Result<(Vec<Vec<String>>, Vec<String>), Error> {
    if values.len() > 1 && !c.at(24) {
        return Err(Error::bad_request("Multiple member_of parameters are not supported."));
    }
    let mut any = Vec::new();
    let mut forbidden = Vec::new();
    for v in values {
        let (neg, rest) = match v.strip_prefix('!') {
            Some(r) if c.at(32) => (true, r),
            Some(_) => {
                return Err(Error::bad_request(
                    "Forbidden member_of parameters are not supported in the specified microversion",
                ))
            }
            None => (false, *v),
        };
        if !rest.starts_with("in:") && rest.contains(',') {
            return Err(Error::bad_request(
                "Multiple values for 'member_of' must be prefixed with the 'in:' or '!in:' keyword using the valid microversion.",
            ));
        }
        let list = rest.strip_prefix("in:").unwrap_or(rest);
        let mut uuids = Vec::new();
        for u in list.split(',') {
            uuids.push(crate::validate::uuid(u.trim()).ok_or_else(|| {
                Error::bad_request(format!("Invalid query string parameters: Expected 'member_of' parameter to contain valid UUID(s). Got: {v}"))
            })?);
        }
        if neg {
            if rest.starts_with("in:") || uuids.len() == 1 {
                forbidden.extend(uuids);
            }
        } else {
            any.push(uuids);
        }
    }
    Ok((any, forbidden))
}

/// `required` values: `A,!B` (forbidden from 1.22), `in:A,B` (any-of, 1.39).
/// Every trait must exist. Returns (all-of any-of lists, forbidden).
pub async fn parse_required(
    svc: &Placement,
    c: &Caller,
    values: &[&str],
) -> Result<(Vec<Vec<String>>, Vec<String>), Error> {
    let mut req = Vec::new();
    let mut forbidden = Vec::new();
    let form = if c.at(22) { "HW_CPU_X86_VMX,!CUSTOM_MAGIC" } else { "HW_CPU_X86_VMX,CUSTOM_MAGIC" };
    for v in values {
        if let Some(list) = v.strip_prefix("in:") {
            if !c.at(39) {
                return Err(Error::bad_request(format!("Invalid query string parameters: The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' only supported since microversion 1.39. Got: {v}")));
            }
            let names: Vec<String> = list.split(',').map(|t| t.trim().to_string()).collect();
            if names.iter().any(String::is_empty) {
                return Err(Error::bad_request(format!("Invalid query string parameters: Expected 'required' parameter value of the form: in:HW_CPU_X86_VMX,CUSTOM_MAGIC. Got an empty trait in: {v}")));
            }
            if names.iter().any(|n| n.starts_with('!')) {
                return Err(Error::bad_request(format!("Invalid query string parameters: The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' does not support forbidden traits. Got: {v}")));
            }
            req.push(names);
            continue;
        }
        let all: Vec<&str> = v.split(',').map(str::trim).collect();
        if all.iter().any(|t| t.trim_start_matches('!').is_empty()) {
            return Err(Error::bad_request(format!(
                "Invalid query string parameters: Expected 'required' parameter value of the form: {form}. Got an empty trait in: {v}"
            )));
        }
        for t in all {
            if t.starts_with('!') {
                if !c.at(22) {
                    return Err(Error::bad_request(format!(
                        "Invalid query string parameters: Expected 'required' parameter value of the form: HW_CPU_X86_VMX,CUSTOM_MAGIC. Got: {v}"
                    )));
                }
                forbidden.push(t.trim_start_matches('!').to_string());
            } else {
                req.push(vec![t.to_string()]);
            }
        }
    }
    let mut unknown: Vec<String> = Vec::new();
    for t in req.iter().flatten().chain(forbidden.iter()) {
        if !trait_exists(svc, t).await? && !unknown.contains(t) {
            unknown.push(t.clone());
        }
    }
    if !unknown.is_empty() {
        return Err(Error::bad_request(format!("No such trait(s): {}.", unknown.join(", "))));
    }
    Ok((req, forbidden))
}

pub async fn trait_exists(svc: &Placement, name: &str) -> Result<bool, Error> {
    Ok(crate::names::is_standard_trait(name) || svc.store().custom_trait_exists(name).await?)
}
