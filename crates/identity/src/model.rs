//! The identity service's entities, as stored, with their Keystone JSON form.

use serde_json::{json, Map, Value};

/// Free-form attributes Keystone keeps beside the known ones (`email`, …).
pub type Extra = Map<String, Value>;

fn with_extra(mut v: Value, extra: &Extra) -> Value {
    if let Value::Object(m) = &mut v {
        for (k, x) in extra {
            m.entry(k.clone()).or_insert_with(|| x.clone());
        }
    }
    v
}

#[derive(Debug, Clone)]
pub struct Domain {
    pub id: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub extra: Extra,
}

impl Domain {
    pub fn to_json(&self, base: &str) -> Value {
        // Keystone's domain response allows no other attributes
        json!({"id": self.id, "name": self.name, "description": self.description,
               "enabled": self.enabled, "tags": [], "options": {},
               "links": {"self": format!("{base}/v3/domains/{}", self.id)}})
    }
}

impl Domain {
    /// A domain as `GET /v3/projects?is_domain=true` shows it.
    pub fn as_project_json(&self, base: &str) -> Value {
        json!({"id": self.id, "name": self.name, "domain_id": null, "parent_id": null,
               "description": self.description, "enabled": self.enabled, "is_domain": true,
               "tags": [], "options": {},
               "links": {"self": format!("{base}/v3/projects/{}", self.id)}})
    }
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub parent_id: Option<String>,
    pub description: String,
    pub enabled: bool,
    pub extra: Extra,
}

impl Project {
    pub fn to_json(&self, base: &str) -> Value {
        // A top-level project's parent is its domain, as Keystone reports it.
        let parent = self.parent_id.clone().unwrap_or_else(|| self.domain_id.clone());
        with_extra(
            json!({"id": self.id, "name": self.name, "domain_id": self.domain_id,
                   "parent_id": parent, "description": self.description,
                   "enabled": self.enabled, "is_domain": false,
                   "tags": self.extra.get("tags").cloned().unwrap_or_else(|| json!([])),
                   "options": {},
                   "links": {"self": format!("{base}/v3/projects/{}", self.id)}}),
            &self.extra,
        )
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub enabled: bool,
    pub default_project_id: Option<String>,
    pub password_hash: Option<String>,
    pub password_expires_at: Option<String>,
    pub extra: Extra,
    /// Keystone's user options (`ignore_lockout_failure_attempts`, …).
    pub options: Extra,
    pub security: UserSecurity,
}

/// What security compliance keeps about a user.
#[derive(Debug, Clone, Default)]
pub struct UserSecurity {
    pub failed_auth_count: i64,
    pub failed_auth_at: Option<String>,
    pub last_active_at: Option<String>,
    pub password_created_at: Option<String>,
}

impl User {
    /// A boolean user option, false when unset.
    pub fn option(&self, name: &str) -> bool {
        self.options.get(name).and_then(Value::as_bool).unwrap_or(false)
    }

    pub fn to_json(&self, base: &str) -> Value {
        let mut v = json!({"id": self.id, "name": self.name, "domain_id": self.domain_id,
                           "enabled": self.enabled, "password_expires_at": self.password_expires_at,
                           "options": self.options,
                           "links": {"self": format!("{base}/v3/users/{}", self.id)}});
        if let Some(p) = &self.default_project_id {
            v["default_project_id"] = json!(p);
        }
        with_extra(v, &self.extra)
    }
}

#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    /// None shows as null, as Keystone.
    pub description: Option<String>,
    pub extra: Extra,
}

impl Group {
    pub fn to_json(&self, base: &str) -> Value {
        with_extra(
            json!({"id": self.id, "name": self.name, "domain_id": self.domain_id,
                   "description": self.description,
                   "links": {"self": format!("{base}/v3/groups/{}", self.id)}}),
            &self.extra,
        )
    }
}

#[derive(Debug, Clone)]
pub struct Role {
    pub id: String,
    pub name: String,
    /// None for a global role.
    pub domain_id: Option<String>,
    /// None shows as null, as Keystone.
    pub description: Option<String>,
    pub extra: Extra,
}

impl Role {
    pub fn to_json(&self, base: &str) -> Value {
        with_extra(
            json!({"id": self.id, "name": self.name, "domain_id": self.domain_id,
                   "description": self.description, "options": {},
                   "links": {"self": format!("{base}/v3/roles/{}", self.id)}}),
            &self.extra,
        )
    }

    /// The short form used inside implied-role and assignment answers.
    pub fn brief(&self, base: &str) -> Value {
        json!({"id": self.id, "name": self.name,
               "links": {"self": format!("{base}/v3/roles/{}", self.id)}})
    }
}

/// Who holds a role, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssignmentKind {
    UserProject,
    GroupProject,
    UserDomain,
    GroupDomain,
    UserSystem,
    GroupSystem,
}

impl AssignmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AssignmentKind::UserProject => "UserProject",
            AssignmentKind::GroupProject => "GroupProject",
            AssignmentKind::UserDomain => "UserDomain",
            AssignmentKind::GroupDomain => "GroupDomain",
            AssignmentKind::UserSystem => "UserSystem",
            AssignmentKind::GroupSystem => "GroupSystem",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "UserProject" => AssignmentKind::UserProject,
            "GroupProject" => AssignmentKind::GroupProject,
            "UserDomain" => AssignmentKind::UserDomain,
            "GroupDomain" => AssignmentKind::GroupDomain,
            "UserSystem" => AssignmentKind::UserSystem,
            "GroupSystem" => AssignmentKind::GroupSystem,
            _ => return None,
        })
    }

    pub fn is_group(self) -> bool {
        matches!(self, AssignmentKind::GroupProject | AssignmentKind::GroupDomain | AssignmentKind::GroupSystem)
    }

    pub fn target(self) -> TargetKind {
        match self {
            AssignmentKind::UserProject | AssignmentKind::GroupProject => TargetKind::Project,
            AssignmentKind::UserDomain | AssignmentKind::GroupDomain => TargetKind::Domain,
            AssignmentKind::UserSystem | AssignmentKind::GroupSystem => TargetKind::System,
        }
    }

    pub fn of(group: bool, target: TargetKind) -> Self {
        match (group, target) {
            (false, TargetKind::Project) => AssignmentKind::UserProject,
            (true, TargetKind::Project) => AssignmentKind::GroupProject,
            (false, TargetKind::Domain) => AssignmentKind::UserDomain,
            (true, TargetKind::Domain) => AssignmentKind::GroupDomain,
            (false, TargetKind::System) => AssignmentKind::UserSystem,
            (true, TargetKind::System) => AssignmentKind::GroupSystem,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetKind {
    Project,
    Domain,
    System,
}

/// The system is one target, named `all` as in Keystone.
pub const SYSTEM_TARGET: &str = "all";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub kind: AssignmentKind,
    pub actor_id: String,
    pub target_id: String,
    pub role_id: String,
    pub inherited: bool,
}

#[derive(Debug, Clone)]
pub struct Region {
    pub id: String,
    pub description: String,
    pub parent_region_id: Option<String>,
    pub extra: Extra,
}

impl Region {
    pub fn to_json(&self, base: &str) -> Value {
        with_extra(
            json!({"id": self.id, "description": self.description,
                   "parent_region_id": self.parent_region_id,
                   "links": {"self": format!("{base}/v3/regions/{}", self.id)}}),
            &self.extra,
        )
    }
}

#[derive(Debug, Clone)]
pub struct Service {
    pub id: String,
    pub service_type: String,
    pub name: String,
    /// Shown only when set, as Keystone.
    pub description: Option<String>,
    pub enabled: bool,
    pub extra: Extra,
}

impl Service {
    pub fn to_json(&self, base: &str) -> Value {
        let mut v = json!({"id": self.id, "type": self.service_type, "name": self.name,
                           "enabled": self.enabled,
                           "links": {"self": format!("{base}/v3/services/{}", self.id)}});
        if let Some(d) = &self.description {
            v["description"] = json!(d);
        }
        with_extra(v, &self.extra)
    }
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: String,
    pub service_id: String,
    pub interface: String,
    pub region_id: Option<String>,
    pub url: String,
    pub enabled: bool,
    pub extra: Extra,
}

impl Endpoint {
    pub fn to_json(&self, base: &str) -> Value {
        with_extra(
            json!({"id": self.id, "service_id": self.service_id, "interface": self.interface,
                   "region_id": self.region_id, "region": self.region_id, "url": self.url,
                   "enabled": self.enabled,
                   "links": {"self": format!("{base}/v3/endpoints/{}", self.id)}}),
            &self.extra,
        )
    }
}

#[derive(Debug, Clone)]
pub struct AppCred {
    pub id: String,
    pub name: String,
    pub user_id: String,
    pub project_id: Option<String>,
    pub secret_hash: String,
    pub description: String,
    pub expires_at: Option<String>,
    pub unrestricted: bool,
    pub role_ids: Vec<String>,
}
