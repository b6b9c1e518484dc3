//! Read-only queries: checkpoint, stored events of a block range, symbols, positions, trades.

use std::str::FromStr;

use alloy_primitives::{Address, B256};

use super::write::{int, parse_shares};
use super::{Context, Ledger, LedgerError};
use crate::hedge::Position;
use crate::trade::{LogKey, Ticker};

/// A recorded trade, as printed by `schwad positions` and listed by the dashboard.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TradeRow {
    /// Trade id.
    pub id: i64,
    /// Block of its event.
    pub block_number: i64,
    /// Transaction of its event.
    pub tx_hash: String,
    /// Log index of its event.
    pub log_index: i64,
    /// `recorded`, `skipped` or `reverted`.
    pub status: String,
    /// Why it was skipped.
    pub skip_reason: Option<String>,
    /// Brokerage ticker.
    pub symbol: Option<String>,
    /// The owner's onchain direction.
    pub direction: Option<String>,
    /// Shares traded.
    pub shares: Option<String>,
    /// USDC per share.
    pub price: Option<String>,
    /// When it was recorded (RFC 3339 UTC).
    pub recorded_at: String,
}

/// A stored event and the block it was seen in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredEvent {
    pub key: LogKey,
    pub block_number: u64,
    pub block_hash: B256,
}

impl Ledger {
    /// The last block whose logs are completely processed.
    pub async fn checkpoint(&self) -> Result<Option<u64>, LedgerError> {
        let block = sqlx::query_scalar!("SELECT block_number FROM block_checkpoint WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .context("reading the checkpoint")?;
        Ok(block.and_then(|b| u64::try_from(b).ok()))
    }

    /// Canonical (not removed) events stored for blocks `from..=to`, with the block each was seen in.
    pub async fn events_between(
        &self,
        from: u64,
        to: u64,
    ) -> Result<Vec<StoredEvent>, LedgerError> {
        let (from, to) = (int(from), int(to));
        let rows = sqlx::query!(
            "SELECT tx_hash, log_index, block_number, block_hash FROM chain_events
             WHERE removed = 0 AND block_number BETWEEN ?1 AND ?2",
            from,
            to
        )
        .fetch_all(&self.pool)
        .await
        .context("reading events of a block range")?;
        rows.into_iter()
            .map(|row| {
                let hash = |column: &'static str, text: &str| {
                    B256::from_str(text).map_err(|_| LedgerError::Corrupt {
                        column,
                        value: text.to_owned(),
                    })
                };
                let number = |column: &'static str, value: i64| {
                    u64::try_from(value).map_err(|_| LedgerError::Corrupt {
                        column,
                        value: value.to_string(),
                    })
                };
                Ok(StoredEvent {
                    key: LogKey {
                        tx_hash: hash("tx_hash", &row.tx_hash)?,
                        log_index: number("log_index", row.log_index)?,
                    },
                    block_number: number("block_number", row.block_number)?,
                    block_hash: hash("block_hash", &row.block_hash)?,
                })
            })
            .collect()
    }

    /// Every cached token symbol.
    pub async fn symbols(&self) -> Result<Vec<(Address, String)>, LedgerError> {
        let rows = sqlx::query!("SELECT address, symbol FROM tokens")
            .fetch_all(&self.pool)
            .await
            .context("reading token symbols")?;
        rows.into_iter()
            .map(|row| {
                let address =
                    Address::from_str(&row.address).map_err(|_| LedgerError::Corrupt {
                        column: "tokens.address",
                        value: row.address.clone(),
                    })?;
                Ok((address, row.symbol))
            })
            .collect()
    }

    /// Every symbol's position accumulator.
    pub async fn positions(&self) -> Result<Vec<Position>, LedgerError> {
        let rows = sqlx::query!(
            "SELECT symbol, bought_shares, sold_shares, hedged_shares FROM positions ORDER BY symbol"
        )
        .fetch_all(&self.pool)
        .await
        .context("reading positions")?;
        rows.into_iter()
            .map(|row| {
                let ticker = Ticker::parse(&row.symbol).ok_or_else(|| LedgerError::Corrupt {
                    column: "positions.symbol",
                    value: row.symbol.clone(),
                })?;
                Ok(Position {
                    ticker,
                    bought: parse_shares("bought_shares", row.bought_shares)?,
                    sold: parse_shares("sold_shares", row.sold_shares)?,
                    hedged: parse_shares("hedged_shares", row.hedged_shares)?,
                })
            })
            .collect()
    }

    /// The most recent trades, newest first.
    pub async fn recent_trades(&self, limit: u32) -> Result<Vec<TradeRow>, LedgerError> {
        let limit = i64::from(limit);
        let rows = sqlx::query_as!(
            TradeRow,
            "SELECT t.id, e.block_number, e.tx_hash, e.log_index, t.status, t.skip_reason,
                    t.symbol, t.onchain_direction AS direction, t.shares, t.price, t.recorded_at
             FROM trades t JOIN chain_events e ON e.id = t.event_id
             ORDER BY t.id DESC LIMIT ?1",
            limit
        )
        .fetch_all(&self.pool)
        .await
        .context("reading recent trades")?;
        Ok(rows)
    }
}
