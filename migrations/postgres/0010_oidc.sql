-- The OpenID Connect provider (PostgreSQL; see the SQLite twin for what each table holds).

CREATE TABLE oidc_signing_keys (
    kid            TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    alg            TEXT COLLATE "C" NOT NULL CHECK (alg IN ('ES256', 'RS256')),
    state          TEXT COLLATE "C" NOT NULL CHECK (state IN ('next', 'current', 'retired')),
    public_jwk     TEXT COLLATE "C" NOT NULL,
    sealed_private BYTEA NOT NULL,
    certificate    BYTEA,
    created_at     BIGINT NOT NULL,
    activated_at   BIGINT,
    retired_at     BIGINT,
    publish_until  BIGINT
);
CREATE UNIQUE INDEX oidc_signing_keys_one_current ON oidc_signing_keys(alg) WHERE state = 'current';
CREATE UNIQUE INDEX oidc_signing_keys_one_next ON oidc_signing_keys(alg) WHERE state = 'next';

CREATE TABLE oidc_applications (
    id                          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    app_id                      TEXT COLLATE "C" NOT NULL UNIQUE,
    display_name                TEXT COLLATE "C" NOT NULL,
    web_redirect_uris           TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    spa_redirect_uris           TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    public_client_redirect_uris TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    id_token_signing_alg        TEXT COLLATE "C" NOT NULL DEFAULT 'ES256' CHECK (id_token_signing_alg IN ('ES256', 'RS256')),
    skip_consent                BOOLEAN NOT NULL DEFAULT FALSE,
    app_roles                   TEXT COLLATE "C" NOT NULL DEFAULT '',
    jwks                        TEXT COLLATE "C",
    created_at                  BIGINT NOT NULL,
    updated_at                  BIGINT NOT NULL
);

CREATE TABLE oidc_client_secrets (
    key_id         TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    application_id TEXT COLLATE "C" NOT NULL REFERENCES oidc_applications(id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
    display_name   TEXT COLLATE "C",
    hint           TEXT COLLATE "C" NOT NULL,
    secret_hash    BYTEA NOT NULL,
    start_at       BIGINT NOT NULL,
    end_at         BIGINT NOT NULL
);
CREATE INDEX oidc_client_secrets_by_application ON oidc_client_secrets(application_id);

CREATE TABLE oidc_session_auth (
    session_id       TEXT COLLATE "C" PRIMARY KEY NOT NULL REFERENCES web_sessions(id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
    user_id          TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
    authenticated_at BIGINT NOT NULL,
    method_id        TEXT COLLATE "C" NOT NULL,
    backup_eligible  BOOLEAN NOT NULL,
    user_verified    BOOLEAN NOT NULL
);

CREATE TABLE oidc_flows (
    id           TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    client_id    TEXT COLLATE "C" NOT NULL,
    request      TEXT COLLATE "C" NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    consented_at BIGINT
);
CREATE INDEX oidc_flows_by_expiry ON oidc_flows(expires_at);

CREATE TABLE oidc_consents (
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
    client_id  TEXT COLLATE "C" NOT NULL,
    scopes     TEXT COLLATE "C" NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

CREATE TABLE oidc_grants (
    id             TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    kind           TEXT COLLATE "C" NOT NULL CHECK (kind IN ('authorization_code', 'client_credentials')),
    client_id      TEXT COLLATE "C" NOT NULL,
    user_id        TEXT COLLATE "C" REFERENCES users(id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
    detail         TEXT COLLATE "C" NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    revoked_at     BIGINT,
    revoked_reason TEXT COLLATE "C"
);
CREATE INDEX oidc_grants_by_client ON oidc_grants(client_id);
CREATE INDEX oidc_grants_by_user ON oidc_grants(user_id);
CREATE INDEX oidc_grants_by_expiry ON oidc_grants(expires_at);

CREATE TABLE oidc_codes (
    id          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    secret_hash BYTEA NOT NULL,
    client_id   TEXT COLLATE "C" NOT NULL,
    user_id     TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
    detail      TEXT COLLATE "C" NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    grant_id    TEXT COLLATE "C"
);
CREATE INDEX oidc_codes_by_expiry ON oidc_codes(expires_at);

CREATE TABLE oidc_refresh_tokens (
    id          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    secret_hash BYTEA NOT NULL,
    grant_id    TEXT COLLATE "C" NOT NULL REFERENCES oidc_grants(id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX oidc_refresh_tokens_by_grant ON oidc_refresh_tokens(grant_id);

CREATE TABLE oidc_assertion_jtis (
    client_id  TEXT COLLATE "C" NOT NULL,
    jti        TEXT COLLATE "C" NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
