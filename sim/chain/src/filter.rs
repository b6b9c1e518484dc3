//! Block tags and log filters as `eth_getLogs`, `eth_subscribe("logs")` and the block methods take them.

use alloy_primitives::{Address, B256};
use serde::{Deserialize, Deserializer};

use crate::json::{RpcLog, quantity};

/// How far `safe` lags behind the head.
const SAFE_DEPTH: u64 = 32;
/// How far `finalized` lags behind the head.
const FINALIZED_DEPTH: u64 = 64;
/// Topic positions a filter may constrain, as in geth.
const MAX_TOPICS: usize = 4;

/// A block number or tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockTag {
    Number(u64),
    Earliest,
    Latest,
    Pending,
    Safe,
    Finalized,
}

impl BlockTag {
    /// The block number this tag means on a chain whose head is `head`.
    pub(crate) fn resolve(self, head: u64) -> u64 {
        match self {
            Self::Number(number) => number,
            Self::Earliest => 0,
            Self::Latest | Self::Pending => head,
            Self::Safe => head.saturating_sub(SAFE_DEPTH),
            Self::Finalized => head.saturating_sub(FINALIZED_DEPTH),
        }
    }
}

impl<'de> Deserialize<'de> for BlockTag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(match text.as_str() {
            "earliest" => Self::Earliest,
            "latest" => Self::Latest,
            "pending" => Self::Pending,
            "safe" => Self::Safe,
            "finalized" => Self::Finalized,
            number => Self::Number(quantity::parse(number).map_err(serde::de::Error::custom)?),
        })
    }
}

/// One value or a list of alternatives.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            Self::One(value) => vec![value],
            Self::Many(values) => values,
        }
    }
}

/// The filter object of `eth_getLogs` and `eth_subscribe("logs")`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FilterParams {
    pub(crate) from_block: Option<BlockTag>,
    pub(crate) to_block: Option<BlockTag>,
    pub(crate) block_hash: Option<B256>,
    address: Option<OneOrMany<Address>>,
    topics: Option<Vec<Option<OneOrMany<B256>>>>,
}

impl FilterParams {
    /// What a log must look like to pass the filter.
    pub(crate) fn matcher(&self) -> Result<LogMatcher, String> {
        let topics: Vec<Vec<B256>> = self
            .topics
            .iter()
            .flatten()
            .map(|position| {
                position
                    .clone()
                    .map(OneOrMany::into_vec)
                    .unwrap_or_default()
            })
            .collect();
        if topics.len() > MAX_TOPICS {
            return Err(format!(
                "exceed max topics: {} > {MAX_TOPICS}",
                topics.len()
            ));
        }
        let addresses = self
            .address
            .clone()
            .map(OneOrMany::into_vec)
            .unwrap_or_default();
        Ok(LogMatcher { addresses, topics })
    }
}

/// Address and topic constraints of a log filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogMatcher {
    /// Any of these addresses; empty matches all.
    addresses: Vec<Address>,
    /// Per position, any of these topics; an empty position matches all.
    topics: Vec<Vec<B256>>,
}

impl LogMatcher {
    /// Whether `log` passes, with geth's rule that a log with fewer topics than the filter's positions
    /// never does.
    pub(crate) fn matches(&self, log: &RpcLog) -> bool {
        if !self.addresses.is_empty() && !self.addresses.contains(&log.address) {
            return false;
        }
        if self.topics.len() > log.topics.len() {
            return false;
        }
        self.topics
            .iter()
            .zip(&log.topics)
            .all(|(wanted, topic)| wanted.is_empty() || wanted.contains(topic))
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{Bytes, address, b256};
    use serde_json::json;

    use super::*;

    const A: Address = address!("0x00000000000000000000000000000000000000a1");
    const T1: B256 = b256!("0x0000000000000000000000000000000000000000000000000000000000000001");
    const T2: B256 = b256!("0x0000000000000000000000000000000000000000000000000000000000000002");

    fn log(address: Address, topics: &[B256]) -> RpcLog {
        RpcLog {
            address,
            topics: topics.to_vec(),
            data: Bytes::new(),
            block_number: 1,
            block_hash: B256::ZERO,
            block_timestamp: 0,
            transaction_hash: B256::ZERO,
            transaction_index: 0,
            log_index: 0,
            removed: false,
        }
    }

    fn matcher(filter: serde_json::Value) -> LogMatcher {
        serde_json::from_value::<FilterParams>(filter)
            .unwrap()
            .matcher()
            .unwrap()
    }

    #[test]
    fn topics_match_by_position_with_alternatives_and_wildcards() {
        let two_topics = log(A, &[T1, T2]);
        assert!(matcher(json!({})).matches(&two_topics));
        assert!(matcher(json!({ "topics": [T1] })).matches(&two_topics));
        assert!(matcher(json!({ "topics": [null, T2] })).matches(&two_topics));
        assert!(matcher(json!({ "topics": [[T2, T1], []] })).matches(&two_topics));
        assert!(!matcher(json!({ "topics": [T2] })).matches(&two_topics));
        assert!(!matcher(json!({ "topics": [null, null, null] })).matches(&two_topics));
        assert!(matcher(json!({ "address": A })).matches(&two_topics));
        assert!(matcher(json!({ "address": [Address::ZERO, A] })).matches(&two_topics));
        assert!(!matcher(json!({ "address": Address::ZERO })).matches(&two_topics));
    }

    #[test]
    fn block_tags_resolve_against_the_head() {
        let tag = |text: &str| {
            serde_json::from_value::<BlockTag>(json!(text)).map(|tag| tag.resolve(100))
        };
        assert_eq!(tag("latest").unwrap(), 100);
        assert_eq!(tag("pending").unwrap(), 100);
        assert_eq!(tag("earliest").unwrap(), 0);
        assert_eq!(tag("safe").unwrap(), 100 - SAFE_DEPTH);
        assert_eq!(tag("finalized").unwrap(), 100 - FINALIZED_DEPTH);
        assert_eq!(tag("0x2a").unwrap(), 42);
        assert!(tag("42").is_err(), "no prefix");
        assert!(tag("0x").is_err(), "no digits");
        assert!(tag("0x02a").is_err(), "leading zero");
    }
}
