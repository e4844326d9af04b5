-- The queue log: every caller joining, announcement, offer, answer, abandon,
-- callback and agent state change, in order, as the JSON the event stream
-- carries. Service level, average speed of answer and abandonment are
-- computed from it.

CREATE TABLE queue_events (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX queue_events_by_time ON queue_events (at);
