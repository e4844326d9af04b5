-- Customers, what they have, and the record of every call.
-- Portable between SQLite and PostgreSQL: ids are text made by hotline,
-- times are milliseconds since the Unix epoch, money is in minor units.

CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    language TEXT NOT NULL,
    account_number TEXT NOT NULL UNIQUE,
    pin_hash TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE customer_phones (
    phone TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id)
);

CREATE TABLE accounts (
    customer_id TEXT PRIMARY KEY REFERENCES customers (id),
    balance_minor BIGINT NOT NULL,
    currency TEXT NOT NULL
);

CREATE TABLE services (
    id TEXT PRIMARY KEY,
    phone TEXT NOT NULL REFERENCES customer_phones (phone),
    code TEXT NOT NULL,
    name TEXT NOT NULL
);

CREATE TABLE meter_points (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    kind TEXT NOT NULL,
    unit TEXT NOT NULL
);

CREATE TABLE meter_readings (
    id TEXT PRIMARY KEY,
    meter_id TEXT NOT NULL REFERENCES meter_points (id),
    reading BIGINT NOT NULL,
    taken_at BIGINT NOT NULL
);
CREATE INDEX meter_readings_by_meter ON meter_readings (meter_id, taken_at);

CREATE TABLE calls (
    id TEXT PRIMARY KEY,
    sip_call_id TEXT NOT NULL,
    caller TEXT NOT NULL,
    customer_id TEXT REFERENCES customers (id),
    outcome TEXT,
    started_at BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE INDEX calls_by_start ON calls (started_at);

CREATE TABLE call_events (
    id TEXT PRIMARY KEY,
    call_id TEXT NOT NULL REFERENCES calls (id),
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX call_events_by_call ON call_events (call_id, at);
