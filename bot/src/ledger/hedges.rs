//! Hedge executions: `pending → submitted(order id) → filled | failed`, each step committed
//! before the next side effect. A symbol may have several open executions, at most one of them
//! pending. Opening one reserves its shares on the position (so the same shares are never
//! ordered twice, whichever orders are still open), records the unhedged net it decided on, and links it to the
//! trades it covers (oldest open ones first, read through an index: never a symbol's history); a
//! failure returns the unexecuted shares to the accumulator and keeps the links of the executed
//! ones.

use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::SqliteConnection;

use super::write::parse_shares;
use super::{Context, Ledger, LedgerError};
use crate::hedge::{self, BrokerSide, Position};
use crate::trade::{Shares, Ticker};

/// An execution that is not terminal yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    pub id: i64,
    pub ticker: Ticker,
    /// Buy or sell at the broker.
    pub side: BrokerSide,
    /// Whole shares ordered.
    pub shares: u64,
    /// Pending, or submitted with the broker's order id.
    pub order_id: Option<i64>,
    /// When it was opened (before the order was sent).
    pub created_at: DateTime<Utc>,
    /// When its order was last sent (or about to be: an execution is opened right before).
    pub sent_at: DateTime<Utc>,
}

/// What a person decided about a pending execution the bot could not resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// This broker order is the execution's.
    Order(i64),
    /// None of the broker's orders is the execution's: its shares are hedged again.
    NotPlaced,
}

/// How a person's decision ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    /// Recorded.
    Applied,
    /// No execution has that id.
    NoSuchExecution,
    /// The execution is not pending (any more): nothing was changed.
    NotPending,
    /// The order is already another execution's: nothing was changed.
    OrderTaken,
}

fn parse_time(column: &'static str, text: &str) -> Result<DateTime<Utc>, LedgerError> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| LedgerError::Corrupt {
            column,
            value: text.to_owned(),
        })
}

fn side_of(text: &str) -> Result<BrokerSide, LedgerError> {
    match text {
        "buy" => Ok(BrokerSide::Buy),
        "sell" => Ok(BrokerSide::Sell),
        other => Err(LedgerError::Corrupt {
            column: "hedge_executions.side",
            value: other.to_owned(),
        }),
    }
}

impl Ledger {
    /// Every pending or submitted execution, oldest first.
    pub async fn open_executions(&self) -> Result<Vec<Execution>, LedgerError> {
        let rows = sqlx::query!(
            r#"SELECT id, symbol, side, shares, broker_order_id, created_at,
                   COALESCE(sent_at, created_at) AS "sent_at!: String"
               FROM hedge_executions WHERE status IN ('pending', 'submitted') ORDER BY id"#
        )
        .fetch_all(&self.pool)
        .await
        .context("reading open hedge executions")?;
        rows.into_iter()
            .map(|row| {
                let corrupt =
                    |column: &'static str, value: String| LedgerError::Corrupt { column, value };
                Ok(Execution {
                    id: row.id,
                    ticker: Ticker::parse(&row.symbol)
                        .ok_or_else(|| corrupt("hedge_executions.symbol", row.symbol.clone()))?,
                    side: side_of(&row.side)?,
                    shares: u64::try_from(row.shares)
                        .map_err(|_| corrupt("hedge_executions.shares", row.shares.to_string()))?,
                    order_id: row.broker_order_id,
                    created_at: parse_time("hedge_executions.created_at", &row.created_at)?,
                    sent_at: parse_time("hedge_executions.sent_at", &row.sent_at)?,
                })
            })
            .collect()
    }

    /// Every broker order id ever tied to an execution (replaced ones included).
    pub async fn known_order_ids(&self) -> Result<HashSet<i64>, LedgerError> {
        let ids = sqlx::query_scalar!("SELECT broker_order_id FROM hedge_order_ids")
            .fetch_all(&self.pool)
            .await
            .context("reading broker order ids")?;
        Ok(ids.into_iter().collect())
    }

    /// Per symbol: the net whole shares the broker executed for the bot's hedges (positive when
    /// it bought) and whether an execution of the symbol is still open.
    pub async fn executed_hedges(&self) -> Result<BTreeMap<String, (i64, bool)>, LedgerError> {
        let rows = sqlx::query!(
            r#"SELECT symbol AS "symbol!",
                   SUM(CASE WHEN side = 'buy' THEN filled_shares ELSE -filled_shares END)
                       AS "net!: i64",
                   MAX(status IN ('pending', 'submitted')) AS "open!: bool"
               FROM hedge_executions GROUP BY symbol"#
        )
        .fetch_all(&self.pool)
        .await
        .context("reading executed hedges")?;
        Ok(rows
            .into_iter()
            .map(|row| (row.symbol, (row.net, row.open)))
            .collect())
    }

    /// In one transaction: plans `ticker`'s hedge from its position as it is now (less the shares
    /// its open executions reserved) and, if one is due and none of the symbol's executions is
    /// pending, opens it as `pending`, reserves its shares and links the trades it covers.
    pub async fn begin_execution(&self, ticker: &Ticker) -> Result<Option<Execution>, LedgerError> {
        Ok(self
            .begin_executions(std::slice::from_ref(ticker))
            .await?
            .pop())
    }

    /// [`Self::begin_execution`] for each of `tickers`, all in one transaction (one commit).
    pub async fn begin_executions(
        &self,
        tickers: &[Ticker],
    ) -> Result<Vec<Execution>, LedgerError> {
        let mut tx = self.write_tx().await?;
        let mut opened = Vec::with_capacity(tickers.len());
        for ticker in tickers {
            opened.extend(begin_in(&mut tx, ticker).await?);
        }
        tx.commit()
            .await
            .context("committing new hedge executions")?;
        Ok(opened)
    }

    /// Records that a pending execution's order is about to be sent again (its absence at the
    /// broker established).
    pub async fn mark_sending(&self, id: i64) -> Result<(), LedgerError> {
        let _turn = self.write_turn().await;
        sqlx::query!(
            "UPDATE hedge_executions SET sent_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
                 updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE id = ?1 AND status = 'pending'",
            id
        )
        .execute(&self.pool)
        .await
        .context("recording a hedge order about to be sent")?;
        Ok(())
    }

    /// A submitted execution's order was replaced at the broker: it follows the replacing order.
    pub async fn follow_replacement(
        &self,
        id: i64,
        replaced: i64,
        replacing: i64,
    ) -> Result<(), LedgerError> {
        let mut tx = self.write_tx().await?;
        let moved = sqlx::query!(
            "UPDATE hedge_executions SET broker_order_id = ?3,
                 updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE id = ?1 AND broker_order_id = ?2 AND status = 'submitted'",
            id,
            replaced,
            replacing
        )
        .execute(&mut *tx)
        .await
        .context("following a replacing order")?;
        if moved.rows_affected() == 1 {
            record_order_id(&mut tx, id, replacing).await?;
        }
        tx.commit().await.context("committing a replacing order")?;
        Ok(())
    }

    /// `pending → submitted`: the broker accepted the order (or it was found there).
    pub async fn mark_submitted(&self, id: i64, order_id: i64) -> Result<(), LedgerError> {
        self.mark_submitted_all(&[(id, order_id)]).await
    }

    /// [`Self::mark_submitted`] for each `(execution, order id)`, in one transaction.
    pub async fn mark_submitted_all(&self, submitted: &[(i64, i64)]) -> Result<(), LedgerError> {
        let mut tx = self.write_tx().await?;
        for &(id, order_id) in submitted {
            submit_in(&mut tx, id, order_id).await?;
        }
        tx.commit()
            .await
            .context("committing a submitted hedge execution")?;
        Ok(())
    }

    /// `submitted → filled` at the average price; releases the symbol.
    pub async fn mark_filled(&self, id: i64, average_price: Decimal) -> Result<(), LedgerError> {
        let price = average_price.normalize().to_string();
        let _turn = self.write_turn().await;
        sqlx::query!(
            "UPDATE hedge_executions SET status = 'filled', average_price = ?2,
                 filled_shares = shares, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE id = ?1 AND status = 'submitted'",
            id,
            price
        )
        .execute(&self.pool)
        .await
        .context("marking a hedge execution filled")?;
        Ok(())
    }

    /// `→ failed`: releases the symbol and returns the unexecuted shares to the accumulator, in
    /// one transaction.
    pub async fn mark_failed(
        &self,
        id: i64,
        reason: &str,
        filled_shares: u64,
    ) -> Result<(), LedgerError> {
        let mut tx = self.write_tx().await?;
        fail_in(&mut tx, id, reason, filled_shares).await?;
        tx.commit()
            .await
            .context("committing a failed hedge execution")?;
        Ok(())
    }

    /// A person's decision on a pending execution whose order the bot cannot tell apart (several
    /// candidates at the broker): checked and applied in one write transaction, so a running
    /// bot's own update cannot interleave.
    pub async fn decide(&self, id: i64, decision: Decision) -> Result<Decided, LedgerError> {
        let mut tx = self.write_tx().await?;
        let status = sqlx::query_scalar!("SELECT status FROM hedge_executions WHERE id = ?1", id)
            .fetch_optional(&mut *tx)
            .await
            .context("reading a hedge execution's status")?;
        match status.as_deref() {
            None => return Ok(Decided::NoSuchExecution),
            Some("pending") => {}
            Some(_) => return Ok(Decided::NotPending),
        }
        match decision {
            Decision::Order(order_id) => {
                let known = sqlx::query_scalar!("SELECT broker_order_id FROM hedge_order_ids")
                    .fetch_all(&mut *tx)
                    .await
                    .context("reading broker order ids")?;
                if known.contains(&order_id) {
                    return Ok(Decided::OrderTaken);
                }
                submit_in(&mut tx, id, order_id).await?;
            }
            Decision::NotPlaced => {
                fail_in(
                    &mut tx,
                    id,
                    "a person found none of the broker's orders to be this hedge's",
                    0,
                )
                .await?;
            }
        }
        tx.commit()
            .await
            .context("committing a person's decision on a hedge execution")?;
        Ok(Decided::Applied)
    }
}

/// Plans `ticker`'s hedge and opens it as `pending` (see [`Ledger::begin_execution`]).
async fn begin_in(
    conn: &mut SqliteConnection,
    ticker: &Ticker,
) -> Result<Option<Execution>, LedgerError> {
    let symbol = ticker.as_str();
    let row = sqlx::query!(
        "SELECT bought_shares, sold_shares, hedged_shares FROM positions WHERE symbol = ?1",
        symbol
    )
    .fetch_optional(&mut *conn)
    .await
    .context("reading a position")?;
    let Some(row) = row else {
        return Ok(None);
    };
    let position = Position {
        ticker: ticker.clone(),
        bought: parse_shares("bought_shares", row.bought_shares)?,
        sold: parse_shares("sold_shares", row.sold_shares)?,
        hedged: parse_shares("hedged_shares", row.hedged_shares)?,
    };
    let Some(intent) = hedge::plan(&position) else {
        return Ok(None);
    };
    let side = intent.side.as_str();
    let shares = i64::try_from(intent.shares).unwrap_or(i64::MAX);
    let unhedged = position.net().to_string();
    // Opened right before its order is sent: `sent_at` is set with it.
    let inserted = sqlx::query!(
        "INSERT INTO hedge_executions (symbol, side, shares, status, unhedged_at_decision,
                 sent_at)
             VALUES (?1, ?2, ?3, 'pending', ?4, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
             ON CONFLICT DO NOTHING
             RETURNING id, created_at",
        symbol,
        side,
        shares,
        unhedged
    )
    .fetch_optional(&mut *conn)
    .await
    .context("opening a hedge execution")?;
    let Some(inserted) = inserted else {
        return Ok(None); // an execution of the symbol is already pending
    };
    set_hedged(
        conn,
        symbol,
        position.hedged + intent.side.offset(intent.shares),
    )
    .await?;
    link_trades(conn, inserted.id, symbol, intent.side, intent.shares).await?;
    let created_at = parse_time("hedge_executions.created_at", &inserted.created_at)?;
    Ok(Some(Execution {
        id: inserted.id,
        ticker: ticker.clone(),
        side: intent.side,
        shares: intent.shares,
        order_id: None,
        created_at,
        sent_at: created_at,
    }))
}

/// `pending → submitted` with `order_id`, and the order id recorded as the execution's.
async fn submit_in(conn: &mut SqliteConnection, id: i64, order_id: i64) -> Result<(), LedgerError> {
    let marked = sqlx::query!(
        "UPDATE hedge_executions SET status = 'submitted', broker_order_id = ?2,
                 updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE id = ?1 AND status = 'pending'",
        id,
        order_id
    )
    .execute(&mut *conn)
    .await
    .context("marking a hedge execution submitted")?;
    if marked.rows_affected() == 1 {
        record_order_id(conn, id, order_id).await?;
    }
    Ok(())
}

/// `→ failed` with `filled_shares` executed: the links of the rest and their shares go back to
/// the accumulator.
async fn fail_in(
    conn: &mut SqliteConnection,
    id: i64,
    reason: &str,
    filled_shares: u64,
) -> Result<(), LedgerError> {
    let filled = i64::try_from(filled_shares).unwrap_or(i64::MAX);
    let row = sqlx::query!(
        "UPDATE hedge_executions SET status = 'failed', failure_reason = ?2,
                 filled_shares = min(?3, shares),
                 updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE id = ?1 AND status IN ('pending', 'submitted')
             RETURNING symbol, side, shares, filled_shares",
        id,
        reason,
        filled
    )
    .fetch_optional(&mut *conn)
    .await
    .context("marking a hedge execution failed")?;
    let Some(row) = row else {
        return Ok(());
    };
    keep_executed_links(conn, id, row.filled_shares).await?;
    let hedged = sqlx::query_scalar!(
        "SELECT hedged_shares FROM positions WHERE symbol = ?1",
        row.symbol
    )
    .fetch_one(&mut *conn)
    .await
    .context("reading a position")?;
    let unexecuted = u64::try_from(row.shares - row.filled_shares).unwrap_or(0);
    let hedged = parse_shares("hedged_shares", hedged)? - side_of(&row.side)?.offset(unexecuted);
    set_hedged(conn, &row.symbol, hedged).await?;
    Ok(())
}

async fn record_order_id(
    conn: &mut SqliteConnection,
    execution_id: i64,
    order_id: i64,
) -> Result<(), LedgerError> {
    sqlx::query!(
        "INSERT INTO hedge_order_ids (broker_order_id, execution_id) VALUES (?1, ?2)
         ON CONFLICT DO NOTHING",
        order_id,
        execution_id
    )
    .execute(&mut *conn)
    .await
    .context("recording a broker order id")?;
    Ok(())
}

/// Trims a failed execution's links to the `executed` shares (oldest trades first): the rest
/// of each trade is open to the next execution again.
async fn keep_executed_links(
    conn: &mut SqliteConnection,
    execution_id: i64,
    executed: i64,
) -> Result<(), LedgerError> {
    let links = sqlx::query!(
        "SELECT trade_id, shares FROM hedge_execution_trades WHERE execution_id = ?1
         ORDER BY trade_id",
        execution_id
    )
    .fetch_all(&mut *conn)
    .await
    .context("reading the links of a failed execution")?;
    let mut kept = Decimal::from(executed);
    for link in links {
        let shares = parse_decimal(&link.shares)?;
        let keep = shares.min(kept).max(Decimal::ZERO);
        kept -= keep;
        if keep == shares {
            continue;
        }
        if keep.is_zero() {
            sqlx::query!(
                "DELETE FROM hedge_execution_trades WHERE execution_id = ?1 AND trade_id = ?2",
                execution_id,
                link.trade_id
            )
            .execute(&mut *conn)
            .await
            .context("unlinking a trade of a failed execution")?;
        } else {
            let keep = keep.normalize().to_string();
            sqlx::query!(
                "UPDATE hedge_execution_trades SET shares = ?3
                 WHERE execution_id = ?1 AND trade_id = ?2",
                execution_id,
                link.trade_id,
                keep
            )
            .execute(&mut *conn)
            .await
            .context("trimming a link of a failed execution")?;
        }
        sqlx::query!(
            "UPDATE trades SET hedge_covered = 0 WHERE id = ?1",
            link.trade_id
        )
        .execute(&mut *conn)
        .await
        .context("reopening a trade of a failed execution")?;
    }
    Ok(())
}

fn parse_decimal(value: &str) -> Result<Decimal, LedgerError> {
    Decimal::from_str(value).map_err(|_| LedgerError::Corrupt {
        column: "shares",
        value: value.to_owned(),
    })
}

async fn set_hedged(
    conn: &mut SqliteConnection,
    symbol: &str,
    hedged: Shares,
) -> Result<(), LedgerError> {
    let hedged = hedged.to_string();
    sqlx::query!(
        "UPDATE positions SET hedged_shares = ?2,
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE symbol = ?1",
        symbol,
        hedged
    )
    .execute(&mut *conn)
    .await
    .context("updating hedged shares")?;
    Ok(())
}

/// Trades read per step while linking.
const LINK_BATCH: i64 = 32;

/// Links the oldest trades not yet fully covered, in the direction the hedge offsets (a broker
/// sell covers onchain buys), up to `shares`. Reads open trades in id order through the
/// `trades_to_cover` index and stops once the shares are covered: the cost grows with the
/// trades linked, not with the symbol's history. A trade fully covered is marked so.
async fn link_trades(
    conn: &mut SqliteConnection,
    execution_id: i64,
    symbol: &str,
    side: BrokerSide,
    shares: u64,
) -> Result<(), LedgerError> {
    let onchain = match side {
        BrokerSide::Sell => "buy",
        BrokerSide::Buy => "sell",
    };
    let mut remaining = Decimal::from(shares);
    let mut after = 0_i64;
    while remaining > Decimal::ZERO {
        let rows = sqlx::query!(
            r#"SELECT t.id, t.shares AS "shares!",
                   (SELECT group_concat(l.shares) FROM hedge_execution_trades l
                    WHERE l.trade_id = t.id) AS "covered?: String"
               FROM trades t
               WHERE t.symbol = ?1 AND t.onchain_direction = ?2 AND t.hedge_covered = 0
                   AND t.status = 'recorded' AND t.id > ?3
               ORDER BY t.id LIMIT ?4"#,
            symbol,
            onchain,
            after,
            LINK_BATCH
        )
        .fetch_all(&mut *conn)
        .await
        .context("reading trades to cover")?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            after = row.id;
            let mut left = parse_decimal(&row.shares)?;
            for covered in row.covered.iter().flat_map(|text| text.split(',')) {
                left -= parse_decimal(covered)?;
            }
            let take = left.min(remaining).max(Decimal::ZERO);
            remaining -= take;
            if take == left {
                sqlx::query!("UPDATE trades SET hedge_covered = 1 WHERE id = ?1", row.id)
                    .execute(&mut *conn)
                    .await
                    .context("marking a trade covered")?;
            }
            if !take.is_zero() {
                let take = take.normalize().to_string();
                sqlx::query!(
                    "INSERT INTO hedge_execution_trades (execution_id, trade_id, shares)
                     VALUES (?1, ?2, ?3)",
                    execution_id,
                    row.id,
                    take
                )
                .execute(&mut *conn)
                .await
                .context("linking a hedge execution to a trade")?;
            }
            if remaining <= Decimal::ZERO {
                break;
            }
        }
    }
    Ok(())
}
