//! The simulator's own record of every fill it put on chain, kept from the trades it generated (never
//! from decoding its logs), so tests can hold a consumer's database against it.

use alloy_primitives::{Address, B256, U256};
use serde::Serialize;

use crate::json::decimal;
use crate::tokens::Token;
use crate::trade::FillSide;

/// An exact amount of a token, with the token's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenAmount {
    pub token: Token,
    /// Amount in the token's smallest units (JSON: a decimal string).
    #[serde(with = "decimal")]
    pub amount: U256,
}

/// One order filled by one trade log, as mined into one block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fill {
    /// Transaction that holds the trade.
    pub tx_hash: B256,
    /// Block-wide index of the `TakeOrderV2` or `ClearV2` log.
    pub log_index: u64,
    /// Block number the fill was mined in.
    pub block_number: u64,
    pub block_hash: B256,
    /// Which order of the trade was filled.
    pub side: FillSide,
    /// Owner of the filled order.
    pub owner: Address,
    /// `keccak256(abi.encode(order))`.
    pub order_hash: B256,
    /// What the order gave.
    pub gave: TokenAmount,
    /// What the order received.
    pub received: TokenAmount,
    /// False once a reorg took this block out of the chain (a re-included transaction gets a new entry).
    pub canonical: bool,
}

/// Every fill ever mined, in mining order.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    fills: Vec<Fill>,
}

impl Ledger {
    /// Records a freshly mined fill.
    pub(crate) fn record(&mut self, fill: Fill) {
        self.fills.push(fill);
    }

    /// Marks the fills of blocks from `first_block` on as reorged out, returning how many it marked.
    pub(crate) fn reorg_from(&mut self, first_block: u64) -> usize {
        let mut marked = 0;
        for fill in self.fills.iter_mut().rev() {
            if fill.canonical {
                if fill.block_number < first_block {
                    break;
                }
                fill.canonical = false;
                marked += 1;
            }
        }
        marked
    }

    /// All fills, canonical or not, in mining order.
    pub(crate) fn fills(&self) -> &[Fill] {
        &self.fills
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::Address;

    use super::*;

    fn fill(block_number: u64) -> Fill {
        let token = Token {
            address: Address::ZERO,
            symbol: "USDC".to_owned(),
            decimals: 6,
        };
        Fill {
            tx_hash: B256::with_last_byte(u8::try_from(block_number).unwrap()),
            log_index: 0,
            block_number,
            block_hash: B256::ZERO,
            side: FillSide::Taken,
            owner: Address::ZERO,
            order_hash: B256::ZERO,
            gave: TokenAmount {
                token: token.clone(),
                amount: U256::from(1),
            },
            received: TokenAmount {
                token,
                amount: U256::from(2),
            },
            canonical: true,
        }
    }

    #[test]
    fn reorg_marks_only_the_canonical_fills_of_replaced_blocks() {
        let mut ledger = Ledger::default();
        for block in [1, 2, 3, 3, 4] {
            ledger.record(fill(block));
        }
        assert_eq!(ledger.reorg_from(3), 3);
        // A re-included fill lands in block 3 again, then a deeper reorg replaces blocks from 2.
        ledger.record(fill(3));
        assert_eq!(ledger.reorg_from(2), 2);
        let canonical: Vec<u64> = ledger
            .fills()
            .iter()
            .filter(|fill| fill.canonical)
            .map(|fill| fill.block_number)
            .collect();
        assert_eq!(canonical, [1]);
        assert_eq!(ledger.fills().len(), 6);
    }
}
