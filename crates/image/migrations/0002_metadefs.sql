-- The metadata definitions catalog: namespaces and, inside each, objects,
-- properties, tags and resource type associations, each a JSON body.
CREATE TABLE image_metadefs (
    namespace TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (namespace, kind, name)
)
