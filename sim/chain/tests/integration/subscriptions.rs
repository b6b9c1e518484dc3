//! `eth_subscribe` over a real WebSocket client: `newHeads`, filtered `logs`, `eth_unsubscribe`.

use alloy_sol_types::SolEvent;
use serde_json::json;
use sim_chain::abi::TakeOrderV2;

use crate::support::{self, Http, QUIET, Ws, quantity};

#[tokio::test]
async fn new_heads_arrive_like_geth_sends_them() {
    let sim = support::start().await;
    let mut ws = Ws::connect(&sim).await;
    let id = ws.subscribe(json!(["newHeads"])).await;
    assert!(
        id.starts_with("0x") && id.len() == 34,
        "geth-style id: {id}"
    );
    sim.mine_blocks(2);
    for number in 1..=2 {
        let params = ws.notification().await;
        assert_eq!(params["subscription"], id.as_str());
        let head = &params["result"];
        assert_eq!(quantity(&head["number"]), number);
        for field in [
            "hash",
            "parentHash",
            "timestamp",
            "logsBloom",
            "miner",
            "gasLimit",
            "baseFeePerGas",
        ] {
            assert!(head[field].is_string(), "head has {field}: {head}");
        }
    }
    // The same methods as over HTTP work on the socket.
    assert_eq!(ws.call("eth_blockNumber", json!([])).await["result"], "0x2");
}

#[tokio::test]
async fn logs_subscription_filters_and_unsubscribe_stops_it() {
    let sim = support::start().await;
    let mut ws = Ws::connect(&sim).await;
    let orderbook = sim_chain::BASE_ORDERBOOK;
    let takes = ws
        .subscribe(
            json!(["logs", { "address": orderbook, "topics": [TakeOrderV2::SIGNATURE_HASH] }]),
        )
        .await;
    let everything = ws.subscribe(json!(["logs", {}])).await;
    let tx = sim.submit(&[support::our_sale(&sim, 1, 100)]).unwrap();
    sim.mine();

    let mut seen = Vec::new();
    while let Some(params) = ws.notification_within(QUIET).await {
        seen.push(params);
    }
    let by = |id: &str| {
        seen.iter()
            .filter(|params| params["subscription"] == id)
            .count()
    };
    assert_eq!(by(&takes), 1, "{seen:?}");
    assert_eq!(by(&everything), 4, "a context, a take and two transfers");
    let take = seen
        .iter()
        .find(|params| params["subscription"] == takes.as_str())
        .unwrap();
    assert_eq!(support::hash(&take["result"]["transactionHash"]), tx);
    assert_eq!(take["result"]["removed"], false);
    // The notified log is the one eth_getLogs returns.
    let filter = json!({ "address": orderbook, "topics": [TakeOrderV2::SIGNATURE_HASH] });
    let logs = Http::new(&sim).logs(filter).await;
    assert_eq!(take["result"], logs[0]);

    assert_eq!(
        ws.call("eth_unsubscribe", json!([takes])).await["result"],
        true
    );
    assert_eq!(
        ws.call("eth_unsubscribe", json!([takes])).await["result"],
        false
    );
    assert_eq!(
        ws.call("eth_unsubscribe", json!([everything])).await["result"],
        true
    );
    sim.submit(&[support::our_sale(&sim, 1, 100)]).unwrap();
    sim.mine();
    assert!(ws.notification_within(QUIET).await.is_none());
    let unknown = ws.call("eth_subscribe", json!(["bogus"])).await;
    assert!(unknown["error"]["code"].is_i64(), "{unknown}");
}

#[tokio::test]
async fn batches_work_over_the_socket() {
    let sim = support::start().await;
    let mut ws = Ws::connect(&sim).await;
    let batch = json!([
        { "jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"] },
        { "jsonrpc": "2.0", "id": 2, "method": "eth_chainId" },
    ]);
    ws.send(batch.to_string()).await;
    let responses = ws.next_message(support::PATIENCE).await.unwrap();
    assert_eq!(responses[1]["result"], "0x2105");
    let id = responses[0]["result"].as_str().unwrap().to_owned();
    sim.mine();
    assert_eq!(ws.notification().await["subscription"], id.as_str());
}
