-- LDAP / Active Directory sync state, object index and quarantine (PostgreSQL; see the SQLite
-- twin for what each column holds).

CREATE TABLE ldap_sync_state (
    source            TEXT PRIMARY KEY NOT NULL,
    cursor            TEXT NOT NULL DEFAULT '{}',
    invocation_id     TEXT,
    cursor_at         BIGINT,
    last_full_at      BIGINT,
    last_run_at       BIGINT,
    last_status       TEXT,
    last_mode         TEXT,
    last_error        TEXT,
    last_duration_ms  BIGINT,
    last_counts       TEXT NOT NULL DEFAULT '{}',
    runs_ok           BIGINT NOT NULL DEFAULT 0,
    runs_failed       BIGINT NOT NULL DEFAULT 0,
    running_until     BIGINT
);

CREATE TABLE ldap_objects (
    source      TEXT NOT NULL,
    -- byte order, as SQLite compares text: keyset pages walk the primary key
    anchor      TEXT COLLATE "C" NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('user', 'group')),
    object_id   TEXT NOT NULL,
    dn          TEXT NOT NULL,
    login       TEXT,
    fingerprint TEXT NOT NULL,
    PRIMARY KEY (source, anchor)
);
CREATE INDEX ldap_objects_by_dn ON ldap_objects(source, dn);
CREATE INDEX ldap_objects_by_login ON ldap_objects(source, login);
CREATE INDEX ldap_objects_by_object ON ldap_objects(object_id);

CREATE TABLE ldap_quarantine (
    source     TEXT NOT NULL,
    dn         TEXT NOT NULL,
    anchor     TEXT,
    reason     TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    PRIMARY KEY (source, dn)
);
