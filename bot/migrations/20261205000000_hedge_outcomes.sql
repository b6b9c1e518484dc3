-- Hedge executions whose order outcome may be unknown, what each decision saw, every broker order
-- an execution ever had, and links read per trade instead of per symbol.

-- When the execution's order was last sent (or about to be): an order POSTed then may appear at
-- the broker late, so the execution is placed again only after a settle period from here.
ALTER TABLE hedge_executions ADD COLUMN sent_at TEXT;
UPDATE hedge_executions SET sent_at = created_at;
-- The symbol's unhedged net (exact decimal) when the execution was opened: the decision's input.
ALTER TABLE hedge_executions ADD COLUMN unhedged_at_decision TEXT;

-- Every broker order id tied to an execution: the first one, and each order that replaced it.
CREATE TABLE hedge_order_ids (
    broker_order_id INTEGER PRIMARY KEY,
    execution_id    INTEGER NOT NULL REFERENCES hedge_executions (id),
    recorded_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
INSERT INTO hedge_order_ids (broker_order_id, execution_id)
    SELECT broker_order_id, id FROM hedge_executions WHERE broker_order_id IS NOT NULL;

-- A trade's live coverage is the sum of its links (a failed execution keeps only the links of the
-- shares it executed), read per trade.
CREATE INDEX hedge_execution_trades_trade ON hedge_execution_trades (trade_id);
-- Links of failed executions that executed nothing cover nothing any more.
DELETE FROM hedge_execution_trades WHERE execution_id IN
    (SELECT id FROM hedge_executions WHERE status = 'failed' AND filled_shares = 0);
