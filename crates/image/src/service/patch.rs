//! Validation of image fields (create bodies and JSON patches) with Glance's
//! rules: read-only and reserved names are 403, bad values 400.

use rustack_common::{Error, ErrorKind};
use serde_json::Value;

use crate::model::{ImageRecord, CONTAINER_FORMATS, DISK_FORMATS, READ_ONLY, RESERVED, VISIBILITIES};

/// One operation of a JSON patch on an image.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    pub op: Op,
    /// The property (the one path segment).
    pub key: String,
    pub value: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Replace,
    Remove,
}

/// The media type of the two patch dialects Glance takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `application/openstack-images-v2.1-json-patch`: `{"op": "add", "path": "/x", "value": …}`
    V21,
    /// `application/openstack-images-v2.0-json-patch`: `{"add": "/x", "value": …}`
    V20,
}

fn bad(m: impl Into<String>) -> Error {
    Error::bad_request(m)
}

/// Reads a patch body.
pub fn parse_patch(body: &Value, dialect: Dialect) -> Result<Vec<PatchOp>, Error> {
    let ops = body.as_array().ok_or_else(|| bad("Request body must be a JSON array of operation objects."))?;
    let mut out = Vec::new();
    for raw in ops {
        let obj = raw.as_object().ok_or_else(|| bad("Operations must be JSON objects."))?;
        let (op, path) = match dialect {
            Dialect::V21 => {
                let op = obj
                    .get("op")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("Unable to find 'op' in JSON Schema change"))?;
                let path = obj
                    .get("path")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("Unable to find 'path' in JSON Schema change"))?;
                (op.to_string(), path.to_string())
            }
            Dialect::V20 => {
                let found: Vec<&str> =
                    ["add", "replace", "remove"].into_iter().filter(|k| obj.contains_key(*k)).collect();
                if found.len() != 1 {
                    return Err(bad(
                        "Operation objects must contain exactly one member named \"add\", \"remove\", or \"replace\".",
                    ));
                }
                let path = obj[found[0]].as_str().ok_or_else(|| bad("Invalid JSON pointer for this resource"))?;
                (found[0].to_string(), path.to_string())
            }
        };
        let op = match op.as_str() {
            "add" => Op::Add,
            "replace" => Op::Replace,
            "remove" => Op::Remove,
            o => return Err(bad(format!("Invalid operation: `{o}`: it must be one of add, remove, replace."))),
        };
        let value = obj.get("value").cloned();
        if op != Op::Remove && value.is_none() {
            return Err(bad(format!("Operation \"{}\" requires a member named \"value\".", op_name(op))));
        }
        if op == Op::Remove && value.is_some() && dialect == Dialect::V21 {
            // RFC 6902 ignores it; Glance does too
        }
        let key = pointer_key(&path)?;
        out.push(PatchOp { op, key, value });
    }
    Ok(out)
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Add => "add",
        Op::Replace => "replace",
        Op::Remove => "remove",
    }
}

/// `/name` → `name` (JSON pointer escapes `~1`, `~0`); deeper paths are not
/// addressable on an image.
fn pointer_key(path: &str) -> Result<String, Error> {
    let invalid = || bad(format!("Invalid JSON pointer for this resource: '{path}'"));
    let rest = path.strip_prefix('/').ok_or_else(invalid)?;
    if rest.is_empty() || rest.contains('/') {
        return Err(invalid());
    }
    if rest.contains('~') && !rest.replace("~0", "").replace("~1", "").chars().all(|c| c != '~') {
        return Err(invalid());
    }
    Ok(rest.replace("~1", "/").replace("~0", "~"))
}

/// 403 for names a client may not write.
pub fn check_writable(key: &str) -> Result<(), Error> {
    if READ_ONLY.contains(&key) {
        return Err(Error::forbidden(format!("Attribute '{key}' is read-only.")));
    }
    if RESERVED.contains(&key) || key.starts_with("os_glance") || key == "locations" {
        return Err(Error::forbidden(format!("Attribute '{key}' is reserved.")));
    }
    Ok(())
}

fn schema_err(m: String) -> Error {
    bad(format!("Provided object does not match schema 'image': {m}"))
}

/// Sets one field of `img` from a client value (create or patch), validated.
/// `visibility` and `owner` changes are authorized by the caller.
pub fn set_field(img: &mut ImageRecord, key: &str, v: &Value) -> Result<(), Error> {
    let opt_str = |max: usize| -> Result<Option<String>, Error> {
        match v {
            Value::Null => Ok(None),
            Value::String(s) if s.chars().count() <= max => Ok(Some(s.clone())),
            Value::String(_) => Err(schema_err(format!("'{key}' is too long (at most {max} characters)"))),
            _ => Err(schema_err(format!("{v} is not of type 'string' for '{key}'"))),
        }
    };
    let int = || -> Result<i64, Error> {
        match v.as_i64() {
            Some(n) if n >= 0 => Ok(n),
            _ => Err(schema_err(format!("{v} is not a non-negative integer for '{key}'"))),
        }
    };
    let boolean = || -> Result<bool, Error> {
        v.as_bool().ok_or_else(|| schema_err(format!("{v} is not of type 'boolean' for '{key}'")))
    };
    let one_of = |allowed: &[&str], nullable: bool| -> Result<Option<String>, Error> {
        match v {
            Value::Null if nullable => Ok(None),
            Value::String(s) if allowed.contains(&s.as_str()) => Ok(Some(s.clone())),
            _ => Err(schema_err(format!("{v} is not one of {allowed:?} for '{key}'"))),
        }
    };
    match key {
        "name" => img.name = opt_str(255)?,
        "visibility" => img.visibility = one_of(VISIBILITIES, false)?.unwrap_or_default(),
        "protected" => img.protected = boolean()?,
        "os_hidden" => img.os_hidden = boolean()?,
        "min_disk" => img.min_disk = int()?,
        "min_ram" => img.min_ram = int()?,
        "disk_format" => img.disk_format = one_of(DISK_FORMATS, true)?,
        "container_format" => img.container_format = one_of(CONTAINER_FORMATS, true)?,
        "owner" => img.owner = opt_str(255)?,
        "tags" => {
            let arr = v.as_array().ok_or_else(|| schema_err(format!("{v} is not of type 'array' for 'tags'")))?;
            let mut tags: Vec<String> = Vec::new();
            for t in arr {
                let s = t.as_str().ok_or_else(|| schema_err(format!("{t} is not of type 'string' for a tag")))?;
                check_tag(s)?;
                if !tags.iter().any(|x| x == s) {
                    tags.push(s.to_string());
                }
            }
            img.tags = tags;
        }
        "id" => {
            let s = v.as_str().ok_or_else(|| schema_err(format!("{v} is not of type 'string' for 'id'")))?;
            if uuid::Uuid::parse_str(s).is_err() || s.len() != 36 {
                return Err(schema_err(format!("'{s}' does not match the UUID pattern for 'id'")));
            }
            img.id = s.to_ascii_lowercase();
        }
        _ => {
            check_writable(key)?;
            if key.chars().count() > 255 {
                return Err(schema_err("a property name is longer than 255 characters".into()));
            }
            let s = v.as_str().ok_or_else(|| schema_err(format!("{v} is not of type 'string' for '{key}'")))?;
            img.properties.insert(key.to_string(), s.to_string());
        }
    }
    Ok(())
}

pub fn check_tag(tag: &str) -> Result<(), Error> {
    if tag.chars().count() > 255 {
        return Err(bad("Provided object does not match schema 'image': a tag is longer than 255 characters"));
    }
    Ok(())
}

pub fn is_core(key: &str) -> bool {
    crate::model::CORE_SHOWN.contains(&key) || key == "id"
}

/// Glance's 413 for a per-image quota (properties, tags, members).
pub fn over_quota(what: &str, quota: usize) -> Error {
    Error::new(ErrorKind::PayloadTooLarge, format!("Attempted to add more {what} than the quota of {quota} allows."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_dialects_parse() {
        let a = parse_patch(&json!([{"op": "replace", "path": "/name", "value": "x"}]), Dialect::V21).unwrap();
        let b = parse_patch(&json!([{"replace": "/name", "value": "x"}]), Dialect::V20).unwrap();
        assert_eq!(a, b);
        assert_eq!(a[0].key, "name");
        assert!(parse_patch(&json!([{"op": "move", "path": "/name"}]), Dialect::V21).is_err());
        assert!(parse_patch(&json!([{"op": "add", "path": "/tags/0", "value": "x"}]), Dialect::V21).is_err());
        assert!(parse_patch(&json!([{"op": "add", "path": "/x"}]), Dialect::V21).is_err(), "no value");
        assert!(parse_patch(&json!({"op": "add"}), Dialect::V21).is_err());
        assert_eq!(parse_patch(&json!([{"op": "remove", "path": "/a~1b"}]), Dialect::V21).unwrap()[0].key, "a/b");
    }

    #[test]
    fn fields_are_validated() {
        let mut i = ImageRecord::new("x".into(), None, "2026-01-01T00:00:00Z");
        assert!(set_field(&mut i, "disk_format", &json!("qcow2")).is_ok());
        assert_eq!(set_field(&mut i, "disk_format", &json!("bogus")).unwrap_err().kind, ErrorKind::BadRequest);
        assert_eq!(set_field(&mut i, "status", &json!("active")).unwrap_err().kind, ErrorKind::Forbidden);
        assert_eq!(set_field(&mut i, "os_glance_x", &json!("a")).unwrap_err().kind, ErrorKind::Forbidden);
        assert_eq!(set_field(&mut i, "min_ram", &json!(-1)).unwrap_err().kind, ErrorKind::BadRequest);
        assert_eq!(set_field(&mut i, "foo", &json!(1)).unwrap_err().kind, ErrorKind::BadRequest);
        set_field(&mut i, "foo", &json!("bar")).unwrap();
        assert_eq!(i.properties["foo"], "bar");
        set_field(&mut i, "tags", &json!(["a", "a", "b"])).unwrap();
        assert_eq!(i.tags, vec!["a", "b"]);
    }
}
