-- Sessions bound to the pass that opened them, and an audit log that floods cannot grow
-- without bound.

-- A bootstrap session remembers its pass: deleting, replacing or locking the pass ends it in
-- the same transaction, and every request re-checks that the pass is still usable. The
-- foreign key ends the sessions of a pass that goes any other way (the purge).
ALTER TABLE web_sessions ADD COLUMN tap_id TEXT
    REFERENCES temporary_access_passes(id) ON DELETE CASCADE;
CREATE INDEX web_sessions_by_tap ON web_sessions(tap_id) WHERE tap_id IS NOT NULL;
-- A bootstrap session from before cannot be tied to its pass; it lives 15 minutes at most by
-- default, so ending it costs a sign-in at worst.
DELETE FROM web_sessions WHERE kind = 'bootstrap';

-- The client address of an unauthenticated attempt (Graph's initiatedBy.user.ipAddress).
ALTER TABLE audit_log ADD COLUMN client_address TEXT;
-- Repeated identical failures share one row: the first occurrence's time in `at`, the last
-- in `last_at`, how many in `occurrences`. `coalesce_key` is set on rows that may absorb
-- later repeats (see plugin/src/store/audit.rs).
ALTER TABLE audit_log ADD COLUMN coalesce_key TEXT;
ALTER TABLE audit_log ADD COLUMN occurrences INTEGER NOT NULL DEFAULT 1;
ALTER TABLE audit_log ADD COLUMN last_at INTEGER;
CREATE INDEX audit_log_by_coalesce_key ON audit_log(coalesce_key, at)
    WHERE coalesce_key IS NOT NULL;
-- The retention purge finds old rows by time.
CREATE INDEX audit_log_by_time ON audit_log(at);
