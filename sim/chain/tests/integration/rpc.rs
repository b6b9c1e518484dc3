//! Each JSON-RPC method over HTTP, and the JSON-RPC 2.0 envelope (batches, notifications, errors).

use alloy_primitives::{Address, B256};
use alloy_sol_types::{SolCall, SolEvent};
use serde_json::{Value, json};
use sim_chain::abi::{TakeOrderV2, Transfer, decimalsCall, symbolCall};

use crate::support::{self, Http, hash, quantity, token};

#[tokio::test]
async fn chain_id_block_number_and_blocks() {
    let sim = support::start().await;
    let http = Http::new(&sim);
    assert_eq!(http.result("eth_chainId", json!([])).await, "0x2105");
    assert_eq!(http.result("net_version", json!([])).await, "8453");
    let version = http.result("web3_clientVersion", json!([])).await;
    assert!(
        version.as_str().unwrap().starts_with("sim-chain/v"),
        "{version}"
    );
    assert_eq!(http.result("eth_blockNumber", json!([])).await, "0x0");
    sim.submit(&[support::our_sale(&sim, 1, 100)]).unwrap();
    assert_eq!(sim.mine_blocks(3), 3);
    assert_eq!(http.result("eth_blockNumber", json!([])).await, "0x3");

    let latest = http
        .result("eth_getBlockByNumber", json!(["latest", false]))
        .await;
    assert_eq!(latest["number"], "0x3");
    let first = http
        .result("eth_getBlockByNumber", json!(["0x1", false]))
        .await;
    let second = http
        .result("eth_getBlockByNumber", json!(["0x2", true]))
        .await;
    assert_eq!(second["parentHash"], first["hash"]);
    assert_eq!(latest["parentHash"], second["hash"]);
    assert!(quantity(&second["timestamp"]) > quantity(&first["timestamp"]));
    assert_eq!(first["transactions"].as_array().unwrap().len(), 1);
    assert!(
        first["transactions"][0].is_string(),
        "hashes without full transactions"
    );
    let by_hash = http
        .result("eth_getBlockByHash", json!([first["hash"], true]))
        .await;
    assert_eq!(by_hash["number"], "0x1");
    assert_eq!(by_hash["transactions"][0]["blockHash"], first["hash"]);
    assert_eq!(
        http.result("eth_getBlockByNumber", json!(["earliest", false]))
            .await["number"],
        "0x0"
    );
    assert_eq!(
        http.result("eth_getBlockByNumber", json!(["0x10", false]))
            .await,
        Value::Null
    );
    assert_eq!(
        http.result("eth_getBlockByHash", json!([B256::ZERO, false]))
            .await,
        Value::Null
    );
    let error = http
        .error("eth_getBlockByNumber", json!(["0x01", false]))
        .await;
    assert_eq!(error["code"], -32602, "leading zeros are invalid: {error}");
}

#[tokio::test]
async fn get_logs_filters_by_address_topics_and_range() {
    let sim = support::start().await;
    let http = Http::new(&sim);
    for _ in 0..3 {
        sim.submit(&[support::our_sale(&sim, 1, 150)]).unwrap();
        sim.mine();
    }
    sim.mine();
    let orderbook = sim_chain::BASE_ORDERBOOK;
    let usdc = token(&sim, "USDC").address;
    let take = TakeOrderV2::SIGNATURE_HASH;
    let transfer = Transfer::SIGNATURE_HASH;

    let all = http
        .logs(json!({ "fromBlock": "earliest", "toBlock": "latest" }))
        .await;
    assert_eq!(
        all.len(),
        12,
        "a context, a take and two transfers per block"
    );
    assert!(
        http.logs(json!({})).await.is_empty(),
        "defaults to the latest block, which is empty"
    );
    let from_orderbook = http
        .logs(json!({ "fromBlock": "0x0", "address": orderbook }))
        .await;
    assert_eq!(from_orderbook.len(), 6, "contexts and takes");
    let either = http
        .logs(json!({ "fromBlock": "0x0", "address": [orderbook, usdc] }))
        .await;
    assert_eq!(either.len(), 9);
    let takes = http
        .logs(json!({ "fromBlock": "0x0", "topics": [take] }))
        .await;
    assert_eq!(takes.len(), 3);
    let alternatives = http
        .logs(json!({ "fromBlock": "0x0", "topics": [[take, transfer]] }))
        .await;
    assert_eq!(alternatives.len(), 9);
    // Transfers from the taker: topic1 is the sender; the null position matches anything.
    let taker_topic = B256::left_padding_from(support::TAKER.as_slice());
    let from_taker = http
        .logs(json!({ "fromBlock": "0x0", "topics": [null, taker_topic] }))
        .await;
    assert_eq!(from_taker.len(), 3);
    assert!(
        from_taker
            .iter()
            .all(|log| hash(&log["topics"][0]) == transfer)
    );
    // A position beyond a log's topics never matches (takes have one topic).
    let too_long = http
        .logs(json!({ "fromBlock": "0x0", "address": orderbook, "topics": [take, null] }))
        .await;
    assert!(too_long.is_empty());
    let second_block = http
        .logs(json!({ "fromBlock": "0x2", "toBlock": "0x2" }))
        .await;
    assert!(second_block.iter().all(|log| log["blockNumber"] == "0x2"));
    assert_eq!(second_block.len(), 4);
    let block_hash = second_block[0]["blockHash"].clone();
    assert_eq!(
        http.logs(json!({ "blockHash": block_hash })).await,
        second_block
    );
    let both = http
        .error(
            "eth_getLogs",
            json!([{ "blockHash": block_hash, "fromBlock": "0x1" }]),
        )
        .await;
    assert_eq!(both["code"], -32602);
    let unknown = http
        .error("eth_getLogs", json!([{ "blockHash": B256::ZERO }]))
        .await;
    assert_eq!(unknown["message"], "unknown block");
    let backwards = http
        .error(
            "eth_getLogs",
            json!([{ "fromBlock": "0x3", "toBlock": "0x1" }]),
        )
        .await;
    assert_eq!(backwards["message"], "invalid block range params");
    let five_topics = http
        .error(
            "eth_getLogs",
            json!([{ "topics": [null, null, null, null, null] }]),
        )
        .await;
    assert_eq!(five_topics["code"], -32602);
    assert!(
        http.logs(json!({ "fromBlock": "0x100", "toBlock": "0x200" }))
            .await
            .is_empty()
    );

    let log = &all[0];
    for field in [
        "address",
        "topics",
        "data",
        "blockNumber",
        "blockHash",
        "transactionHash",
        "transactionIndex",
        "logIndex",
    ] {
        assert!(!log[field].is_null(), "log has {field}: {log}");
    }
    assert_eq!(log["removed"], false);
}

#[tokio::test]
async fn receipts_carry_their_logs() {
    let sim = support::start().await;
    let http = Http::new(&sim);
    sim.submit(&[support::our_sale(&sim, 1, 150)]).unwrap();
    let tx = sim.submit(&[support::our_sale(&sim, 2, 300)]).unwrap();
    sim.mine();
    let receipt = http.result("eth_getTransactionReceipt", json!([tx])).await;
    assert_eq!(hash(&receipt["transactionHash"]), tx);
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(receipt["transactionIndex"], "0x1");
    assert_eq!(receipt["blockNumber"], "0x1");
    let logs = receipt["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 4);
    let indexes: Vec<u64> = logs.iter().map(|log| quantity(&log["logIndex"])).collect();
    assert_eq!(
        indexes,
        [4, 5, 6, 7],
        "log indexes count from the block's first log"
    );
    assert!(logs.iter().all(|log| hash(&log["transactionHash"]) == tx));
    let transaction = http.result("eth_getTransactionByHash", json!([tx])).await;
    assert_eq!(transaction["blockHash"], receipt["blockHash"]);
    assert_eq!(
        transaction["nonce"], "0x1",
        "the taker's second transaction"
    );
    assert_eq!(transaction["chainId"], "0x2105");
    assert_eq!(
        http.result("eth_getTransactionReceipt", json!([B256::ZERO]))
            .await,
        Value::Null
    );
}

#[tokio::test]
async fn eth_call_answers_symbol_and_decimals_of_known_tokens() {
    let sim = support::start().await;
    let http = Http::new(&sim);
    let tsla = sim.register_token("TSLA0x", 6).unwrap();
    let nvda = token(&sim, "NVDAs1");
    let symbol = symbolCall {}.abi_encode();
    let decimals = decimalsCall {}.abi_encode();
    assert_eq!(
        alloy_primitives::hex::encode_prefixed(&symbol),
        "0x95d89b41"
    );
    assert_eq!(
        alloy_primitives::hex::encode_prefixed(&decimals),
        "0x313ce567"
    );

    let call = |to: Address, data: &[u8]| json!([{ "to": to, "data": alloy_primitives::hex::encode_prefixed(data) }, "latest"]);
    let answer: alloy_primitives::Bytes =
        serde_json::from_value(http.result("eth_call", call(nvda.address, &symbol)).await).unwrap();
    assert_eq!(symbolCall::abi_decode_returns(&answer).unwrap(), "NVDAs1");
    let answer: alloy_primitives::Bytes =
        serde_json::from_value(http.result("eth_call", call(tsla.address, &decimals)).await)
            .unwrap();
    assert_eq!(decimalsCall::abi_decode_returns(&answer).unwrap(), 6);
    // `input` is the newer name of `data`, and the block tag may be left out.
    let input =
        json!([{ "to": tsla.address, "input": alloy_primitives::hex::encode_prefixed(&symbol) }]);
    let answer: alloy_primitives::Bytes =
        serde_json::from_value(http.result("eth_call", input).await).unwrap();
    assert_eq!(symbolCall::abi_decode_returns(&answer).unwrap(), "TSLA0x");

    let reverted = http
        .error("eth_call", call(nvda.address, &[0xde, 0xad, 0xbe, 0xef]))
        .await;
    assert_eq!(reverted["message"], "execution reverted");
    let orderbook = http
        .error("eth_call", call(sim_chain::BASE_ORDERBOOK, &symbol))
        .await;
    assert_eq!(orderbook["message"], "execution reverted");
    // An account without code returns nothing, as on a real chain.
    assert_eq!(
        http.result("eth_call", call(support::STRANGER, &symbol))
            .await,
        "0x"
    );
}

#[tokio::test]
async fn envelope_follows_json_rpc_2() {
    let sim = support::start().await;
    let http = Http::new(&sim);
    let batch = json!([
        { "jsonrpc": "2.0", "id": 1, "method": "eth_chainId" },
        { "jsonrpc": "2.0", "method": "eth_blockNumber" },
        { "jsonrpc": "2.0", "id": "two", "method": "eth_nope", "params": [] },
        { "jsonrpc": "2.0", "id": 3, "method": "eth_blockNumber", "params": [1, 2] },
    ]);
    let (status, body) = http.post(&batch).await;
    assert_eq!(status, 200);
    let responses = body.as_array().unwrap();
    assert_eq!(
        responses.len(),
        3,
        "the notification gets no response: {body}"
    );
    assert_eq!(
        responses[0],
        json!({ "jsonrpc": "2.0", "id": 1, "result": "0x2105" })
    );
    assert_eq!(responses[1]["id"], "two");
    assert_eq!(responses[1]["error"]["code"], -32601);
    assert_eq!(responses[2]["error"]["code"], -32602);

    let (_, empty) = http.post(&json!([])).await;
    assert_eq!(empty["error"]["code"], -32600);
    let (_, notification) = http
        .post(&json!({ "jsonrpc": "2.0", "method": "eth_chainId" }))
        .await;
    assert_eq!(notification, Value::Null);
    let (_, wrong_version) = http
        .post(&json!({ "jsonrpc": "1.0", "id": 9, "method": "eth_chainId" }))
        .await;
    assert_eq!(wrong_version["error"]["code"], -32600);
    let subscribe = http.error("eth_subscribe", json!(["newHeads"])).await;
    assert_eq!(subscribe["message"], "notifications not supported");

    let response = reqwest::Client::new()
        .post(sim.http_url())
        .body("{not json")
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32700);
    assert_eq!(body["id"], Value::Null);
}
