-- Passes created on the admin pages, between the POST and the page that shows them (see the
-- SQLite twin).
CREATE TABLE web_pass_handovers (
    session_id TEXT COLLATE "C" NOT NULL REFERENCES web_sessions(id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
    form_id    TEXT COLLATE "C" NOT NULL,
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
    tap_id     TEXT COLLATE "C" NOT NULL,
    sealed     BYTEA,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, form_id)
);
CREATE INDEX web_pass_handovers_by_expiry ON web_pass_handovers(expires_at);
