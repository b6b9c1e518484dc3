//! The HTTP control endpoints drive a simulator like the Rust API does.

use reqwest::Method;
use serde_json::json;

use crate::support::{self, Http, Ws};

#[tokio::test]
async fn control_endpoints_script_tokens_trades_mining_and_the_ledger() {
    let sim = support::start().await;
    let http = Http::new(&sim);
    let (status, token) = http
        .control(
            Method::POST,
            "tokens",
            Some(json!({ "symbol": "MSFT0x", "decimals": 18 })),
        )
        .await;
    assert_eq!(status, 200, "{token}");
    let (status, conflict) = http
        .control(
            Method::POST,
            "tokens",
            Some(json!({ "symbol": "MSFT0x", "decimals": 6 })),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        conflict["error"]
            .as_str()
            .unwrap()
            .contains("already registered")
    );
    let (_, tokens) = http.control(Method::GET, "tokens", None).await;
    let usdc = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|token| token["symbol"] == "USDC")
        .unwrap()
        .clone();

    let trade = json!({
        "kind": "take",
        "taker": support::TAKER,
        "order": {
            "owner": support::OWNER,
            "nonce": alloy_primitives::B256::repeat_byte(1),
            "gave": { "token": token["address"], "amount": "1500000000000000000" },
            "received": { "token": usdc["address"], "amount": "301250000" },
        },
    });
    let (status, added) = http
        .control(
            Method::POST,
            "transactions",
            Some(json!({ "trades": [trade] })),
        )
        .await;
    assert_eq!(status, 200, "{added}");
    let (_, random) = http
        .control(
            Method::POST,
            "random-transactions",
            Some(json!({ "count": 3 })),
        )
        .await;
    assert_eq!(random["tx_hashes"].as_array().unwrap().len(), 3);
    let (_, mined) = http
        .control(Method::POST, "mine", Some(json!({ "blocks": 2 })))
        .await;
    assert_eq!(mined["head"], 2);

    let (_, ledger) = http.control(Method::GET, "ledger", None).await;
    let first = &ledger[0];
    assert_eq!(first["tx_hash"], added["tx_hash"]);
    assert_eq!(first["gave"]["amount"], "1500000000000000000");
    assert_eq!(first["gave"]["token"]["symbol"], "MSFT0x");
    assert_eq!(first["received"]["amount"], "301250000");
    assert_eq!(first["canonical"], true);

    let (status, _) = http
        .control(
            Method::PUT,
            "stream",
            Some(json!({ "trades_per_block": 2 })),
        )
        .await;
    assert_eq!(status, 204);
    http.control(Method::POST, "mine", None).await;
    let (_, status_body) = http.control(Method::GET, "status", None).await;
    assert_eq!(status_body["head"], 3);
    assert_eq!(status_body["trades_per_block"], 2);
    assert!(
        sim.ledger().iter().any(|fill| fill.block_number == 3),
        "the stream filled block 3"
    );

    let (status, report) = http
        .control(Method::POST, "faults/reorg", Some(json!({ "depth": 2 })))
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["depth"], 2);
    let (status, refused) = http
        .control(Method::POST, "faults/reorg", Some(json!({ "depth": 9 })))
        .await;
    assert_eq!(status, 400, "{refused}");
}

#[tokio::test]
async fn control_endpoints_switch_faults() {
    let sim = support::start().await;
    let http = Http::new(&sim);
    let mut ws = Ws::connect(&sim).await;
    ws.subscribe(json!(["newHeads"])).await;
    http.control(
        Method::PUT,
        "faults/duplicates",
        Some(json!({ "share": 1.0 })),
    )
    .await;
    http.control(Method::POST, "mine", None).await;
    assert_eq!(ws.notification().await, ws.notification().await);
    http.control(
        Method::PUT,
        "faults/duplicates",
        Some(json!({ "share": 0.0 })),
    )
    .await;

    http.control(Method::POST, "faults/stall", None).await;
    http.control(Method::POST, "mine", None).await;
    assert!(ws.notification_within(support::QUIET).await.is_none());
    http.control(Method::POST, "faults/resume", None).await;
    http.control(Method::POST, "mine", None).await;
    assert_eq!(ws.notification().await["result"]["number"], "0x3");

    let limit = json!({ "share": 1.0, "style": "json_rpc" });
    assert_eq!(
        http.control(Method::PUT, "faults/rate-limit", Some(limit))
            .await
            .0,
        204
    );
    assert_eq!(http.error("eth_chainId", json!([])).await["code"], -32005);
    http.control(
        Method::PUT,
        "faults/rate-limit",
        Some(json!({ "share": 0.0 })),
    )
    .await;

    let limits = json!({ "max_block_range": 1, "max_results": null });
    http.control(Method::PUT, "faults/log-limits", Some(limits))
        .await;
    let error = http
        .error(
            "eth_getLogs",
            json!([{ "fromBlock": "0x0", "toBlock": "0x3" }]),
        )
        .await;
    assert_eq!(error["code"], -32602);

    http.control(Method::PUT, "block-time", Some(json!({ "millis": 20 })))
        .await;
    assert!(
        ws.notification().await["result"]["number"].is_string(),
        "blocks are mined automatically"
    );
    http.control(Method::PUT, "block-time", Some(json!({ "millis": null })))
        .await;

    assert_eq!(http.control(Method::POST, "faults/drop", None).await.0, 204);
    assert!(ws.closed_within(support::PATIENCE).await);
}
