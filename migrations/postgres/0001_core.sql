-- The core schema (PostgreSQL): directory objects, the TAP policy and passes, API tokens,
-- audit log. The same tables, columns and meanings as migrations/sqlite/0001_core.sql:
-- timestamps are Unix milliseconds (BIGINT), ids are UUID text, flags are BOOLEAN, and text
-- compares byte by byte (COLLATE "C", as SQLite's BINARY: ordering, keyset pages and prefix
-- ranges mean the same on both engines, whatever the database's locale). Foreign
-- keys are DEFERRABLE so that a directory import may write rows before the rows they name
-- within one transaction (SQLite's `defer_foreign_keys`).

CREATE TABLE users (
    id                  TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    user_principal_name TEXT COLLATE "C" NOT NULL,
    upn_key             TEXT COLLATE "C" NOT NULL UNIQUE,
    display_name        TEXT COLLATE "C",
    given_name          TEXT COLLATE "C",
    surname             TEXT COLLATE "C",
    mail                TEXT COLLATE "C",
    other_mails         TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    account_enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    source              TEXT COLLATE "C" NOT NULL,
    anchor              TEXT COLLATE "C",
    manager_id          TEXT COLLATE "C" REFERENCES users(id) ON DELETE SET NULL DEFERRABLE INITIALLY IMMEDIATE,
    employee_hire_date  BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    UNIQUE (source, anchor)
);

CREATE INDEX users_by_manager ON users(manager_id);

CREATE TABLE user_roles (
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
    role    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE groups (
    id           TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    display_name TEXT COLLATE "C" NOT NULL,
    description  TEXT COLLATE "C",
    source       TEXT COLLATE "C" NOT NULL,
    anchor       TEXT COLLATE "C",
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (source, anchor)
);

CREATE TABLE group_members (
    group_id TEXT COLLATE "C" NOT NULL REFERENCES groups(id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
    user_id  TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members(user_id, group_id);

CREATE TABLE auth_method_policies (
    id         TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    config     TEXT COLLATE "C" NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE temporary_access_passes (
    id                  TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    user_id             TEXT COLLATE "C" NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
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
    id           TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    name         TEXT COLLATE "C" NOT NULL UNIQUE,
    roles        TEXT COLLATE "C" NOT NULL,
    secret_hash  BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);

CREATE TABLE audit_log (
    seq               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                TEXT COLLATE "C" NOT NULL UNIQUE,
    at                BIGINT NOT NULL,
    category          TEXT COLLATE "C" NOT NULL,
    activity          TEXT COLLATE "C" NOT NULL,
    operation_type    TEXT COLLATE "C" NOT NULL,
    success           BOOLEAN NOT NULL,
    result_reason     TEXT COLLATE "C",
    initiator_kind    TEXT COLLATE "C" NOT NULL,
    initiator_id      TEXT COLLATE "C",
    initiator_name    TEXT COLLATE "C" NOT NULL,
    targets           TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    correlation_id    TEXT COLLATE "C",
    details           TEXT COLLATE "C" NOT NULL DEFAULT '[]'
);
CREATE INDEX audit_log_by_activity ON audit_log(activity, seq);
