//! The one-shot commands: `process-tx` and `positions`.

use std::fmt::Write;
use std::sync::Arc;

use alloy_primitives::B256;

use crate::chain::ingest::{IngestConfig, IngestError, Ingestor};
use crate::hedge::{self, Position};
use crate::ledger::{Applied, Ledger, LedgerError, TradeRow};
use crate::status::Status;

/// Re-processes one transaction: records its fills of ours, skipping those already stored.
pub async fn process_tx(
    database_url: &str,
    config: IngestConfig,
    hash: B256,
) -> Result<Applied, IngestError> {
    let ledger = Ledger::open(database_url).await?;
    let mut ingestor = Ingestor::new(config, ledger.clone(), Arc::new(Status::default())).await?;
    let applied = ingestor.process_transaction(hash).await;
    ledger.close().await;
    applied
}

/// The positions (with the hedge each would need now) and the `trades` most recent trades.
pub async fn positions(database_url: &str, trades: u32) -> Result<String, LedgerError> {
    let ledger = Ledger::open(database_url).await?;
    let positions = ledger.positions().await?;
    let recent = ledger.recent_trades(trades).await?;
    ledger.close().await;
    Ok(render(&positions, &recent))
}

/// Renders positions and trades as plain-text tables.
pub fn render(positions: &[Position], trades: &[TradeRow]) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "{:<8} {:>24} {:>24} {:>12} {:>24}  hedge now",
        "symbol", "bought", "sold", "hedged", "net"
    );
    for position in positions {
        let hedge = hedge::plan(position).map_or_else(
            || "-".to_owned(),
            |intent| format!("{} {}", intent.side.as_str(), intent.shares),
        );
        let _ = writeln!(
            out,
            "{:<8} {:>24} {:>24} {:>12} {:>24}  {hedge}",
            position.ticker.as_str(),
            position.bought,
            position.sold,
            position.hedged,
            position.net()
        );
    }
    let _ = writeln!(out, "\nrecent trades:");
    for t in trades {
        let text = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_owned());
        let _ = writeln!(
            out,
            "#{:<6} block {:<10} {}#{:<4} {:<9} {:<6} {:<5} {:>24} @ {:<12} {}{}",
            t.id,
            t.block_number,
            t.tx_hash,
            t.log_index,
            t.status,
            text(&t.symbol),
            text(&t.direction),
            text(&t.shares),
            text(&t.price),
            t.recorded_at,
            t.skip_reason
                .as_ref()
                .map(|r| format!("  ({r})"))
                .unwrap_or_default(),
        );
    }
    out
}
