//! Live state shared by the ingestion loop (which writes it) and the HTTP server (which reads it).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

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
}

impl Status {
    /// Blocks seen but not yet completely processed.
    pub fn lag(&self) -> u64 {
        self.last_block_seen
            .load(Ordering::Relaxed)
            .saturating_sub(self.last_block_processed.load(Ordering::Relaxed))
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
