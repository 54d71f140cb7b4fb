-- Joiner / mover / leaver events and SCIM resources (PostgreSQL; see the SQLite twin).

ALTER TABLE users ADD COLUMN personal_email TEXT COLLATE "C";

ALTER TABLE api_tokens ADD COLUMN provisioning_source TEXT COLLATE "C";

CREATE TABLE directory_events (
    seq                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind                TEXT COLLATE "C" NOT NULL CHECK (kind IN ('joiner', 'mover', 'leaver')),
    user_id             TEXT COLLATE "C" NOT NULL,
    user_principal_name TEXT COLLATE "C" NOT NULL,
    source              TEXT COLLATE "C" NOT NULL,
    at                  BIGINT NOT NULL,
    detail              TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    consumed_at         BIGINT
);
CREATE INDEX directory_events_pending ON directory_events(consumed_at, seq);

CREATE TABLE scim_users (
    user_id     TEXT COLLATE "C" PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
    source      TEXT COLLATE "C" NOT NULL,
    external_id TEXT COLLATE "C",
    body        TEXT COLLATE "C" NOT NULL,
    version     BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX scim_users_by_source ON scim_users(source, user_id);
CREATE INDEX scim_users_by_external_id ON scim_users(source, external_id);

CREATE TABLE scim_groups (
    group_id    TEXT COLLATE "C" PRIMARY KEY NOT NULL REFERENCES groups(id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
    source      TEXT COLLATE "C" NOT NULL,
    external_id TEXT COLLATE "C",
    body        TEXT COLLATE "C" NOT NULL,
    version     BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX scim_groups_by_source ON scim_groups(source, group_id);
CREATE INDEX scim_groups_by_external_id ON scim_groups(source, external_id);
