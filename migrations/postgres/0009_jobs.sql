-- Run locks kept alive by a heartbeat, and delivery attempts whose outcome a crash left
-- unknown (PostgreSQL; see the SQLite twin for what each column holds).

CREATE TABLE run_locks (
    name         TEXT PRIMARY KEY NOT NULL,
    token        TEXT NOT NULL,
    host         TEXT NOT NULL,
    pid          BIGINT NOT NULL,
    pid_start    BIGINT,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);

ALTER TABLE ldap_sync_state DROP COLUMN running_until;

ALTER TABLE mail_outbox ADD COLUMN handed_over_at BIGINT;
ALTER TABLE mail_outbox ADD COLUMN unconfirmed_attempts BIGINT NOT NULL DEFAULT 0;
