-- Written and removed by the store's health probe: a committed write that grows the database
-- by a few pages tells whether a full disk or a read-only file system has gone away.
CREATE TABLE store_probe (
    id     INTEGER PRIMARY KEY NOT NULL,
    filler BLOB NOT NULL
);
