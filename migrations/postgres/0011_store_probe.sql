-- Written and removed by the store's health probe (see the SQLite twin).
CREATE TABLE store_probe (
    id     BIGINT PRIMARY KEY NOT NULL,
    filler BYTEA NOT NULL
);
