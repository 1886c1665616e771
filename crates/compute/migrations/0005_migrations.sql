-- Nova's migrations table: one row per resize, cold migration and live
-- migration, with its status as the workflow moves it on (os-migrations and
-- servers/{id}/migrations read it). `id` is Nova's integer id (the next one
-- is taken under compute's write lock), `uuid` the id shown from 2.59 (for a
-- resize or cold migration, the uuid of the instance action that started
-- it). Times are fixed-width ISO strings.
CREATE TABLE compute_migration (
    id BIGINT PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    instance_uuid TEXT NOT NULL,
    migration_type TEXT NOT NULL,
    status TEXT NOT NULL,
    source_compute TEXT,
    dest_compute TEXT,
    old_flavor_id TEXT,
    new_flavor_id TEXT,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX compute_migration_instance ON compute_migration (instance_uuid);
