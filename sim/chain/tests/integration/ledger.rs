//! The ledger agrees with what a consumer decodes from the logs by the reference rules, and the random
//! generator covers the mix a bot must handle.

use std::collections::{BTreeMap, HashMap};

use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::SolEvent;
use serde_json::{Value, json};
use sim_chain::abi::{AfterClear, ClearV2, IO, TakeOrderV2};
use sim_chain::{Config, FillSide};

use crate::abi::log_data;
use crate::support::{self, Http, OWNER, hash, quantity};

/// A fill as decoded from logs: (tx, log index, side) → (owner, order hash, gave, received).
type Decoded = BTreeMap<(B256, u64, FillSide), (Address, B256, (Address, U256), (Address, U256))>;

fn io_token(ios: &[IO], index: U256) -> Address {
    ios[usize::try_from(index).unwrap()].token
}

/// Decodes the orderbook logs by the bot-domain rules, independently of the simulator's code.
fn decode(logs: &[Value]) -> Decoded {
    let mut fills = Decoded::new();
    for (position, log) in logs.iter().enumerate() {
        let data = log_data(log);
        let key = |side| {
            (
                hash(&log["transactionHash"]),
                quantity(&log["logIndex"]),
                side,
            )
        };
        if let Ok(take) = TakeOrderV2::decode_log_data(&data) {
            let order = &take.config.order;
            let gave = (
                io_token(&order.validOutputs, take.config.outputIOIndex),
                take.input,
            );
            let received = (
                io_token(&order.validInputs, take.config.inputIOIndex),
                take.output,
            );
            fills.insert(
                key(FillSide::Taken),
                (order.owner, order.hash(), gave, received),
            );
        } else if let Ok(clear) = ClearV2::decode_log_data(&data) {
            // The AfterClear of the same transaction with the smallest greater log index.
            let after = logs[position + 1..]
                .iter()
                .filter(|next| next["transactionHash"] == log["transactionHash"])
                .find_map(|next| AfterClear::decode_log_data(&log_data(next)).ok())
                .expect("an AfterClear follows");
            let change = after.clearStateChange;
            let config = &clear.clearConfig;
            let alice = (
                clear.alice.owner,
                clear.alice.hash(),
                (
                    io_token(&clear.alice.validOutputs, config.aliceOutputIOIndex),
                    change.aliceOutput,
                ),
                (
                    io_token(&clear.alice.validInputs, config.aliceInputIOIndex),
                    change.aliceInput,
                ),
            );
            let bob = (
                clear.bob.owner,
                clear.bob.hash(),
                (
                    io_token(&clear.bob.validOutputs, config.bobOutputIOIndex),
                    change.bobOutput,
                ),
                (
                    io_token(&clear.bob.validInputs, config.bobInputIOIndex),
                    change.bobInput,
                ),
            );
            fills.insert(key(FillSide::Alice), alice);
            fills.insert(key(FillSide::Bob), bob);
        }
    }
    fills
}

#[tokio::test]
async fn ledger_matches_the_decoded_logs_and_covers_the_mix() {
    let sim = support::start_with(Config {
        owner: OWNER,
        seed: 7,
        trades_per_block: 4,
        ..Config::default()
    })
    .await;
    let http = Http::new(&sim);
    sim.mine_blocks(60);
    let logs = http
        .logs(json!({ "fromBlock": "earliest", "address": sim_chain::BASE_ORDERBOOK }))
        .await;
    let decoded = decode(&logs);
    let ledger = sim.ledger();
    let from_ledger: Decoded = ledger
        .iter()
        .map(|fill| {
            (
                (fill.tx_hash, fill.log_index, fill.side),
                (
                    fill.owner,
                    fill.order_hash,
                    (fill.gave.token.address, fill.gave.amount),
                    (fill.received.token.address, fill.received.amount),
                ),
            )
        })
        .collect();
    assert_eq!(
        from_ledger.len(),
        ledger.len(),
        "one entry per (tx, log, side)"
    );
    assert_eq!(from_ledger, decoded);

    let symbols: HashMap<Address, (String, u8)> = sim
        .tokens()
        .into_iter()
        .map(|token| (token.address, (token.symbol, token.decimals)))
        .collect();
    let ours = ledger.iter().filter(|fill| fill.owner == OWNER).count();
    assert!(
        ours > 20 && ours < ledger.len() - 20,
        "ours and others': {ours} of {}",
        ledger.len()
    );
    let usdc_gave = ledger
        .iter()
        .filter(|fill| fill.gave.token.symbol == "USDC")
        .count();
    let usdc_received = ledger
        .iter()
        .filter(|fill| fill.received.token.symbol == "USDC")
        .count();
    let no_usdc = ledger.len() - usdc_gave - usdc_received;
    assert!(
        usdc_gave > 10 && usdc_received > 10 && no_usdc > 3,
        "{usdc_gave} {usdc_received} {no_usdc}"
    );
    for symbol in ["AAPL0x", "NVDAs1", "tAAPL"] {
        assert!(
            ledger.iter().any(|fill| fill.gave.token.symbol == symbol),
            "{symbol} traded"
        );
    }
    let decimals: Vec<u8> = ledger
        .iter()
        .map(|fill| symbols[&fill.gave.token.address].1)
        .collect();
    assert!(decimals.contains(&6) && decimals.contains(&18));
    let mut clears_per_tx: HashMap<B256, usize> = HashMap::new();
    for fill in ledger.iter().filter(|fill| fill.side == FillSide::Alice) {
        *clears_per_tx.entry(fill.tx_hash).or_default() += 1;
    }
    assert!(
        clears_per_tx.values().any(|clears| *clears >= 2),
        "several clears in one transaction"
    );
    assert!(
        ledger
            .iter()
            .any(|fill| fill.side == FillSide::Bob && fill.owner == OWNER),
        "ours on the bob side"
    );
    assert!(ledger.iter().all(|fill| fill.canonical));
}

#[tokio::test]
async fn the_same_seed_generates_the_same_trades() {
    let run = |seed| async move {
        let sim = support::start_with(Config {
            owner: OWNER,
            seed,
            ..Config::default()
        })
        .await;
        sim.submit_random(20);
        sim.mine();
        sim.ledger()
            .into_iter()
            .map(|fill| (fill.order_hash, fill.gave.amount))
            .collect::<Vec<_>>()
    };
    let first = run(3).await;
    assert!(!first.is_empty());
    assert_eq!(first, run(3).await);
    assert_ne!(first, run(4).await);
}
