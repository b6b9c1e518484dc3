//! Hedge executions: `pending → submitted(order id) → filled | failed`, each step committed
//! before the next side effect. Opening one reserves its shares on the position (so the same
//! shares are never ordered twice) and links it to the trades it covers; a failure returns the
//! unexecuted shares to the accumulator.

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
    /// Its id.
    pub id: i64,
    /// The brokerage ticker.
    pub ticker: Ticker,
    /// Buy or sell at the broker.
    pub side: BrokerSide,
    /// Whole shares ordered.
    pub shares: u64,
    /// Pending, or submitted with the broker's order id.
    pub order_id: Option<i64>,
    /// When it was opened (before the order was sent).
    pub created_at: DateTime<Utc>,
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
            "SELECT id, symbol, side, shares, broker_order_id, created_at FROM hedge_executions
             WHERE status IN ('pending', 'submitted') ORDER BY id"
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
                    created_at: DateTime::parse_from_rfc3339(&row.created_at)
                        .map_err(|_| {
                            corrupt("hedge_executions.created_at", row.created_at.clone())
                        })?
                        .with_timezone(&Utc),
                })
            })
            .collect()
    }

    /// Every broker order id already tied to an execution.
    pub async fn known_order_ids(&self) -> Result<HashSet<i64>, LedgerError> {
        let ids = sqlx::query_scalar!(
            r#"SELECT broker_order_id AS "id!" FROM hedge_executions
               WHERE broker_order_id IS NOT NULL"#
        )
        .fetch_all(&self.pool)
        .await
        .context("reading broker order ids")?;
        Ok(ids.into_iter().collect())
    }

    /// In one transaction: plans `ticker`'s hedge from its position as it is now and, if one is
    /// due and no execution is open for the symbol, opens it as `pending`, reserves its shares
    /// and links the trades it covers.
    pub async fn begin_execution(&self, ticker: &Ticker) -> Result<Option<Execution>, LedgerError> {
        let mut tx = self.write_tx().await?;
        let symbol = ticker.as_str();
        let row = sqlx::query!(
            "SELECT bought_shares, sold_shares, hedged_shares FROM positions WHERE symbol = ?1",
            symbol
        )
        .fetch_optional(&mut *tx)
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
        let inserted = sqlx::query!(
            "INSERT INTO hedge_executions (symbol, side, shares, status)
             VALUES (?1, ?2, ?3, 'pending')
             ON CONFLICT DO NOTHING
             RETURNING id, created_at",
            symbol,
            side,
            shares
        )
        .fetch_optional(&mut *tx)
        .await
        .context("opening a hedge execution")?;
        let Some(inserted) = inserted else {
            return Ok(None); // an execution is already open for the symbol
        };
        set_hedged(
            &mut tx,
            symbol,
            position.hedged + intent.side.offset(intent.shares),
        )
        .await?;
        link_trades(&mut tx, inserted.id, symbol, intent.side, intent.shares).await?;
        tx.commit()
            .await
            .context("committing a new hedge execution")?;
        Ok(Some(Execution {
            id: inserted.id,
            ticker: ticker.clone(),
            side: intent.side,
            shares: intent.shares,
            order_id: None,
            created_at: DateTime::parse_from_rfc3339(&inserted.created_at)
                .map_err(|_| LedgerError::Corrupt {
                    column: "hedge_executions.created_at",
                    value: inserted.created_at.clone(),
                })?
                .with_timezone(&Utc),
        }))
    }

    /// `pending → submitted`: the broker accepted the order (or it was found there).
    pub async fn mark_submitted(&self, id: i64, order_id: i64) -> Result<(), LedgerError> {
        sqlx::query!(
            "UPDATE hedge_executions SET status = 'submitted', broker_order_id = ?2,
                 updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE id = ?1 AND status = 'pending'",
            id,
            order_id
        )
        .execute(&self.pool)
        .await
        .context("marking a hedge execution submitted")?;
        Ok(())
    }

    /// `submitted → filled` at the average price; releases the symbol.
    pub async fn mark_filled(&self, id: i64, average_price: Decimal) -> Result<(), LedgerError> {
        let price = average_price.normalize().to_string();
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
        .fetch_optional(&mut *tx)
        .await
        .context("marking a hedge execution failed")?;
        let Some(row) = row else {
            return Ok(());
        };
        // Its links no longer cover anything: the trades are open to the next execution.
        sqlx::query!(
            "UPDATE trades SET hedge_covered = 0 WHERE id IN
                 (SELECT trade_id FROM hedge_execution_trades WHERE execution_id = ?1)",
            id
        )
        .execute(&mut *tx)
        .await
        .context("reopening the trades of a failed execution")?;
        let hedged = sqlx::query_scalar!(
            "SELECT hedged_shares FROM positions WHERE symbol = ?1",
            row.symbol
        )
        .fetch_one(&mut *tx)
        .await
        .context("reading a position")?;
        let unexecuted = u64::try_from(row.shares - row.filled_shares).unwrap_or(0);
        let hedged =
            parse_shares("hedged_shares", hedged)? - side_of(&row.side)?.offset(unexecuted);
        set_hedged(&mut tx, &row.symbol, hedged).await?;
        tx.commit()
            .await
            .context("committing a failed hedge execution")?;
        Ok(())
    }
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

/// Links the oldest trades not yet covered by a live (not failed) execution, in the direction
/// the hedge offsets (a broker sell covers onchain buys), up to `shares`; a trade fully covered
/// is marked so, and never read again unless its execution fails.
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
    let rows = sqlx::query!(
        r#"SELECT t.id, t.shares AS "shares!", l.shares AS "covered?"
           FROM trades t
           LEFT JOIN hedge_execution_trades l ON l.trade_id = t.id AND l.execution_id IN
               (SELECT id FROM hedge_executions WHERE status <> 'failed')
           WHERE t.symbol = ?1 AND t.status = 'recorded' AND t.onchain_direction = ?2
               AND t.hedge_covered = 0
           ORDER BY t.id"#,
        symbol,
        onchain
    )
    .fetch_all(&mut *conn)
    .await
    .context("reading trades to cover")?;
    let mut uncovered: BTreeMap<i64, Decimal> = BTreeMap::new();
    for row in rows {
        let parse = |value: &str| {
            Decimal::from_str(value).map_err(|_| LedgerError::Corrupt {
                column: "shares",
                value: value.to_owned(),
            })
        };
        let left = match uncovered.get(&row.id) {
            Some(left) => *left,
            None => parse(&row.shares)?,
        };
        let covered = row.covered.as_deref().map(parse).transpose()?;
        uncovered.insert(row.id, left - covered.unwrap_or_default());
    }
    let mut remaining = Decimal::from(shares);
    for (trade_id, left) in uncovered {
        if remaining <= Decimal::ZERO {
            break;
        }
        if left <= Decimal::ZERO {
            continue;
        }
        let take = left.min(remaining);
        remaining -= take;
        if take == left {
            sqlx::query!(
                "UPDATE trades SET hedge_covered = 1 WHERE id = ?1",
                trade_id
            )
            .execute(&mut *conn)
            .await
            .context("marking a trade covered")?;
        }
        let take = take.normalize().to_string();
        sqlx::query!(
            "INSERT INTO hedge_execution_trades (execution_id, trade_id, shares) VALUES (?1, ?2, ?3)",
            execution_id,
            trade_id,
            take
        )
        .execute(&mut *conn)
        .await
        .context("linking a hedge execution to a trade")?;
    }
    Ok(())
}
