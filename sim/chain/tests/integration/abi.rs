//! The logs use Rain's real ABI: reference topic0s, decode-what-you-encode, and the taker convention.

use alloy_primitives::{Bytes, LogData, U256};
use alloy_sol_types::SolEvent;
use serde_json::{Value, json};
use sim_chain::abi::{AfterClear, ClearV2, Context, TakeOrderV2, Transfer};
use sim_chain::{FillSide, Trade};

use crate::support::{self, Http, OWNER, STRANGER, TAKER, fill, hash, token, units};

#[test]
fn topic0s_are_the_reference_ones() {
    assert_eq!(
        TakeOrderV2::SIGNATURE_HASH.to_string(),
        "0x10de99b9032184587540c04e1850dff94a7683ae1fcc9eb06098621c739c0275"
    );
    assert_eq!(
        ClearV2::SIGNATURE_HASH.to_string(),
        "0x692ee69af2843c70772be93470669f3c73e583316a047b6bfefdae5629de37ce"
    );
    assert_eq!(
        AfterClear::SIGNATURE_HASH.to_string(),
        "0x3f20e55919cca701abb2a40ab72542b25ea7eed63a50f979dd2cd3231e5f488d"
    );
}

/// The `LogData` of a JSON log.
pub fn log_data(log: &Value) -> LogData {
    let topics = log["topics"].as_array().unwrap().iter().map(hash).collect();
    let data: Bytes = log["data"].as_str().unwrap().parse().unwrap();
    LogData::new(topics, data).unwrap()
}

#[tokio::test]
async fn take_logs_decode_with_the_taker_convention() {
    let sim = support::start().await;
    let http = Http::new(&sim);
    let tx = sim.submit(&[support::our_sale(&sim, 3, 600)]).unwrap();
    sim.mine();

    let filter =
        json!({ "address": sim_chain::BASE_ORDERBOOK, "topics": [TakeOrderV2::SIGNATURE_HASH] });
    let logs = http.logs(filter).await;
    assert_eq!(logs.len(), 1, "one take: {logs:?}");
    assert_eq!(hash(&logs[0]["transactionHash"]), tx);
    let data = log_data(&logs[0]);
    let event = TakeOrderV2::decode_log_data(&data).unwrap();
    // Encoding the decoded event gives the same bytes back.
    assert_eq!(event.encode_log_data(), data);

    let aapl = token(&sim, "AAPL0x");
    let usdc = token(&sim, "USDC");
    assert_eq!(event.sender, TAKER);
    assert_eq!(event.config.order.owner, OWNER);
    // `input` is what the taker received, i.e. what the order gave: 3 AAPL0x.
    assert_eq!(event.input, units(3, 18));
    let gave_io =
        &event.config.order.validOutputs[usize::try_from(event.config.outputIOIndex).unwrap()];
    assert_eq!((gave_io.token, gave_io.decimals), (aapl.address, 18));
    // `output` is what the taker gave, i.e. what the order received: 600 USDC.
    assert_eq!(event.output, units(600, 6));
    let received_io =
        &event.config.order.validInputs[usize::try_from(event.config.inputIOIndex).unwrap()];
    assert_eq!((received_io.token, received_io.decimals), (usdc.address, 6));

    let ledger = sim.ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].order_hash, event.config.order.hash());
    assert_eq!(ledger[0].log_index, support::quantity(&logs[0]["logIndex"]));
}

#[tokio::test]
async fn several_clears_in_one_transaction_each_have_their_after_clear() {
    let sim = support::start().await;
    let http = Http::new(&sim);
    let (aapl, nvda, usdc) = (
        token(&sim, "AAPL0x"),
        token(&sim, "NVDAs1"),
        token(&sim, "USDC"),
    );
    let clear =
        |shares: u64, usdc_amount: u64, equity: &sim_chain::Token, bounty: u64| Trade::Clear {
            clearer: TAKER,
            alice: fill(
                OWNER,
                "alice",
                (equity, units(shares, 18)),
                (&usdc, units(usdc_amount, 6)),
            ),
            bob: fill(
                STRANGER,
                "bob",
                (&usdc, units(usdc_amount, 6) + U256::from(bounty)),
                (equity, units(shares, 18)),
            ),
        };
    let take = support::our_sale(&sim, 1, 200);
    sim.submit(&[clear(2, 400, &aapl, 0), take, clear(5, 900, &nvda, 7)])
        .unwrap();
    sim.mine();

    let logs = http.logs(json!({})).await;
    let kinds: Vec<&str> = logs
        .iter()
        .map(|log| match hash(&log["topics"][0]) {
            topic if topic == ClearV2::SIGNATURE_HASH => "clear",
            topic if topic == AfterClear::SIGNATURE_HASH => "after",
            topic if topic == TakeOrderV2::SIGNATURE_HASH => "take",
            topic if topic == Transfer::SIGNATURE_HASH => "transfer",
            topic if topic == Context::SIGNATURE_HASH => "context",
            other => panic!("unknown topic {other}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "clear", "context", "context", "after", "context", "take", "transfer", "transfer",
            "clear", "context", "context", "after", "transfer"
        ]
    );
    let indexes: Vec<u64> = logs
        .iter()
        .map(|log| support::quantity(&log["logIndex"]))
        .collect();
    assert_eq!(
        indexes,
        (0..13).collect::<Vec<_>>(),
        "block-wide log indexes"
    );

    let second = ClearV2::decode_log_data(&log_data(&logs[8])).unwrap();
    let second_amounts = AfterClear::decode_log_data(&log_data(&logs[11]))
        .unwrap()
        .clearStateChange;
    assert_eq!(second.alice.owner, OWNER);
    assert_eq!(second.bob.owner, STRANGER);
    assert_eq!(second_amounts.aliceOutput, units(5, 18));
    assert_eq!(second_amounts.aliceInput, units(900, 6));
    assert_eq!(second_amounts.bobOutput, units(900, 6) + U256::from(7));
    assert_eq!(second_amounts.bobInput, units(5, 18));
    let alice_out =
        &second.alice.validOutputs[usize::try_from(second.clearConfig.aliceOutputIOIndex).unwrap()];
    assert_eq!(alice_out.token, nvda.address);
    let bob_out =
        &second.bob.validOutputs[usize::try_from(second.clearConfig.bobOutputIOIndex).unwrap()];
    assert_eq!(bob_out.token, usdc.address);

    let sides: Vec<(u64, FillSide)> = sim
        .ledger()
        .iter()
        .map(|fill| (fill.log_index, fill.side))
        .collect();
    assert_eq!(
        sides,
        [
            (0, FillSide::Alice),
            (0, FillSide::Bob),
            (5, FillSide::Taken),
            (8, FillSide::Alice),
            (8, FillSide::Bob)
        ]
    );
}

#[tokio::test]
async fn invalid_trades_are_refused() {
    let sim = support::start().await;
    let (aapl, usdc) = (token(&sim, "AAPL0x"), token(&sim, "USDC"));
    let same_owner = Trade::Clear {
        clearer: TAKER,
        alice: fill(OWNER, "a", (&aapl, units(1, 18)), (&usdc, units(1, 6))),
        bob: fill(OWNER, "b", (&usdc, units(1, 6)), (&aapl, units(1, 18))),
    };
    assert!(matches!(
        sim.submit(&[same_owner]),
        Err(sim_chain::TradeError::SameOwner(_))
    ));
    let short = Trade::Clear {
        clearer: TAKER,
        alice: fill(OWNER, "a", (&aapl, units(1, 18)), (&usdc, units(2, 6))),
        bob: fill(STRANGER, "b", (&usdc, units(1, 6)), (&aapl, units(1, 18))),
    };
    assert!(matches!(
        sim.submit(&[short]),
        Err(sim_chain::TradeError::InsufficientOutput)
    ));
    let mut unknown = fill(OWNER, "a", (&aapl, units(1, 18)), (&usdc, units(1, 6)));
    unknown.gave.token = STRANGER;
    assert!(matches!(
        sim.submit(&[Trade::Take { taker: TAKER, order: unknown }]),
        Err(sim_chain::TradeError::UnknownToken(address)) if address == STRANGER
    ));
    assert!(matches!(sim.submit(&[]), Err(sim_chain::TradeError::Empty)));
}
