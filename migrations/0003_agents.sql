-- Agents who take the calls the IVR hands over, their skills, and the
-- phones they registered with hotline (RFC 3261 §10 bindings).

-- No password is stored. SIP digest authentication (RFC 7616, RFC 8760)
-- only needs HA1 = H(login:realm:password) on the server, one per
-- algorithm, so that is what is kept. HA1 still lets whoever holds it
-- register as the agent in this realm, so guard the table like passwords;
-- but it does not give away the password itself, which agents may reuse
-- elsewhere. A slow salted hash (argon2 and the like) cannot be used: the
-- server must compute digest responses from what it stores. The realm is
-- kept with the hashes because they are only valid for it: after changing
-- `[registrar] realm`, every password must be set again.
CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    realm TEXT NOT NULL,
    ha1_md5 TEXT NOT NULL,
    ha1_sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    password_set_at BIGINT NOT NULL
);

CREATE TABLE agent_skills (
    agent_id TEXT NOT NULL REFERENCES agents (id),
    skill TEXT NOT NULL,
    level INTEGER NOT NULL,
    PRIMARY KEY (agent_id, skill)
);

-- Bindings live in the registrar's memory and are copied here on every
-- change, so that after a restart hotline can ring agents at once instead
-- of waiting for each phone's next registration (often an hour away).
CREATE TABLE agent_registrations (
    id TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL REFERENCES agents (id),
    contact TEXT NOT NULL,
    source TEXT NOT NULL,
    transport TEXT NOT NULL,
    call_id TEXT NOT NULL,
    cseq BIGINT NOT NULL,
    user_agent TEXT,
    expires_at BIGINT NOT NULL
);
CREATE INDEX agent_registrations_by_agent ON agent_registrations (agent_id);
