//! Logs as Ethereum JSON-RPC returns them (`eth_getLogs`, `logs` subscriptions, receipts).

use alloy_primitives::{Address, B256, Bytes, U64};
use serde::Deserialize;

use crate::trade::LogKey;

/// One log, with the block and transaction it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcLog {
    /// The emitting contract.
    pub address: Address,
    /// Topics; topic0 is the event signature hash.
    pub topics: Vec<B256>,
    /// ABI-encoded non-indexed parameters.
    pub data: Bytes,
    /// Block holding the log.
    pub block_number: U64,
    /// Hash of that block.
    pub block_hash: B256,
    /// Transaction that emitted the log.
    pub transaction_hash: B256,
    /// Position of the log in its block.
    pub log_index: U64,
    /// True when a reorg removed the log from the canonical chain.
    #[serde(default)]
    pub removed: bool,
}

impl RpcLog {
    /// The log's identity.
    pub fn key(&self) -> LogKey {
        LogKey {
            tx_hash: self.transaction_hash,
            log_index: self.log_index.to(),
        }
    }

    /// The block number as an integer.
    pub fn block(&self) -> u64 {
        self.block_number.to()
    }

    /// The event signature hash, if any.
    pub fn topic0(&self) -> Option<B256> {
        self.topics.first().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_standard_log_object() {
        let log: RpcLog = serde_json::from_value(serde_json::json!({
            "address": "0x881cf4c0764e733d9c387f3858ee87cca04affe0",
            "topics": ["0x10de99b9032184587540c04e1850dff94a7683ae1fcc9eb06098621c739c0275"],
            "data": "0x01",
            "blockNumber": "0x20b5f4e",
            "blockHash": "0x1111111111111111111111111111111111111111111111111111111111111111",
            "transactionHash": "0x2222222222222222222222222222222222222222222222222222222222222222",
            "transactionIndex": "0x0",
            "logIndex": "0x1f",
            "removed": true
        }))
        .unwrap();
        assert_eq!(log.block(), 34_299_726);
        assert_eq!(log.key().log_index, 31);
        assert!(log.removed);
    }
}
