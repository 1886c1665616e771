-- OS-TRUST trusts, and the access rules of application credentials.
-- Deleting a user ends the trusts they are party to and their access rules,
-- deleting a project ends the trusts on it, deleting a trust ends the trusts
-- redelegated from it (no semicolons in comments: statements split on them).
CREATE TABLE identity_trust (
    id TEXT PRIMARY KEY,
    trustor_user_id TEXT NOT NULL REFERENCES identity_user (id) ON DELETE CASCADE,
    trustee_user_id TEXT NOT NULL REFERENCES identity_user (id) ON DELETE CASCADE,
    project_id TEXT REFERENCES identity_project (id) ON DELETE CASCADE,
    impersonation BIGINT NOT NULL DEFAULT 0,
    expires_at TEXT,
    remaining_uses BIGINT,
    redelegated_trust_id TEXT REFERENCES identity_trust (id) ON DELETE CASCADE,
    redelegation_count BIGINT NOT NULL DEFAULT 0,
    extra TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
CREATE INDEX identity_trust_trustor ON identity_trust (trustor_user_id);
CREATE INDEX identity_trust_trustee ON identity_trust (trustee_user_id);
CREATE INDEX identity_trust_parent ON identity_trust (redelegated_trust_id);

CREATE TABLE identity_trust_role (
    trust_id TEXT NOT NULL REFERENCES identity_trust (id) ON DELETE CASCADE,
    role_id TEXT NOT NULL,
    PRIMARY KEY (trust_id, role_id)
);

-- An access rule belongs to a user and may be shared by several of their
-- application credentials.
CREATE TABLE identity_access_rule (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES identity_user (id) ON DELETE CASCADE,
    service TEXT NOT NULL,
    path TEXT NOT NULL,
    method TEXT NOT NULL
);
CREATE UNIQUE INDEX identity_access_rule_unique ON identity_access_rule (user_id, service, path, method);

CREATE TABLE identity_app_cred_access_rule (
    app_cred_id TEXT NOT NULL REFERENCES identity_app_cred (id) ON DELETE CASCADE,
    access_rule_id TEXT NOT NULL REFERENCES identity_access_rule (id) ON DELETE CASCADE,
    PRIMARY KEY (app_cred_id, access_rule_id)
);
CREATE INDEX identity_app_cred_access_rule_rule ON identity_app_cred_access_rule (access_rule_id);
