-- The Entra connector's columns of the outbox (PostgreSQL; see the SQLite twin).

ALTER TABLE mail_outbox ADD COLUMN entra_user_id TEXT COLLATE "C";
ALTER TABLE mail_outbox ADD COLUMN entra_minting_at BIGINT;
ALTER TABLE mail_outbox ADD COLUMN entra_method_id TEXT COLLATE "C";
ALTER TABLE mail_outbox ADD COLUMN entra_removal TEXT COLLATE "C"
    CHECK (entra_removal IN ('pending', 'done', 'failed'));
ALTER TABLE mail_outbox ADD COLUMN entra_removal_next_at BIGINT;
ALTER TABLE mail_outbox ADD COLUMN entra_removal_error TEXT COLLATE "C";
CREATE INDEX mail_outbox_entra_removal ON mail_outbox(entra_removal_next_at)
    WHERE entra_removal = 'pending';
