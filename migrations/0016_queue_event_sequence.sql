-- The queue log in the order it was committed, for nodes that follow it:
-- every node of a cluster streams the rows after the last one it has seen
-- to its wallboards. The ACD's writes are serialised by its epoch check, so
-- the sequence grows in commit order. PostgreSQL numbers the rows; SQLite,
-- which serves a single node, leaves the column empty.

ALTER TABLE queue_events ADD COLUMN seq BIGSERIAL;
CREATE INDEX queue_events_by_seq ON queue_events (seq);
