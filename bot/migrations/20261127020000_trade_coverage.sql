-- Trades whose shares are fully covered by live (not failed) hedge executions, so linking a new
-- execution reads only the trades still open instead of a symbol's whole history.
ALTER TABLE trades ADD COLUMN hedge_covered INTEGER NOT NULL DEFAULT 0
    CHECK (hedge_covered IN (0, 1));
CREATE INDEX trades_to_cover ON trades (symbol, onchain_direction)
    WHERE hedge_covered = 0 AND status = 'recorded';
