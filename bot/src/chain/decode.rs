//! Decoding orderbook logs into fills, pairing each `ClearV2` with its `AfterClear`, and keeping
//! only the fills of our orders.

use std::collections::{HashMap, HashSet};

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_sol_types::{SolEvent, SolValue};

use super::abi::{AfterClear, ClearV2, IO, OrderV3, TakeOrderV2};
use super::log::RpcLog;
use crate::trade::{EventKind, Fill, LogKey, OrderSide, TokenAmount};

/// Why a log cannot be turned into fills.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The log's data does not match the event's ABI.
    #[error("log {key}: {source}")]
    Abi {
        key: LogKey,
        /// The ABI decoding error.
        source: Box<alloy_sol_types::Error>,
    },
    /// An IO index in the event points outside the order's IO list.
    #[error("log {key}: IO index {index} out of range for the {side:?} order")]
    IoIndex {
        key: LogKey,
        /// Which order.
        side: OrderSide,
        /// The index past the order's inputs or outputs.
        index: U256,
    },
}

/// The topic0s of every orderbook event the bot reads.
pub fn topics() -> [B256; 3] {
    [
        TakeOrderV2::SIGNATURE_HASH,
        ClearV2::SIGNATURE_HASH,
        AfterClear::SIGNATURE_HASH,
    ]
}

/// True when the log is an event that carries fills itself (not an `AfterClear`).
pub fn carries_fills(log: &RpcLog) -> bool {
    matches!(log.topic0(), Some(t) if t == TakeOrderV2::SIGNATURE_HASH || t == ClearV2::SIGNATURE_HASH)
}

/// The fills of a log complete by itself: a `TakeOrderV2`. `None` for any other log: a `ClearV2`
/// needs its `AfterClear`, and from a stream that may have lost a notification, pairing them is a
/// guess (only a complete answer, as `eth_getLogs` or a receipt gives, pairs them for sure).
pub fn decode_take(log: &RpcLog) -> Result<Option<OrderbookEvent>, DecodeError> {
    if log.topic0() != Some(TakeOrderV2::SIGNATURE_HASH) {
        return Ok(None);
    }
    let event =
        TakeOrderV2::decode_raw_log(log.topics.iter().copied(), &log.data).map_err(|source| {
            DecodeError::Abi {
                key: log.key(),
                source: Box::new(source),
            }
        })?;
    take_order_event(log, &event).map(Some)
}

/// A decoded fill-carrying event with the fills of every order it touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderbookEvent {
    /// The `TakeOrderV2` or `ClearV2` log.
    pub key: LogKey,
    /// Block holding the log.
    pub block_number: u64,
    /// Hash of that block.
    pub block_hash: B256,
    pub kind: EventKind,
    /// One fill per order.
    pub fills: Vec<Fill>,
}

/// Which fills are ours: by order owner or by order hash.
#[derive(Debug, Clone, Default)]
pub struct OwnerFilter {
    /// Orders of this owner are ours.
    pub owner: Option<Address>,
    /// Orders with these hashes are ours.
    pub order_hashes: HashSet<B256>,
}

impl OwnerFilter {
    /// Whether the fill is of one of our orders.
    pub fn is_ours(&self, fill: &Fill) -> bool {
        self.owner == Some(fill.owner) || self.order_hashes.contains(&fill.order_hash)
    }

    /// Keeps only our fills; `None` when none remain.
    pub fn retain(&self, mut event: OrderbookEvent) -> Option<OrderbookEvent> {
        event.fills.retain(|fill| self.is_ours(fill));
        (!event.fills.is_empty()).then_some(event)
    }
}

/// `keccak256(abi.encode(order))`, the orderbook's order hash.
pub fn order_hash(order: &OrderV3) -> B256 {
    keccak256(order.abi_encode())
}

/// Decodes logs in chain order, pairing each `AfterClear` with the nearest `ClearV2` before it in the
/// same transaction.
#[derive(Debug, Default)]
pub struct Decoder {
    /// `ClearV2` logs still waiting for their `AfterClear`, by transaction.
    pending_clears: HashMap<B256, Vec<(RpcLog, ClearV2)>>,
}

impl Decoder {
    /// Feeds the next log (in chain order); returns the events it completes.
    pub fn push(&mut self, log: &RpcLog) -> Result<Vec<OrderbookEvent>, DecodeError> {
        let abi = |source| DecodeError::Abi {
            key: log.key(),
            source: Box::new(source),
        };
        match log.topic0() {
            Some(t) if t == TakeOrderV2::SIGNATURE_HASH => {
                Ok(decode_take(log)?.into_iter().collect())
            }
            Some(t) if t == ClearV2::SIGNATURE_HASH => {
                let event =
                    ClearV2::decode_raw_log(log.topics.iter().copied(), &log.data).map_err(abi)?;
                self.pending_clears
                    .entry(log.transaction_hash)
                    .or_default()
                    .push((log.clone(), event));
                Ok(Vec::new())
            }
            Some(t) if t == AfterClear::SIGNATURE_HASH => {
                let after = AfterClear::decode_raw_log(log.topics.iter().copied(), &log.data)
                    .map_err(abi)?;
                let Some(pending) = self.pending_clears.get_mut(&log.transaction_hash) else {
                    return Ok(Vec::new());
                };
                // Its clear is the nearest `ClearV2` before it: a clear further back lost its own
                // `AfterClear` (a dropped notification) and must not take this one's amounts; the
                // catch-up reads it again, complete.
                let index = log.key().log_index;
                let nearest = pending
                    .iter()
                    .enumerate()
                    .filter(|(_, (clear_log, _))| clear_log.key().log_index < index)
                    .max_by_key(|(_, (clear_log, _))| clear_log.key().log_index)
                    .map(|(position, _)| position);
                let Some(position) = nearest else {
                    return Ok(Vec::new());
                };
                let (clear_log, clear) = pending.remove(position);
                pending.retain(|(stale, _)| stale.key().log_index > index);
                if pending.is_empty() {
                    self.pending_clears.remove(&log.transaction_hash);
                }
                Ok(vec![clear_event(&clear_log, &clear, &after)?])
            }
            _ => Ok(Vec::new()),
        }
    }

    /// Decodes a complete batch of logs (e.g. one `eth_getLogs` answer) in chain order.
    pub fn decode_batch(logs: &mut [RpcLog]) -> Result<Vec<OrderbookEvent>, DecodeError> {
        logs.sort_by_key(|log| (log.block(), log.key().log_index));
        let mut decoder = Self::default();
        let mut events = Vec::new();
        for log in logs.iter().filter(|log| !log.removed) {
            events.extend(decoder.push(log)?);
        }
        Ok(events)
    }
}

fn take_order_event(log: &RpcLog, event: &TakeOrderV2) -> Result<OrderbookEvent, DecodeError> {
    let config = &event.config;
    let side = OrderSide::Taken;
    // `input`/`output` are the taker's: the taker's input is what the order gave (from its
    // outputs), the taker's output is what the order received (into its inputs).
    let fill = Fill {
        side,
        order_hash: order_hash(&config.order),
        owner: config.order.owner,
        gave: io_amount(
            log,
            side,
            &config.order.validOutputs,
            config.outputIOIndex,
            event.input,
        )?,
        received: io_amount(
            log,
            side,
            &config.order.validInputs,
            config.inputIOIndex,
            event.output,
        )?,
    };
    Ok(OrderbookEvent {
        key: log.key(),
        block_number: log.block(),
        block_hash: log.block_hash,
        kind: EventKind::TakeOrderV2,
        fills: vec![fill],
    })
}

fn clear_event(
    log: &RpcLog,
    clear: &ClearV2,
    after: &AfterClear,
) -> Result<OrderbookEvent, DecodeError> {
    let config = &clear.clearConfig;
    let change = &after.clearStateChange;
    let alice = Fill {
        side: OrderSide::Alice,
        order_hash: order_hash(&clear.alice),
        owner: clear.alice.owner,
        gave: io_amount(
            log,
            OrderSide::Alice,
            &clear.alice.validOutputs,
            config.aliceOutputIOIndex,
            change.aliceOutput,
        )?,
        received: io_amount(
            log,
            OrderSide::Alice,
            &clear.alice.validInputs,
            config.aliceInputIOIndex,
            change.aliceInput,
        )?,
    };
    let bob = Fill {
        side: OrderSide::Bob,
        order_hash: order_hash(&clear.bob),
        owner: clear.bob.owner,
        gave: io_amount(
            log,
            OrderSide::Bob,
            &clear.bob.validOutputs,
            config.bobOutputIOIndex,
            change.bobOutput,
        )?,
        received: io_amount(
            log,
            OrderSide::Bob,
            &clear.bob.validInputs,
            config.bobInputIOIndex,
            change.bobInput,
        )?,
    };
    Ok(OrderbookEvent {
        key: log.key(),
        block_number: log.block(),
        block_hash: log.block_hash,
        kind: EventKind::ClearV2,
        fills: vec![alice, bob],
    })
}

fn io_amount(
    log: &RpcLog,
    side: OrderSide,
    ios: &[IO],
    index: U256,
    raw: U256,
) -> Result<TokenAmount, DecodeError> {
    let io = usize::try_from(index)
        .ok()
        .and_then(|i| ios.get(i))
        .ok_or(DecodeError::IoIndex {
            key: log.key(),
            side,
            index,
        })?;
    Ok(TokenAmount {
        token: io.token,
        decimals: io.decimals,
        raw,
    })
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{Bytes, U64, address};

    use super::super::abi::{ClearConfig, ClearStateChange, EvaluableV3, TakeOrderConfigV3};
    use super::*;

    const OWNER: Address = address!("0x00000000000000000000000000000000000000a1");
    const OTHER: Address = address!("0x00000000000000000000000000000000000000b2");
    const USDC: Address = address!("0x0000000000000000000000000000000000000c01");
    const EQUITY: Address = address!("0x0000000000000000000000000000000000000e01");
    const TX: B256 = B256::repeat_byte(0x77);

    fn order(owner: Address, nonce: u8) -> OrderV3 {
        let usdc = IO {
            token: USDC,
            decimals: 6,
            vaultId: U256::from(1),
        };
        let equity = IO {
            token: EQUITY,
            decimals: 18,
            vaultId: U256::from(2),
        };
        OrderV3 {
            owner,
            evaluable: EvaluableV3 {
                interpreter: Address::ZERO,
                store: Address::ZERO,
                bytecode: Bytes::new(),
            },
            // Inputs: [equity, usdc]; outputs: [usdc, equity].
            validInputs: vec![equity.clone(), usdc.clone()],
            validOutputs: vec![usdc, equity],
            nonce: B256::repeat_byte(nonce),
        }
    }

    fn log_of(event: &impl SolEvent, log_index: u64) -> RpcLog {
        let data = event.encode_log_data();
        RpcLog {
            address: Address::ZERO,
            topics: data.topics().to_vec(),
            data: data.data,
            block_number: U64::from(10),
            block_hash: B256::repeat_byte(0x10),
            transaction_hash: TX,
            log_index: U64::from(log_index),
            removed: false,
        }
    }

    fn clear(alice: OrderV3, bob: OrderV3) -> ClearV2 {
        ClearV2 {
            sender: OTHER,
            alice,
            bob,
            // alice gives usdc (output 0) for equity (input 0); bob gives equity (output 1)
            // for usdc (input 1).
            clearConfig: ClearConfig {
                aliceInputIOIndex: U256::ZERO,
                aliceOutputIOIndex: U256::ZERO,
                bobInputIOIndex: U256::from(1),
                bobOutputIOIndex: U256::from(1),
                aliceBountyVaultId: U256::ZERO,
                bobBountyVaultId: U256::ZERO,
            },
        }
    }

    fn after(alice_output: u64, bob_output: u64, alice_input: u64, bob_input: u64) -> AfterClear {
        AfterClear {
            sender: OTHER,
            clearStateChange: ClearStateChange {
                aliceOutput: U256::from(alice_output),
                bobOutput: U256::from(bob_output),
                aliceInput: U256::from(alice_input),
                bobInput: U256::from(bob_input),
            },
        }
    }

    #[test]
    fn take_order_input_is_what_the_order_gave() {
        // The taker's `input` (received by the taker) is the order's output token.
        let event = TakeOrderV2 {
            sender: OTHER,
            config: TakeOrderConfigV3 {
                order: order(OWNER, 1),
                inputIOIndex: U256::ZERO,  // order receives equity
                outputIOIndex: U256::ZERO, // order gives usdc
                signedContext: vec![],
            },
            input: U256::from(200_000_000u64),
            output: U256::from(1_000_000_000_000_000_000u64),
        };
        let events = Decoder::default().push(&log_of(&event, 3)).unwrap();
        let fill = &events[0].fills[0];
        assert_eq!(events[0].kind, EventKind::TakeOrderV2);
        assert_eq!(
            (fill.gave.token, fill.gave.decimals, fill.gave.raw),
            (USDC, 6, U256::from(200_000_000u64))
        );
        assert_eq!((fill.received.token, fill.received.decimals), (EQUITY, 18));
        assert_eq!(fill.order_hash, order_hash(&order(OWNER, 1)));
        assert_eq!(fill.owner, OWNER);
    }

    #[test]
    fn io_index_out_of_range_is_an_error() {
        let event = TakeOrderV2 {
            sender: OTHER,
            config: TakeOrderConfigV3 {
                order: order(OWNER, 1),
                inputIOIndex: U256::from(5),
                outputIOIndex: U256::ZERO,
                signedContext: vec![],
            },
            input: U256::ZERO,
            output: U256::ZERO,
        };
        let err = Decoder::default().push(&log_of(&event, 0)).unwrap_err();
        assert!(matches!(err, DecodeError::IoIndex { .. }), "{err}");
    }

    #[test]
    fn each_clear_pairs_with_the_next_after_clear_of_its_transaction() {
        let mut logs = vec![
            log_of(&after(2, 20, 3, 30), 4),
            log_of(&clear(order(OWNER, 1), order(OTHER, 2)), 1),
            log_of(&after(1, 10, 5, 50), 2),
            log_of(&clear(order(OTHER, 3), order(OWNER, 4)), 3),
        ];
        let events = Decoder::decode_batch(&mut logs).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].key.log_index, 1);
        assert_eq!(events[0].fills[0].gave.raw, U256::from(1));
        assert_eq!(events[0].fills[0].received.raw, U256::from(5));
        assert_eq!(events[1].key.log_index, 3);
        assert_eq!(events[1].fills[1].gave.raw, U256::from(20));
        assert_eq!(events[1].fills[1].received.raw, U256::from(30));
    }

    #[test]
    fn a_clear_without_its_after_clear_yields_nothing_until_it_arrives() {
        let mut decoder = Decoder::default();
        let clear_log = log_of(&clear(order(OWNER, 1), order(OTHER, 2)), 7);
        assert!(decoder.push(&clear_log).unwrap().is_empty());
        // An AfterClear before it in the same transaction belongs to an earlier clear.
        assert!(
            decoder
                .push(&log_of(&after(1, 1, 1, 1), 6))
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            decoder.push(&log_of(&after(1, 1, 1, 1), 8)).unwrap().len(),
            1
        );
    }

    #[test]
    fn an_after_clear_pairs_only_with_the_nearest_clear_before_it() {
        // The first clear's AfterClear (log 2) was lost: the second AfterClear belongs to the second clear.
        let mut decoder = Decoder::default();
        let first = log_of(&clear(order(OWNER, 1), order(OTHER, 2)), 1);
        let second = log_of(&clear(order(OTHER, 3), order(OWNER, 4)), 3);
        assert!(decoder.push(&first).unwrap().is_empty());
        assert!(decoder.push(&second).unwrap().is_empty());
        let events = decoder.push(&log_of(&after(2, 20, 3, 30), 4)).unwrap();
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].key.log_index, 3);
        assert_eq!(events[0].fills[1].gave.raw, U256::from(20));
        // The stale first clear is gone: a later AfterClear never takes it either.
        assert!(
            decoder
                .push(&log_of(&after(9, 9, 9, 9), 6))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn owner_may_be_on_the_alice_side() {
        let mut logs = vec![
            log_of(&clear(order(OWNER, 1), order(OTHER, 2)), 1),
            log_of(&after(100, 2, 2, 100), 2),
        ];
        let event = Decoder::decode_batch(&mut logs).unwrap().remove(0);
        let filter = OwnerFilter {
            owner: Some(OWNER),
            ..OwnerFilter::default()
        };
        let ours = filter.retain(event).unwrap();
        assert_eq!(ours.fills.len(), 1);
        assert_eq!(ours.fills[0].side, OrderSide::Alice);
        assert_eq!(ours.fills[0].gave.token, USDC);
    }

    #[test]
    fn owner_may_be_on_the_bob_side() {
        let mut logs = vec![
            log_of(&clear(order(OTHER, 1), order(OWNER, 2)), 1),
            log_of(&after(100, 2, 2, 100), 2),
        ];
        let event = Decoder::decode_batch(&mut logs).unwrap().remove(0);
        let filter = OwnerFilter {
            owner: Some(OWNER),
            ..OwnerFilter::default()
        };
        let ours = filter.retain(event).unwrap();
        assert_eq!(ours.fills.len(), 1);
        assert_eq!(ours.fills[0].side, OrderSide::Bob);
        assert_eq!(
            (ours.fills[0].gave.token, ours.fills[0].gave.raw),
            (EQUITY, U256::from(2))
        );
    }

    #[test]
    fn order_hashes_select_fills_of_any_owner() {
        let theirs = order(OTHER, 9);
        let filter = OwnerFilter {
            owner: Some(OWNER),
            order_hashes: HashSet::from([order_hash(&theirs)]),
        };
        let mut logs = vec![
            log_of(&clear(theirs, order(OTHER, 2)), 1),
            log_of(&after(1, 1, 1, 1), 2),
        ];
        let event = Decoder::decode_batch(&mut logs).unwrap().remove(0);
        assert_eq!(
            filter.retain(event).unwrap().fills[0].side,
            OrderSide::Alice
        );
        let mut logs = vec![
            log_of(&clear(order(OTHER, 3), order(OTHER, 2)), 1),
            log_of(&after(1, 1, 1, 1), 2),
        ];
        let event = Decoder::decode_batch(&mut logs).unwrap().remove(0);
        assert_eq!(filter.retain(event), None);
    }

    #[test]
    fn order_hash_is_keccak_of_the_abi_encoded_order() {
        // abi.encode of a dynamic struct starts with the offset of its tuple.
        let encoded = order(OWNER, 1).abi_encode();
        assert_eq!(U256::from_be_slice(&encoded[..32]), U256::from(32));
        assert_eq!(order_hash(&order(OWNER, 1)), keccak256(&encoded));
    }
}
