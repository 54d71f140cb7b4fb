-- The Entra connector. A message whose pass is minted in Microsoft Entra remembers the Entra
-- user and the pass it created there (the method id, never the pass), so that a retry can tell
-- its own pass from someone else's and a leaver's pass can be deleted in Entra.

ALTER TABLE mail_outbox ADD COLUMN entra_user_id TEXT;
-- Set (and committed) right before a pass is requested: a pass Entra created for the user
-- after this moment whose id never reached the outbox (a crash in between) is this message's.
ALTER TABLE mail_outbox ADD COLUMN entra_minting_at INTEGER;
ALTER TABLE mail_outbox ADD COLUMN entra_method_id TEXT;
-- The pass is to be deleted in Entra (the user left): NULL nothing to do, then 'pending' until
-- Entra confirmed ('done') or refused for good ('failed', with the reason).
ALTER TABLE mail_outbox ADD COLUMN entra_removal TEXT
    CHECK (entra_removal IN ('pending', 'done', 'failed'));
ALTER TABLE mail_outbox ADD COLUMN entra_removal_next_at INTEGER;
ALTER TABLE mail_outbox ADD COLUMN entra_removal_error TEXT;
CREATE INDEX mail_outbox_entra_removal ON mail_outbox(entra_removal_next_at)
    WHERE entra_removal = 'pending';
