-- Passes an administrator created on the web pages, between the POST that creates one and the
-- page that shows it (post/redirect/get). The row is keyed by the administrator's session and
-- the form submission, so the same form sent again (a reload, a double click) finds it and
-- creates nothing. The pass is sealed (AES-256-GCM under a key derived from the server secret,
-- bound to this row) and wiped the first time the page shows it, or after a few minutes; a
-- row lives as long as its session.
-- Timestamps are Unix milliseconds (UTC).
CREATE TABLE web_pass_handovers (
    session_id TEXT NOT NULL REFERENCES web_sessions(id) ON DELETE CASCADE,
    -- a random id the page put in the form
    form_id    TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- the pass record created; the pass may since have been replaced or deleted
    tap_id     TEXT NOT NULL,
    -- nonce || ciphertext || tag; NULL once shown
    sealed     BLOB,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (session_id, form_id)
) WITHOUT ROWID;
CREATE INDEX web_pass_handovers_by_expiry ON web_pass_handovers(expires_at);
