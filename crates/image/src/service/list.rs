//! `GET /v2/images`: visibility, filters, sorting and marker paging as Glance.
//!
//! The images visible to the caller are read and filtered here rather than in
//! SQL: custom-property and tag filters live in JSON columns, and an image
//! list is thousands of rows, not millions.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use rustack_common::Error;
use rustack_http::RequestContext;
use serde_json::Value;

use crate::model::{status, ImageRecord, MEMBER_STATUSES};
use crate::Image;

/// One page of images and the query of the next page, if any.
pub struct Page {
    pub images: Vec<ImageRecord>,
    /// The query string of the next page (`marker=…&limit=…&…`).
    pub next: Option<String>,
}

const SORT_KEYS: &[&str] = &[
    "name",
    "status",
    "container_format",
    "disk_format",
    "size",
    "virtual_size",
    "id",
    "created_at",
    "updated_at",
    "visibility",
    "owner",
    "min_disk",
    "min_ram",
    "protected",
    "os_hidden",
];

/// Query parameters that are not property filters.
const PAGING: &[&str] = &["limit", "marker", "sort", "sort_key", "sort_dir", "member_status", "size_min", "size_max"];

fn bad(m: impl Into<String>) -> Error {
    Error::bad_request(m)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Asc,
    Desc,
}

fn parse_dir(s: &str) -> Result<Dir, Error> {
    match s {
        "asc" => Ok(Dir::Asc),
        "desc" => Ok(Dir::Desc),
        _ => Err(bad(format!("Invalid sort direction: {s}"))),
    }
}

fn check_sort_key(k: &str) -> Result<(), Error> {
    if SORT_KEYS.contains(&k) {
        Ok(())
    } else {
        Err(bad(format!("Invalid sort key: {k}. It must be one of the following: {}.", SORT_KEYS.join(", "))))
    }
}

/// The sort order a query asks for (`sort=k:dir,…` or `sort_key`/`sort_dir`).
fn sort_order(params: &[(String, String)]) -> Result<Vec<(String, Dir)>, Error> {
    let get_all = |k: &str| -> Vec<String> {
        params.iter().filter(|(n, _)| n == k).flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_string())).collect()
    };
    let sort = get_all("sort");
    let keys = get_all("sort_key");
    let dirs = get_all("sort_dir");
    let mut order = Vec::new();
    if !sort.is_empty() {
        if !keys.is_empty() || !dirs.is_empty() {
            return Err(bad("The 'sort' parameter cannot be used with 'sort_key' or 'sort_dir'."));
        }
        for item in sort.iter().filter(|s| !s.is_empty()) {
            let (k, d) = match item.split_once(':') {
                Some((k, d)) => (k.trim(), parse_dir(d.trim())?),
                None => (item.as_str(), Dir::Desc),
            };
            check_sort_key(k)?;
            order.push((k.to_string(), d));
        }
    } else {
        if dirs.len() > 1 && dirs.len() != keys.len() {
            return Err(bad("Number of sort dirs does not match the number of sort keys"));
        }
        for (i, k) in keys.iter().enumerate() {
            check_sort_key(k)?;
            let d = match dirs.get(i).or(dirs.first()) {
                Some(d) => parse_dir(d)?,
                None => Dir::Desc,
            };
            order.push((k.clone(), d));
        }
        if keys.is_empty() {
            if let Some(d) = dirs.first() {
                order.push(("created_at".into(), parse_dir(d)?));
            }
        }
    }
    if order.is_empty() {
        order.push(("created_at".into(), Dir::Desc));
    }
    if !order.iter().any(|(k, _)| k == "id") {
        let last = order.last().map(|(_, d)| *d).unwrap_or(Dir::Desc);
        order.push(("id".into(), last));
    }
    Ok(order)
}

fn sort_value(img: &ImageRecord, key: &str) -> Value {
    match key {
        // stored with microseconds, so ordering is finer than shown
        "created_at" => Value::String(img.created_at.clone()),
        "updated_at" => Value::String(img.updated_at.clone()),
        k => img.get(k).unwrap_or(Value::Null),
    }
}

fn cmp_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().unwrap_or(0.0).partial_cmp(&y.as_f64().unwrap_or(0.0)).unwrap_or(Ordering::Equal)
        }
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

fn compare(a: &ImageRecord, b: &ImageRecord, order: &[(String, Dir)]) -> Ordering {
    for (k, d) in order {
        let o = cmp_values(&sort_value(a, k), &sort_value(b, k));
        let o = if *d == Dir::Desc { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// `gte:2026-01-01T00:00:00Z` against a stored time.
fn time_matches(expr: &str, stored: &str) -> Result<bool, Error> {
    let (op, t) = match expr.split_once(':') {
        Some((op, rest)) if ["gt", "gte", "lt", "lte", "eq", "neq"].contains(&op) => (op, rest),
        _ => ("eq", expr),
    };
    let want = rustack_common::time::parse_iso(t).ok_or_else(|| bad(format!("Unable to parse datetime '{t}'.")))?;
    let have = rustack_common::time::parse_iso(stored).unwrap_or_else(rustack_common::time::now);
    // Glance compares at the precision it shows: seconds
    let have = have.timestamp();
    let want = want.timestamp();
    Ok(match op {
        "gt" => have > want,
        "gte" => have >= want,
        "lt" => have < want,
        "lte" => have <= want,
        "neq" => have != want,
        _ => have == want,
    })
}

/// `in:a,b` or a plain value.
fn value_matches(expr: &str, have: Option<String>) -> bool {
    let Some(have) = have else { return false };
    match expr.strip_prefix("in:") {
        Some(list) => list.split(',').any(|v| v.trim().trim_matches('"') == have),
        None => expr == have,
    }
}

fn parse_bool(key: &str, v: &str) -> Result<bool, Error> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(bad(format!("Invalid value '{v}' for {key}: it must be a boolean."))),
    }
}

fn parse_size(key: &str, v: &str) -> Result<i64, Error> {
    v.parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| bad(format!("Invalid value '{v}' for {key}: it must be a non-negative integer.")))
}

impl Image {
    /// `GET /v2/images` with the query's parameters (repeated keys allowed).
    pub(crate) async fn list(&self, ctx: &RequestContext, params: &[(String, String)]) -> Result<Page, Error> {
        if !self.allowed("get_images", ctx, &rustack_policy::Target::new()) {
            return Err(super::forbidden_action("get_images"));
        }
        let one = |k: &str| params.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let st = &self.settings();
        let limit = match one("limit") {
            None => st.limit_default,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n < 0 => return Err(bad("limit param must be positive")),
                Ok(n) => (n as usize).min(st.limit_max),
                Err(_) => return Err(bad("limit param must be an integer")),
            },
        };
        let order = sort_order(params)?;
        let visibility = one("visibility").unwrap_or("all");
        if !["all", "public", "private", "shared", "community"].contains(&visibility) {
            return Err(bad(format!("Invalid visibility value: {visibility}")));
        }
        let member_status = one("member_status").unwrap_or("accepted");
        if member_status != "all" && !MEMBER_STATUSES.contains(&member_status) {
            return Err(bad(format!("Invalid status value: {member_status}")));
        }
        if let Some(s) = one("status") {
            if !status::ALL.contains(&s) {
                return Err(bad(format!("Invalid status value: {s}")));
            }
        }
        let size_min = one("size_min").map(|v| parse_size("size_min", v)).transpose()?;
        let size_max = one("size_max").map(|v| parse_size("size_max", v)).transpose()?;
        let hidden = one("os_hidden").map(|v| parse_bool("os_hidden", v)).transpose()?.unwrap_or(false);
        let protected = one("protected").map(|v| parse_bool("protected", v)).transpose()?;
        let tags: Vec<&str> = params.iter().filter(|(n, _)| n == "tag").map(|(_, v)| v.as_str()).collect();

        let admin = self.is_admin(ctx);
        let project = ctx.project_id().unwrap_or_default().to_string();
        let memberships: BTreeMap<String, String> =
            if project.is_empty() { BTreeMap::new() } else { self.store().memberships_of(&project).await? };
        let member_ok = |img: &ImageRecord| -> bool {
            match memberships.get(&img.id) {
                Some(s) => member_status == "all" || s == member_status,
                None => false,
            }
        };
        let owned = |img: &ImageRecord| !project.is_empty() && img.owner.as_deref() == Some(project.as_str());

        let mut out = Vec::new();
        for img in self.store().all_images().await? {
            let vis_ok = match visibility {
                "all" => {
                    if admin {
                        img.visibility != "community" || owned(&img)
                    } else {
                        owned(&img) || img.visibility == "public" || (img.visibility == "shared" && member_ok(&img))
                    }
                }
                "public" => img.visibility == "public",
                "community" => img.visibility == "community",
                "private" => img.visibility == "private" && (admin || owned(&img)),
                "shared" => img.visibility == "shared" && (owned(&img) || member_ok(&img) || admin),
                _ => false,
            };
            if !vis_ok || img.os_hidden != hidden {
                continue;
            }
            if let Some(p) = protected {
                if img.protected != p {
                    continue;
                }
            }
            if size_min.is_some_and(|m| img.size.is_none_or(|s| s < m))
                || size_max.is_some_and(|m| img.size.is_none_or(|s| s > m))
            {
                continue;
            }
            if !tags.iter().all(|t| img.tags.iter().any(|x| x == t)) {
                continue;
            }
            let mut keep = true;
            for (k, v) in params {
                let k = k.as_str();
                if PAGING.contains(&k) || ["visibility", "os_hidden", "protected", "tag"].contains(&k) {
                    continue;
                }
                let ok = match k {
                    "created_at" => time_matches(v, &img.created_at)?,
                    "updated_at" => time_matches(v, &img.updated_at)?,
                    _ => {
                        let have = img.get(k).and_then(|x| match x {
                            Value::String(s) => Some(s),
                            Value::Null => None,
                            other => Some(other.to_string()),
                        });
                        value_matches(v, have)
                    }
                };
                if !ok {
                    keep = false;
                    break;
                }
            }
            if keep {
                out.push(img);
            }
        }
        out.sort_by(|a, b| compare(a, b, &order));
        if let Some(m) = one("marker") {
            let marker = self.store().get_image(m).await?;
            let marker = match marker {
                Some(mk) if self.can_see(ctx, &mk).await? => mk,
                _ => return Err(bad(format!("Invalid marker. Image {m} could not be found."))),
            };
            out.retain(|x| compare(x, &marker, &order) == Ordering::Greater);
        }
        let more = out.len() > limit;
        out.truncate(limit);
        let next = match (more, out.last()) {
            (true, Some(last)) => {
                let mut q: Vec<(String, String)> =
                    params.iter().filter(|(k, _)| k != "marker" && k != "limit").cloned().collect();
                q.push(("marker".into(), last.id.clone()));
                q.push(("limit".into(), limit.to_string()));
                Some(encode_query(&q))
            }
            _ => None,
        };
        Ok(Page { images: out, next })
    }
}

/// A query string from pairs (percent-encoding what must be).
pub fn encode_query(pairs: &[(String, String)]) -> String {
    fn enc(s: &str) -> String {
        let mut o = String::new();
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~:,".contains(&b) {
                o.push(b as char);
            } else {
                o.push_str(&format!("%{b:02X}"));
            }
        }
        o
    }
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn sort_orders() {
        let o = sort_order(&p(&[("sort", "name:asc,size")])).unwrap();
        assert_eq!(o, vec![("name".into(), Dir::Asc), ("size".into(), Dir::Desc), ("id".into(), Dir::Desc)]);
        let o = sort_order(&p(&[("sort_key", "name"), ("sort_dir", "asc")])).unwrap();
        assert_eq!(o[0], ("name".into(), Dir::Asc));
        assert!(sort_order(&p(&[("sort_key", "bogus")])).is_err());
        assert!(sort_order(&p(&[("sort", "name"), ("sort_key", "id")])).is_err());
        assert!(sort_order(&p(&[("sort_dir", "up")])).is_err());
    }

    #[test]
    fn filters() {
        assert!(time_matches("gte:2020-01-01T00:00:00Z", "2026-01-01T00:00:00.000000Z").unwrap());
        assert!(!time_matches("lt:2020-01-01T00:00:00Z", "2026-01-01T00:00:00.000000Z").unwrap());
        assert!(time_matches("gte:nonsense", "2026-01-01T00:00:00Z").is_err());
        assert!(value_matches("in:a,b", Some("b".into())));
        assert!(!value_matches("a", None));
        assert_eq!(encode_query(&p(&[("name", "a b"), ("marker", "x")])), "name=a%20b&marker=x");
    }
}
