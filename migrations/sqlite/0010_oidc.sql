-- The OpenID Connect provider: signing keys, applications (OAuth clients) and their secrets,
-- authorization flows in progress, codes, grants with their refresh tokens, consents, and how
-- each browser session was signed in. Timestamps are Unix milliseconds (UTC).

-- Token-signing keys. The private key is sealed (AES-256-GCM, key derived from the server
-- secret, the kid as associated data); the public JWK is published while the key is next,
-- current or retired (until publish_until).
CREATE TABLE oidc_signing_keys (
    kid            TEXT PRIMARY KEY NOT NULL,
    alg            TEXT NOT NULL CHECK (alg IN ('ES256', 'RS256')),
    state          TEXT NOT NULL CHECK (state IN ('next', 'current', 'retired')),
    public_jwk     TEXT NOT NULL,
    sealed_private BLOB NOT NULL,
    -- DER of the key's self-signed certificate (RSA keys, published as x5c)
    certificate    BLOB,
    created_at     INTEGER NOT NULL,
    activated_at   INTEGER,
    retired_at     INTEGER,
    publish_until  INTEGER
);
-- One signing and one waiting key per algorithm, whichever node rotates.
CREATE UNIQUE INDEX oidc_signing_keys_one_current ON oidc_signing_keys(alg) WHERE state = 'current';
CREATE UNIQUE INDEX oidc_signing_keys_one_next ON oidc_signing_keys(alg) WHERE state = 'next';

-- Applications (Graph `application`): the OAuth clients. Lists are JSON arrays of strings.
CREATE TABLE oidc_applications (
    id                          TEXT PRIMARY KEY NOT NULL,
    -- the client_id
    app_id                      TEXT NOT NULL UNIQUE,
    display_name                TEXT NOT NULL,
    web_redirect_uris           TEXT NOT NULL DEFAULT '[]',
    spa_redirect_uris           TEXT NOT NULL DEFAULT '[]',
    public_client_redirect_uris TEXT NOT NULL DEFAULT '[]',
    id_token_signing_alg        TEXT NOT NULL DEFAULT 'ES256' CHECK (id_token_signing_alg IN ('ES256', 'RS256')),
    skip_consent                INTEGER NOT NULL DEFAULT 0,
    -- administrative roles the application holds itself (client credentials), comma-separated
    app_roles                   TEXT NOT NULL DEFAULT '',
    -- public JWKS for private_key_jwt, JSON
    jwks                        TEXT,
    created_at                  INTEGER NOT NULL,
    updated_at                  INTEGER NOT NULL
);

-- Application secrets (Graph `passwordCredential`). Only a keyed hash of the value is kept.
CREATE TABLE oidc_client_secrets (
    key_id         TEXT PRIMARY KEY NOT NULL,
    application_id TEXT NOT NULL REFERENCES oidc_applications(id) ON DELETE CASCADE,
    display_name   TEXT,
    hint           TEXT NOT NULL,
    secret_hash    BLOB NOT NULL,
    start_at       INTEGER NOT NULL,
    end_at         INTEGER NOT NULL
);
CREATE INDEX oidc_client_secrets_by_application ON oidc_client_secrets(application_id);
