-- The identity core. Portable SQL: TEXT and BIGINT only (booleans 0/1,
-- times as ISO 8601 text, free-form attributes as JSON text in `extra`).
CREATE TABLE identity_domain (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    enabled BIGINT NOT NULL DEFAULT 1,
    extra TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX identity_domain_name ON identity_domain (name);

CREATE TABLE identity_project (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    domain_id TEXT NOT NULL REFERENCES identity_domain (id),
    parent_id TEXT REFERENCES identity_project (id),
    description TEXT NOT NULL DEFAULT '',
    enabled BIGINT NOT NULL DEFAULT 1,
    extra TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX identity_project_name ON identity_project (domain_id, name);
CREATE INDEX identity_project_parent ON identity_project (parent_id);

CREATE TABLE identity_user (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    domain_id TEXT NOT NULL REFERENCES identity_domain (id),
    enabled BIGINT NOT NULL DEFAULT 1,
    default_project_id TEXT,
    password_hash TEXT,
    password_created_at TEXT,
    password_expires_at TEXT,
    created_at TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX identity_user_name ON identity_user (domain_id, name);

CREATE TABLE identity_group (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    domain_id TEXT NOT NULL REFERENCES identity_domain (id),
    description TEXT,
    extra TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX identity_group_name ON identity_group (domain_id, name);

CREATE TABLE identity_group_member (
    group_id TEXT NOT NULL REFERENCES identity_group (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES identity_user (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX identity_group_member_user ON identity_group_member (user_id);

-- domain_id is '' for a global role (so the unique index covers both kinds).
CREATE TABLE identity_role (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    domain_id TEXT NOT NULL DEFAULT '',
    description TEXT,
    extra TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX identity_role_name ON identity_role (name, domain_id);

CREATE TABLE identity_implied_role (
    prior_role_id TEXT NOT NULL REFERENCES identity_role (id) ON DELETE CASCADE,
    implied_role_id TEXT NOT NULL REFERENCES identity_role (id) ON DELETE CASCADE,
    PRIMARY KEY (prior_role_id, implied_role_id)
);

-- kind: UserProject, GroupProject, UserDomain, GroupDomain, UserSystem, GroupSystem.
-- target_id is 'all' for the system.
CREATE TABLE identity_assignment (
    kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    target_id TEXT NOT NULL,
    role_id TEXT NOT NULL REFERENCES identity_role (id) ON DELETE CASCADE,
    inherited BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, actor_id, target_id, role_id, inherited)
);
CREATE INDEX identity_assignment_actor ON identity_assignment (actor_id);
CREATE INDEX identity_assignment_target ON identity_assignment (target_id);

CREATE TABLE identity_region (
    id TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    parent_region_id TEXT REFERENCES identity_region (id),
    extra TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE identity_service (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    description TEXT,
    enabled BIGINT NOT NULL DEFAULT 1,
    extra TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE identity_endpoint (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES identity_service (id) ON DELETE CASCADE,
    interface TEXT NOT NULL,
    region_id TEXT REFERENCES identity_region (id),
    url TEXT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 1,
    extra TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE identity_app_cred (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES identity_user (id) ON DELETE CASCADE,
    project_id TEXT,
    secret_hash TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    expires_at TEXT,
    unrestricted BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX identity_app_cred_name ON identity_app_cred (user_id, name);

CREATE TABLE identity_app_cred_role (
    app_cred_id TEXT NOT NULL REFERENCES identity_app_cred (id) ON DELETE CASCADE,
    role_id TEXT NOT NULL,
    PRIMARY KEY (app_cred_id, role_id)
);

-- Revocation events, Keystone's model: a token matches an event when every
-- set field matches and it was issued at or before issued_before.
CREATE TABLE identity_revocation (
    id TEXT PRIMARY KEY,
    audit_id TEXT,
    audit_chain_id TEXT,
    user_id TEXT,
    project_id TEXT,
    domain_id TEXT,
    role_id TEXT,
    issued_before TEXT NOT NULL,
    revoked_at TEXT NOT NULL
);
