//! `GET /metrics` in the Prometheus text exposition format.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::AppState;
use crate::status::Status;

/// Renders every metric of `status`.
pub fn render(status: &Status) -> String {
    let load = |gauge: &std::sync::atomic::AtomicU64| gauge.load(Ordering::Relaxed);
    let metrics: [(&str, &str, &str, u64); 14] = [
        (
            "schwad_events_processed_total",
            "counter",
            "Orderbook events of ours recorded.",
            load(&status.events_processed),
        ),
        (
            "schwad_duplicate_events_total",
            "counter",
            "Events seen again and skipped.",
            load(&status.duplicates_skipped),
        ),
        (
            "schwad_reorg_reverted_events_total",
            "counter",
            "Events reverted by reorgs.",
            load(&status.events_reverted),
        ),
        (
            "schwad_reorg_restored_events_total",
            "counter",
            "Reverted events back on the canonical chain.",
            load(&status.events_restored),
        ),
        (
            "schwad_chain_reconnects_total",
            "counter",
            "Chain sessions replaced.",
            load(&status.reconnects),
        ),
        (
            "schwad_chain_stalls_total",
            "counter",
            "Chain sessions found stalled.",
            load(&status.stalls),
        ),
        (
            "schwad_chain_connected",
            "gauge",
            "1 while a chain session is live.",
            u64::from(status.chain_connected.load(Ordering::Relaxed)),
        ),
        (
            "schwad_last_block_seen",
            "gauge",
            "Highest block number seen.",
            load(&status.last_block_seen),
        ),
        (
            "schwad_last_block_processed",
            "gauge",
            "Highest block completely processed.",
            load(&status.last_block_processed),
        ),
        (
            "schwad_block_lag",
            "gauge",
            "Blocks seen but not yet processed.",
            status.lag(),
        ),
        (
            "schwad_hedges_submitted_total",
            "counter",
            "Hedge orders accepted by the broker.",
            load(&status.hedges_submitted),
        ),
        (
            "schwad_hedges_filled_total",
            "counter",
            "Hedge orders filled.",
            load(&status.hedges_filled),
        ),
        (
            "schwad_hedges_failed_total",
            "counter",
            "Hedge orders refused, rejected, canceled or expired.",
            load(&status.hedges_failed),
        ),
        (
            "schwad_broker_reauth_needed",
            "gauge",
            "1 while the broker login must be renewed with `schwad auth`.",
            u64::from(status.broker() == crate::status::BrokerHealth::ReauthNeeded),
        ),
    ];
    let mut out = String::new();
    for (name, kind, help, value) in metrics {
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        );
    }
    let hedging = status.hedging();
    let _ = write!(
        out,
        "# HELP schwad_hedge_outcomes_unknown Hedge orders whose outcome is unknown past the settle period.\n\
         # TYPE schwad_hedge_outcomes_unknown gauge\nschwad_hedge_outcomes_unknown {}\n\
         # HELP schwad_broker_position_mismatch_shares Broker position minus the ledger's hedges.\n\
         # TYPE schwad_broker_position_mismatch_shares gauge\n",
        hedging.unknown_outcomes.len()
    );
    for mismatch in &hedging.mismatches {
        let _ = writeln!(
            out,
            "schwad_broker_position_mismatch_shares{{symbol=\"{}\"}} {}",
            mismatch.symbol, mismatch.difference
        );
    }
    out
}

/// Gauges read from the ledger: the age of the oldest hedge order whose outcome is not known yet,
/// and each symbol's unhedged shares.
pub fn render_ledger(
    open: &[crate::ledger::Execution],
    positions: &[crate::hedge::Position],
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let oldest = open
        .iter()
        .map(|e| (now - e.created_at).num_milliseconds().max(0))
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "# HELP schwad_open_hedge_oldest_age_seconds Age of the oldest hedge order still pending or submitted (0: none).\n\
         # TYPE schwad_open_hedge_oldest_age_seconds gauge\n\
         schwad_open_hedge_oldest_age_seconds {}.{:03}\n\
         # HELP schwad_unhedged_shares Onchain net minus hedged shares, per symbol (the ledger's view).\n\
         # TYPE schwad_unhedged_shares gauge\n",
        oldest / 1000,
        oldest % 1000
    );
    for position in positions {
        let _ = writeln!(
            out,
            "schwad_unhedged_shares{{symbol=\"{}\"}} {}",
            position.ticker.as_str(),
            position.net()
        );
    }
    out
}

pub(super) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut text = render(&state.status);
    match (
        state.ledger.open_executions().await,
        state.ledger.positions().await,
    ) {
        (Ok(open), Ok(positions)) => {
            text.push_str(&render_ledger(&open, &positions, chrono::Utc::now()));
        }
        (Err(error), _) | (_, Err(error)) => {
            tracing::warn!(%error, "metrics: reading the ledger failed");
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_lag() {
        let status = Status::default();
        Status::add(&status.events_processed, 3);
        Status::raise(&status.last_block_seen, 10);
        Status::raise(&status.last_block_processed, 7);
        let text = render(&status);
        assert!(text.contains(
            "# TYPE schwad_events_processed_total counter\nschwad_events_processed_total 3\n"
        ));
        assert!(text.contains("\nschwad_block_lag 3\n"));
    }

    #[test]
    fn renders_the_oldest_open_hedge_and_unhedged_shares() {
        let now = chrono::Utc::now();
        let ticker = crate::trade::Ticker::parse("AAPL").unwrap();
        let open = [crate::ledger::Execution {
            id: 1,
            ticker: ticker.clone(),
            side: crate::hedge::BrokerSide::Sell,
            shares: 2,
            order_id: None,
            created_at: now - chrono::Duration::milliseconds(90_250),
            sent_at: now - chrono::Duration::milliseconds(90_000),
        }];
        let position = crate::hedge::Position {
            ticker,
            bought: "3.5".parse().unwrap(),
            sold: "0".parse().unwrap(),
            hedged: "2".parse().unwrap(),
        };
        let text = render_ledger(&open, &[position], now);
        assert!(
            text.contains("\nschwad_open_hedge_oldest_age_seconds 90.250\n"),
            "{text}"
        );
        assert!(
            text.contains("\nschwad_unhedged_shares{symbol=\"AAPL\"} 1.5\n"),
            "{text}"
        );
        assert!(render_ledger(&[], &[], now).contains("_age_seconds 0.000\n"));
    }
}
