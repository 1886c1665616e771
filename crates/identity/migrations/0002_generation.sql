-- A counter bumped by every change that affects tokens, so that nodes
-- sharing the database drop their cached validations.
CREATE TABLE identity_generation (
    id BIGINT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO identity_generation (id, value) VALUES (1, 0)
