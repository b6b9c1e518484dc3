-- The bot's ledger: every fill of our orders seen onchain, the per-symbol position
-- accumulators they feed, and the hedge executions (placed by the broker module) that cover them.
-- Amounts are exact decimal strings (never floating point); times are RFC 3339 UTC.

-- Last block whose logs are completely processed (a single row).
CREATE TABLE block_checkpoint (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    block_number INTEGER NOT NULL CHECK (block_number >= 0),
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Orderbook logs that carry at least one fill of our orders, exactly once each.
CREATE TABLE chain_events (
    id           INTEGER PRIMARY KEY,
    tx_hash      TEXT NOT NULL,
    log_index    INTEGER NOT NULL CHECK (log_index >= 0),
    block_number INTEGER NOT NULL CHECK (block_number >= 0),
    block_hash   TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('take_order_v2', 'clear_v2')),
    -- 1 while the log is not on the canonical chain (reorged out); its trades are then reverted.
    removed      INTEGER NOT NULL DEFAULT 0 CHECK (removed IN (0, 1)),
    recorded_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (tx_hash, log_index)
);
CREATE INDEX chain_events_block ON chain_events (block_number);

-- ERC-20 symbols resolved with `symbol()`, cached.
CREATE TABLE tokens (
    address     TEXT PRIMARY KEY NOT NULL,
    symbol      TEXT NOT NULL,
    resolved_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- One fill of one of our orders. `status` says whether it counts in the position accumulator.
CREATE TABLE trades (
    id                    INTEGER PRIMARY KEY,
    event_id              INTEGER NOT NULL REFERENCES chain_events (id),
    -- Which order of the event is ours: the taken order, or the alice / bob side of a clear.
    order_side            TEXT NOT NULL CHECK (order_side IN ('taken', 'alice', 'bob')),
    order_hash            TEXT NOT NULL,
    order_owner           TEXT NOT NULL,
    -- What the order gave and received, as decoded (token, symbol, exact amount).
    gave_token            TEXT NOT NULL,
    gave_symbol           TEXT NOT NULL,
    gave_amount           TEXT NOT NULL,
    received_token        TEXT NOT NULL,
    received_symbol       TEXT NOT NULL,
    received_amount       TEXT NOT NULL,
    status                TEXT NOT NULL CHECK (status IN ('recorded', 'skipped', 'reverted')),
    skip_reason           TEXT,
    -- Set for equity/USDC trades: the brokerage ticker and the owner's onchain direction.
    symbol                TEXT,
    onchain_direction     TEXT CHECK (onchain_direction IN ('buy', 'sell')),
    shares                TEXT,
    usdc                  TEXT,
    price                 TEXT,
    equity_token          TEXT,
    usdc_token            TEXT,
    recorded_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (event_id, order_side),
    CHECK ((status = 'skipped') = (skip_reason IS NOT NULL)),
    CHECK (status = 'skipped' OR (symbol IS NOT NULL AND onchain_direction IS NOT NULL
        AND shares IS NOT NULL AND usdc IS NOT NULL AND price IS NOT NULL
        AND equity_token IS NOT NULL AND usdc_token IS NOT NULL))
);
CREATE INDEX trades_symbol ON trades (symbol);

-- Per brokerage symbol: shares the owner bought and sold onchain, and shares hedged at the broker
-- (signed: positive when the broker sold). The unhedged net is bought - sold - hedged.
CREATE TABLE positions (
    symbol        TEXT PRIMARY KEY NOT NULL,
    bought_shares TEXT NOT NULL DEFAULT '0',
    sold_shares   TEXT NOT NULL DEFAULT '0',
    hedged_shares TEXT NOT NULL DEFAULT '0',
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Audit trail of reorgs: every reversal (and restoration) of a trade's effect on its position.
CREATE TABLE trade_reversals (
    id          INTEGER PRIMARY KEY,
    trade_id    INTEGER NOT NULL REFERENCES trades (id),
    action      TEXT NOT NULL CHECK (action IN ('reverted', 'restored')),
    reason      TEXT NOT NULL,
    recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Broker orders placed to hedge a position: pending -> submitted -> filled | failed.
CREATE TABLE hedge_executions (
    id               INTEGER PRIMARY KEY,
    symbol           TEXT NOT NULL,
    side             TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    shares           INTEGER NOT NULL CHECK (shares > 0),
    status           TEXT NOT NULL CHECK (status IN ('pending', 'submitted', 'filled', 'failed')),
    broker_order_id  INTEGER,
    average_price    TEXT,
    failure_reason   TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CHECK (status IN ('pending', 'failed') OR broker_order_id IS NOT NULL),
    CHECK ((status = 'filled') = (average_price IS NOT NULL))
);
-- At most one unfinished execution per symbol; a terminal status releases the symbol.
CREATE UNIQUE INDEX hedge_executions_one_open_per_symbol
    ON hedge_executions (symbol) WHERE status IN ('pending', 'submitted');

-- Which trades (and how many of their shares) each hedge execution covers.
CREATE TABLE hedge_execution_trades (
    execution_id INTEGER NOT NULL REFERENCES hedge_executions (id),
    trade_id     INTEGER NOT NULL REFERENCES trades (id),
    shares       TEXT NOT NULL,
    PRIMARY KEY (execution_id, trade_id)
);
