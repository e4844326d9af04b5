-- Ticket numbers come from one counter row, taken with
-- `UPDATE ... SET next_seq = next_seq + 1 RETURNING`. The row lock makes
-- concurrent registrations queue for the next number instead of reading the
-- same MAX(seq) and colliding; it is the same statement on SQLite, which has
-- no sequences, and a registration that rolls back leaves no gap.

CREATE TABLE ticket_numbers (
    id INTEGER PRIMARY KEY,
    next_seq BIGINT NOT NULL
);
INSERT INTO ticket_numbers (id, next_seq) SELECT 1, COALESCE(MAX(seq), 0) + 1 FROM tickets;
