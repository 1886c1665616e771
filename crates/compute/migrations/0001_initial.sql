CREATE TABLE compute_flavor (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    vcpus BIGINT NOT NULL,
    ram BIGINT NOT NULL,
    disk BIGINT NOT NULL,
    ephemeral BIGINT NOT NULL,
    swap BIGINT NOT NULL,
    rxtx_factor TEXT NOT NULL,
    is_public BIGINT NOT NULL,
    disabled BIGINT NOT NULL,
    description TEXT,
    extra_specs TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE compute_flavor_access (
    flavor_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    PRIMARY KEY (flavor_id, project_id)
);
CREATE TABLE compute_keypair (
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    id BIGINT NOT NULL,
    key_type TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    public_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, name)
);
CREATE TABLE compute_instance (
    uuid TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    host TEXT,
    vm_state TEXT NOT NULL,
    task_state TEXT,
    vcpus BIGINT NOT NULL,
    memory_mb BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted BIGINT NOT NULL,
    version BIGINT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX compute_instance_project ON compute_instance (project_id, deleted);
CREATE INDEX compute_instance_host ON compute_instance (host, deleted);
CREATE TABLE compute_instance_action (
    id TEXT PRIMARY KEY,
    instance_uuid TEXT NOT NULL,
    request_id TEXT NOT NULL,
    action TEXT NOT NULL,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    start_time TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    message TEXT,
    events TEXT NOT NULL
);
CREATE INDEX compute_instance_action_instance ON compute_instance_action (instance_uuid);
CREATE TABLE compute_server_group (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    policy TEXT NOT NULL,
    rules TEXT NOT NULL,
    members TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE compute_quota (
    scope TEXT NOT NULL,
    resource TEXT NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (scope, resource)
);
CREATE TABLE compute_aggregate (
    id BIGINT PRIMARY KEY,
    uuid TEXT NOT NULL,
    name TEXT NOT NULL,
    availability_zone TEXT,
    hosts TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT
);
CREATE TABLE compute_service (
    id BIGINT PRIMARY KEY,
    uuid TEXT NOT NULL,
    host TEXT NOT NULL,
    binary_name TEXT NOT NULL,
    disabled BIGINT NOT NULL,
    disabled_reason TEXT,
    forced_down BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT,
    UNIQUE (host, binary_name)
);
