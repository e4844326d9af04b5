-- What every node of a cluster shows and asks of the ACD, wherever it runs.
--
-- queue_snapshot: the ACD's latest view of its queues and agents (what
-- `GET /queue` and the wallboards show), written about once a second and
-- fenced by its epoch, so a node that does not run the ACD serves it too.
CREATE TABLE queue_snapshot (
    id INTEGER PRIMARY KEY,
    epoch BIGINT NOT NULL,
    taken_at BIGINT NOT NULL,
    body TEXT NOT NULL
);

-- agent_commands: agents' state changes (log in, log out, pause, unpause)
-- asked on a node that does not run the ACD. The ACD applies them in order,
-- each once: it claims a row (outcome `applying`) before applying it, then
-- writes the outcome, which the asking node reads back as its answer.
CREATE TABLE agent_commands (
    seq BIGSERIAL PRIMARY KEY,
    agent TEXT NOT NULL,
    input TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    epoch BIGINT,
    outcome TEXT
);
CREATE INDEX agent_commands_pending ON agent_commands (outcome, seq);

-- The Path (RFC 3327) of an agent's registration: the proxies it registered
-- through, which requests to the phone pass through again, whichever node
-- sends them.
ALTER TABLE agent_registrations ADD COLUMN path TEXT;

-- On a cluster, the node that took the call (its `[cluster] node_id`), so
-- reports can say where calls went; empty on a single node.
ALTER TABLE calls ADD COLUMN node TEXT;
