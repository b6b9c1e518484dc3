-- Several executions of a symbol may be open at once (each reserved its shares on the position when
-- it opened), but at most one may be pending: a pending order's outcome may be unknown, and it is
-- told apart at the broker from the symbol's other orders by their recorded order ids alone.
DROP INDEX hedge_executions_one_open_per_symbol;
CREATE UNIQUE INDEX hedge_executions_one_pending_per_symbol
    ON hedge_executions (symbol) WHERE status = 'pending';
-- Open executions are read every pass: an index probe, not a scan of the history.
CREATE INDEX hedge_executions_open
    ON hedge_executions (symbol) WHERE status IN ('pending', 'submitted');
