-- The queue log in the order it was committed, for nodes that follow it:
-- every node of a cluster streams the rows after the last one it has seen
-- to its wallboards. The ACD's writes are serialised by its epoch check, so
-- the sequence grows in commit order. PostgreSQL numbers the rows; SQLite,
-- which serves a single node, leaves the column empty.

ALTER TABLE queue_events ADD COLUMN seq BIGSERIAL;
CREATE INDEX queue_events_by_seq ON queue_events (seq);

-- The callers waiting in the ACD's queues, kept by the ACD while they wait:
-- when its node dies they are dropped, and the next ACD turns these rows
-- into kept places, so a caller who calls again soon gets their place back.
CREATE TABLE queue_places (
    number TEXT NOT NULL,
    queue TEXT NOT NULL,
    arrived_at BIGINT NOT NULL,
    PRIMARY KEY (number, queue)
);
