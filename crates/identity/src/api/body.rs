//! Reading entity bodies (`{"user": {...}}`) with Keystone's schema rules:
//! each problem is a 400 that names the field.

use rustack_common::Error;
use serde_json::{Map, Value};

pub(crate) struct Body {
    entity: &'static str,
    fields: Map<String, Value>,
}

fn invalid(field: &str, why: &str) -> Error {
    Error::bad_request(format!("Invalid input for field '{field}': {why}"))
}

impl Body {
    /// The object under `entity` in the request body.
    pub fn new(v: Value, entity: &'static str) -> Result<Body, Error> {
        match v {
            Value::Object(mut m) => match m.remove(entity) {
                Some(Value::Object(fields)) => Ok(Body { entity, fields }),
                Some(_) => Err(invalid(entity, "expected an object.")),
                None => Err(Error::bad_request(format!(
                    "Invalid input for the request body: '{entity}' is a required property."
                ))),
            },
            _ => Err(Error::bad_request("Invalid input for the request body: expected a JSON object.")),
        }
    }

    fn path(&self, field: &str) -> String {
        format!("{}.{field}", self.entity)
    }

    pub fn has(&self, field: &str) -> bool {
        self.fields.contains_key(field)
    }

    /// A string (null counts as absent when `nullable`).
    pub fn string(&mut self, field: &str, max: usize, nullable: bool) -> Result<Option<String>, Error> {
        match self.fields.remove(field) {
            None => Ok(None),
            Some(Value::Null) if nullable => Ok(None),
            Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s)),
            Some(Value::String(_)) => Err(invalid(&self.path(field), &format!("longer than {max} characters."))),
            Some(_) => Err(invalid(&self.path(field), "expected a string.")),
        }
    }

    /// A name: 1..=max characters with at least one that is not whitespace.
    pub fn name(&mut self, field: &str, max: usize, required: bool) -> Result<Option<String>, Error> {
        match self.string(field, max, false)? {
            Some(s) if s.trim().is_empty() => Err(invalid(&self.path(field), "must not be empty or only whitespace.")),
            Some(s) => Ok(Some(s)),
            None if required => Err(Error::bad_request(format!(
                "Invalid input for field '{}': '{field}' is a required property.",
                self.entity
            ))),
            None => Ok(None),
        }
    }

    /// A boolean; `lenient` also takes "true"/"false" strings, as Keystone does
    /// for domains, projects and users.
    pub fn boolean(&mut self, field: &str, lenient: bool) -> Result<Option<bool>, Error> {
        match self.fields.remove(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(Value::String(s)) if lenient && s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if lenient && s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(invalid(&self.path(field), "expected a boolean.")),
        }
    }

    /// An id-like field: a string of 1..=64 characters, or null.
    pub fn id(&mut self, field: &str) -> Result<Option<String>, Error> {
        match self.fields.remove(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 64 => Ok(Some(s)),
            Some(_) => Err(invalid(&self.path(field), "expected an id (a string of 1 to 64 characters).")),
        }
    }

    /// Rejects a field the API does not let a client set.
    pub fn forbid(&mut self, field: &str) -> Result<(), Error> {
        if self.fields.contains_key(field) {
            return Err(invalid(&self.path(field), "cannot be set."));
        }
        Ok(())
    }

    pub fn take(&mut self, field: &str) -> Option<Value> {
        self.fields.remove(field)
    }

    /// What is left: Keystone keeps unknown attributes as "extra".
    pub fn extra(mut self) -> Map<String, Value> {
        self.fields.remove("links");
        self.fields
    }
}
