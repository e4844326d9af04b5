-- Every publication of a flow from the console (or first seen in the flows
-- directory), with its full source, who published it and when. Rows are
-- never changed: a rollback publishes an earlier version again as a new row,
-- so the table is also the history of what was live when. The source of a
-- call's `calls.flow_version` (0004) is found here by its version id.
CREATE TABLE flow_versions (
    id TEXT PRIMARY KEY,
    flow_id TEXT NOT NULL,
    version TEXT NOT NULL,
    source TEXT NOT NULL,
    published_by TEXT NOT NULL,
    published_at BIGINT NOT NULL
);
CREATE INDEX flow_versions_by_flow ON flow_versions (flow_id, published_at);
