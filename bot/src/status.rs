//! Live state shared by the ingestion loop (which writes it) and the HTTP server (which reads it).

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

use std::sync::{Mutex, PoisonError};

use tokio::sync::Notify;

use crate::hedge::report::HedgingReport;

/// What the executor last found out about the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum BrokerHealth {
    /// No hedging pass has completed yet.
    Starting = 0,
    /// The last pass went through.
    Ready = 1,
    /// The refresh token expired (or none is stored): `schwad auth` is needed.
    ReauthNeeded = 2,
    /// The last pass failed on the broker or the database; it is retried.
    Unreachable = 3,
}

impl BrokerHealth {
    /// How `/health` says it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Ready => "ready",
            Self::ReauthNeeded => "re-authentication needed",
            Self::Unreachable => "unreachable",
        }
    }
}

/// Counters and gauges of the running service. All updates are single atomic stores or adds.
#[derive(Debug, Default)]
pub struct Status {
    /// Whether a WebSocket session to the node is subscribed and live.
    pub chain_connected: AtomicBool,
    /// Highest block number seen in a new head or `eth_blockNumber`.
    pub last_block_seen: AtomicU64,
    /// Highest block whose logs are completely processed (the checkpoint).
    pub last_block_processed: AtomicU64,
    /// Events stored for the first time.
    pub events_processed: AtomicU64,
    /// Events seen again and skipped.
    pub duplicates_skipped: AtomicU64,
    /// Events reverted by reorgs.
    pub events_reverted: AtomicU64,
    /// Reverted events back on the canonical chain.
    pub events_restored: AtomicU64,
    /// Sessions replaced after an error or stall.
    pub reconnects: AtomicU64,
    /// Stalled sessions detected (no new head in time).
    pub stalls: AtomicU64,
    /// The chain id of a node serving another chain than `CHAIN_ID` (0: none).
    pub wrong_chain_id: AtomicU64,
    /// Wakes the executor when trades were recorded or reverted.
    pub trades_changed: Notify,
    /// The broker's [`BrokerHealth`], as its `u8`.
    pub broker: AtomicU8,
    /// Hedge orders accepted by the broker (or found there after a crash).
    pub hedges_submitted: AtomicU64,
    /// Hedge orders filled.
    pub hedges_filled: AtomicU64,
    /// Hedge orders refused, rejected, canceled or expired.
    pub hedges_failed: AtomicU64,
    /// The executor's problems after its last pass.
    pub hedging: Mutex<HedgingReport>,
}

impl Status {
    /// Blocks seen but not yet completely processed.
    pub fn lag(&self) -> u64 {
        self.last_block_seen
            .load(Ordering::Relaxed)
            .saturating_sub(self.last_block_processed.load(Ordering::Relaxed))
    }

    /// The broker's health.
    pub fn broker(&self) -> BrokerHealth {
        match self.broker.load(Ordering::Relaxed) {
            1 => BrokerHealth::Ready,
            2 => BrokerHealth::ReauthNeeded,
            3 => BrokerHealth::Unreachable,
            _ => BrokerHealth::Starting,
        }
    }

    /// Records the broker's health, logging when re-authentication becomes needed or is done.
    pub fn set_broker(&self, health: BrokerHealth) {
        let before = self.broker.swap(health as u8, Ordering::Relaxed);
        let reauth = BrokerHealth::ReauthNeeded as u8;
        if before != reauth && health == BrokerHealth::ReauthNeeded {
            tracing::warn!(
                "broker re-authentication needed: orders wait until `schwad auth` is run"
            );
        } else if before == reauth && health != BrokerHealth::ReauthNeeded {
            tracing::info!("broker login restored: hedging resumes");
        }
    }

    /// The executor's problems after its last pass.
    pub fn hedging(&self) -> HedgingReport {
        self.hedging
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the executor's problems.
    pub fn set_hedging(&self, report: HedgingReport) {
        *self.hedging.lock().unwrap_or_else(PoisonError::into_inner) = report;
    }

    /// Raises a monotonic gauge to `value` if it is higher.
    pub fn raise(gauge: &AtomicU64, value: u64) {
        gauge.fetch_max(value, Ordering::Relaxed);
    }

    /// Adds to a counter.
    pub fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}
