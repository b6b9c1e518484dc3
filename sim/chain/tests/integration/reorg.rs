//! Reorgs: removed logs to subscribers, re-included and dropped transactions, the new canonical chain.

use std::collections::HashSet;

use alloy_primitives::B256;
use alloy_sol_types::SolEvent;
use serde_json::{Value, json};
use sim_chain::abi::TakeOrderV2;

use crate::support::{self, Http, QUIET, Ws, hash};

/// Mines `blocks` blocks each holding one sale of ours; returns their transaction hashes.
fn mine_sales(sim: &sim_chain::ChainSim, blocks: u64) -> Vec<B256> {
    (0..blocks)
        .map(|shares| {
            let tx = sim
                .submit(&[support::our_sale(sim, shares + 1, 100)])
                .unwrap();
            sim.mine();
            tx
        })
        .collect()
}

#[tokio::test]
async fn reorg_resends_removed_logs_and_reincludes_transactions_in_new_blocks() {
    let sim = support::start().await;
    let http = Http::new(&sim);
    let txs = mine_sales(&sim, 5);
    let mut ws = Ws::connect(&sim).await;
    let subscription = ws
        .subscribe(json!(["logs", { "address": sim_chain::BASE_ORDERBOOK }]))
        .await;
    let heads = ws.subscribe(json!(["newHeads"])).await;
    let old_blocks: Vec<Value> = http
        .logs(json!({ "fromBlock": "0x3", "address": sim_chain::BASE_ORDERBOOK }))
        .await;

    let report = sim.reorg(3, 0.0).unwrap();
    assert_eq!(report.depth, 3);
    assert_ne!(report.old_head, report.new_head);
    assert_eq!(report.removed_fills, 3);
    assert_eq!(report.reincluded, txs[2..].to_vec());
    assert!(report.dropped.is_empty());
    assert_eq!(sim.head(), 5, "the new branch is as long as the old one");

    let mut removed = Vec::new();
    let mut added = Vec::new();
    let mut new_heads = 0;
    while let Some(params) = ws.notification_within(QUIET).await {
        if params["subscription"] == heads.as_str() {
            new_heads += 1;
        } else {
            assert_eq!(params["subscription"], subscription.as_str());
            let log = params["result"].clone();
            if log["removed"] == true {
                removed.push(log)
            } else {
                added.push(log)
            }
        }
    }
    assert_eq!(new_heads, 3);
    let expected_removed: Vec<Value> = old_blocks
        .iter()
        .map(|log| {
            let mut log = log.clone();
            log["removed"] = json!(true);
            log
        })
        .collect();
    assert_eq!(
        removed, expected_removed,
        "the old logs come back marked removed, with their old block hashes"
    );
    assert_eq!(
        added.len(),
        6,
        "a context and a take per re-included transaction"
    );
    let old_hashes: HashSet<&Value> = old_blocks.iter().map(|log| &log["blockHash"]).collect();
    assert!(
        added
            .iter()
            .all(|log| !old_hashes.contains(&log["blockHash"])),
        "new block hashes"
    );

    // eth_getLogs returns the new canonical chain.
    let canonical = http
        .logs(json!({ "fromBlock": "0x3", "address": sim_chain::BASE_ORDERBOOK }))
        .await;
    assert_eq!(canonical, added);
    for old in &old_blocks {
        let gone = http
            .call("eth_getLogs", json!([{ "blockHash": old["blockHash"] }]))
            .await;
        assert_eq!(gone["error"]["message"], "unknown block");
    }
    let block_three = http
        .result("eth_getBlockByNumber", json!(["0x3", false]))
        .await;
    let block_two = http
        .result("eth_getBlockByNumber", json!(["0x2", false]))
        .await;
    assert_eq!(
        block_three["parentHash"], block_two["hash"],
        "the new branch forks from block 2"
    );

    // The ledger: old entries non-canonical, new entries for the re-included fills.
    let ledger = sim.ledger();
    assert_eq!(ledger.len(), 8);
    assert_eq!(ledger.iter().filter(|fill| !fill.canonical).count(), 3);
    let canonical_fills: Vec<_> = ledger.iter().filter(|fill| fill.canonical).collect();
    assert_eq!(canonical_fills.len(), 5);
    for log in canonical
        .iter()
        .filter(|log| hash(&log["topics"][0]) == TakeOrderV2::SIGNATURE_HASH)
    {
        let fill = canonical_fills
            .iter()
            .find(|fill| fill.tx_hash == hash(&log["transactionHash"]))
            .unwrap();
        assert_eq!(fill.block_hash, hash(&log["blockHash"]));
        assert_eq!(fill.log_index, support::quantity(&log["logIndex"]));
    }
}

#[tokio::test]
async fn reorg_can_drop_transactions_for_good() {
    let sim = support::start().await;
    let http = Http::new(&sim);
    let txs = mine_sales(&sim, 4);
    let report = sim.reorg(2, 1.0).unwrap();
    assert_eq!(report.dropped, txs[2..].to_vec());
    assert!(report.reincluded.is_empty());
    assert_eq!(
        http.logs(json!({ "fromBlock": "0x3", "address": sim_chain::BASE_ORDERBOOK }))
            .await,
        Vec::<Value>::new()
    );
    for tx in &txs[2..] {
        assert_eq!(
            http.result("eth_getTransactionReceipt", json!([tx])).await,
            Value::Null
        );
    }
    assert_eq!(sim.ledger().iter().filter(|fill| fill.canonical).count(), 2);
    assert!(sim.reorg(5, 0.0).is_err(), "genesis stays");
    assert!(sim.reorg(0, 0.0).is_err());
}
