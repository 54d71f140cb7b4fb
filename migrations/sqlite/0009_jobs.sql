-- Jobs that survive being killed: run locks kept alive by a heartbeat, and delivery attempts
-- whose outcome a crash left unknown.

-- A job that must not run twice at once (a sync run of one LDAP source, `ldap:<name>`) holds
-- its row here while it runs, in `serve`'s scheduler or in the CLI alike. The holder renews
-- `heartbeat_at` every few seconds; a row whose heartbeat stopped for longer than the grace
-- period belongs to a dead run and is taken over.
CREATE TABLE run_locks (
    name         TEXT PRIMARY KEY NOT NULL,
    -- Random per run: renewals, writes and the release prove they come from the holder.
    token        TEXT NOT NULL,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    -- Linux: the process's start time in clock ticks since boot (/proc/<pid>/stat), so a
    -- recycled pid is not mistaken for the holder.
    pid_start    INTEGER,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
) WITHOUT ROWID;

-- The hour-long lease this replaces: a run that died blocked its source until it lapsed.
ALTER TABLE ldap_sync_state DROP COLUMN running_until;

-- Set before a message goes on the wire (SMTP, the .eml file), in the commit that mints the
-- pass it carries, and cleared when the outcome is recorded. Still set when the message is
-- claimed again: the sender died in between, and the server may have the message.
ALTER TABLE mail_outbox ADD COLUMN handed_over_at INTEGER;
-- Attempts that may have reached the recipient without tapbridge knowing (a crash after the
-- hand-over, a connection lost while waiting for the server's reply). Once non-zero, each
-- message sent says it replaces an earlier one whose code no longer works.
ALTER TABLE mail_outbox ADD COLUMN unconfirmed_attempts INTEGER NOT NULL DEFAULT 0;
