-- Passkeys, WebAuthn ceremonies and web sessions (PostgreSQL; see the SQLite twin).

CREATE TABLE webauthn_user_handles (
    user_id TEXT COLLATE "C" PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
    handle  BYTEA NOT NULL UNIQUE
);

CREATE TABLE webauthn_credentials (
    id                       TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    user_id                  TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
    credential_id            BYTEA NOT NULL UNIQUE,
    passkey                  TEXT COLLATE "C" NOT NULL,
    aaguid                   TEXT COLLATE "C" NOT NULL,
    display_name             TEXT COLLATE "C" NOT NULL,
    created_at               BIGINT NOT NULL,
    last_used_at             BIGINT,
    sign_count               BIGINT NOT NULL DEFAULT 0,
    backup_eligible          BOOLEAN NOT NULL,
    backup_state             BOOLEAN NOT NULL,
    attestation_format       TEXT COLLATE "C" NOT NULL,
    attestation_level        TEXT COLLATE "C" NOT NULL,
    attestation_certificates TEXT COLLATE "C" NOT NULL DEFAULT '[]'
);
CREATE INDEX webauthn_credentials_by_user ON webauthn_credentials(user_id, created_at);

CREATE TABLE webauthn_ceremonies (
    id          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    kind        TEXT COLLATE "C" NOT NULL CHECK (kind IN ('registration', 'authentication')),
    session_id  TEXT COLLATE "C",
    user_id     TEXT COLLATE "C" REFERENCES users(id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
    state       TEXT COLLATE "C" NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX webauthn_ceremonies_by_expiry ON webauthn_ceremonies(expires_at);

CREATE TABLE web_sessions (
    id                  TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    secret_hash         BYTEA NOT NULL,
    user_id             TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
    kind                TEXT COLLATE "C" NOT NULL CHECK (kind IN ('bootstrap', 'full')),
    created_at          BIGINT NOT NULL,
    last_seen_at        BIGINT NOT NULL,
    idle_expires_at     BIGINT NOT NULL,
    absolute_expires_at BIGINT NOT NULL
);
CREATE INDEX web_sessions_by_user ON web_sessions(user_id);
CREATE INDEX web_sessions_by_expiry ON web_sessions(absolute_expires_at);
