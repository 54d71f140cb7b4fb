-- Sign-in rate-limit counters shared by every node of one database: one row per limited key
-- (a SHA-256 of the scope and the client address or user name, so an attacker's input has a
-- bounded size), counting attempts in the current one-minute window. Rows of past windows are
-- purged every minute.
CREATE TABLE rate_limits (
    scope TEXT COLLATE "C" NOT NULL,
    key BYTEA NOT NULL,
    window_start BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX rate_limits_by_window ON rate_limits (window_start);
