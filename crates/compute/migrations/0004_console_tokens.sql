-- Console auth tokens (Nova's console_auth_tokens): only the sha256 of a
-- token is kept; a token is single-use (the proxy deletes it when it
-- connects) and expires (expired rows are purged when tokens are issued).
-- Times are fixed-width ISO strings (iso_micro), so they compare as text.
CREATE TABLE compute_console_token (
    token_hash TEXT PRIMARY KEY,
    instance_uuid TEXT NOT NULL,
    console_type TEXT NOT NULL,
    host TEXT NOT NULL,
    port BIGINT NOT NULL,
    internal_access_path TEXT,
    created_at TEXT NOT NULL,
    expires TEXT NOT NULL
);
CREATE INDEX compute_console_token_instance ON compute_console_token (instance_uuid);
CREATE INDEX compute_console_token_expires ON compute_console_token (expires);
