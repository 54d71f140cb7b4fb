-- Microsoft Entra's external authentication method (PostgreSQL; see the SQLite twin).

ALTER TABLE oidc_applications ADD COLUMN entra_eam TEXT;

CREATE TABLE eam_links (
    tenant_id    TEXT COLLATE "C" NOT NULL,
    object_id    TEXT COLLATE "C" NOT NULL,
    user_id      TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
    linked_at    BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, object_id)
);
CREATE INDEX eam_links_by_user ON eam_links(user_id);
