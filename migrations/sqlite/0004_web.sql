-- The browser side: passkeys (WebAuthn credentials), the ceremonies in flight, and sessions.
-- Timestamps are Unix milliseconds (UTC). Ids are UUID text unless stated.

-- The user handle an authenticator stores with a discoverable credential and returns at
-- sign-in. Random bytes, never the user id or user principal name: it leaves the server.
CREATE TABLE webauthn_user_handles (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    handle  BLOB NOT NULL UNIQUE
);

-- One row per registered passkey (Graph fido2AuthenticationMethod).
CREATE TABLE webauthn_credentials (
    id                       TEXT PRIMARY KEY NOT NULL,
    user_id                  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- the authenticator's credential id: unique across all users
    credential_id            BLOB NOT NULL UNIQUE,
    -- the verifier's serialised credential: public key, counter, flags
    passkey                  TEXT NOT NULL,
    aaguid                   TEXT NOT NULL,
    display_name             TEXT NOT NULL,
    created_at               INTEGER NOT NULL,
    last_used_at             INTEGER,
    sign_count               INTEGER NOT NULL DEFAULT 0,
    backup_eligible          INTEGER NOT NULL,
    backup_state             INTEGER NOT NULL,
    attestation_format       TEXT NOT NULL,
    -- 'attested' or 'notAttested' (Graph attestationLevel)
    attestation_level        TEXT NOT NULL,
    -- JSON array of base64 DER certificates
    attestation_certificates TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX webauthn_credentials_by_user ON webauthn_credentials(user_id, created_at);

-- Registration and authentication state between the options and the browser's answer.
-- Single use: the row is deleted before the answer is verified.
CREATE TABLE webauthn_ceremonies (
    id          TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('registration', 'authentication')),
    -- the session a registration belongs to; NULL for a sign-in
    session_id  TEXT,
    user_id     TEXT REFERENCES users(id) ON DELETE CASCADE,
    state       TEXT NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX webauthn_ceremonies_by_expiry ON webauthn_ceremonies(expires_at);

-- Browser sessions. The cookie carries `id.secret`; only a keyed hash of the secret is here.
CREATE TABLE web_sessions (
    id                  TEXT PRIMARY KEY NOT NULL,
    secret_hash         BLOB NOT NULL,
    user_id             TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind                TEXT NOT NULL CHECK (kind IN ('bootstrap', 'full')),
    created_at          INTEGER NOT NULL,
    last_seen_at        INTEGER NOT NULL,
    idle_expires_at     INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL
);
CREATE INDEX web_sessions_by_user ON web_sessions(user_id);
CREATE INDEX web_sessions_by_expiry ON web_sessions(absolute_expires_at);
