-- Directory lifecycle for the bridges: joiner / mover / leaver events, the SCIM
-- representation of provisioned objects, and tokens bound to a provisioning source.

ALTER TABLE users ADD COLUMN personal_email TEXT;

-- A token bound to a provisioning source may call /scim/v2 as that source, and nothing else.
ALTER TABLE api_tokens ADD COLUMN provisioning_source TEXT;

-- Events for onboarding to consume. No foreign key: a leaver's row may be gone.
CREATE TABLE directory_events (
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    kind                TEXT NOT NULL CHECK (kind IN ('joiner', 'mover', 'leaver')),
    user_id             TEXT NOT NULL,
    user_principal_name TEXT NOT NULL,
    source              TEXT NOT NULL,
    at                  INTEGER NOT NULL,
    detail              TEXT NOT NULL DEFAULT '{}',
    consumed_at         INTEGER
);
CREATE INDEX directory_events_pending ON directory_events(consumed_at, seq);

-- The SCIM resource as last written (without id, meta and groups, which are derived), and
-- its version for ETags.
CREATE TABLE scim_users (
    user_id     TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    source      TEXT NOT NULL,
    external_id TEXT,
    body        TEXT NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX scim_users_by_source ON scim_users(source, user_id);
CREATE INDEX scim_users_by_external_id ON scim_users(source, external_id);

CREATE TABLE scim_groups (
    group_id    TEXT PRIMARY KEY NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    source      TEXT NOT NULL,
    external_id TEXT,
    body        TEXT NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX scim_groups_by_source ON scim_groups(source, group_id);
CREATE INDEX scim_groups_by_external_id ON scim_groups(source, external_id);
