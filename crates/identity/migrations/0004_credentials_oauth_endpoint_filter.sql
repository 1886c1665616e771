-- Credentials (blobs encrypted with the credential key repository: the
-- key_hash names the primary key that encrypted a row, so rotation knows what
-- to re-encrypt), OS-OAUTH1 consumers and tokens, and OS-EP-FILTER endpoint
-- groups and project-endpoint associations. Portable SQL: TEXT and BIGINT only.
CREATE TABLE identity_credential (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    project_id TEXT,
    type TEXT NOT NULL,
    encrypted_blob TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
CREATE INDEX identity_credential_user ON identity_credential (user_id, type);
CREATE INDEX identity_credential_key ON identity_credential (key_hash);

CREATE TABLE identity_oauth_consumer (
    id TEXT PRIMARY KEY,
    description TEXT,
    secret TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE identity_oauth_request_token (
    id TEXT PRIMARY KEY,
    request_secret TEXT NOT NULL,
    verifier TEXT,
    authorizing_user_id TEXT,
    requested_project_id TEXT NOT NULL,
    role_ids TEXT,
    consumer_id TEXT NOT NULL,
    expires_at TEXT
);
CREATE INDEX identity_oauth_request_token_consumer ON identity_oauth_request_token (consumer_id);

CREATE TABLE identity_oauth_access_token (
    id TEXT PRIMARY KEY,
    access_secret TEXT NOT NULL,
    authorizing_user_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    role_ids TEXT NOT NULL,
    consumer_id TEXT NOT NULL,
    expires_at TEXT
);
CREATE INDEX identity_oauth_access_token_user ON identity_oauth_access_token (authorizing_user_id);
CREATE INDEX identity_oauth_access_token_consumer ON identity_oauth_access_token (consumer_id);

CREATE TABLE identity_endpoint_group (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT,
    filters TEXT NOT NULL
);

CREATE TABLE identity_project_endpoint (
    endpoint_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    PRIMARY KEY (endpoint_id, project_id)
);
CREATE INDEX identity_project_endpoint_project ON identity_project_endpoint (project_id);

CREATE TABLE identity_project_endpoint_group (
    endpoint_group_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    PRIMARY KEY (endpoint_group_id, project_id)
);
CREATE INDEX identity_project_endpoint_group_project ON identity_project_endpoint_group (project_id)
