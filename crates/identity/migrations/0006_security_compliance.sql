-- Security compliance: user options, failed-authentication counting for
-- lockout, last activity for inactivity, and password history.
ALTER TABLE identity_user ADD COLUMN options TEXT NOT NULL DEFAULT '{}';
ALTER TABLE identity_user ADD COLUMN failed_auth_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE identity_user ADD COLUMN failed_auth_at TEXT;
ALTER TABLE identity_user ADD COLUMN last_active_at TEXT;
CREATE TABLE identity_password_history (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES identity_user (id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX identity_password_history_user ON identity_password_history (user_id, created_at)
