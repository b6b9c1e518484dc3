-- The dashboard's fill-to-order latency looks up, for each of the last 500 executions, the newest fill of its symbol
-- recorded before it opened: one index probe each instead of a scan of the symbol's trades.
CREATE INDEX trades_symbol_recorded ON trades (symbol, recorded_at);
