-- The onboarding mail outbox (PostgreSQL; see the SQLite twin).

ALTER TABLE users ADD COLUMN preferred_language TEXT;

CREATE TABLE mail_outbox (
    id              TEXT PRIMARY KEY NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('onboarding', 'resend')),
    user_id         TEXT NOT NULL,
    recipients      TEXT NOT NULL,
    cc              TEXT NOT NULL DEFAULT '[]',
    language        TEXT NOT NULL,
    params          TEXT NOT NULL DEFAULT '{}',
    state           TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    not_before      BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    lease_until     BIGINT,
    last_error      TEXT,
    server_reply    TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX mail_outbox_due ON mail_outbox(state, next_attempt_at);
CREATE INDEX mail_outbox_by_user ON mail_outbox(user_id, state);
