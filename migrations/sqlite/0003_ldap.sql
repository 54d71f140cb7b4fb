-- LDAP / Active Directory sync: per-source state, the index from directory objects to the
-- platform's users and groups, and entries held back as unusable.

-- One row per configured source (`ldap:<name>`): where the last delta stopped and how the
-- last run ended. Cookies and watermarks only move forward when a run completes.
CREATE TABLE ldap_sync_state (
    source            TEXT PRIMARY KEY NOT NULL,
    -- RFC 4533 cookies per base DN, AD DirSync cookies, or the highest uSNChanged /
    -- modifyTimestamp seen, as JSON: {"cookies": {"<base>": "<base64>"}, "watermark": "…"}
    cursor            TEXT NOT NULL DEFAULT '{}',
    -- AD: the invocationId of the domain controller uSNChanged values belong to.
    invocation_id     TEXT,
    cursor_at         INTEGER,
    last_full_at      INTEGER,
    last_run_at       INTEGER,
    last_status       TEXT,               -- ok | failed | guarded | dry-run
    last_mode         TEXT,               -- full | delta
    last_error        TEXT,
    last_duration_ms  INTEGER,
    -- JSON counters of the last run (added, updated, disabled, deleted, quarantined …)
    last_counts       TEXT NOT NULL DEFAULT '{}',
    runs_ok           INTEGER NOT NULL DEFAULT 0,
    runs_failed       INTEGER NOT NULL DEFAULT 0,
    -- Set while a run (from `serve` or the CLI) holds the source; a run that died leaves a
    -- lease that lapses.
    running_until     INTEGER
);

-- What tapbridge knows of each directory object it imported: the normalised DN (to resolve
-- group members and managers written as DNs), the login name (posixGroup memberUid) and a
-- fingerprint of the mapped attributes, so an unchanged entry costs no write.
CREATE TABLE ldap_objects (
    source      TEXT NOT NULL,
    anchor      TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('user', 'group')),
    object_id   TEXT NOT NULL,
    dn          TEXT NOT NULL,
    login       TEXT,
    fingerprint TEXT NOT NULL,
    PRIMARY KEY (source, anchor)
) WITHOUT ROWID;
CREATE INDEX ldap_objects_by_dn ON ldap_objects(source, dn);
CREATE INDEX ldap_objects_by_login ON ldap_objects(source, login);
CREATE INDEX ldap_objects_by_object ON ldap_objects(object_id);

-- Entries that could not be imported, one row each, until a later run imports them or they
-- disappear from the directory.
CREATE TABLE ldap_quarantine (
    source     TEXT NOT NULL,
    dn         TEXT NOT NULL,
    anchor     TEXT,
    reason     TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (source, dn)
) WITHOUT ROWID;
