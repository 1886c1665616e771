-- Resource extras: domain-specific configuration, the v3 policy blobs and
-- unified limits. Project tags live in the project's `extra` JSON and
-- OS-INHERIT uses the `inherited` column of identity_assignment, so neither
-- needs a table. Portable SQL: TEXT and BIGINT only, no statement separator
-- inside comments.

-- One row per option of a domain's configuration. value is JSON text
-- (options may be strings, numbers, booleans or lists). sensitive options
-- (ldap password) are stored but never shown.
CREATE TABLE identity_domain_config (
    domain_id TEXT NOT NULL,
    group_name TEXT NOT NULL,
    option_name TEXT NOT NULL,
    value TEXT NOT NULL,
    sensitive BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (domain_id, group_name, option_name)
);

-- The v3 policy blobs (opaque to the server).
CREATE TABLE identity_policy (
    id TEXT PRIMARY KEY,
    policy_type TEXT NOT NULL,
    blob_data TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}'
);

-- Registered limits: the default of a resource of a service, optionally
-- per region. region_id is '' when there is none, so that the unique index
-- covers both kinds.
CREATE TABLE identity_registered_limit (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL,
    region_id TEXT NOT NULL DEFAULT '',
    resource_name TEXT NOT NULL,
    default_limit BIGINT NOT NULL,
    description TEXT
);
CREATE UNIQUE INDEX identity_registered_limit_key ON identity_registered_limit (service_id, region_id, resource_name);

-- Limits: a project's (or a domain's) override of a registered limit.
-- Exactly one of project_id and domain_id is set, the other is ''.
CREATE TABLE identity_limit (
    id TEXT PRIMARY KEY,
    registered_limit_id TEXT NOT NULL REFERENCES identity_registered_limit (id),
    project_id TEXT NOT NULL DEFAULT '',
    domain_id TEXT NOT NULL DEFAULT '',
    resource_limit BIGINT NOT NULL,
    description TEXT
);
CREATE UNIQUE INDEX identity_limit_key ON identity_limit (registered_limit_id, project_id, domain_id);
CREATE INDEX identity_limit_project ON identity_limit (project_id)
