-- The core schema: directory objects, the TAP policy and passes, API tokens, audit log.
-- Timestamps are Unix milliseconds (UTC). Ids are UUID text.

CREATE TABLE users (
    id                  TEXT PRIMARY KEY NOT NULL,
    user_principal_name TEXT NOT NULL,
    -- lower-cased UPN: uniqueness and look-ups are case-insensitive, Unicode included
    upn_key             TEXT NOT NULL UNIQUE,
    display_name        TEXT,
    given_name          TEXT,
    surname             TEXT,
    mail                TEXT,
    other_mails         TEXT NOT NULL DEFAULT '[]',
    account_enabled     INTEGER NOT NULL DEFAULT 1,
    source              TEXT NOT NULL,
    anchor              TEXT,
    manager_id          TEXT REFERENCES users(id) ON DELETE SET NULL,
    employee_hire_date  INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    UNIQUE (source, anchor)
);

-- manager_id references users(id) ON DELETE SET NULL: deleting a user looks up its reports.
CREATE INDEX users_by_manager ON users(manager_id);

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role    TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
) WITHOUT ROWID;

CREATE TABLE groups (
    id           TEXT PRIMARY KEY NOT NULL,
    display_name TEXT NOT NULL,
    description  TEXT,
    source       TEXT NOT NULL,
    anchor       TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (source, anchor)
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX group_members_by_user ON group_members(user_id, group_id);

-- One row per method configuration (Graph authenticationMethodConfiguration), as JSON.
CREATE TABLE auth_method_policies (
    id         TEXT PRIMARY KEY NOT NULL,
    config     TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- At most one pass per user. Only a keyed hash of the pass is stored.
CREATE TABLE temporary_access_passes (
    id                  TEXT PRIMARY KEY NOT NULL,
    user_id             TEXT NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,
    secret_hash         BLOB NOT NULL,
    created_at          INTEGER NOT NULL,
    start_date_time     INTEGER,
    lifetime_in_minutes INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    is_usable_once      INTEGER NOT NULL,
    first_used_at       INTEGER,
    use_count           INTEGER NOT NULL DEFAULT 0,
    failed_attempts     INTEGER NOT NULL DEFAULT 0,
    locked_at           INTEGER
);
CREATE INDEX temporary_access_passes_by_expiry ON temporary_access_passes(expires_at);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL UNIQUE,
    roles        TEXT NOT NULL,
    secret_hash  BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

CREATE TABLE audit_log (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    id                TEXT NOT NULL UNIQUE,
    at                INTEGER NOT NULL,
    category          TEXT NOT NULL,
    activity          TEXT NOT NULL,
    operation_type    TEXT NOT NULL,
    success           INTEGER NOT NULL,
    result_reason     TEXT,
    initiator_kind    TEXT NOT NULL,
    initiator_id      TEXT,
    initiator_name    TEXT NOT NULL,
    targets           TEXT NOT NULL DEFAULT '[]',
    correlation_id    TEXT,
    details           TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX audit_log_by_activity ON audit_log(activity, seq);
