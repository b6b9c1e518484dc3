//! Each fault on demand: drops, stalls, duplicates, rate limits, `eth_getLogs` limits.

use serde_json::json;
use sim_chain::{Config, LogLimits, RateLimit, RateLimitStyle};

use crate::support::{self, Http, OWNER, QUIET, Ws};

#[tokio::test]
async fn drop_closes_every_socket_and_reconnecting_works() {
    let sim = support::start().await;
    let mut first = Ws::connect(&sim).await;
    let mut second = Ws::connect(&sim).await;
    first.subscribe(json!(["newHeads"])).await;
    sim.faults().drop_connections();
    assert!(first.closed_within(support::PATIENCE).await);
    assert!(second.closed_within(support::PATIENCE).await);
    let mut again = Ws::connect(&sim).await;
    again.subscribe(json!(["newHeads"])).await;
    sim.mine();
    assert_eq!(again.notification().await["result"]["number"], "0x1");
}

#[tokio::test]
async fn stall_keeps_the_socket_silent_until_resumed() {
    let sim = support::start().await;
    let mut ws = Ws::connect(&sim).await;
    ws.subscribe(json!(["newHeads"])).await;
    sim.faults().stall();
    sim.mine();
    ws.send(json!({ "jsonrpc": "2.0", "id": 77, "method": "eth_blockNumber" }).to_string())
        .await;
    assert!(
        ws.next_message(QUIET).await.is_none(),
        "no notification nor answer while stalled"
    );
    sim.faults().resume();
    let answer = ws.next_message(support::PATIENCE).await.unwrap();
    assert_eq!(
        answer["id"], 77,
        "the waiting request is answered after the stall"
    );
    sim.mine();
    // The head mined during the stall is lost; the next one arrives.
    assert_eq!(ws.notification().await["result"]["number"], "0x2");
}

#[tokio::test]
async fn duplicates_send_notifications_twice() {
    let sim = support::start().await;
    let mut ws = Ws::connect(&sim).await;
    ws.subscribe(json!(["newHeads"])).await;
    sim.faults().set_duplicate_share(1.0);
    sim.mine();
    let first = ws.notification().await;
    assert_eq!(ws.notification().await, first);
    sim.faults().set_duplicate_share(0.0);
    sim.mine();
    assert_eq!(ws.notification().await["result"]["number"], "0x2");
    assert!(ws.notification_within(QUIET).await.is_none());
}

#[tokio::test]
async fn rate_limits_refuse_with_429_or_json_rpc_error() {
    let sim = support::start().await;
    let http = Http::new(&sim);
    sim.faults().set_rate_limit(RateLimit {
        share: 1.0,
        style: RateLimitStyle::Http429,
    });
    let (status, body) = http
        .post(&json!({ "jsonrpc": "2.0", "id": 1, "method": "eth_chainId" }))
        .await;
    assert_eq!(status, 429);
    assert_eq!(body["error"]["code"], -32005);
    let mut ws = Ws::connect(&sim).await;
    assert_eq!(
        ws.call("eth_chainId", json!([])).await["error"]["code"],
        -32005,
        "sockets get the JSON-RPC error"
    );

    sim.faults().set_rate_limit(RateLimit {
        share: 1.0,
        style: RateLimitStyle::JsonRpc,
    });
    let error = http.error("eth_chainId", json!([])).await;
    assert_eq!(
        error,
        json!({ "code": -32005, "message": "limit exceeded" })
    );

    sim.faults().set_rate_limit(RateLimit {
        share: 0.5,
        style: RateLimitStyle::JsonRpc,
    });
    let mut refused = 0;
    for _ in 0..100 {
        if http
            .call("eth_chainId", json!([]))
            .await
            .get("error")
            .is_some()
        {
            refused += 1;
        }
    }
    assert!(
        (20..=80).contains(&refused),
        "about half refused: {refused}"
    );
    sim.faults().set_rate_limit(RateLimit::default());
    assert_eq!(http.result("eth_chainId", json!([])).await, "0x2105");
}

#[tokio::test]
async fn get_logs_limits_refuse_big_queries_like_providers() {
    let sim = support::start_with(Config {
        owner: OWNER,
        trades_per_block: 2,
        ..Config::default()
    })
    .await;
    let http = Http::new(&sim);
    sim.mine_blocks(20);
    sim.faults().set_log_limits(LogLimits {
        max_block_range: Some(10),
        max_results: None,
    });
    let error = http
        .error(
            "eth_getLogs",
            json!([{ "fromBlock": "0x1", "toBlock": "0xb" }]),
        )
        .await;
    assert_eq!(error["code"], -32602);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("block range is too large"),
        "{error}"
    );
    assert!(
        !http
            .logs(json!({ "fromBlock": "0x1", "toBlock": "0xa" }))
            .await
            .is_empty()
    );

    sim.faults().set_log_limits(LogLimits {
        max_block_range: None,
        max_results: Some(40),
    });
    let error = http
        .error(
            "eth_getLogs",
            json!([{ "fromBlock": "0x0", "toBlock": "latest" }]),
        )
        .await;
    assert_eq!(error["code"], -32005);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("query returned more than 40 results"),
        "{error}"
    );
    // The suggested range does fit.
    let (from, to) = (error["data"]["from"].clone(), error["data"]["to"].clone());
    let fitting = http.logs(json!({ "fromBlock": from, "toBlock": to })).await;
    assert!(
        fitting.len() <= 40 && !fitting.is_empty(),
        "{}",
        fitting.len()
    );
}

#[tokio::test]
async fn subscribers_too_slow_for_the_chain_are_disconnected() {
    let sim = support::start_with(Config {
        owner: OWNER,
        event_buffer: 8,
        ..Config::default()
    })
    .await;
    let mut ws = Ws::connect(&sim).await;
    ws.subscribe(json!(["newHeads"])).await;
    // Mining without yielding: the connection cannot keep up with 50 blocks in an 8-event buffer.
    sim.mine_blocks(50);
    assert!(
        ws.closed_within(support::PATIENCE).await,
        "disconnected instead of skipping heads silently"
    );
}

#[tokio::test]
async fn a_connection_opened_during_a_stall_works() {
    let sim = support::start().await;
    let mut stalled = Ws::connect(&sim).await;
    stalled.subscribe(json!(["newHeads"])).await;
    sim.faults().stall();
    let mut fresh = Ws::connect(&sim).await;
    fresh.subscribe(json!(["newHeads"])).await;
    sim.mine();
    assert_eq!(fresh.notification().await["result"]["number"], "0x1");
    assert!(
        stalled.notification_within(QUIET).await.is_none(),
        "the old connection stays silent"
    );
    sim.faults().resume();
    sim.mine();
    assert_eq!(stalled.notification().await["result"]["number"], "0x2");
}
