-- The core schema (PostgreSQL): directory objects, the TAP policy and passes, API tokens,
-- audit log. The same tables, columns and meanings as migrations/sqlite/0001_core.sql:
-- timestamps are Unix milliseconds (BIGINT), ids are UUID text, flags are BOOLEAN. Foreign
-- keys are DEFERRABLE so that a directory import may write rows before the rows they name
-- within one transaction (SQLite's `defer_foreign_keys`).

CREATE TABLE users (
    id                  TEXT PRIMARY KEY NOT NULL,
    user_principal_name TEXT NOT NULL,
    upn_key             TEXT NOT NULL UNIQUE,
    display_name        TEXT,
    given_name          TEXT,
    surname             TEXT,
    mail                TEXT,
    other_mails         TEXT NOT NULL DEFAULT '[]',
    account_enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    source              TEXT NOT NULL,
    anchor              TEXT,
    manager_id          TEXT REFERENCES users(id) ON DELETE SET NULL DEFERRABLE INITIALLY IMMEDIATE,
    employee_hire_date  BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    UNIQUE (source, anchor)
);

CREATE INDEX users_by_manager ON users(manager_id);

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
    role    TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE groups (
    id           TEXT PRIMARY KEY NOT NULL,
    display_name TEXT NOT NULL,
    description  TEXT,
    source       TEXT NOT NULL,
    anchor       TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (source, anchor)
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members(user_id, group_id);

CREATE TABLE auth_method_policies (
    id         TEXT PRIMARY KEY NOT NULL,
    config     TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE temporary_access_passes (
    id                  TEXT PRIMARY KEY NOT NULL,
    user_id             TEXT NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
    secret_hash         BYTEA NOT NULL,
    created_at          BIGINT NOT NULL,
    start_date_time     BIGINT,
    lifetime_in_minutes BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    is_usable_once      BOOLEAN NOT NULL,
    first_used_at       BIGINT,
    use_count           BIGINT NOT NULL DEFAULT 0,
    failed_attempts     BIGINT NOT NULL DEFAULT 0,
    locked_at           BIGINT
);
CREATE INDEX temporary_access_passes_by_expiry ON temporary_access_passes(expires_at);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL UNIQUE,
    roles        TEXT NOT NULL,
    secret_hash  BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);

CREATE TABLE audit_log (
    seq               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,
    at                BIGINT NOT NULL,
    category          TEXT NOT NULL,
    activity          TEXT NOT NULL,
    operation_type    TEXT NOT NULL,
    success           BOOLEAN NOT NULL,
    result_reason     TEXT,
    initiator_kind    TEXT NOT NULL,
    initiator_id      TEXT,
    initiator_name    TEXT NOT NULL,
    targets           TEXT NOT NULL DEFAULT '[]',
    correlation_id    TEXT,
    details           TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX audit_log_by_activity ON audit_log(activity, seq);
