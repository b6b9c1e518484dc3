#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

//! The real `schwad` binary against the chain simulator: random trades with dropped and stalled
//! connections, duplicate notifications, rate and range limits, reorgs, and the bot SIGKILLed and
//! restarted in the middle. The database must end with exactly the surviving fills, once each, and
//! positions equal to the sums computed from the simulator's own ledger.

mod support;

use std::time::Duration;

use sim_chain::{ChainSim, LogLimits, RateLimit, RateLimitStyle, Trade};
use support::{
    Bot, BotEnv, OWNER, checkpoint, expected_fills, expected_positions, open_db, our_take,
    start_sim, stored_fills, stored_positions, trade, wait_until,
};

/// Mines past the reorg window, waits for the bot to process the head, and compares.
async fn assert_converges(sim: &ChainSim, env: &BotEnv) {
    sim.mine_blocks(8);
    let head = i64::try_from(sim.head()).unwrap();
    wait_until(Duration::from_secs(20), "the database file", || async {
        env.database.exists()
    })
    .await;
    let db = open_db(&env.database_url()).await;
    let expected = expected_fills(&sim.ledger());
    // Over empty blocks the bot persists its checkpoint once per reorg window (6 here).
    wait_until(
        Duration::from_secs(20),
        "the checkpoint to pass the trades",
        || async {
            checkpoint(&db).await.is_some_and(|c| c >= head - 6)
                && stored_fills(&db).await == expected
        },
    )
    .await;
    assert!(
        !expected.is_empty(),
        "the scenario produced no fills of ours"
    );
    assert_eq!(
        stored_positions(&db).await,
        expected_positions(&sim.ledger())
    );
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_trades_with_faults_and_crashes_are_recorded_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("schwad.log");
    let sim = start_sim(7).await;
    let env = BotEnv::new(dir.path(), &sim);
    sim.faults().set_log_limits(LogLimits {
        max_block_range: Some(40),
        max_results: Some(60),
    });
    trade(&sim, 30, 3, Duration::ZERO).await; // history to catch up on

    let mut bot = Bot::start(&env, &log);
    let tick = Duration::from_millis(15);
    trade(&sim, 20, 2, tick).await;

    sim.faults().set_duplicate_share(0.3);
    sim.faults().drop_connections();
    trade(&sim, 20, 2, tick).await;
    bot.kill();
    trade(&sim, 20, 2, Duration::ZERO).await; // while the bot is down
    bot = Bot::start(&env, &log);

    sim.faults().set_rate_limit(RateLimit {
        share: 0.1,
        style: RateLimitStyle::JsonRpc,
    });
    trade(&sim, 15, 2, tick).await;
    sim.reorg(3, 0.5).unwrap();
    trade(&sim, 15, 2, tick).await;
    sim.faults().stall(); // longer than STALL_TIMEOUT: the bot must replace the connection
    trade(&sim, 10, 2, Duration::from_millis(100)).await;
    sim.faults().resume();
    trade(&sim, 10, 2, tick).await;
    bot.kill();
    sim.reorg(2, 1.0).unwrap(); // while the bot is down
    bot = Bot::start(&env, &log);
    trade(&sim, 10, 2, tick).await;
    sim.reorg(4, 0.3).unwrap();
    trade(&sim, 5, 2, tick).await;
    sim.faults().drop_connections();
    sim.faults().set_rate_limit(RateLimit::default());
    sim.faults().set_duplicate_share(0.0);

    assert_converges(&sim, &env).await;

    let status = bot.terminate(Duration::from_secs(5));
    assert!(status.success(), "schwad exited with {status} on SIGTERM");
    let ledger = sim.ledger();
    assert!(
        ledger.iter().any(|f| !f.canonical && f.owner == OWNER),
        "the reorgs removed no fill of ours"
    );
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(logs.contains("reconnecting"), "no reconnect happened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorged_out_fill_is_reverted_with_an_audit_record() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(3).await;
    let env = BotEnv::new(dir.path(), &sim);
    let _bot = Bot::start(&env, &dir.path().join("schwad.log"));
    sim.mine_blocks(2);
    sim.submit(&[our_take(&sim, 1)]).unwrap();
    sim.mine();
    assert_converges(&sim, &env).await;
    let db = open_db(&env.database_url()).await;
    assert_eq!(stored_positions(&db).await["AAPL"].1.to_string(), "2.5");

    sim.submit(&[our_take(&sim, 2)]).unwrap();
    sim.mine();
    wait_until(Duration::from_secs(10), "the second fill", || async {
        stored_fills(&db).await.len() == 2
    })
    .await;
    sim.reorg(1, 1.0).unwrap(); // the block with the second fill is replaced, without it
    assert_converges(&sim, &env).await;
    assert_eq!(stored_positions(&db).await["AAPL"].1.to_string(), "2.5");
    let audits: Vec<(String, String)> =
        sqlx::query_as("SELECT action, reason FROM trade_reversals")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(audits.len(), 1, "{audits:?}");
    assert_eq!(audits[0].0, "reverted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_progress_and_metrics_count_events() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(11).await;
    let env = BotEnv::new(dir.path(), &sim).with("GIT_COMMIT", "abc1234");
    trade(&sim, 10, 3, Duration::ZERO).await;
    let bot = Bot::start(&env, &dir.path().join("schwad.log"));
    assert_converges(&sim, &env).await;

    let base = format!("http://127.0.0.1:{}", bot.port);
    let health: serde_json::Value = reqwest::get(format!("{base}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["commit"], "abc1234");
    assert_eq!(health["database_ok"], true);
    assert_eq!(health["last_block_processed"], sim.head());
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let processed: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("schwad_events_processed_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(processed > 0, "{metrics}");

    drop(sim); // the node goes away: the bot stays up, degraded
    wait_until(
        Duration::from_secs(5),
        "health to turn degraded",
        || async {
            let health: serde_json::Value = reqwest::get(format!("{base}/health"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            health["status"] == "degraded" && health["chain_connected"] == false
        },
    )
    .await;
    assert!(bot.terminate(Duration::from_secs(5)).success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eth_get_logs_answer_over_the_message_limit_shrinks_the_range() {
    // 24,000 fills in 2,400 blocks: one `eth_getLogs` over the bot's 2,000-block range answers tens of megabytes,
    // more than the WebSocket client takes in one frame. The bot must shrink the range, not retry it forever.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("schwad.log");
    let sim = start_sim(31).await;
    for block in 0..2_400u32 {
        let trades: Vec<Trade> = (0..10u8)
            .map(|i| our_take(&sim, u64::from(block * 10 + u32::from(i))))
            .collect();
        for trade in &trades {
            sim.submit(std::slice::from_ref(trade)).unwrap();
        }
        sim.mine();
    }
    let env = BotEnv::new(dir.path(), &sim)
        .with("GET_LOGS_MAX_RANGE", "2000")
        .with("STALL_TIMEOUT", "60s")
        .with("RPC_TIMEOUT", "30s");
    let _bot = Bot::start(&env, &log);
    wait_until(Duration::from_secs(20), "the database file", || async {
        env.database.exists()
    })
    .await;
    let db = open_db(&env.database_url()).await;
    let expected = expected_fills(&sim.ledger());
    assert_eq!(expected.len(), 24_000);
    wait_until(Duration::from_secs(120), "every fill stored", || async {
        stored_fills(&db).await == expected
    })
    .await;
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(
        logs.contains("range too large; shrinking"),
        "the first range fit in one message: the test no longer exceeds the limit"
    );
    db.close().await;
}
