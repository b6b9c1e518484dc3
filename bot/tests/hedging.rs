#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

//! The real `schwad` binary against both simulators: random fractional fills across symbols and
//! directions end hedged within a share of each net position (the oracle's invariants), exactly
//! once, through SIGKILLs (also between an order POST and its id being stored), injected API
//! faults, an expired login renewed with `schwad auth`, a closed market, and a second bot.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use sim_chain::ChainSim;
use sim_schwab::{Fault, LostResponse};
use sqlx::sqlite::SqlitePool;
use support::{
    Bot, BotEnv, broker_positions, health, login, open_db, open_executions, start_chain,
    start_schwab, stored_fills, unhedged, violations, wait_until,
};

async fn trade(chain: &ChainSim, blocks: usize, per_block: usize) {
    for _ in 0..blocks {
        chain.submit_random(per_block);
        chain.mine();
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
}

/// Waits until the bot is at rest, then checks the oracle's invariants: every fill stored once,
/// every symbol hedged within a share, no order below one share, every order tied to exactly one
/// execution and the broker's positions equal to the executed hedges.
async fn assert_hedged(chain: &ChainSim, schwab: &sim_schwab::Handle, db: &SqlitePool) {
    let violations = violations(chain, schwab, db, &BTreeSet::new(), Duration::from_secs(30)).await;
    assert!(violations.is_empty(), "{violations:#?}");
    let hedged = broker_positions(schwab);
    assert!(hedged.len() >= 2, "too few symbols hedged: {hedged:?}");
    assert_links(db).await;
}

/// Every filled execution covers trades of the offset direction with exactly its shares.
async fn assert_links(db: &SqlitePool) {
    let rows: Vec<(i64, i64, String, Option<String>)> = sqlx::query_as(
        "SELECT e.id, e.shares, e.side, group_concat(t.onchain_direction || ':' || l.shares)
         FROM hedge_executions e
         LEFT JOIN hedge_execution_trades l ON l.execution_id = e.id
         LEFT JOIN trades t ON t.id = l.trade_id
         WHERE e.status = 'filled' GROUP BY e.id",
    )
    .fetch_all(db)
    .await
    .unwrap();
    assert!(!rows.is_empty(), "nothing was hedged");
    for (id, shares, side, links) in rows {
        let links = links.unwrap_or_else(|| panic!("execution {id} links no trade"));
        let covered = if side == "sell" { "buy" } else { "sell" };
        let mut total = rust_decimal::Decimal::ZERO;
        for link in links.split(',') {
            let (direction, amount) = link.split_once(':').unwrap();
            assert_eq!(
                direction, covered,
                "execution {id} links a {direction} trade"
            );
            total += amount.parse::<rust_decimal::Decimal>().unwrap();
        }
        assert_eq!(total, rust_decimal::Decimal::from(shares), "execution {id}");
    }
}

fn bot_env(dir: &Path, chain: &ChainSim, schwab: &sim_schwab::Handle) -> BotEnv {
    BotEnv::new(dir, chain).with_schwab(schwab)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_fills_are_hedged_exactly_once_through_crashes_and_faults() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("schwad.log");
    let chain = start_chain(21).await;
    let schwab = start_schwab("sim-app-secret").await;
    let env = bot_env(dir.path(), &chain, &schwab);
    login(&env, &schwab);
    let mut bot = Bot::start(&env, &log);
    trade(&chain, 25, 3).await;

    // Reads retried through 429s (with Retry-After), 5xx and a revoked access token.
    schwab.inject(Fault::RateLimited {
        calls: 3,
        retry_after_secs: Some(0),
    });
    schwab.inject(Fault::ServerError {
        calls: 3,
        status: 503,
    });
    schwab.inject(Fault::Unauthorized { calls: 1 });
    trade(&chain, 15, 3).await;

    // Lost responses the bot survives: it looks the order up instead of placing it again.
    schwab.inject(Fault::LoseOrderResponse {
        orders: 2,
        instead: LostResponse::Status { status: 502 },
    });
    schwab.inject(Fault::LoseOrderResponse {
        orders: 1,
        instead: LostResponse::Drop,
    });
    // A rejection returns the shares to the accumulator; they are hedged again.
    schwab.inject(Fault::RejectOrders {
        orders: 1,
        reason: "Position_Sys_0001".to_owned(),
    });
    trade(&chain, 15, 3).await;

    // SIGKILL while an accepted order's response is held: its id was never stored.
    let placed = schwab.ledger().orders.len();
    schwab.inject(Fault::LoseOrderResponse {
        orders: 1,
        instead: LostResponse::Timeout { after_ms: 5_000 },
    });
    trade(&chain, 10, 3).await;
    wait_until(
        Duration::from_secs(10),
        "an order with a held response",
        || async { schwab.faults().is_empty() && schwab.ledger().orders.len() > placed },
    )
    .await;
    bot.kill();
    let db = open_db(&env.database_url()).await;
    let pending: i64 =
        sqlx::query_scalar("SELECT count(*) FROM hedge_executions WHERE status = 'pending'")
            .fetch_one(&db)
            .await
            .unwrap();
    // Another symbol's order may be in flight too: other symbols go on while one is unknown.
    assert!(
        pending >= 1,
        "the bot was not killed between POST and id stored"
    );
    db.close().await;
    bot = Bot::start(&env, &log);

    // SIGKILLs at random moments.
    for round in 0..3_u64 {
        trade(&chain, 8, 3).await;
        tokio::time::sleep(Duration::from_millis(fastrand::u64(0..150) + round * 10)).await;
        bot.kill();
        trade(&chain, 3, 3).await;
        bot = Bot::start(&env, &log);
    }

    let db = open_db(&env.database_url()).await;
    assert_hedged(&chain, &schwab, &db).await;
    let ledger = schwab.ledger();
    assert!(
        ledger
            .orders
            .iter()
            .any(|o| o.status == sim_schwab::OrderStatus::Rejected),
        "no order was rejected"
    );
    // Failed: the rejected order, and orders turned away by an injected 429 (known not placed, their shares
    // hedged again: `assert_hedged` holds); no other outcome, in particular no unknown one, ends failed.
    let reasons: Vec<String> = sqlx::query_scalar(
        "SELECT failure_reason FROM hedge_executions WHERE status = 'failed' ORDER BY id",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    let (rejected, turned_away): (Vec<_>, Vec<_>) = reasons
        .iter()
        .partition(|reason| reason.starts_with("REJECTED"));
    assert_eq!(
        rejected.len(),
        1,
        "only one rejected order fails: {reasons:?}"
    );
    assert!(
        turned_away.iter().all(|reason| reason.contains("HTTP 429")),
        "a failure other than the rejection and a 429 at the door: {reasons:?}"
    );
    // Every order at the broker belongs to exactly one execution.
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT broker_order_id FROM hedge_executions WHERE broker_order_id IS NOT NULL",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    let mut broker_ids: Vec<i64> = ledger.orders.iter().map(|o| o.order_id).collect();
    let mut ids_sorted = ids.clone();
    ids_sorted.sort_unstable();
    broker_ids.sort_unstable();
    assert_eq!(
        ids_sorted, broker_ids,
        "an order at the broker is not tracked, or twice"
    );
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(
        logs.contains("pending hedge found at the broker"),
        "no recovery by lookup happened"
    );
    assert!(bot.terminate(Duration::from_secs(5)).success());
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_login_degrades_until_schwad_auth_then_hedging_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let chain = start_chain(5).await;
    let schwab = start_schwab("sim-app-secret").await;
    let env = bot_env(dir.path(), &chain, &schwab);
    let bot = Bot::start(&env, &dir.path().join("schwad.log"));
    // No login stored yet: the bot ingests and waits.
    trade(&chain, 10, 3).await;
    wait_until(
        Duration::from_secs(10),
        "health to ask for a login",
        || async {
            let health = health(bot.port).await;
            health["status"] == "degraded" && health["broker"] == "re-authentication needed"
        },
    )
    .await;
    assert!(schwab.ledger().orders.is_empty());

    login(&env, &schwab);
    let db = open_db(&env.database_url()).await;
    assert_hedged(&chain, &schwab, &db).await;
    wait_until(Duration::from_secs(5), "health to be ok", || async {
        health(bot.port).await["status"] == "ok"
    })
    .await;

    // The refresh token dies in the middle: degraded, orders wait, ingestion goes on.
    schwab.expire_tokens(true);
    let orders = schwab.ledger().orders.len();
    trade(&chain, 10, 3).await;
    wait_until(
        Duration::from_secs(10),
        "degraded: re-authentication needed",
        || async {
            let health = health(bot.port).await;
            health["status"] == "degraded"
                && health["reasons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r == "re-authentication needed")
        },
    )
    .await;
    let metrics = support::metrics(bot.port).await;
    assert!(
        metrics.contains("\nschwad_broker_reauth_needed 1\n"),
        "{metrics}"
    );
    assert_eq!(
        schwab.ledger().orders.len(),
        orders,
        "an order went out without a login"
    );

    login(&env, &schwab);
    assert_hedged(&chain, &schwab, &db).await;
    wait_until(Duration::from_secs(5), "health to recover", || async {
        health(bot.port).await["status"] == "ok"
    })
    .await;
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_wait_for_the_market_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let chain = start_chain(9).await;
    let schwab = start_schwab("sim-app-secret").await;
    schwab.set_market_open(false);
    let env = bot_env(dir.path(), &chain, &schwab);
    login(&env, &schwab);
    let _bot = Bot::start(&env, &dir.path().join("schwad.log"));
    trade(&chain, 20, 3).await;
    chain.mine_blocks(8);
    let db = open_db(&env.database_url()).await;
    let fills = support::expected_fills(&chain.ledger());
    wait_until(Duration::from_secs(10), "the fills", || async {
        stored_fills(&db).await == fills
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        schwab.ledger().orders.is_empty(),
        "an order went out while closed"
    );
    let executions: i64 = sqlx::query_scalar("SELECT count(*) FROM hedge_executions")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(executions, 0, "hedges must wait in the accumulator");

    schwab.set_market_open(true);
    assert_hedged(&chain, &schwab, &db).await;
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dry_run_fills_at_its_configured_price() {
    let dir = tempfile::tempdir().unwrap();
    let chain = start_chain(13).await;
    let env = BotEnv::new(dir.path(), &chain)
        .with("BROKER", "dry-run")
        .with("DRY_RUN_FILL_PRICE", "123.45")
        .with("HEDGE_TICK", "100ms");
    let _bot = Bot::start(&env, &dir.path().join("schwad.log"));
    trade(&chain, 20, 3).await;
    chain.mine_blocks(8);
    let db = open_db(&env.database_url()).await;
    let ledger = chain.ledger();
    assert!(!unhedged(&ledger, &BTreeMap::new()).is_empty());
    wait_until(Duration::from_secs(20), "dry-run hedges", || async {
        let filled: Vec<(String, String, i64, String)> = sqlx::query_as(
            "SELECT symbol, side, shares, average_price FROM hedge_executions
             WHERE status = 'filled'",
        )
        .fetch_all(&db)
        .await
        .unwrap();
        let mut hedged: BTreeMap<String, i64> = BTreeMap::new();
        for (symbol, side, shares, _) in &filled {
            *hedged.entry(symbol.clone()).or_default() +=
                if side == "buy" { *shares } else { -shares };
        }
        hedged.retain(|_, shares| *shares != 0);
        filled.iter().all(|(.., price)| price == "123.45")
            && open_executions(&db).await == 0
            && unhedged(&ledger, &hedged).is_empty()
    })
    .await;
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_bot_on_the_same_database_refuses_to_start_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let chain = start_chain(17).await;
    let env = BotEnv::new(dir.path(), &chain).with("BROKER", "dry-run");
    let first = Bot::start(&env, &dir.path().join("first.log"));
    wait_until(Duration::from_secs(10), "the first bot", || async {
        reqwest::get(format!("http://127.0.0.1:{}/health", first.port))
            .await
            .is_ok()
    })
    .await;
    let mut second_env = env.clone();
    second_env.port = support::free_port();
    let log = dir.path().join("second.log");
    let second = Bot::start(&second_env, &log);
    let status = second.wait(Duration::from_secs(10));
    assert!(!status.success(), "the second bot ran");
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(
        logs.contains("another `schwad run` uses this database")
            && logs.contains(&format!("pid {}", first.id())),
        "{logs}"
    );
    // Once the first is gone (even by SIGKILL), a bot starts again.
    first.kill();
    let again = Bot::start(&env, &dir.path().join("again.log"));
    wait_until(
        Duration::from_secs(10),
        "the bot to start again",
        || async {
            reqwest::get(format!("http://127.0.0.1:{}/health", again.port))
                .await
                .is_ok()
        },
    )
    .await;
}
