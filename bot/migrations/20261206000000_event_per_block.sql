-- no-transaction
-- A log is one event per block it was mined in: a reorg can mine a transaction again with its logs at the
-- same indexes in another block, where an index may belong to another of its logs (when transactions before it
-- were dropped), so (tx_hash, log_index) alone is no identity. SQLite cannot change a table's UNIQUE
-- constraint in place: the table is rebuilt (SQLite's documented procedure, foreign keys off meanwhile; the
-- trades keep pointing at the same ids).
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE chain_events_per_block (
    id           INTEGER PRIMARY KEY,
    tx_hash      TEXT NOT NULL,
    log_index    INTEGER NOT NULL CHECK (log_index >= 0),
    block_number INTEGER NOT NULL CHECK (block_number >= 0),
    block_hash   TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('take_order_v2', 'clear_v2')),
    -- 1 while the log is not on the canonical chain (reorged out); its trades are then reverted.
    removed      INTEGER NOT NULL DEFAULT 0 CHECK (removed IN (0, 1)),
    recorded_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (tx_hash, log_index, block_hash)
);
INSERT INTO chain_events_per_block
    (id, tx_hash, log_index, block_number, block_hash, kind, removed, recorded_at)
    SELECT id, tx_hash, log_index, block_number, block_hash, kind, removed, recorded_at FROM chain_events;
DROP TABLE chain_events;
ALTER TABLE chain_events_per_block RENAME TO chain_events;
CREATE INDEX chain_events_block ON chain_events (block_number);
COMMIT;
PRAGMA foreign_keys = ON;
