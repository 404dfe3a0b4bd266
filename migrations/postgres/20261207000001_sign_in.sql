-- Sign-in for the console (issue #17): passwords, sessions, invitations, failed sign-ins,
-- TOTP. Secrets are never stored in the clear: passwords as argon2id PHC strings, session
-- and invitation tokens as their SHA-256, TOTP secrets encrypted (AES-256-GCM, the nonce
-- first, the key's id beside them).

ALTER TABLE agents ADD COLUMN password_hash TEXT;
ALTER TABLE agents ADD COLUMN totp_required BOOLEAN NOT NULL DEFAULT FALSE;
-- nonce (12 bytes) || ciphertext; NULL: no TOTP.
ALTER TABLE agents ADD COLUMN totp_secret BYTEA;
ALTER TABLE agents ADD COLUMN totp_key_id TEXT;
-- FALSE while enrolled but not confirmed by a first code.
ALTER TABLE agents ADD COLUMN totp_confirmed BOOLEAN NOT NULL DEFAULT FALSE;
-- The last 30-second step a code was accepted for: a code is never accepted twice.
ALTER TABLE agents ADD COLUMN totp_last_step BIGINT;

CREATE TABLE sessions (
    id                     UUID PRIMARY KEY,
    token_sha256           BYTEA NOT NULL UNIQUE,
    agent_id               UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    created_at             TIMESTAMPTZ NOT NULL,
    last_seen_at           TIMESTAMPTZ NOT NULL,
    expires_at             TIMESTAMPTZ NOT NULL,
    user_agent             TEXT,
    client_addr            TEXT,
    revoked_at             TIMESTAMPTZ,
    -- TRUE until the second factor is given (or, when it is required, enrolled).
    second_factor_pending  BOOLEAN NOT NULL
);
CREATE INDEX sessions_agent ON sessions (agent_id, created_at);

CREATE TABLE invitations (
    id            UUID PRIMARY KEY,
    token_sha256  BYTEA NOT NULL UNIQUE,
    agent_id      UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    purpose       TEXT NOT NULL CHECK (purpose IN ('invite', 'reset')),
    created_by    UUID REFERENCES agents (id) ON DELETE SET NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    used_at       TIMESTAMPTZ
);
CREATE INDEX invitations_agent ON invitations (agent_id);

-- Failed sign-ins, kept for the rate limit (shared by every instance) and the audit.
-- `account` is the email as typed, lower-cased (an unknown one too).
CREATE TABLE sign_in_failures (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account      TEXT NOT NULL,
    agent_id     UUID REFERENCES agents (id) ON DELETE SET NULL,
    client_addr  TEXT NOT NULL,
    at           TIMESTAMPTZ NOT NULL
);
CREATE INDEX sign_in_failures_account ON sign_in_failures (account, at);
CREATE INDEX sign_in_failures_client ON sign_in_failures (client_addr, at);

-- One row: what admins set about sign-in.
CREATE TABLE security_settings (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    totp_mandatory  BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at      TIMESTAMPTZ,
    updated_by      UUID REFERENCES agents (id) ON DELETE SET NULL
);
INSERT INTO security_settings (id, totp_mandatory) VALUES (1, FALSE);
