-- Tickets the IVR registers, and the outbox that delivers them to the CRM.
-- A ticket and its outbox row are written in one transaction; the
-- idempotency key (call and request type) makes a retried registration
-- return the first ticket instead of making a second.

CREATE TABLE tickets (
    id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL UNIQUE,
    number TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    customer_id TEXT REFERENCES customers (id),
    phone TEXT NOT NULL,
    fields TEXT NOT NULL,
    priority INTEGER NOT NULL,
    status TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX tickets_by_customer ON tickets (customer_id, created_at);

CREATE TABLE ticket_outbox (
    ticket_id TEXT PRIMARY KEY REFERENCES tickets (id),
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    last_error TEXT,
    delivered_at BIGINT,
    dead INTEGER NOT NULL
);
CREATE INDEX ticket_outbox_due ON ticket_outbox (delivered_at, dead, next_attempt_at);
