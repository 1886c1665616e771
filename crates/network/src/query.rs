//! Neutron's list query language over rendered resources: filters on any
//! attribute (repeat a key for "any of"), `fields`, `sort_key`/`sort_dir`,
//! `limit`/`marker`/`page_reverse` with `<collection>_links`, and the tag
//! filters `tags`, `tags-any`, `not-tags`, `not-tags-any`.

use std::cmp::Ordering;

use rustack_common::Error;
use serde_json::{json, Value};

#[derive(Debug, Default, Clone)]
pub struct ListQuery {
    pub fields: Vec<String>,
    pub filters: Vec<(String, Vec<String>)>,
    pub sort: Vec<(String, bool)>,
    pub limit: Option<usize>,
    pub marker: Option<String>,
    pub page_reverse: bool,
    pub tags_all: Vec<String>,
    pub tags_any: Vec<String>,
    pub not_tags_all: Vec<String>,
    pub not_tags_any: Vec<String>,
    /// The query pairs as given, for paging links.
    pub pairs: Vec<(String, String)>,
}

fn truthy(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

impl ListQuery {
    pub fn parse(raw: Option<&str>) -> Result<ListQuery, Error> {
        let mut q = ListQuery::default();
        let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut keys = vec![];
        let mut dirs = vec![];
        for (k, v) in &pairs {
            let list = || v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect::<Vec<_>>();
            match k.as_str() {
                "fields" => q.fields.extend(list()),
                "sort_key" => keys.push(v.clone()),
                "sort_dir" => {
                    let asc = match v.as_str() {
                        "asc" => true,
                        "desc" => false,
                        _ => {
                            return Err(Error::bad_request(format!(
                                "{v} is an invalid value for sort_dir, valid values are 'asc' and 'desc'"
                            )))
                        }
                    };
                    dirs.push(asc)
                }
                "limit" => {
                    let n: i64 = v.parse().map_err(|_| {
                        Error::bad_request(format!(
                            "Bad limit request: Limit must be an integer 0 or greater and not '{v}'."
                        ))
                    })?;
                    if n < 0 {
                        return Err(Error::bad_request(format!(
                            "Bad limit request: Limit must be an integer 0 or greater and not '{n}'."
                        )));
                    }
                    q.limit = (n > 0).then_some(n as usize);
                }
                "marker" => q.marker = Some(v.clone()),
                "page_reverse" => q.page_reverse = truthy(v).unwrap_or(false),
                "tags" => q.tags_all.extend(list()),
                "tags-any" => q.tags_any.extend(list()),
                "not-tags" => q.not_tags_all.extend(list()),
                "not-tags-any" => q.not_tags_any.extend(list()),
                _ => match q.filters.iter_mut().find(|(f, _)| f == k) {
                    Some((_, vals)) => vals.push(v.clone()),
                    None => q.filters.push((k.clone(), vec![v.clone()])),
                },
            }
        }
        if !dirs.is_empty() && dirs.len() != keys.len() {
            return Err(Error::bad_request("The number of sort_keys and sort_dirs must be same"));
        }
        q.sort = keys.into_iter().enumerate().map(|(i, k)| (k, dirs.get(i).copied().unwrap_or(true))).collect();
        q.pairs = pairs;
        Ok(q)
    }

    /// The value of a filter given once, if any.
    pub fn filter(&self, name: &str) -> Option<&str> {
        self.filters.iter().find(|(k, _)| k == name).and_then(|(_, v)| v.first()).map(String::as_str)
    }

    /// Whether a resource passes the filters and tag filters.
    pub fn matches(&self, item: &Value) -> bool {
        for (k, wanted) in &self.filters {
            if k == "fixed_ips" {
                if !fixed_ips_match(item, wanted) {
                    return false;
                }
                continue;
            }
            let Some(have) = item.get(k) else { continue };
            if !wanted.iter().any(|w| value_matches(have, w)) {
                return false;
            }
        }
        let tags: Vec<&str> = item
            .get("tags")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let has = |t: &String| tags.contains(&t.as_str());
        if !self.tags_all.iter().all(has) {
            return false;
        }
        if !self.tags_any.is_empty() && !self.tags_any.iter().any(has) {
            return false;
        }
        if !self.not_tags_all.is_empty() && self.not_tags_all.iter().all(has) {
            return false;
        }
        if self.not_tags_any.iter().any(has) {
            return false;
        }
        true
    }

    /// Keeps only the `fields` asked for.
    pub fn project(&self, item: Value) -> Value {
        project_fields(item, &self.fields)
    }

    /// Filters, sorts, pages and projects a collection; returns the body
    /// `{"<collection>": [...], "<collection>_links": [...]}`.
    pub fn apply(&self, collection: &str, base_url: &str, mut items: Vec<Value>) -> Result<Value, Error> {
        items.retain(|i| self.matches(i));
        let mut sort = self.sort.clone();
        if !sort.iter().any(|(k, _)| k == "id") {
            let dir = sort.first().map(|(_, d)| *d).unwrap_or(true);
            sort.push(("id".into(), dir));
        }
        items.sort_by(|a, b| {
            for (k, asc) in &sort {
                let o = cmp_values(a.get(k).unwrap_or(&Value::Null), b.get(k).unwrap_or(&Value::Null));
                let o = if *asc { o } else { o.reverse() };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
        let mut links = vec![];
        if self.limit.is_some() || self.marker.is_some() {
            let pos = |items: &Vec<Value>, m: &str| items.iter().position(|i| i["id"].as_str() == Some(m));
            let (page, more_after, more_before): (Vec<Value>, bool, bool) = if self.page_reverse {
                let end = match &self.marker {
                    Some(m) => pos(&items, m).unwrap_or(items.len()),
                    None => items.len(),
                };
                let start = self.limit.map(|l| end.saturating_sub(l)).unwrap_or(0);
                (items[start..end].to_vec(), end < items.len(), start > 0)
            } else {
                let start = match &self.marker {
                    Some(m) => pos(&items, m).map(|p| p + 1).unwrap_or(0),
                    None => 0,
                };
                let end = self.limit.map(|l| (start + l).min(items.len())).unwrap_or(items.len());
                (items[start..end].to_vec(), end < items.len(), start > 0)
            };
            let link = |rel: &str, marker: &str, reverse: bool| {
                let mut ser = form_urlencoded::Serializer::new(String::new());
                for (k, v) in &self.pairs {
                    if k != "marker" && k != "page_reverse" {
                        ser.append_pair(k, v);
                    }
                }
                ser.append_pair("marker", marker);
                if reverse {
                    ser.append_pair("page_reverse", "True");
                }
                json!({"rel": rel, "href": format!("{base_url}?{}", ser.finish())})
            };
            let (next_more, prev_more) = if self.page_reverse {
                (more_after, more_before)
            } else {
                (more_after, more_before || self.marker.is_some())
            };
            if let (Some(last), true) = (page.last(), next_more || (self.page_reverse && self.marker.is_some())) {
                links.push(link("next", last["id"].as_str().unwrap_or_default(), false));
            }
            if let (Some(first), true) = (page.first(), prev_more) {
                links.push(link("previous", first["id"].as_str().unwrap_or_default(), true));
            }
            items = page;
        }
        let items: Vec<Value> = items.into_iter().map(|i| self.project(i)).collect();
        let mut body = json!({ collection: items });
        if !links.is_empty() {
            body[format!("{collection}_links")] = Value::Array(links);
        }
        Ok(body)
    }
}

pub fn project_fields(item: Value, fields: &[String]) -> Value {
    if fields.is_empty() {
        return item;
    }
    match item {
        Value::Object(m) => Value::Object(m.into_iter().filter(|(k, _)| fields.iter().any(|f| f == k)).collect()),
        v => v,
    }
}

fn value_matches(have: &Value, want: &str) -> bool {
    match have {
        Value::String(s) => s == want,
        Value::Bool(b) => truthy(want) == Some(*b),
        Value::Number(n) => n.to_string() == want,
        Value::Null => want.is_empty() || want == "None" || want == "null",
        Value::Array(a) => a.iter().any(|x| value_matches(x, want)),
        Value::Object(_) => false,
    }
}

fn fixed_ips_match(item: &Value, wanted: &[String]) -> bool {
    let ips = item.get("fixed_ips").and_then(Value::as_array).cloned().unwrap_or_default();
    wanted.iter().all(|w| {
        let (k, v) = w.split_once('=').unwrap_or(("ip_address", w.as_str()));
        match k {
            "ip_address_substr" => ips.iter().any(|i| i["ip_address"].as_str().is_some_and(|a| a.contains(v))),
            _ => ips.iter().any(|i| i.get(k).and_then(Value::as_str) == Some(v)),
        }
    })
}

fn cmp_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x.as_f64().partial_cmp(&y.as_f64()).unwrap_or(Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (x, y) => x.to_string().cmp(&y.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items() -> Vec<Value> {
        (0..5)
            .map(
                |i| json!({"id": format!("id{i}"), "name": format!("n{}", 4 - i), "shared": i % 2 == 0, "tags": ["a"]}),
            )
            .collect()
    }

    #[test]
    fn filters_fields_and_sorting() {
        let q = ListQuery::parse(Some("shared=True&fields=id&fields=name&sort_key=name&sort_dir=asc")).unwrap();
        let body = q.apply("networks", "http://x/v2.0/networks", items()).unwrap();
        let got: Vec<&str> = body["networks"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
        assert_eq!(got, vec!["id4", "id2", "id0"]);
        assert_eq!(body["networks"][0].as_object().unwrap().len(), 2);
    }

    #[test]
    fn paging_with_marker_and_links() {
        let q = ListQuery::parse(Some("limit=2")).unwrap();
        let body = q.apply("networks", "http://x", items()).unwrap();
        assert_eq!(body["networks"].as_array().unwrap().len(), 2);
        assert_eq!(body["networks_links"][0]["rel"], "next");
        let q = ListQuery::parse(Some("limit=2&marker=id1")).unwrap();
        let body = q.apply("networks", "http://x", items()).unwrap();
        assert_eq!(body["networks"][0]["id"], "id2");
        let q = ListQuery::parse(Some("limit=2&marker=id3&page_reverse=True")).unwrap();
        let body = q.apply("networks", "http://x", items()).unwrap();
        assert_eq!(body["networks"][0]["id"], "id1");
        assert!(ListQuery::parse(Some("limit=x")).is_err());
        assert!(ListQuery::parse(Some("sort_key=a&sort_dir=up")).is_err());
    }

    #[test]
    fn tag_filters() {
        let q = ListQuery::parse(Some("tags-any=b,a")).unwrap();
        assert!(q.matches(&items()[0]));
        let q = ListQuery::parse(Some("not-tags=a")).unwrap();
        assert!(!q.matches(&items()[0]));
    }
}
