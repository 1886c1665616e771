//! An oslo.policy-compatible rule engine shared by every service.
//!
//! Rules are written in oslo's check language: `@` (always), `!` (never),
//! `rule:NAME`, `role:NAME`, `KIND:VALUE` where VALUE may interpolate the
//! target (`user_id:%(target.user.id)s`) or be a literal (`system_scope:all`,
//! `is_admin:True`), combined with `and`, `or`, `not` and parentheses.
//! Each service registers its defaults; an operator's policy file (JSON, or
//! YAML as oslo writes it: one `"name": "rule"` per line) overrides them.

mod parse;

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

pub use parse::{parse, Check, ParseError};

/// What is known about the caller, as oslo's credentials dict: `user_id`,
/// `project_id`, `domain_id`, `system_scope` ("all" when system scoped),
/// `roles` (names), and anything else a service adds.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub values: HashMap<String, Value>,
    pub roles: Vec<String>,
}

impl Credentials {
    pub fn set(&mut self, key: &str, v: impl Into<Value>) -> &mut Self {
        self.values.insert(key.to_string(), v.into());
        self
    }
}

/// The object an action is applied to, as oslo's target dict. Keys are
/// dotted paths such as `target.user.domain_id` or plain names.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub values: HashMap<String, Value>,
}

impl Target {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn with(mut self, key: &str, v: impl Into<Value>) -> Self {
        self.values.insert(key.to_string(), v.into());
        self
    }
    /// Adds every scalar field of a JSON object under `prefix.` (e.g.
    /// `target.project`), as Keystone flattens its targets.
    pub fn with_object(mut self, prefix: &str, obj: &Value) -> Self {
        if let Value::Object(m) = obj {
            for (k, v) in m {
                if !v.is_object() && !v.is_array() {
                    self.values.insert(format!("{prefix}.{k}"), v.clone());
                }
            }
        }
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{file}: rule '{rule}': {err}")]
    Rule { file: String, rule: String, err: ParseError },
    #[error("{file}: {msg}")]
    File { file: String, msg: String },
}

/// A set of named rules.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    rules: HashMap<String, Check>,
}

impl Policy {
    /// Builds a policy from `(name, rule)` defaults; a default that does not
    /// parse is a programming error.
    pub fn from_defaults(defaults: &[(&str, &str)]) -> Policy {
        let mut p = Policy::default();
        for (name, rule) in defaults {
            let check = parse(rule).unwrap_or_else(|e| panic!("default rule {name}: {e}"));
            p.rules.insert(name.to_string(), check);
        }
        p
    }

    /// Overrides rules from a policy file (JSON object, or flat YAML).
    pub fn load_overrides(&mut self, path: &Path) -> Result<usize, PolicyError> {
        let file = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| PolicyError::File { file: file.clone(), msg: e.to_string() })?;
        let pairs = parse_policy_file(&text).map_err(|msg| PolicyError::File { file: file.clone(), msg })?;
        let n = pairs.len();
        for (name, rule) in pairs {
            let check =
                parse(&rule).map_err(|err| PolicyError::Rule { file: file.clone(), rule: name.clone(), err })?;
            self.rules.insert(name, check);
        }
        Ok(n)
    }

    pub fn set_rule(&mut self, name: &str, rule: &str) -> Result<(), ParseError> {
        self.rules.insert(name.to_string(), parse(rule)?);
        Ok(())
    }

    /// Is the action `rule` allowed for `creds` on `target`? An unknown rule is denied.
    pub fn enforce(&self, rule: &str, creds: &Credentials, target: &Target) -> bool {
        match self.rules.get(rule) {
            Some(c) => self.eval(c, creds, target, 0),
            None => false,
        }
    }

    fn eval(&self, c: &Check, creds: &Credentials, target: &Target, depth: usize) -> bool {
        if depth > 32 {
            return false; // a rule that refers to itself
        }
        match c {
            Check::Always => true,
            Check::Never => false,
            Check::Not(inner) => !self.eval(inner, creds, target, depth),
            Check::And(v) => v.iter().all(|c| self.eval(c, creds, target, depth)),
            Check::Or(v) => v.iter().any(|c| self.eval(c, creds, target, depth)),
            Check::Rule(name) => match self.rules.get(name) {
                Some(r) => self.eval(r, creds, target, depth + 1),
                None => false,
            },
            Check::Role(name) => {
                let want = interpolate(name, target);
                want.map(|w| creds.roles.iter().any(|r| r.eq_ignore_ascii_case(&w))).unwrap_or(false)
            }
            Check::Generic { kind, value } => generic(kind, value, creds, target),
        }
    }
}

/// `KIND:VALUE`: the credential `kind` equals VALUE (a literal, or a target
/// value when VALUE is `%(name)s`). A missing target value never matches.
fn generic(kind: &str, value: &str, creds: &Credentials, target: &Target) -> bool {
    let Some(have) = lookup(&creds.values, kind) else {
        return false;
    };
    let want = if value.contains("%(") {
        match interpolate(value, target) {
            Some(v) => v,
            None => return false,
        }
    } else {
        value.trim_matches(|c| c == '\'' || c == '"').to_string()
    };
    match have {
        Value::String(s) => *s == want,
        Value::Bool(b) => {
            want.eq_ignore_ascii_case(if *b { "true" } else { "false" }) || want == if *b { "1" } else { "0" }
        }
        Value::Number(n) => n.to_string() == want,
        Value::Array(a) => a.iter().any(|x| x.as_str() == Some(want.as_str())),
        Value::Null => false,
        Value::Object(_) => false,
    }
}

fn lookup<'a>(values: &'a HashMap<String, Value>, key: &str) -> Option<&'a Value> {
    if let Some(v) = values.get(key) {
        return Some(v);
    }
    // dotted navigation into nested objects: `token.user.id`
    let mut parts = key.split('.');
    let mut cur = values.get(parts.next()?)?;
    for p in parts {
        cur = cur.get(p)?;
    }
    Some(cur)
}

/// Replaces `%(name)s` with the target's value; None when a name is absent.
fn interpolate(s: &str, target: &Target) -> Option<String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("%(") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let j = after.find(")s")?;
        let v = lookup(&target.values, &after[..j])?;
        match v {
            Value::String(s) => out.push_str(s),
            Value::Null => return None,
            other => out.push_str(&other.to_string()),
        }
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    Some(out)
}

/// Reads `{"name": "rule", …}` (JSON) or `"name": "rule"` lines (YAML).
fn parse_policy_file(text: &str) -> Result<Vec<(String, String)>, String> {
    let t = text.trim_start();
    if t.starts_with('{') {
        let v: Value = serde_json::from_str(t).map_err(|e| format!("invalid JSON: {e}"))?;
        let obj = v.as_object().ok_or("not a JSON object")?;
        return obj
            .iter()
            .map(|(k, v)| match v.as_str() {
                Some(s) => Ok((k.clone(), s.to_string())),
                None => Err(format!("rule '{k}' is not a string")),
            })
            .collect();
    }
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l == "---" {
            continue;
        }
        let (k, v) = split_yaml_pair(l).ok_or_else(|| format!("line {}: expected \"name\": \"rule\"", i + 1))?;
        out.push((k, v));
    }
    Ok(out)
}

fn split_yaml_pair(l: &str) -> Option<(String, String)> {
    let (key, rest) = if let Some(stripped) = l.strip_prefix('"') {
        let end = stripped.find('"')?;
        (stripped[..end].to_string(), stripped[end + 1..].trim_start().strip_prefix(':')?)
    } else if let Some(stripped) = l.strip_prefix('\'') {
        let end = stripped.find('\'')?;
        (stripped[..end].to_string(), stripped[end + 1..].trim_start().strip_prefix(':')?)
    } else {
        let (k, v) = l.split_once(": ").or_else(|| l.strip_suffix(':').map(|k| (k, "")))?;
        (k.trim().to_string(), v)
    };
    let v = rest.trim();
    let v = if (v.starts_with('"') && v.ends_with('"') && v.len() >= 2)
        || (v.starts_with('\'') && v.ends_with('\'') && v.len() >= 2)
    {
        v[1..v.len() - 1].to_string()
    } else {
        v.to_string()
    };
    Some((key, v))
}

#[cfg(test)]
mod tests;
