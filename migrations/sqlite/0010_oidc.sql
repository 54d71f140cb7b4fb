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
