#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark fails loudly

//! Ingestion numbers for the real `schwad` binary against the chain simulator, printed:
//! - catch-up: 100,000 blocks holding 10,000 fills of ours, from an empty database;
//! - throughput: logs ingested per second with durable (fsynced) commits during that catch-up;
//! - latency: from the simulator mining a block with one fill of ours to the trade committed
//!   (p50/p99), live;
//! - idle RSS of the bot once caught up;
//! - with `BENCH_SCALE_FILLS` (e.g. 1000000; 0, the default, skips it): a second bot catching up on that many fills
//!   (ten per block), the time per fill around 10k, 100k, 1M fills (flat = no full scans) and its RSS at the end.
//!
//! The end-to-end latency includes the simulator's socket: it leaves Nagle's algorithm on, so a
//! notification that follows one of its responses waits for the bot's delayed ACK (~30-40 ms on
//! Linux). The bot's own share (notification read to trade committed) is printed separately, from
//! its `schwad::live` debug events.
//!
//! - with `BENCH_LIVE_LOAD=1` instead: live ingestion under load, `BENCH_LIVE_FILLS` (20,000) fills of ours over
//!   `BENCH_LIVE_BLOCKS` (100,000) blocks mined at `BENCH_LIVE_FILLS_PER_SEC` (20) fills/s (100 blocks/s), the
//!   node's head minus the bot's processed block sampled from /health every second: the lag at the end, the
//!   largest lag on the way, and what /health said.
//!
//! Run with `cargo bench -p schwad --bench ingest` (sizes via `BENCH_BLOCKS`, `BENCH_FILLS`,
//! `BENCH_LATENCY_SAMPLES`). Each figure is also printed as one `BENCH name=value unit=...` line for `scripts/bench`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy_primitives::{Address, B256, U256};
use sim_chain::{ChainSim, Config, Leg, OrderFill, Token, Trade};
use support::{Bot, BotEnv, OWNER, env_or, open_db, wait_until};
use test_support::bench::{figure, percentile};

fn token(sim: &ChainSim, symbol: &str) -> Token {
    sim.tokens()
        .into_iter()
        .find(|t| t.symbol == symbol)
        .unwrap()
}

/// Our order selling `milli` thousandths of a share of AAPL0x for USDC, taken by a stranger.
fn take(usdc: &Token, equity: &Token, n: u64) -> Trade {
    let shares = U256::from(1 + n % 5_000) * U256::from(10).pow(U256::from(equity.decimals - 3));
    Trade::Take {
        taker: Address::repeat_byte(0x99),
        order: OrderFill {
            owner: OWNER,
            nonce: B256::from(U256::from(n % 3)),
            gave: Leg {
                token: equity.address,
                amount: shares,
            },
            received: Leg {
                token: usdc.address,
                amount: U256::from(150_000_000u64 + n),
            },
        },
    }
}

async fn fills_stored(db: &sqlx::SqlitePool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM chain_events")
        .fetch_one(db)
        .await
        .unwrap()
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench());
}

async fn bench() {
    if env_or("BENCH_LIVE_LOAD", 0) > 0 {
        return live_load().await;
    }
    let blocks = env_or("BENCH_BLOCKS", 100_000);
    let fills = env_or("BENCH_FILLS", 10_000);
    let samples = env_or("BENCH_LATENCY_SAMPLES", 300);
    let dir = tempfile::tempdir().unwrap();
    let sim = ChainSim::start(Config {
        owner: OWNER,
        ..Config::default()
    })
    .await
    .unwrap();
    let (usdc, equity) = (token(&sim, "USDC"), token(&sim, "AAPL0x"));

    let every = (blocks / fills).max(1);
    let mining = Instant::now();
    for n in 0..fills {
        sim.submit(&[take(&usdc, &equity, n)]).unwrap();
        sim.mine_blocks(every);
    }
    let head = sim.head();
    println!(
        "setup: mined {head} blocks with {fills} fills of ours in {:.1?}",
        mining.elapsed()
    );

    let env = BotEnv::new(dir.path(), &sim)
        .with("GET_LOGS_MAX_RANGE", "2000") // the production default
        .with("STALL_TIMEOUT", "30s")
        .with("RPC_TIMEOUT", "10s")
        .with("LOG_LEVEL", "warn,schwad::live=debug");
    let started = Instant::now();
    let bot = Bot::start(&env, &dir.path().join("schwad.log"));
    wait_until(Duration::from_secs(30), "the database", || async {
        env.database.exists()
    })
    .await;
    let db = open_db(&env.database_url()).await;
    let health = format!("http://127.0.0.1:{}/health", env.port);
    wait_until(Duration::from_secs(600), "catch-up", || async {
        let Ok(response) = reqwest::get(&health).await else {
            return false;
        };
        let health: serde_json::Value = response.json().await.unwrap();
        health["last_block_processed"].as_u64() >= Some(head)
    })
    .await;
    let catch_up = started.elapsed();
    let stored = fills_stored(&db).await;
    assert_eq!(
        stored,
        i64::try_from(fills).unwrap(),
        "catch-up stored {stored} events"
    );
    println!(
        "catch-up: {head} blocks, {fills} fills in {catch_up:.2?} (process start to head processed): {:.0} logs/s with durable commits",
        fills as f64 / catch_up.as_secs_f64()
    );
    figure("ingest_catchup_time", catch_up.as_secs_f64(), "s");
    figure(
        "ingest_catchup_rate",
        fills as f64 / catch_up.as_secs_f64(),
        "logs/s",
    );

    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = rss_kib(bot.id()) as f64 / 1024.0;
    println!("idle RSS after catch-up: {idle:.1} MiB");
    figure("ingest_idle_rss", idle, "MiB");

    let mut latencies = Vec::new();
    for n in 0..samples {
        sim.submit(&[take(&usdc, &equity, fills + n)]).unwrap();
        let emitted = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
            * 1000.0;
        sim.mine();
        let expected = stored + i64::try_from(n + 1).unwrap();
        wait_until(Duration::from_secs(10), "a live fill", || async {
            fills_stored(&db).await >= expected
        })
        .await;
        let committed: f64 = sqlx::query_scalar(
            "SELECT (julianday(max(recorded_at)) - 2440587.5) * 86400000.0 FROM chain_events",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        latencies.push(committed - emitted);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "live latency, block mined to trade inserted ({samples} samples, ms clock): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().unwrap()
    );
    figure("ingest_live_p50", percentile(&latencies, 0.5), "ms");
    figure("ingest_live_p99", percentile(&latencies, 0.99), "ms");
    let log = std::fs::read_to_string(dir.path().join("schwad.log")).unwrap();
    let mut inside: Vec<f64> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|line| line["fields"]["latency_us"].as_f64())
        .map(|us| us / 1000.0)
        .collect();
    inside.sort_by(f64::total_cmp);
    assert!(!inside.is_empty(), "no live commit was logged");
    println!(
        "live latency inside the bot, notification read to trade committed ({} samples): p50 {:.2} ms, p99 {:.2} ms",
        inside.len(),
        percentile(&inside, 0.5),
        percentile(&inside, 0.99)
    );
    figure("ingest_inside_p50", percentile(&inside, 0.5), "ms");
    figure("ingest_inside_p99", percentile(&inside, 0.99), "ms");
    println!(
        "idle RSS after live phase: {:.1} MiB",
        rss_kib(bot.id()) as f64 / 1024.0
    );
    db.close().await;
    assert!(bot.terminate(Duration::from_secs(10)).success());

    let scale = env_or("BENCH_SCALE_FILLS", 0);
    if scale > 0 {
        scale_catch_up(scale).await;
    }
}

/// A fresh bot catching up on `fills` fills (ten per block): the time per fill over the last tenth before each of
/// 10k, 100k and 1M fills stored, and the bot's RSS once all are processed.
async fn scale_catch_up(fills: u64) {
    const PER_BLOCK: u64 = 10;
    let dir = tempfile::tempdir().unwrap();
    let sim = ChainSim::start(Config {
        owner: OWNER,
        ..Config::default()
    })
    .await
    .unwrap();
    let (usdc, equity) = (token(&sim, "USDC"), token(&sim, "AAPL0x"));
    let mining = Instant::now();
    for n in 0..fills {
        sim.submit(&[take(&usdc, &equity, n)]).unwrap();
        if n % PER_BLOCK == PER_BLOCK - 1 {
            sim.mine();
        }
    }
    sim.mine();
    println!(
        "scale setup: mined {} blocks with {fills} fills in {:.1?}",
        sim.head(),
        mining.elapsed()
    );
    // 50 blocks (500 fills) per `eth_getLogs` and transaction: small against the 10 % windows the time per fill is
    // measured over, so the figure is not the granularity of the chunks.
    let env = BotEnv::new(dir.path(), &sim)
        .with("GET_LOGS_MAX_RANGE", "50")
        .with("STALL_TIMEOUT", "60s")
        .with("RPC_TIMEOUT", "30s")
        .with("LOG_LEVEL", "warn");
    let started = Instant::now();
    let bot = Bot::start(&env, &dir.path().join("schwad.log"));
    wait_until(Duration::from_secs(30), "the database", || async {
        env.database.exists()
    })
    .await;
    let db = open_db(&env.database_url()).await;
    let milestones: Vec<u64> = [10_000, 100_000, 1_000_000]
        .into_iter()
        .filter(|&m| m <= fills)
        .collect();
    // Times at which the stored count first reached 90% and 100% of each milestone, and the bot's RSS then.
    let mut reached: Vec<(Option<Duration>, Option<Duration>)> =
        vec![(None, None); milestones.len()];
    let mut rss_at: Vec<Option<f64>> = vec![None; milestones.len()];
    let deadline = Instant::now() + Duration::from_secs(3_600);
    loop {
        // max(id) is an index lookup; count(*) would itself scan the growing table. The table exists once the bot
        // has migrated the database it just created.
        let stored: Option<i64> = sqlx::query_scalar("SELECT max(id) FROM chain_events")
            .fetch_one(&db)
            .await
            .ok()
            .flatten();
        let stored = u64::try_from(stored.unwrap_or(0)).unwrap();
        let now = started.elapsed();
        for ((m, slot), rss) in milestones
            .iter()
            .zip(reached.iter_mut())
            .zip(rss_at.iter_mut())
        {
            if stored >= m - m / 10 && slot.0.is_none() {
                slot.0 = Some(now);
            }
            if stored >= *m && slot.1.is_none() {
                slot.1 = Some(now);
                *rss = Some(rss_kib(bot.id()) as f64 / 1024.0);
            }
        }
        if stored >= fills {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "scale catch-up stalled at {stored} fills"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let total = started.elapsed();
    println!("scale catch-up: {fills} fills in {total:.2?}");
    for ((m, (from, to)), rss) in milestones.iter().zip(&reached).zip(&rss_at) {
        let per_fill = (to.unwrap() - from.unwrap()).as_secs_f64() * 1e6 / (m / 10) as f64;
        println!("  time per fill just before {m} fills: {per_fill:.1} us");
        figure(
            &format!("ingest_time_per_fill_{}k", m / 1000),
            per_fill,
            "us",
        );
        let rss = rss.unwrap();
        println!("  RSS at {m} fills: {rss:.1} MiB");
        figure(&format!("ingest_rss_at_{}k", m / 1000), rss, "MiB");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss = rss_kib(bot.id()) as f64 / 1024.0;
    println!("RSS after {fills} processed fills: {rss:.1} MiB");
    figure("ingest_rss_after_scale", rss, "MiB");
    db.close().await;
    assert!(bot.terminate(Duration::from_secs(30)).success());
}

/// Live ingestion under load: blocks mined at a steady pace, every `blocks / fills`-th with one fill of ours.
async fn live_load() {
    let blocks = env_or("BENCH_LIVE_BLOCKS", 100_000);
    let fills = env_or("BENCH_LIVE_FILLS", 20_000);
    let rate = env_or("BENCH_LIVE_FILLS_PER_SEC", 20);
    let every = (blocks / fills).max(1);
    let block_time = Duration::from_secs_f64(fills as f64 / rate as f64 / blocks as f64);
    let dir = tempfile::tempdir().unwrap();
    let sim = std::sync::Arc::new(
        ChainSim::start(Config {
            owner: OWNER,
            ..Config::default()
        })
        .await
        .unwrap(),
    );
    let (usdc, equity) = (token(&sim, "USDC"), token(&sim, "AAPL0x"));
    let env = BotEnv::new(dir.path(), &sim)
        .with("CONFIRMATIONS", "12")
        .with("GET_LOGS_MAX_RANGE", "2000")
        .with("STALL_TIMEOUT", "30s")
        .with("RPC_TIMEOUT", "10s")
        .with("LOG_LEVEL", "warn");
    let bot = Bot::start(&env, &dir.path().join("schwad.log"));
    let health = format!("http://127.0.0.1:{}/health", env.port);
    wait_until(
        Duration::from_secs(30),
        "the bot serving /health",
        || async { reqwest::get(&health).await.is_ok() },
    )
    .await;
    println!(
        "live load: {fills} fills over {blocks} blocks, one block every {block_time:?} ({rate} fills/s)"
    );
    let miner = tokio::spawn({
        let sim = std::sync::Arc::clone(&sim);
        async move {
            let mut ticks = tokio::time::interval(block_time);
            for n in 0..blocks {
                ticks.tick().await;
                if n % every == 0 {
                    sim.submit(&[take(&usdc, &equity, n / every)]).unwrap();
                }
                sim.mine();
            }
        }
    });
    let started = Instant::now();
    let (mut max_lag, mut max_reported, mut samples) = (0, 0, 0);
    let mut said = std::collections::BTreeMap::<String, u64>::new();
    let sample = |health: serde_json::Value, head: u64| {
        let processed = health["last_block_processed"].as_u64().unwrap_or(0);
        let status = format!("{} {}", health["status"], health["reasons"]);
        (
            head.saturating_sub(processed),
            status,
            health["lag"].as_u64(),
        )
    };
    while !miner.is_finished() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let head = sim.head();
        let Ok(response) = reqwest::get(&health).await else {
            continue;
        };
        let (lag, status, reported) = sample(response.json().await.unwrap(), head);
        max_lag = max_lag.max(lag);
        max_reported = max_reported.max(reported.unwrap_or(0));
        samples += 1;
        *said.entry(status).or_default() += 1;
        if samples % 60 == 0 {
            println!(
                "  {:.0?}: head {head}, lag {lag} (health says {reported:?})",
                started.elapsed()
            );
        }
    }
    let head = sim.head();
    let response = reqwest::get(&health).await.unwrap();
    let (end_lag, end_status, _) = sample(response.json().await.unwrap(), head);
    let mined = started.elapsed();
    let db = open_db(&env.database_url()).await;
    wait_until(Duration::from_secs(600), "every fill stored", || async {
        fills_stored(&db).await >= i64::try_from(fills).unwrap()
    })
    .await;
    let all_stored = started.elapsed();
    println!(
        "live load: mined {head} blocks in {mined:.1?}; lag at the end {end_lag} blocks (health: {end_status}); \
         max lag {max_lag} blocks over {samples} samples (largest lag /health reported: {max_reported}); \
         all {fills} fills stored after {all_stored:.1?}"
    );
    for (status, count) in &said {
        println!("  /health said {status} in {count} samples");
    }
    figure("ingest_live_load_end_lag", end_lag as f64, "blocks");
    figure("ingest_live_load_max_lag", max_lag as f64, "blocks");
    db.close().await;
    assert!(bot.terminate(Duration::from_secs(10)).success());
}
