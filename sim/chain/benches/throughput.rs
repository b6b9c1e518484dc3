//! Throughput of the chain simulator at the bot benchmark's scale: mining 100,000 blocks holding 10,000
//! of our fills, `eth_getLogs` catch-up over them, and `logs` notifications to a WebSocket subscriber
//! (rate and latency). Prints numbers, each also as one `BENCH name=value unit=...` line for `scripts/bench`;
//! run with `cargo bench -p sim-chain --bench throughput`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark fails loudly

use std::time::{Duration, Instant};

use alloy_primitives::{Address, U256, address, keccak256};
use alloy_sol_types::SolEvent;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sim_chain::abi::TakeOrderV2;
use sim_chain::{ChainSim, Config, Leg, LogLimits, OrderFill, Trade};
use tokio_tungstenite::tungstenite::Message;

const OWNER: Address = address!("0x00000000000000000000000000000000000000aa");
const BLOCKS: u64 = 100_000;
const FILLS: u64 = 10_000;
const CHUNK: u64 = 10_000;

#[tokio::main]
async fn main() {
    let config = Config {
        owner: OWNER,
        log_limits: LogLimits {
            max_block_range: None,
            max_results: None,
        },
        event_buffer: 1 << 16,
        ..Config::default()
    };
    let sim = ChainSim::start(config).await.unwrap();
    let sale = sale(&sim);

    let started = Instant::now();
    for block in 0..BLOCKS {
        if block % (BLOCKS / FILLS) == 0 {
            sim.submit(&[sale]).unwrap();
        }
        sim.mine();
    }
    let mining = started.elapsed();
    println!("RSS after mining (simulator only): {}", rss());
    println!(
        "mine {BLOCKS} blocks with {FILLS} fills: {mining:.2?} ({:.0} blocks/s)",
        rate(BLOCKS, mining)
    );
    figure("chain_sim_mine_rate", rate(BLOCKS, mining), "blocks/s");

    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut logs = 0;
    for from in (0..=BLOCKS).step_by(CHUNK as usize) {
        let filter = json!({ "fromBlock": format!("{from:#x}"), "toBlock": format!("{:#x}", from + CHUNK - 1), "address": sim_chain::BASE_ORDERBOOK });
        logs += get_logs(&client, &sim, filter).await;
    }
    let catch_up = started.elapsed();
    println!(
        "eth_getLogs catch-up in {CHUNK}-block chunks: {logs} logs in {catch_up:.2?} ({:.0} logs/s)",
        rate(logs, catch_up)
    );
    figure("chain_sim_getlogs_rate", rate(logs, catch_up), "logs/s");
    let started = Instant::now();
    let all = get_logs(
        &client,
        &sim,
        json!({ "fromBlock": "earliest", "toBlock": "latest" }),
    )
    .await;
    let elapsed = started.elapsed();
    println!("eth_getLogs over all {BLOCKS} blocks, no filter: {all} logs in {elapsed:.2?}");
    let started = Instant::now();
    let none = get_logs(
        &client,
        &sim,
        json!({ "fromBlock": "earliest", "address": OWNER }),
    )
    .await;
    println!(
        "eth_getLogs over all {BLOCKS} blocks matching nothing: {none} logs in {:.2?}",
        started.elapsed()
    );

    notifications(&sim, sale).await;
    println!(
        "RSS after {} blocks and the client's work: {}",
        sim.head(),
        rss()
    );
}

/// Resident memory of this process (simulator and client), from `/proc/self/status`.
fn rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .unwrap()
        .trim_start_matches("VmRSS:")
        .trim()
        .to_owned()
}

/// Our order selling 1.5 AAPL0x for 300 USDC.
fn sale(sim: &ChainSim) -> Trade {
    let token = |symbol: &str| {
        sim.tokens()
            .into_iter()
            .find(|token| token.symbol == symbol)
            .unwrap()
            .address
    };
    let shares = U256::from(15) * U256::from(10).pow(U256::from(17));
    Trade::Take {
        taker: Address::repeat_byte(0xcc),
        order: OrderFill {
            owner: OWNER,
            nonce: keccak256("bench"),
            gave: Leg {
                token: token("AAPL0x"),
                amount: shares,
            },
            received: Leg {
                token: token("USDC"),
                amount: U256::from(300_000_000),
            },
        },
    }
}

async fn get_logs(client: &reqwest::Client, sim: &ChainSim, filter: Value) -> u64 {
    let request = json!({ "jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": [filter] });
    let response: Value = client
        .post(sim.http_url())
        .json(&request)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    response["result"].as_array().expect("logs").len() as u64
}

/// Mines blocks of one fill each while a subscriber receives the orderbook logs: rate and latency from
/// mining to receipt.
async fn notifications(sim: &ChainSim, sale: Trade) {
    const BLOCKS: usize = 5_000;
    let (mut socket, _) = tokio_tungstenite::connect_async(sim.ws_url())
        .await
        .unwrap();
    let filter =
        json!({ "address": sim_chain::BASE_ORDERBOOK, "topics": [TakeOrderV2::SIGNATURE_HASH] });
    let subscribe =
        json!({ "jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["logs", filter] });
    socket
        .send(Message::Text(subscribe.to_string().into()))
        .await
        .unwrap();
    socket.next().await.unwrap().unwrap();
    let mut latencies = Vec::with_capacity(BLOCKS);
    let started = Instant::now();
    for _ in 0..BLOCKS {
        sim.submit(&[sale]).unwrap();
        let mined = Instant::now();
        sim.mine();
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        latencies.push(mined.elapsed());
        assert!(message.into_text().unwrap().contains("eth_subscription"));
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let percentile = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    println!(
        "logs subscription, one fill per block: {BLOCKS} notifications in {elapsed:.2?} ({:.0}/s), mine-to-receipt p50 {:.2?} p99 {:.2?}",
        rate(BLOCKS as u64, elapsed),
        percentile(50),
        percentile(99)
    );
    figure(
        "chain_sim_notifications_rate",
        rate(BLOCKS as u64, elapsed),
        "notifications/s",
    );
    figure(
        "chain_sim_notification_p99",
        percentile(99).as_secs_f64() * 1e3,
        "ms",
    );
}

/// One machine-readable figure, collected by `scripts/bench`.
fn figure(name: &str, value: f64, unit: &str) {
    println!("BENCH {name}={value:.3} unit={unit}");
}

fn rate(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}
