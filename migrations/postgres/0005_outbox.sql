-- The onboarding mail outbox (PostgreSQL; see the SQLite twin).

ALTER TABLE users ADD COLUMN preferred_language TEXT COLLATE "C";

CREATE TABLE mail_outbox (
    id              TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    idempotency_key TEXT COLLATE "C" NOT NULL UNIQUE,
    kind            TEXT COLLATE "C" NOT NULL CHECK (kind IN ('onboarding', 'resend')),
    user_id         TEXT COLLATE "C" NOT NULL,
    recipients      TEXT COLLATE "C" NOT NULL,
    cc              TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    language        TEXT COLLATE "C" NOT NULL,
    params          TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    state           TEXT COLLATE "C" NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    not_before      BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    lease_until     BIGINT,
    last_error      TEXT COLLATE "C",
    server_reply    TEXT COLLATE "C",
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX mail_outbox_due ON mail_outbox(state, next_attempt_at);
CREATE INDEX mail_outbox_by_user ON mail_outbox(user_id, state);
