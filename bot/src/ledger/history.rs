//! Read-only history for the dashboard: recent hedge executions, the latest changes of each
//! symbol's onchain net and hedged position, and how long each execution took to open after the
//! fill that made it due.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Context, Ledger, LedgerError};
use crate::trade::Shares;

/// A hedge execution, as the dashboard lists it (exact values, as stored).
#[derive(Debug, Clone, Serialize)]
pub struct ExecutionRow {
    pub id: i64,
    /// Brokerage ticker.
    pub symbol: String,
    /// `buy` or `sell` at the broker.
    pub side: String,
    /// Whole shares ordered.
    pub shares: i64,
    /// Shares a failed order executed before it ended.
    pub filled_shares: i64,
    /// `pending`, `submitted`, `filled` or `failed`.
    pub status: String,
    /// The broker's order id, once known.
    pub broker_order_id: Option<i64>,
    /// Quantity-weighted average fill price, once filled.
    pub average_price: Option<String>,
    /// Why it failed.
    pub failure_reason: Option<String>,
    /// When it was opened (RFC 3339 UTC).
    pub created_at: String,
    /// Its last change.
    pub updated_at: String,
}

/// One change of a symbol's position: `shares` added at `at` (signed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionChange {
    /// Brokerage ticker.
    pub symbol: String,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// Signed shares: onchain, positive when the owner bought; hedged, positive when the broker sold.
    pub shares: Shares,
}

/// The time from the newest fill of the symbol before an execution opened to its opening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HedgeLatency {
    /// Brokerage ticker.
    pub symbol: String,
    /// When the execution opened.
    pub at: DateTime<Utc>,
    /// Milliseconds from the fill's record to the execution.
    pub millis: i64,
}

fn time(column: &'static str, value: &str) -> Result<DateTime<Utc>, LedgerError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| LedgerError::Corrupt {
            column,
            value: value.to_owned(),
        })
}

fn signed(shares: Shares, positive: bool) -> Shares {
    if positive { shares } else { -shares }
}

impl Ledger {
    /// The most recent hedge executions, newest first.
    pub async fn recent_executions(&self, limit: u32) -> Result<Vec<ExecutionRow>, LedgerError> {
        let limit = i64::from(limit);
        sqlx::query_as!(
            ExecutionRow,
            "SELECT id, symbol, side, shares, filled_shares, status, broker_order_id, average_price,
                    failure_reason, created_at, updated_at
             FROM hedge_executions ORDER BY id DESC LIMIT ?1",
            limit
        )
        .fetch_all(&self.pool)
        .await
        .context("reading recent hedge executions")
    }

    /// The latest changes of the onchain nets: counted trades, newest first.
    pub async fn recent_onchain_changes(
        &self,
        limit: u32,
    ) -> Result<Vec<PositionChange>, LedgerError> {
        let limit = i64::from(limit);
        let rows = sqlx::query!(
            r#"SELECT symbol AS "symbol!", onchain_direction AS "direction!", shares AS "shares!",
                      recorded_at
               FROM trades WHERE status = 'recorded' ORDER BY id DESC LIMIT ?1"#,
            limit
        )
        .fetch_all(&self.pool)
        .await
        .context("reading recent trades")?;
        rows.into_iter()
            .map(|row| {
                let shares = super::write::parse_shares("trades.shares", row.shares)?;
                Ok(PositionChange {
                    at: time("trades.recorded_at", &row.recorded_at)?,
                    shares: signed(shares, row.direction == "buy"),
                    symbol: row.symbol,
                })
            })
            .collect()
    }

    /// The latest changes of the hedged positions, newest first: the shares each execution
    /// reserved when it opened (a failed one keeps only what it executed).
    pub async fn recent_hedge_changes(
        &self,
        limit: u32,
    ) -> Result<Vec<PositionChange>, LedgerError> {
        let limit = i64::from(limit);
        let rows = sqlx::query!(
            r#"SELECT symbol, side, created_at,
                      CASE WHEN status = 'failed' THEN filled_shares ELSE shares END AS "shares!: i64"
               FROM hedge_executions ORDER BY id DESC LIMIT ?1"#,
            limit
        )
        .fetch_all(&self.pool)
        .await
        .context("reading recent hedge executions")?;
        rows.into_iter()
            .map(|row| {
                Ok(PositionChange {
                    at: time("hedge_executions.created_at", &row.created_at)?,
                    shares: signed(Shares::new(row.shares.into()), row.side == "sell"),
                    symbol: row.symbol,
                })
            })
            .collect()
    }

    /// Fill-to-order latency of the most recent executions, newest first: from the newest fill of the symbol recorded
    /// before the execution opened (the one that made it due), not from the trades it covers, which are oldest first.
    pub async fn recent_hedge_latencies(
        &self,
        limit: u32,
    ) -> Result<Vec<HedgeLatency>, LedgerError> {
        let limit = i64::from(limit);
        let rows = sqlx::query!(
            r#"SELECT h.symbol AS "symbol!", h.created_at AS "created_at!",
                      (SELECT MAX(t.recorded_at) FROM trades t
                       WHERE t.symbol = h.symbol AND t.recorded_at <= h.created_at) AS "last_fill: String"
               FROM hedge_executions h ORDER BY h.id DESC LIMIT ?1"#,
            limit
        )
        .fetch_all(&self.pool)
        .await
        .context("reading hedge latencies")?;
        // An execution opened before any fill of its symbol was recorded has no latency to show.
        rows.into_iter()
            .filter_map(|row| Some((row.symbol, row.created_at, row.last_fill?)))
            .map(|(symbol, created_at, last_fill)| {
                let at = time("hedge_executions.created_at", &created_at)?;
                let fill = time("trades.recorded_at", &last_fill)?;
                Ok(HedgeLatency {
                    symbol,
                    at,
                    millis: (at - fill).num_milliseconds(),
                })
            })
            .collect()
    }
}
