-- LDAP / Active Directory sync state, object index and quarantine (PostgreSQL; see the SQLite
-- twin for what each column holds).

CREATE TABLE ldap_sync_state (
    source            TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    cursor            TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    invocation_id     TEXT COLLATE "C",
    cursor_at         BIGINT,
    last_full_at      BIGINT,
    last_run_at       BIGINT,
    last_status       TEXT COLLATE "C",
    last_mode         TEXT COLLATE "C",
    last_error        TEXT COLLATE "C",
    last_duration_ms  BIGINT,
    last_counts       TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    runs_ok           BIGINT NOT NULL DEFAULT 0,
    runs_failed       BIGINT NOT NULL DEFAULT 0,
    running_until     BIGINT
);

CREATE TABLE ldap_objects (
    source      TEXT COLLATE "C" NOT NULL,
    anchor      TEXT COLLATE "C" NOT NULL,
    kind        TEXT COLLATE "C" NOT NULL CHECK (kind IN ('user', 'group')),
    object_id   TEXT COLLATE "C" NOT NULL,
    dn          TEXT COLLATE "C" NOT NULL,
    login       TEXT COLLATE "C",
    fingerprint TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (source, anchor)
);
CREATE INDEX ldap_objects_by_dn ON ldap_objects(source, dn);
CREATE INDEX ldap_objects_by_login ON ldap_objects(source, login);
CREATE INDEX ldap_objects_by_object ON ldap_objects(object_id);

CREATE TABLE ldap_quarantine (
    source     TEXT COLLATE "C" NOT NULL,
    dn         TEXT COLLATE "C" NOT NULL,
    anchor     TEXT COLLATE "C",
    reason     TEXT COLLATE "C" NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    PRIMARY KEY (source, dn)
);
