-- Bearer tokens for the admin HTTP API (`hotline tokens add|list|revoke`).
--
-- Only the SHA-256 of each token is kept. A token is 256 random bits, so a
-- fast hash is enough: nobody can guess one from its hash, and a slow salted
-- hash would only cost time on every request. Revoked tokens are kept (with
-- the time) so the list shows who had access and until when.
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
