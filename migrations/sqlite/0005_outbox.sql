-- Onboarding mail: the durable outbox, and the language a user reads mail in.

ALTER TABLE users ADD COLUMN preferred_language TEXT;

-- A message is committed here before any delivery attempt. The pass it carries is not: it is
-- minted at delivery time (see bridge/src/mail/delivery.rs).
CREATE TABLE mail_outbox (
    id              TEXT PRIMARY KEY NOT NULL,
    -- one message per (user, event): re-processing an event or a restart cannot send twice
    idempotency_key TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('onboarding', 'resend')),
    -- no foreign key: a leaver's cancelled message stays as a record
    user_id         TEXT NOT NULL,
    recipients      TEXT NOT NULL,
    cc              TEXT NOT NULL DEFAULT '[]',
    language        TEXT NOT NULL,
    params          TEXT NOT NULL DEFAULT '{}',
    state           TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    not_before      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    lease_until     INTEGER,
    last_error      TEXT,
    server_reply    TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX mail_outbox_due ON mail_outbox(state, next_attempt_at);
CREATE INDEX mail_outbox_by_user ON mail_outbox(user_id, state);
