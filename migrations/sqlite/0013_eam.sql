-- Microsoft Entra's external authentication method (EAM). An application may be marked as
-- Entra's EAM client (JSON: {"tenantIds": [...], "appId": ...}); Entra users are linked to
-- tapbridge users on first use, by (tenant id, object id) — the pair Microsoft recommends as
-- the account key — so a later rename on either side does not move the link.

ALTER TABLE oidc_applications ADD COLUMN entra_eam TEXT;

CREATE TABLE eam_links (
    tenant_id    TEXT NOT NULL,
    object_id    TEXT NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    linked_at    INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, object_id)
) WITHOUT ROWID;
CREATE INDEX eam_links_by_user ON eam_links(user_id);
