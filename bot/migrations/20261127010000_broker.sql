-- The broker side: OAuth tokens sealed at rest, and partial fills of failed hedge executions.

-- Schwab's OAuth token set (one row): access and refresh tokens sealed together with AES-256-GCM
-- under ENCRYPTION_KEY; only the expiry times are in clear.
CREATE TABLE broker_tokens (
    id                 INTEGER PRIMARY KEY CHECK (id = 1),
    -- Bumped by every `schwad auth`: a running bot reloads the tokens when it changes, and never
    -- overwrites a newer login with a refresh of an older one.
    login_generation   INTEGER NOT NULL CHECK (login_generation > 0),
    nonce              BLOB NOT NULL,
    ciphertext         BLOB NOT NULL,
    access_expires_at  TEXT NOT NULL,
    logged_in_at       TEXT NOT NULL,
    updated_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Shares a failed (canceled, expired, rejected) order executed before it ended; only the rest
-- returned to the accumulator.
ALTER TABLE hedge_executions ADD COLUMN filled_shares INTEGER NOT NULL DEFAULT 0
    CHECK (filled_shares >= 0);
CREATE INDEX hedge_executions_order ON hedge_executions (broker_order_id);
