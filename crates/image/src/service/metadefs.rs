//! The metadata definitions catalog (`/v2/metadefs`): namespaces holding
//! objects, properties, tags and resource type associations. Everyone reads
//! public namespaces (and their own project's); only admins write, as in
//! Glance's default policy.

use rustack_common::Error;
use rustack_http::RequestContext;
use serde_json::{json, Map, Value};

use super::forbidden_action;
use crate::model::{glance_time, now_iso};
use crate::store::metadefs::Def;
use crate::Image;

/// The resource types Glance knows out of the box.
pub const RESOURCE_TYPES: &[&str] = &[
    "OS::Glance::Image",
    "OS::Cinder::Volume",
    "OS::Cinder::Snapshot",
    "OS::Nova::Flavor",
    "OS::Nova::Server",
    "OS::Nova::Aggregate",
    "OS::Trove::Instance",
];

/// What lives inside a namespace, by its URL segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Object,
    Property,
    Tag,
    ResourceType,
}

impl Kind {
    pub fn from_segment(s: &str) -> Option<Kind> {
        Some(match s {
            "objects" => Kind::Object,
            "properties" => Kind::Property,
            "tags" => Kind::Tag,
            "resource_types" => Kind::ResourceType,
            _ => return None,
        })
    }
    fn table(self) -> &'static str {
        match self {
            Kind::Object => "object",
            Kind::Property => "property",
            Kind::Tag => "tag",
            Kind::ResourceType => "resource_type",
        }
    }
    fn title(self) -> &'static str {
        match self {
            Kind::Object => "object",
            Kind::Property => "property",
            Kind::Tag => "tag",
            Kind::ResourceType => "resource type association",
        }
    }
}

fn name_of(body: &Value, key: &str) -> Result<String, Error> {
    match body.get(key).and_then(Value::as_str) {
        Some(n) if !n.is_empty() && n.chars().count() <= 255 => Ok(n.to_string()),
        _ => Err(Error::bad_request(format!("Provided object does not match schema: '{key}' is a required string"))),
    }
}

fn object(body: Value) -> Result<Map<String, Value>, Error> {
    match body {
        Value::Object(m) => Ok(m),
        _ => Err(Error::bad_request("Request body must be a JSON object.")),
    }
}

/// The namespace as Glance shows it.
pub fn namespace_json(d: &Def) -> Value {
    let mut v = d.body.clone();
    v["namespace"] = json!(d.name);
    v["created_at"] = json!(glance_time(&d.created_at));
    v["updated_at"] = json!(glance_time(&d.updated_at));
    v["schema"] = json!("/v2/schemas/metadefs/namespace");
    v["self"] = json!(format!("/v2/metadefs/namespaces/{}", d.name));
    v
}

fn child_json(ns: &str, kind: Kind, d: &Def) -> Value {
    let mut v = d.body.clone();
    v["name"] = json!(d.name);
    if kind != Kind::Property {
        v["created_at"] = json!(glance_time(&d.created_at));
        v["updated_at"] = json!(glance_time(&d.updated_at));
    }
    if kind == Kind::Object {
        v["schema"] = json!("/v2/schemas/metadefs/object");
        v["self"] = json!(format!("/v2/metadefs/namespaces/{ns}/objects/{}", d.name));
    }
    v
}

fn ns_not_found(ns: &str) -> Error {
    Error::not_found(format!("Metadata definition namespace={ns} was not found."))
}

impl Image {
    fn metadef_admin(&self, ctx: &RequestContext, action: &str) -> Result<(), Error> {
        if self.is_admin(ctx) {
            Ok(())
        } else {
            Err(forbidden_action(action))
        }
    }

    /// The namespace `ns` if `ctx` may see it (public, its project's, or admin).
    async fn namespace_visible(&self, ctx: &RequestContext, ns: &str) -> Result<Def, Error> {
        let d = self.store().def_get(ns, "namespace", ns).await?.ok_or_else(|| ns_not_found(ns))?;
        let public = d.body["visibility"] == "public";
        let owned = ctx.project_id().is_some() && d.body["owner"].as_str() == ctx.project_id();
        if public || owned || self.is_admin(ctx) {
            Ok(d)
        } else {
            Err(ns_not_found(ns))
        }
    }

    /// Validates the namespace fields of a create or update body.
    fn namespace_body(&self, ctx: &RequestContext, mut m: Map<String, Value>) -> Result<(String, Value), Error> {
        let name = name_of(&Value::Object(m.clone()), "namespace")?;
        m.remove("namespace");
        for k in ["created_at", "updated_at", "schema", "self"] {
            m.remove(k);
        }
        let vis = m.get("visibility").cloned().unwrap_or(json!("private"));
        if vis != "public" && vis != "private" {
            return Err(Error::bad_request(format!("Invalid visibility {vis}: it must be public or private.")));
        }
        m.insert("visibility".into(), vis);
        let protected = m.get("protected").cloned().unwrap_or(json!(false));
        if !protected.is_boolean() {
            return Err(Error::bad_request("'protected' must be a boolean."));
        }
        m.insert("protected".into(), protected);
        if !m.contains_key("owner") {
            m.insert("owner".into(), json!(ctx.project_id().unwrap_or_default()));
        }
        Ok((name, Value::Object(m)))
    }

    pub(crate) async fn namespace_create(&self, ctx: &RequestContext, body: Value) -> Result<Value, Error> {
        self.metadef_admin(ctx, "add_metadef_namespace")?;
        let (name, mut body) = self.namespace_body(ctx, object(body)?)?;
        let rtas = body.as_object_mut().and_then(|m| m.remove("resource_type_associations"));
        for k in ["objects", "properties", "tags"] {
            if let Some(m) = body.as_object_mut() {
                m.remove(k);
            }
        }
        let now = now_iso();
        self.store().def_insert(&name, "namespace", &name, &body, &now).await.map_err(|e| {
            if e.kind == rustack_common::ErrorKind::Conflict {
                Error::conflict(format!("Metadata definition namespace={name} already exists."))
            } else {
                e
            }
        })?;
        let mut created = Vec::new();
        for rta in rtas.and_then(|v| v.as_array().cloned()).unwrap_or_default() {
            created.push(self.metadef_create(ctx, &name, Kind::ResourceType, rta).await?);
        }
        let d = self.store().def_get(&name, "namespace", &name).await?.ok_or_else(|| ns_not_found(&name))?;
        let mut v = namespace_json(&d);
        if !created.is_empty() {
            v["resource_type_associations"] = json!(created);
        }
        Ok(v)
    }

    pub(crate) async fn namespace_list(&self, ctx: &RequestContext) -> Result<Vec<Value>, Error> {
        let admin = self.is_admin(ctx);
        let me = ctx.project_id().unwrap_or_default();
        let mut out = Vec::new();
        for d in self.store().def_list(None, "namespace").await? {
            if admin || d.body["visibility"] == "public" || d.body["owner"] == me {
                out.push(namespace_json(&d));
            }
        }
        Ok(out)
    }

    pub(crate) async fn namespace_show(&self, ctx: &RequestContext, ns: &str) -> Result<Value, Error> {
        let d = self.namespace_visible(ctx, ns).await?;
        let mut v = namespace_json(&d);
        let rtas: Vec<Value> = self
            .store()
            .def_list(Some(ns), Kind::ResourceType.table())
            .await?
            .iter()
            .map(|r| child_json(ns, Kind::ResourceType, r))
            .collect();
        if !rtas.is_empty() {
            v["resource_type_associations"] = json!(rtas);
        }
        Ok(v)
    }

    pub(crate) async fn namespace_update(&self, ctx: &RequestContext, ns: &str, body: Value) -> Result<Value, Error> {
        self.namespace_visible(ctx, ns).await?;
        self.metadef_admin(ctx, "modify_metadef_namespace")?;
        let (name, body) = self.namespace_body(ctx, object(body)?)?;
        if !self.store().def_update(ns, "namespace", ns, &name, &body, &now_iso()).await? {
            return Err(ns_not_found(ns));
        }
        self.namespace_show(ctx, &name).await
    }

    pub(crate) async fn namespace_delete(&self, ctx: &RequestContext, ns: &str) -> Result<(), Error> {
        let d = self.namespace_visible(ctx, ns).await?;
        self.metadef_admin(ctx, "delete_metadef_namespace")?;
        if d.body["protected"] == true {
            return Err(Error::forbidden(format!("Namespace {ns} is protected and cannot be deleted.")));
        }
        self.store().def_delete(ns, "namespace", None).await?;
        Ok(())
    }

    pub(crate) async fn metadef_create(
        &self,
        ctx: &RequestContext,
        ns: &str,
        kind: Kind,
        body: Value,
    ) -> Result<Value, Error> {
        self.namespace_visible(ctx, ns).await?;
        self.metadef_admin(ctx, "add_metadef_object")?;
        let mut m = object(body)?;
        let name = name_of(&Value::Object(m.clone()), "name")?;
        m.remove("name");
        for k in ["created_at", "updated_at", "schema", "self"] {
            m.remove(k);
        }
        if kind == Kind::ResourceType && !RESOURCE_TYPES.contains(&name.as_str()) {
            return Err(Error::not_found(format!("Metadata definition resource-type={name} was not found.")));
        }
        self.store().def_insert(ns, kind.table(), &name, &Value::Object(m), &now_iso()).await?;
        self.metadef_show(ctx, ns, kind, &name).await
    }

    /// `POST …/tags` with `{"tags": [{"name": …}]}`: replaces the namespace's tags.
    pub(crate) async fn metadef_tags_replace(
        &self,
        ctx: &RequestContext,
        ns: &str,
        body: Value,
    ) -> Result<Vec<Value>, Error> {
        self.namespace_visible(ctx, ns).await?;
        self.metadef_admin(ctx, "add_metadef_tags")?;
        let tags = body.get("tags").and_then(Value::as_array).cloned().ok_or_else(|| {
            Error::bad_request("Provided object does not match schema 'tags': 'tags' is a required array")
        })?;
        let mut names = Vec::new();
        for t in &tags {
            let n = name_of(t, "name")?;
            if names.contains(&n) {
                return Err(Error::conflict(format!("Duplicate tag {n} in the request.")));
            }
            names.push(n);
        }
        self.store().def_delete(ns, Kind::Tag.table(), None).await?;
        let now = now_iso();
        let mut out = Vec::new();
        for n in names {
            self.store().def_insert(ns, Kind::Tag.table(), &n, &json!({}), &now).await?;
            out.push(json!({"name": n}));
        }
        Ok(out)
    }

    pub(crate) async fn metadef_list(&self, ctx: &RequestContext, ns: &str, kind: Kind) -> Result<Vec<Value>, Error> {
        self.namespace_visible(ctx, ns).await?;
        Ok(self.store().def_list(Some(ns), kind.table()).await?.iter().map(|d| child_json(ns, kind, d)).collect())
    }

    pub(crate) async fn metadef_show(
        &self,
        ctx: &RequestContext,
        ns: &str,
        kind: Kind,
        name: &str,
    ) -> Result<Value, Error> {
        self.namespace_visible(ctx, ns).await?;
        let d = self.store().def_get(ns, kind.table(), name).await?.ok_or_else(|| {
            Error::not_found(format!("Metadata definition {}={name} was not found in namespace={ns}.", kind.title()))
        })?;
        Ok(child_json(ns, kind, &d))
    }

    pub(crate) async fn metadef_update(
        &self,
        ctx: &RequestContext,
        ns: &str,
        kind: Kind,
        name: &str,
        body: Value,
    ) -> Result<Value, Error> {
        self.metadef_show(ctx, ns, kind, name).await?;
        self.metadef_admin(ctx, "modify_metadef_object")?;
        let mut m = object(body)?;
        let new_name = match m.remove("name") {
            Some(Value::String(n)) if !n.is_empty() => n,
            Some(_) => return Err(Error::bad_request("'name' must be a non-empty string.")),
            None => name.to_string(),
        };
        for k in ["created_at", "updated_at", "schema", "self"] {
            m.remove(k);
        }
        self.store().def_update(ns, kind.table(), name, &new_name, &Value::Object(m), &now_iso()).await?;
        self.metadef_show(ctx, ns, kind, &new_name).await
    }

    /// Deletes one item, or every item of `kind` with `name` None.
    pub(crate) async fn metadef_delete(
        &self,
        ctx: &RequestContext,
        ns: &str,
        kind: Kind,
        name: Option<&str>,
    ) -> Result<(), Error> {
        self.namespace_visible(ctx, ns).await?;
        self.metadef_admin(ctx, "delete_metadef_object")?;
        let n = self.store().def_delete(ns, kind.table(), name).await?;
        if n == 0 {
            if let Some(name) = name {
                return Err(Error::not_found(format!(
                    "Metadata definition {}={name} was not found in namespace={ns}.",
                    kind.title()
                )));
            }
        }
        Ok(())
    }

    /// `GET /v2/metadefs/resource_types`.
    pub(crate) fn resource_types(&self) -> Vec<Value> {
        let t = glance_time(&now_iso());
        RESOURCE_TYPES.iter().map(|n| json!({"name": n, "created_at": t, "updated_at": t})).collect()
    }
}
