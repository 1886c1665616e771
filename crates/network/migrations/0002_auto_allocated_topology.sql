-- The auto-allocated topology of a project (GET /v2.0/auto-allocated-topology):
-- at most one per project; the primary key is what makes two concurrent
-- requests (also on two nodes) end with one topology, the loser undoing its own.
CREATE TABLE network_auto_topology (
    project_id TEXT PRIMARY KEY,
    network_id TEXT NOT NULL,
    router_id TEXT NOT NULL
);
