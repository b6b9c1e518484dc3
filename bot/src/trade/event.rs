//! Where a fill came from: the log that carried it and the kind of orderbook event it was. Chain
//! ingestion produces these and the ledger stores them, so they live below both.

use std::fmt;

use alloy_primitives::B256;

/// Identity of a log on one chain: unique across the chain's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LogKey {
    /// Hash of the transaction that emitted the log.
    pub tx_hash: B256,
    /// Position of the log in its block.
    pub log_index: u64,
}

impl fmt::Display for LogKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.tx_hash, self.log_index)
    }
}

/// The orderbook events that carry fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A taker took one order.
    TakeOrderV2,
    /// Two orders were cleared against each other.
    ClearV2,
}

impl EventKind {
    /// Stable name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TakeOrderV2 => "take_order_v2",
            Self::ClearV2 => "clear_v2",
        }
    }
}
