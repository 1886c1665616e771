//! `GET /allocation_candidates` (1.10+): the request groups from the query
//! string, the search, and the answer's shape per microversion.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use rustack_common::Error;
use serde_json::{json, Map, Value};

use super::util::*;
use crate::model::{CandidateRequest, RequestGroup};
use crate::Placement;

pub fn routes() -> Router<Placement> {
    Router::new().route("/allocation_candidates", get(list))
}

/// `resources1` → ("resources", "1"); None for an unknown name.
fn split_key<'a>(c: &Caller, k: &'a str) -> Option<(&'a str, &'a str)> {
    for base in ["resources", "required", "member_of", "in_tree"] {
        if let Some(suffix) = k.strip_prefix(base) {
            let ok = suffix.is_empty()
                || (c.at(25) && !c.at(33) && suffix.bytes().all(|b| b.is_ascii_digit()))
                || (c.at(33)
                    && suffix.len() <= 64
                    && suffix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
            if ok {
                return Some((base, suffix));
            }
        }
    }
    None
}

async fn list(State(svc): State<Placement>, c: Caller, q: Pairs) -> Res {
    c.need(10)?;
    c.allow(&svc, "placement:allocation_candidates:list")?;
    let q = &q.0;
    let mut groups: BTreeMap<String, RequestGroup> = BTreeMap::new();
    let mut limit = None;
    let mut policy = None;
    let mut req = CandidateRequest::default();
    for (k, v) in q {
        let since = |minor: u16| -> Result<(), Error> {
            if c.at(minor) {
                Ok(())
            } else {
                Err(Error::bad_request(format!(
                    "Invalid query string parameters: Additional properties are not allowed ('{k}' was unexpected)"
                )))
            }
        };
        match k.as_str() {
            "limit" => {
                since(16)?;
                match v.parse::<usize>() {
                    // the first of several wins
                    Ok(n) if n >= 1 => limit = limit.or(Some(n)),
                    _ => {
                        return Err(Error::bad_request(format!(
                            "Invalid query string parameters: '{v}' does not match '^[1-9][0-9]*$'\n\nFailed validating 'pattern' in schema"
                        ))
                        .into())
                    }
                }
            }
            "group_policy" => {
                since(25)?;
                match v.as_str() {
                    "isolate" | "none" => policy = Some(v.clone()),
                    _ => {
                        return Err(Error::bad_request(format!(
                            "Invalid query string parameters: '{v}' is not one of ['none', 'isolate']"
                        ))
                        .into())
                    }
                }
            }
            "root_required" => {
                since(35)?;
                let (r, f) = parse_required(&svc, &c, &[v.as_str()]).await?;
                req.root_required.extend(r.into_iter().flatten());
                req.root_forbidden.extend(f);
            }
            "same_subtree" => since(36)?,
            _ => {
                let Some((base, suffix)) = split_key(&c, k) else {
                    return Err(Error::bad_request(format!(
                        "Invalid query string parameters: Additional properties are not allowed ('{k}' was unexpected)"
                    ))
                    .into());
                };
                match base {
                    "resources" => since(10)?,
                    "required" => since(17)?,
                    "member_of" => since(21)?,
                    _ => since(31)?,
                }
                let g = groups
                    .entry(suffix.to_string())
                    .or_insert_with(|| RequestGroup { suffix: suffix.into(), ..Default::default() });
                match base {
                    "resources" => {
                        if !g.resources.is_empty() {
                            return Err(Error::bad_request(format!(
                                "Invalid query string parameters: '{k}' may only be given once"
                            ))
                            .into());
                        }
                        g.resources = parse_resources(&svc, v).await?;
                    }
                    "required" => {
                        let (r, f) = parse_required(&svc, &c, &[v.as_str()]).await?;
                        g.required.extend(r);
                        g.forbidden.extend(f);
                    }
                    "member_of" => {
                        let already = g.member_of.len() + usize::from(!g.forbidden_aggregates.is_empty());
                        if already > 0 && !c.at(24) {
                            return Err(Error::bad_request("Multiple member_of parameters are not supported.").into());
                        }
                        let (a, f) = parse_member_of(&c, &[v.as_str()])?;
                        g.member_of.extend(a);
                        g.forbidden_aggregates.extend(f);
                    }
                    _ => {
                        g.in_tree = Some(crate::validate::uuid(v).ok_or_else(|| {
                            Error::bad_request(format!(
                                "Invalid query string parameters: Expected 'in_tree' parameter to be a format of uuid. Got: {v}"
                            ))
                        })?)
                    }
                }
            }
        }
    }
    let orphans = |f: &dyn Fn(&RequestGroup) -> bool, key: &str| -> Vec<String> {
        groups.values().filter(|g| g.resources.is_empty() && f(g)).map(|g| format!("{key}{}", g.suffix)).collect()
    };
    let o = orphans(&|g| !g.required.is_empty() || !g.forbidden.is_empty(), "required");
    if !o.is_empty() {
        return Err(Error::bad_request(format!(
            "All traits parameters must be associated with resources.  Found the following orphaned traits keys: {}",
            o.join(", ")
        ))
        .into());
    }
    let o = orphans(&|g| !g.member_of.is_empty() || !g.forbidden_aggregates.is_empty(), "member_of");
    if !o.is_empty() {
        return Err(Error::bad_request(format!(
            "All member_of parameters must be associated with resources. Found the following orphaned member_of keys: {}",
            o.join(", ")
        ))
        .into());
    }
    let unnamed_has_resources = groups.get("").is_some_and(|g| !g.resources.is_empty());
    if !c.at(25) && !unnamed_has_resources {
        return Err(Error::bad_request("Invalid query string parameters: 'resources' is a required property").into());
    }
    if !groups.values().any(|g| !g.resources.is_empty()) {
        return Err(
            Error::bad_request("At least one request group (`resources` or `resources{$S}`) is required.").into()
        );
    }
    for g in groups.values() {
        if !g.suffix.is_empty() && g.resources.is_empty() {
            return Err(Error::bad_request("All request groups must specify resources.").into());
        }
    }
    let numbered = groups.keys().filter(|s| !s.is_empty()).count();
    if numbered > 1 && policy.is_none() {
        return Err(Error::bad_request(
            "The \"group_policy\" parameter is required when specifying more than one \"resources{$S}\" parameter.",
        )
        .into());
    }
    req.group_policy_isolate = policy.as_deref() == Some("isolate");
    req.limit = limit;
    req.nested = c.at(29);
    req.groups = groups.into_values().collect();
    let found = svc.allocation_candidates(&req).await?;
    Ok(ok(render(&c, &req, &found)))
}

fn render(c: &Caller, req: &CandidateRequest, found: &crate::model::Candidates) -> Value {
    let requested: Vec<&String> = req.groups.iter().flat_map(|g| g.resources.keys()).collect();
    let requests: Vec<Value> = found
        .candidates
        .iter()
        .map(|cand| {
            let mut a = if c.at(12) {
                let m: Map<String, Value> =
                    cand.allocations.iter().map(|(rp, r)| (rp.clone(), json!({ "resources": r }))).collect();
                json!({ "allocations": m })
            } else {
                let l: Vec<Value> = cand
                    .allocations
                    .iter()
                    .map(|(rp, r)| json!({"resource_provider": {"uuid": rp}, "resources": r}))
                    .collect();
                json!({ "allocations": l })
            };
            if c.at(34) {
                a["mappings"] = json!(cand.mappings);
            }
            a
        })
        .collect();
    let named: std::collections::BTreeSet<&String> =
        found.candidates.iter().flat_map(|c| c.allocations.keys()).collect();
    let mut summaries = Map::new();
    for (uuid, s) in &found.summaries {
        // before 1.29 only the providers that give resources are summarised
        if !c.at(29) && !named.contains(uuid) {
            continue;
        }
        let res: Map<String, Value> = s
            .resources
            .iter()
            .filter(|(class, _)| c.at(27) || requested.contains(class))
            .map(|(class, cs)| (class.clone(), json!({"capacity": cs.capacity, "used": cs.used})))
            .collect();
        let mut v = json!({ "resources": res });
        if c.at(17) {
            v["traits"] = json!(s.traits);
        }
        if c.at(29) {
            v["parent_provider_uuid"] = json!(s.parent_provider_uuid);
            v["root_provider_uuid"] = json!(s.root_provider_uuid);
        }
        summaries.insert(uuid.clone(), v);
    }
    json!({"allocation_requests": requests, "provider_summaries": summaries})
}
