-- Which node runs the agent queue (the ACD) when several share this
-- database. The epoch grows by one at every takeover; the ACD's writes check
-- it in their own transaction, so a node that lost the lead without noticing
-- yet cannot write. A single node never touches it.

CREATE TABLE cluster_leader (
    id INTEGER PRIMARY KEY,
    epoch BIGINT NOT NULL,
    node_id TEXT,
    since BIGINT
);
INSERT INTO cluster_leader (id, epoch) VALUES (1, 0);
