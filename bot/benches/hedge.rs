#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark fails loudly

//! Hedging numbers for the real `schwad` binary against the chain and Schwab simulators, printed:
//! - latency from a fill's log reaching the bot (its notification read, from the bot's
//!   `schwad::live` events) to the hedge order reaching the Schwab simulator (its `enteredTime`),
//!   p50/p99 over one-share fills that each need a hedge; also from the block mined;
//! - throughput: hedge orders placed and filled per second while a backlog of fills across three
//!   symbols is worked off (several orders of a symbol may be open at once, one pending at most);
//! - latency from the fill's log read to the order that hedges it (p50/p99/p999) with fills arriving at a steady
//!   10, 100 and 1,000 fills/s (one fill per block, each needing a hedge) for `BENCH_RATE_SECONDS` each (default 10).
//!
//! Run with `cargo bench -p schwad --bench hedge` (sizes via `BENCH_LATENCY_SAMPLES`,
//! `BENCH_BACKLOG_FILLS`, `BENCH_RATE_SECONDS`). Each figure is also printed as one `BENCH name=value unit=...`
//! line for `scripts/bench`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use sim_chain::{ChainSim, Config, Token};
use support::{
    Bot, BotEnv, OWNER, broker_positions, env_or, login, open_db, open_executions, owner_take,
    unhedged, wait_until,
};
use test_support::bench::{figure, percentile};

fn token(sim: &ChainSim, symbol: &str) -> Token {
    sim.tokens()
        .into_iter()
        .find(|t| t.symbol == symbol)
        .unwrap()
}

/// When the bot read each live fill's log (notification read, from its `schwad::live` events), by transaction.
fn received_times(log: &std::path::Path) -> HashMap<String, DateTime<Utc>> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|line| {
            let key = line["fields"]["key"].as_str()?;
            let committed: DateTime<Utc> = line["timestamp"].as_str()?.parse().ok()?;
            let inside = line["fields"]["latency_us"].as_i64()?;
            let tx = key.split('#').next()?.to_owned();
            Some((tx, committed - TimeDelta::microseconds(inside)))
        })
        .collect()
}

fn millis(delta: TimeDelta) -> f64 {
    delta.num_microseconds().unwrap() as f64 / 1000.0
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench());
}

async fn bench() {
    let samples = env_or("BENCH_LATENCY_SAMPLES", 200);
    let backlog = env_or("BENCH_BACKLOG_FILLS", 600);
    let dir = tempfile::tempdir().unwrap();
    let chain = ChainSim::start(Config {
        owner: OWNER,
        ..Config::default()
    })
    .await
    .unwrap();
    let schwab = sim_schwab::start(sim_schwab::Config {
        activation_delay: Duration::ZERO,
        fill_delay: Duration::from_millis(1),
        requests_per_window: 1_000_000,
        orders_per_window: 1_000_000,
        ..sim_schwab::Config::default()
    })
    .await
    .unwrap();
    let env = BotEnv::new(dir.path(), &chain)
        .with_schwab(&schwab)
        .with("STALL_TIMEOUT", "30s")
        .with("SCHWAB_REQUESTS_PER_MINUTE", "1000000")
        .with("SCHWAB_ORDERS_PER_MINUTE", "1000000")
        .with("ORDER_POLL_INTERVAL", "5ms")
        .with("LOG_LEVEL", "warn,schwad::live=debug");
    login(&env, &schwab);
    let log = dir.path().join("schwad.log");
    let bot = Bot::start(&env, &log);
    wait_until(Duration::from_secs(30), "the database", || async {
        env.database.exists()
    })
    .await;
    let db = open_db(&env.database_url()).await;
    let usdc = token(&chain, "USDC");
    let equities = ["AAPL0x", "NVDAs1", "TSLA0x"].map(|symbol| token(&chain, symbol));
    chain.mine_blocks(3);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut mined = HashMap::new();
    for n in 0..samples {
        let equity = &equities[(n % 3) as usize];
        let sell = (n / 3) % 2 == 0; // each symbol alternates: -1, 0, -1, 0 ... always a hedge
        let tx = chain
            .submit(&[owner_take(&usdc, equity, sell, 1_000, n)])
            .unwrap();
        mined.insert(format!("{tx}"), Utc::now());
        chain.mine();
        let placed = usize::try_from(n + 1).unwrap();
        wait_until(Duration::from_secs(10), "the hedge order", || async {
            schwab.ledger().orders.len() >= placed && open_executions(&db).await == 0
        })
        .await;
    }
    let orders = schwab.ledger().orders;
    let received = received_times(&log);
    let (mut from_log, mut from_block) = (Vec::new(), Vec::new());
    for (tx, mined_at) in &mined {
        let Some(&received) = received.get(tx) else {
            continue; // read by a catch-up, not live: no notification time
        };
        let order = orders
            .iter()
            .find(|order| order.entered_time >= received)
            .unwrap();
        from_log.push(millis(order.entered_time - received));
        from_block.push(millis(order.entered_time - *mined_at));
    }
    from_log.sort_by(f64::total_cmp);
    from_block.sort_by(f64::total_cmp);
    println!(
        "hedge latency, fill log read by the bot to order at the simulator ({} samples): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        from_log.len(),
        percentile(&from_log, 0.5),
        percentile(&from_log, 0.99),
        from_log.last().unwrap()
    );
    println!(
        "hedge latency, block mined to order at the simulator (includes the chain simulator's Nagle delay): p50 {:.2} ms, p99 {:.2} ms",
        percentile(&from_block, 0.5),
        percentile(&from_block, 0.99)
    );
    figure("hedge_latency_p50", percentile(&from_log, 0.5), "ms");
    figure("hedge_latency_p99", percentile(&from_log, 0.99), "ms");

    let before = schwab.ledger().orders.len();
    let started = Instant::now();
    for n in 0..backlog {
        let equity = &equities[(n % 3) as usize];
        chain
            .submit(&[owner_take(&usdc, equity, n % 7 != 0, 1_000, samples + n)])
            .unwrap();
        if n % 3 == 2 {
            chain.mine();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    chain.mine_blocks(2);
    let ledger = chain.ledger();
    wait_until(
        Duration::from_secs(120),
        "the backlog to be hedged",
        || async {
            unhedged(&ledger, &broker_positions(&schwab)).is_empty()
                && open_executions(&db).await == 0
        },
    )
    .await;
    let elapsed = started.elapsed();
    let ledger = schwab.ledger();
    let hedges = ledger.orders.len() - before;
    let shares: u64 = ledger.orders[before..].iter().map(|o| o.quantity).sum();
    println!(
        "throughput: {backlog} one-share fills over 3 symbols hedged in {elapsed:.2?} with {hedges} orders ({shares} shares): {:.1} hedges/s placed and filled, {:.0} fills/s",
        hedges as f64 / elapsed.as_secs_f64(),
        backlog as f64 / elapsed.as_secs_f64()
    );
    figure(
        "hedge_throughput",
        hedges as f64 / elapsed.as_secs_f64(),
        "hedges/s",
    );

    let seconds = env_or("BENCH_RATE_SECONDS", 10);
    let mut nonce = samples + backlog;
    for rate in [10, 100, 1_000] {
        let count = rate * seconds;
        let mut mined = Vec::new();
        let started = tokio::time::Instant::now();
        for i in 0..count {
            tokio::time::sleep_until(started + Duration::from_secs_f64(i as f64 / rate as f64))
                .await;
            let equity = &equities[(i % 3) as usize];
            let tx = chain
                .submit(&[owner_take(&usdc, equity, true, 1_000, nonce)])
                .unwrap();
            nonce += 1;
            mined.push((format!("{tx}"), equity.symbol.clone()));
            chain.mine();
        }
        let ledger = chain.ledger();
        wait_until(
            Duration::from_secs(120),
            "the fills to be hedged",
            || async {
                unhedged(&ledger, &broker_positions(&schwab)).is_empty()
                    && open_executions(&db).await == 0
            },
        )
        .await;
        let received = received_times(&log);
        let orders = schwab.ledger().orders;
        // Every fill sells a share, so the first order for its symbol (AAPL for AAPL0x) entered after its log was
        // read hedges it.
        let mut latency: Vec<f64> = mined
            .iter()
            .filter_map(|(tx, symbol)| {
                let received = *received.get(tx)?;
                let order = orders
                    .iter()
                    .find(|o| symbol.starts_with(&o.symbol) && o.entered_time >= received)?;
                Some(millis(order.entered_time - received))
            })
            .collect();
        latency.sort_by(f64::total_cmp);
        println!(
            "hedge latency at {rate} fills/s for {seconds} s ({} of {count} fills read live): p50 {:.2} ms, p99 {:.2} ms, p999 {:.2} ms",
            latency.len(),
            percentile(&latency, 0.5),
            percentile(&latency, 0.99),
            percentile(&latency, 0.999)
        );
        for (name, p) in [("p50", 0.5), ("p99", 0.99), ("p999", 0.999)] {
            figure(
                &format!("hedge_latency_{rate}_per_s_{name}"),
                percentile(&latency, p),
                "ms",
            );
        }
    }
    db.close().await;
    assert!(bot.terminate(Duration::from_secs(10)).success());
}
