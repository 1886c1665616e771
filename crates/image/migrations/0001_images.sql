-- Images, their members. Custom properties and tags are JSON text in the row:
-- listing filters them in the service (an image list is thousands of rows, not millions).
CREATE TABLE image_images (
    id TEXT PRIMARY KEY,
    name TEXT,
    status TEXT NOT NULL,
    visibility TEXT NOT NULL,
    protected BIGINT NOT NULL DEFAULT 0,
    os_hidden BIGINT NOT NULL DEFAULT 0,
    owner TEXT,
    disk_format TEXT,
    container_format TEXT,
    size BIGINT,
    virtual_size BIGINT,
    checksum TEXT,
    os_hash_algo TEXT,
    os_hash_value TEXT,
    min_disk BIGINT NOT NULL DEFAULT 0,
    min_ram BIGINT NOT NULL DEFAULT 0,
    location TEXT,
    staged TEXT,
    properties TEXT NOT NULL DEFAULT '{}',
    tags TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX image_images_owner ON image_images (owner);
CREATE TABLE image_members (
    image_id TEXT NOT NULL,
    member TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (image_id, member)
);
CREATE INDEX image_members_member ON image_members (member);
-- The tasks of interoperable imports (GET /v2/images/{id}/tasks).
CREATE TABLE image_tasks (
    id TEXT PRIMARY KEY,
    image_id TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT NOT NULL,
    message TEXT NOT NULL,
    request_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX image_tasks_image ON image_tasks (image_id)
