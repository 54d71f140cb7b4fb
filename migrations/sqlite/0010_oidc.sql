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

-- How each passkey session was signed in: auth_time, amr and acr of the tokens it leads to.
-- Written with the session; goes with it.
CREATE TABLE oidc_session_auth (
    session_id      TEXT PRIMARY KEY NOT NULL REFERENCES web_sessions(id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    authenticated_at INTEGER NOT NULL,
    -- the fido2AuthenticationMethod id of the passkey used
    method_id       TEXT NOT NULL,
    backup_eligible INTEGER NOT NULL,
    user_verified   INTEGER NOT NULL
);

-- Authorizations in progress: the checked request (JSON) while the user signs in (or
-- onboards with a pass and a first passkey) and consents. The id is in the pages' URLs.
CREATE TABLE oidc_flows (
    id           TEXT PRIMARY KEY NOT NULL,
    client_id    TEXT NOT NULL,
    request      TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    consented_at INTEGER
);
CREATE INDEX oidc_flows_by_expiry ON oidc_flows(expires_at);

-- What a user consented to, per application (scopes, space-separated).
CREATE TABLE oidc_consents (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
) WITHOUT ROWID;

-- An authorization and everything issued under it: access tokens name it (and are refused
-- once it is revoked), refresh tokens belong to it (one family).
CREATE TABLE oidc_grants (
    id             TEXT PRIMARY KEY NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('authorization_code', 'client_credentials')),
    client_id      TEXT NOT NULL,
    -- NULL for client credentials
    user_id        TEXT REFERENCES users(id) ON DELETE CASCADE,
    -- the claims of the sign-in (auth_time, amr, acr, nonce-free), scopes, session: JSON
    detail         TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    -- no refresh after this (client credentials: the access token's expiry)
    expires_at     INTEGER NOT NULL,
    revoked_at     INTEGER,
    revoked_reason TEXT
);
CREATE INDEX oidc_grants_by_client ON oidc_grants(client_id);
CREATE INDEX oidc_grants_by_user ON oidc_grants(user_id);
CREATE INDEX oidc_grants_by_expiry ON oidc_grants(expires_at);

-- Authorization codes: single use. The code is `id.secret`; only a keyed hash of the secret
-- is kept. `grant_id` is what the exchange issued, revoked if the code is replayed.
CREATE TABLE oidc_codes (
    id          TEXT PRIMARY KEY NOT NULL,
    secret_hash BLOB NOT NULL,
    client_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- the request's redirect URI, PKCE challenge, nonce, scopes and the sign-in: JSON
    detail      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    grant_id    TEXT
);
CREATE INDEX oidc_codes_by_expiry ON oidc_codes(expires_at);

-- Refresh tokens, rotated on every use: presenting a used one revokes its grant (family).
CREATE TABLE oidc_refresh_tokens (
    id          TEXT PRIMARY KEY NOT NULL,
    secret_hash BLOB NOT NULL,
    grant_id    TEXT NOT NULL REFERENCES oidc_grants(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX oidc_refresh_tokens_by_grant ON oidc_refresh_tokens(grant_id);

-- Client assertions (private_key_jwt) seen, until they expire: each is accepted once.
CREATE TABLE oidc_assertion_jtis (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
) WITHOUT ROWID;
