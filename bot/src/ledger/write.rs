//! The write path: events, trades, position accumulators, reorg reversals and the checkpoint.

use std::collections::{BTreeMap, HashMap};

use alloy_primitives::{Address, B256};
use sqlx::SqliteConnection;

use super::{Context, EventRecord, FillRecord, Ledger, LedgerError, hex};
use crate::trade::{Direction, LogKey, Shares, TokenAmount};

/// What one `apply` changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Events stored for the first time.
    pub inserted: usize,
    /// Events already stored (skipped as success).
    pub duplicates: usize,
    /// Events reorged out earlier and now back on the canonical chain.
    pub restored: usize,
    /// Events reverted because they left the canonical chain.
    pub reverted: usize,
}

impl std::ops::AddAssign for Applied {
    fn add_assign(&mut self, rhs: Self) {
        self.inserted += rhs.inserted;
        self.duplicates += rhs.duplicates;
        self.restored += rhs.restored;
        self.reverted += rhs.reverted;
    }
}

/// A log that left the canonical chain, and the block it left with. A reorg can mine the same
/// transaction again with its logs at the same indexes in a block of another hash: those logs keep
/// their key, and the removal of the old block's copy must not take them out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Removal {
    /// The log.
    pub key: LogKey,
    /// The block it was removed with.
    pub block_hash: B256,
}

/// What one [`Ledger::apply`] commits together: reverts, then new events, then the checkpoint.
#[derive(Debug, Clone, Copy, Default)]
pub struct Batch<'a> {
    events: &'a [EventRecord],
    vanished: &'a [Removal],
    /// Written into the audit record of each reverted event.
    reason: &'a str,
    checkpoint: Option<u64>,
}

impl<'a> Batch<'a> {
    /// Records `events`; those already stored in their block are skipped as duplicates, and a
    /// transaction's events in another block are reverted.
    pub fn record(events: &'a [EventRecord]) -> Self {
        Self {
            events,
            ..Self::default()
        }
    }

    /// Reverts the stored events in `vanished` still recorded in the block they left with, which
    /// left the canonical chain for `reason`.
    pub fn revert(vanished: &'a [Removal], reason: &'a str) -> Self {
        Self::default().and_revert(vanished, reason)
    }

    /// Also reverts `vanished` (before recording this batch's events).
    pub fn and_revert(self, vanished: &'a [Removal], reason: &'a str) -> Self {
        Self {
            vanished,
            reason,
            ..self
        }
    }

    /// Also advances the checkpoint to `block` (never back).
    pub fn checkpoint(self, block: u64) -> Self {
        Self {
            checkpoint: Some(block),
            ..self
        }
    }
}

impl Ledger {
    /// Commits `batch` in one transaction.
    pub async fn apply(&self, batch: Batch<'_>) -> Result<Applied, LedgerError> {
        let mut tx = self.write_tx().await?;
        let mut applied = Applied::default();
        let mut positions = PositionDeltas::default();
        for removal in batch.vanished {
            if revert_event(&mut tx, *removal, batch.reason, &mut positions).await? {
                applied.reverted += 1;
            }
        }
        let mut known = Known::load(&mut tx, batch.events).await?;
        for event in batch.events {
            record_event(&mut tx, event, &mut known, &mut applied, &mut positions).await?;
        }
        positions.write(&mut tx).await?;
        if let Some(block) = batch.checkpoint {
            let block = int(block);
            sqlx::query!(
                "INSERT INTO block_checkpoint (id, block_number) VALUES (1, ?1)
                 ON CONFLICT (id) DO UPDATE SET
                     block_number = max(block_number, excluded.block_number),
                     updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                block
            )
            .execute(&mut *tx)
            .await
            .context("advancing the checkpoint")?;
        }
        tx.commit().await.context("committing")?;
        Ok(applied)
    }

    /// Caches a token's ERC-20 symbol.
    pub async fn store_symbol(&self, token: Address, symbol: &str) -> Result<(), LedgerError> {
        let address = hex(token);
        let _turn = self.write_turn().await;
        sqlx::query!(
            "INSERT INTO tokens (address, symbol) VALUES (?1, ?2)
             ON CONFLICT (address) DO UPDATE SET symbol = excluded.symbol",
            address,
            symbol
        )
        .execute(&self.pool)
        .await
        .context("caching a token symbol")?;
        Ok(())
    }
}

/// The stored events of a batch's transactions, read in one query and kept in step with the
/// batch's own writes, so recording an event needs no lookup of its own.
#[derive(Default)]
struct Known(HashMap<String, Vec<KnownEvent>>);

struct KnownEvent {
    id: i64,
    log_index: i64,
    block_hash: String,
    removed: bool,
}

impl Known {
    async fn load(
        conn: &mut SqliteConnection,
        events: &[EventRecord],
    ) -> Result<Self, LedgerError> {
        let mut known = Self::default();
        if events.is_empty() {
            return Ok(known);
        }
        let hashes: Vec<String> = events.iter().map(|e| hex(e.key.tx_hash)).collect();
        let hashes = serde_json::Value::from(hashes).to_string();
        let rows = sqlx::query!(
            "SELECT id, tx_hash, log_index, block_hash, removed FROM chain_events
             WHERE tx_hash IN (SELECT value FROM json_each(?1))",
            hashes
        )
        .fetch_all(&mut *conn)
        .await
        .context("looking up the batch's events")?;
        for row in rows {
            known.0.entry(row.tx_hash).or_default().push(KnownEvent {
                id: row.id,
                log_index: row.log_index,
                block_hash: row.block_hash,
                removed: row.removed != 0,
            });
        }
        Ok(known)
    }
}

/// Records `event` in its block. A transaction is in one block of the canonical chain: its events
/// recorded in any other block are reverted first (a reorg mined it again elsewhere, where a log
/// index may even belong to another of its logs). The same event in the same block is a duplicate,
/// or, reverted earlier, restored.
async fn record_event(
    conn: &mut SqliteConnection,
    event: &EventRecord,
    known: &mut Known,
    applied: &mut Applied,
    positions: &mut PositionDeltas,
) -> Result<(), LedgerError> {
    let tx_hash = hex(event.key.tx_hash);
    let log_index = int(event.key.log_index);
    let block_number = int(event.block_number);
    let block_hash = hex(event.block_hash);
    let stored = known.0.entry(tx_hash.clone()).or_default();
    if stored
        .iter()
        .any(|e| !e.removed && e.block_hash != block_hash)
    {
        let elsewhere = sqlx::query_scalar!(
            "UPDATE chain_events SET removed = 1
             WHERE tx_hash = ?1 AND block_hash <> ?2 AND removed = 0 RETURNING id",
            tx_hash,
            block_hash
        )
        .fetch_all(&mut *conn)
        .await
        .context("reverting a transaction's events of another block")?;
        for event_id in elsewhere {
            let reason = "transaction mined again in another block";
            shift_trades(conn, event_id, Shift::Revert, reason, positions).await?;
            applied.reverted += 1;
        }
        for e in stored.iter_mut().filter(|e| e.block_hash != block_hash) {
            e.removed = true;
        }
    }
    if let Some(row) = stored
        .iter_mut()
        .find(|e| e.log_index == log_index && e.block_hash == block_hash)
    {
        if !row.removed {
            applied.duplicates += 1;
            return Ok(());
        }
        sqlx::query!("UPDATE chain_events SET removed = 0 WHERE id = ?1", row.id)
            .execute(&mut *conn)
            .await
            .context("restoring an event")?;
        row.removed = false;
        shift_trades(
            conn,
            row.id,
            Shift::Restore,
            "log back on the canonical chain",
            positions,
        )
        .await?;
        applied.restored += 1;
        return Ok(());
    }
    let kind = event.kind.as_str();
    let event_id = sqlx::query_scalar!(
        "INSERT INTO chain_events (tx_hash, log_index, block_number, block_hash, kind)
         VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        tx_hash,
        log_index,
        block_number,
        block_hash,
        kind
    )
    .fetch_one(&mut *conn)
    .await
    .context("inserting an event")?;
    stored.push(KnownEvent {
        id: event_id,
        log_index,
        block_hash,
        removed: false,
    });
    for fill in &event.fills {
        insert_trade(conn, event_id, fill, positions).await?;
    }
    applied.inserted += 1;
    Ok(())
}

async fn insert_trade(
    conn: &mut SqliteConnection,
    event_id: i64,
    record: &FillRecord,
    positions: &mut PositionDeltas,
) -> Result<(), LedgerError> {
    let fill = &record.fill;
    let side = fill.side.as_str();
    let order_hash = hex(fill.order_hash);
    let owner = hex(fill.owner);
    let gave_token = hex(fill.gave.token);
    let gave_amount = exact(&fill.gave);
    let received_token = hex(fill.received.token);
    let received_amount = exact(&fill.received);
    let trade = record.outcome.as_ref().ok();
    let status = if trade.is_some() {
        "recorded"
    } else {
        "skipped"
    };
    let skip_reason = record.outcome.as_ref().err().map(ToString::to_string);
    let symbol = trade.map(|t| t.ticker.to_string());
    let direction = trade.map(|t| t.direction.as_str());
    let shares = trade.map(|t| t.shares.to_string());
    let usdc = trade.map(|t| t.usdc.to_string());
    let price = trade.map(|t| t.price.to_string());
    let equity_token = trade.map(|t| hex(t.equity_token));
    let usdc_token = trade.map(|t| hex(t.usdc_token));
    sqlx::query!(
        "INSERT INTO trades (event_id, order_side, order_hash, order_owner,
             gave_token, gave_symbol, gave_amount, received_token, received_symbol, received_amount,
             status, skip_reason, symbol, onchain_direction, shares, usdc, price, equity_token, usdc_token)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
        event_id,
        side,
        order_hash,
        owner,
        gave_token,
        record.gave_symbol,
        gave_amount,
        received_token,
        record.received_symbol,
        received_amount,
        status,
        skip_reason,
        symbol,
        direction,
        shares,
        usdc,
        price,
        equity_token,
        usdc_token
    )
    .execute(&mut *conn)
    .await
    .context("inserting a trade")?;
    if let Some(trade) = trade {
        positions.add(trade.ticker.as_str(), trade.direction, trade.shares);
    }
    Ok(())
}

/// Reverts a stored, canonical event recorded in the removal's block; false when there is nothing
/// to revert (not stored, reverted already, or recorded since in another block).
async fn revert_event(
    conn: &mut SqliteConnection,
    removal: Removal,
    reason: &str,
    positions: &mut PositionDeltas,
) -> Result<bool, LedgerError> {
    let tx_hash = hex(removal.key.tx_hash);
    let log_index = int(removal.key.log_index);
    let block_hash = hex(removal.block_hash);
    let event_id = sqlx::query_scalar!(
        "UPDATE chain_events SET removed = 1
         WHERE tx_hash = ?1 AND log_index = ?2 AND block_hash = ?3 AND removed = 0 RETURNING id",
        tx_hash,
        log_index,
        block_hash
    )
    .fetch_optional(&mut *conn)
    .await
    .context("marking an event removed")?;
    let Some(event_id) = event_id else {
        return Ok(false);
    };
    shift_trades(conn, event_id, Shift::Revert, reason, positions).await?;
    Ok(true)
}

#[derive(Clone, Copy)]
enum Shift {
    Revert,
    Restore,
}

/// Takes an event's trades out of (or back into) their positions, with an audit record each.
async fn shift_trades(
    conn: &mut SqliteConnection,
    event_id: i64,
    shift: Shift,
    reason: &str,
    positions: &mut PositionDeltas,
) -> Result<(), LedgerError> {
    let (from, to, action) = match shift {
        Shift::Revert => ("recorded", "reverted", "reverted"),
        Shift::Restore => ("reverted", "recorded", "restored"),
    };
    let trades = sqlx::query!(
        r#"UPDATE trades SET status = ?3 WHERE event_id = ?1 AND status = ?2
           RETURNING id, symbol AS "symbol!", onchain_direction AS "direction!", shares AS "shares!""#,
        event_id,
        from,
        to
    )
    .fetch_all(&mut *conn)
    .await
    .context("changing trade statuses")?;
    for trade in trades {
        let direction = match trade.direction.as_str() {
            "buy" => Direction::Buy,
            "sell" => Direction::Sell,
            _ => return Err(corrupt("onchain_direction", trade.direction)),
        };
        let shares: Shares = trade
            .shares
            .parse()
            .map_err(|_| corrupt("shares", trade.shares.clone()))?;
        let delta = match shift {
            Shift::Revert => -shares,
            Shift::Restore => shares,
        };
        positions.add(&trade.symbol, direction, delta);
        sqlx::query!(
            "INSERT INTO trade_reversals (trade_id, action, reason) VALUES (?1, ?2, ?3)",
            trade.id,
            action,
            reason
        )
        .execute(&mut *conn)
        .await
        .context("auditing a reversal")?;
    }
    Ok(())
}

/// Shares bought and sold (negative to take away) per symbol by one transaction, added to the
/// positions once at its end: one read and one write per symbol instead of per trade.
#[derive(Default)]
struct PositionDeltas(BTreeMap<String, (Shares, Shares)>);

impl PositionDeltas {
    fn add(&mut self, symbol: &str, direction: Direction, shares: Shares) {
        let (bought, sold) = self
            .0
            .entry(symbol.to_owned())
            .or_insert((Shares::ZERO, Shares::ZERO));
        match direction {
            Direction::Buy => *bought = *bought + shares,
            Direction::Sell => *sold = *sold + shares,
        }
    }

    async fn write(self, conn: &mut SqliteConnection) -> Result<(), LedgerError> {
        for (symbol, (bought, sold)) in self.0 {
            shift_position(conn, &symbol, bought, sold).await?;
        }
        Ok(())
    }
}

/// Adds `bought` and `sold` shares (negative to take away) to a symbol's position.
async fn shift_position(
    conn: &mut SqliteConnection,
    symbol: &str,
    bought: Shares,
    sold: Shares,
) -> Result<(), LedgerError> {
    let current = sqlx::query!(
        "SELECT bought_shares, sold_shares FROM positions WHERE symbol = ?1",
        symbol
    )
    .fetch_optional(&mut *conn)
    .await
    .context("reading a position")?;
    let (bought, sold) = match current {
        Some(row) => (
            parse_shares("bought_shares", row.bought_shares)? + bought,
            parse_shares("sold_shares", row.sold_shares)? + sold,
        ),
        None => (bought, sold),
    };
    let (bought, sold) = (bought.to_string(), sold.to_string());
    sqlx::query!(
        "INSERT INTO positions (symbol, bought_shares, sold_shares) VALUES (?1, ?2, ?3)
         ON CONFLICT (symbol) DO UPDATE SET
             bought_shares = excluded.bought_shares,
             sold_shares = excluded.sold_shares,
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        symbol,
        bought,
        sold
    )
    .execute(&mut *conn)
    .await
    .context("updating a position")?;
    Ok(())
}

pub(super) fn parse_shares(column: &'static str, value: String) -> Result<Shares, LedgerError> {
    value.parse().map_err(|_| corrupt(column, value))
}

fn corrupt(column: &'static str, value: String) -> LedgerError {
    LedgerError::Corrupt { column, value }
}

/// The exact amount as text: a decimal, or `raw e-decimals` when it exceeds a decimal's range.
fn exact(amount: &TokenAmount) -> String {
    match amount.to_decimal() {
        Ok(value) => value.to_string(),
        Err(_) => format!("{}e-{}", amount.raw, amount.decimals),
    }
}

/// Block numbers and log indexes as SQLite integers (they never reach 2^63).
pub(super) fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
