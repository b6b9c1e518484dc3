//! Wire shapes of Ethereum JSON-RPC objects (logs, headers, blocks, receipts) and the serde helpers
//! for quantities and decimal amounts.

use alloy_primitives::{Address, B64, B256, Bloom, Bytes};
use serde::Serialize;

/// A log as nodes return it, with its position in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RpcLog {
    pub(crate) address: Address,
    pub(crate) topics: Vec<B256>,
    pub(crate) data: Bytes,
    #[serde(with = "quantity")]
    pub(crate) block_number: u64,
    pub(crate) block_hash: B256,
    #[serde(with = "quantity")]
    pub(crate) block_timestamp: u64,
    pub(crate) transaction_hash: B256,
    #[serde(with = "quantity")]
    pub(crate) transaction_index: u64,
    /// Index among all logs of the block, like real nodes.
    #[serde(with = "quantity")]
    pub(crate) log_index: u64,
    pub(crate) removed: bool,
}

/// A block header, with the fields geth sends in `newHeads` and block objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Header {
    pub(crate) hash: B256,
    pub(crate) parent_hash: B256,
    pub(crate) sha3_uncles: B256,
    pub(crate) miner: Address,
    pub(crate) state_root: B256,
    pub(crate) transactions_root: B256,
    pub(crate) receipts_root: B256,
    pub(crate) logs_bloom: Bloom,
    #[serde(with = "quantity")]
    pub(crate) difficulty: u64,
    #[serde(with = "quantity")]
    pub(crate) number: u64,
    #[serde(with = "quantity")]
    pub(crate) gas_limit: u64,
    #[serde(with = "quantity")]
    pub(crate) gas_used: u64,
    #[serde(with = "quantity")]
    pub(crate) timestamp: u64,
    pub(crate) extra_data: Bytes,
    pub(crate) mix_hash: B256,
    pub(crate) nonce: B64,
    #[serde(with = "quantity")]
    pub(crate) base_fee_per_gas: u64,
}

/// A block object of `eth_getBlockBy*`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BlockView<'a> {
    #[serde(flatten)]
    pub(crate) header: &'a Header,
    #[serde(with = "quantity")]
    pub(crate) size: u64,
    pub(crate) transactions: Vec<BlockTransaction>,
    pub(crate) uncles: [B256; 0],
}

/// A block's transaction: its hash, or the whole object when asked for.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum BlockTransaction {
    Hash(B256),
    Full(Box<TransactionView>),
}

/// A transaction object of `eth_getTransactionByHash` and of full blocks.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TransactionView {
    pub(crate) hash: B256,
    pub(crate) block_hash: B256,
    #[serde(with = "quantity")]
    pub(crate) block_number: u64,
    #[serde(with = "quantity")]
    pub(crate) transaction_index: u64,
    pub(crate) from: Address,
    pub(crate) to: Address,
    #[serde(with = "quantity")]
    pub(crate) nonce: u64,
    #[serde(with = "quantity")]
    pub(crate) value: u64,
    #[serde(with = "quantity")]
    pub(crate) gas: u64,
    #[serde(with = "quantity")]
    pub(crate) gas_price: u64,
    #[serde(with = "quantity")]
    pub(crate) max_fee_per_gas: u64,
    #[serde(with = "quantity")]
    pub(crate) max_priority_fee_per_gas: u64,
    pub(crate) input: Bytes,
    #[serde(with = "quantity")]
    pub(crate) chain_id: u64,
    pub(crate) access_list: [(); 0],
    #[serde(rename = "type", with = "quantity")]
    pub(crate) tx_type: u64,
    /// Signature: the simulator signs nothing, so it is all zeros.
    #[serde(with = "quantity")]
    pub(crate) v: u64,
    #[serde(with = "quantity")]
    pub(crate) y_parity: u64,
    pub(crate) r: B256,
    pub(crate) s: B256,
}

/// A receipt of `eth_getTransactionReceipt`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReceiptView<'a> {
    pub(crate) transaction_hash: B256,
    #[serde(with = "quantity")]
    pub(crate) transaction_index: u64,
    pub(crate) block_hash: B256,
    #[serde(with = "quantity")]
    pub(crate) block_number: u64,
    pub(crate) from: Address,
    pub(crate) to: Address,
    #[serde(with = "quantity")]
    pub(crate) cumulative_gas_used: u64,
    #[serde(with = "quantity")]
    pub(crate) gas_used: u64,
    #[serde(with = "quantity")]
    pub(crate) effective_gas_price: u64,
    pub(crate) contract_address: Option<Address>,
    pub(crate) logs: &'a [RpcLog],
    pub(crate) logs_bloom: Bloom,
    #[serde(with = "quantity")]
    pub(crate) status: u64,
    #[serde(rename = "type", with = "quantity")]
    pub(crate) tx_type: u64,
}

/// Ethereum quantities: `0x`-prefixed hex without leading zeros.
pub(crate) mod quantity {
    use serde::Serializer;

    /// Serialises `value` as a quantity.
    pub(crate) fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{value:#x}"))
    }

    /// Parses a quantity, refusing a missing prefix and leading zeros as geth does.
    pub(crate) fn parse(text: &str) -> Result<u64, String> {
        let digits = text
            .strip_prefix("0x")
            .ok_or_else(|| format!("hex string without 0x prefix: {text}"))?;
        if digits.is_empty() {
            return Err("hex string \"0x\"".to_owned());
        }
        if digits.len() > 1 && digits.starts_with('0') {
            return Err(format!("hex number with leading zero digits: {text}"));
        }
        u64::from_str_radix(digits, 16)
            .map_err(|error| format!("invalid hex number {text}: {error}"))
    }
}

/// Exact token amounts as decimal strings (hex with a `0x` prefix is accepted on input).
pub(crate) mod decimal {
    use alloy_primitives::U256;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialises `value` in decimal.
    pub(crate) fn serialize<S: Serializer>(value: &U256, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    /// Parses a decimal (or `0x` hex) string.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<U256, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
