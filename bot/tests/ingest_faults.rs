#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

//! The real `schwad` binary against the chain simulator behaving as real providers do on a bad day: a
//! load-balanced node whose `eth_getLogs` answers from blocks behind, random JSON-RPC errors (`-32603`,
//! `-32005` "request rate exceeded"), a node slow on wide ranges, `symbol()` answering `0x` or reverting
//! once, lost notifications, another chain behind the URL, and live load faster than one commit per log.
//! Every check is against the simulator's own record of fills and its own head, never the bot's rules.

mod support;

use std::time::{Duration, Instant};

use sim_chain::{CallFailure, ChainSim, Config, FillSide, Lagging, Latency, RandomErrors};
use support::{
    Bot, BotEnv, OWNER, checkpoint, expected_fills, expected_positions, open_db, our_clear,
    our_clear_as_bob, our_take, start_sim, stored_fills, stored_positions, strangers_clear, trade,
    wait_until,
};

/// `GET /health`, or `None` while the bot is not serving yet (it serves once its database is migrated).
async fn try_health(port: u16) -> Option<serde_json::Value> {
    let response = reqwest::get(format!("http://127.0.0.1:{port}/health"))
        .await
        .ok()?;
    response.json().await.ok()
}

/// Waits until the database holds exactly the simulator's canonical fills of ours, with their positions.
async fn assert_recorded_exactly_once(sim: &ChainSim, env: &BotEnv, within: Duration) {
    wait_until(
        Duration::from_secs(20),
        "the bot serving /health",
        || async { try_health(env.port).await.is_some() },
    )
    .await;
    let db = open_db(&env.database_url()).await;
    let expected = expected_fills(&sim.ledger());
    assert!(!expected.is_empty(), "the scenario made no fill of ours");
    wait_until(within, "every fill recorded once", || async {
        stored_fills(&db).await == expected
    })
    .await;
    assert_eq!(
        stored_positions(&db).await,
        expected_positions(&sim.ledger())
    );
    db.close().await;
}

/// Reorg audit rows (reversals and restorations) in the bot's database.
async fn reversals(env: &BotEnv) -> Vec<(String, String)> {
    let db = open_db(&env.database_url()).await;
    let rows = sqlx::query_as("SELECT action, reason FROM trade_reversals")
        .fetch_all(&db)
        .await
        .unwrap();
    db.close().await;
    rows
}

/// Mines one block and waits until /health says the bot processed it.
async fn mine_and_wait(sim: &ChainSim, port: u16) {
    let head = sim.mine();
    wait_until(Duration::from_secs(10), "the head processed", || async {
        try_health(port)
            .await
            .and_then(|h| h["last_block_processed"].as_u64())
            >= Some(head)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_get_logs_node_never_reverts_a_live_fill() {
    // Issue 14 item 7: behind a load balancer, `eth_getLogs` (and the block methods) are answered by a node two
    // blocks behind, which simply leaves out the logs of blocks it does not hold yet. The live fill must not be
    // read as reorged out, reverted and restored (and hedged again): no reorg happened.
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(5).await;
    let env = BotEnv::new(dir.path(), &sim);
    let bot = Bot::start(&env, &dir.path().join("schwad.log"));
    mine_and_wait(&sim, bot.port).await;
    sim.faults().set_lagging(Lagging {
        blocks: 2,
        share: 1.0,
        methods: Vec::new(),
    });
    for nonce in 0..4 {
        sim.submit(&[our_take(&sim, nonce)]).unwrap();
        sim.mine();
        tokio::time::sleep(Duration::from_millis(150)).await;
        sim.mine();
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    sim.mine_blocks(8);
    assert_recorded_exactly_once(&sim, &env, Duration::from_secs(20)).await;
    assert_eq!(
        reversals(&env).await,
        vec![],
        "a fill was reverted, yet no reorg happened"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_node_never_settles_blocks_it_may_not_hold() {
    // The campaign's last loss, on purpose: `eth_getLogs` is answered by a node three blocks behind. Our
    // clear is mined in block h (its fills are only ever read from `eth_getLogs`), our take in h + 1 (stored
    // live from the subscription), then h + 2. The page up to h + 2 lacks the stored take, so the bot sees the
    // node is behind and stops the page at h, the block before it; but the node held no more than h - 1, so
    // h's clear was missing from that answer as well. While the bot waits to read on, the chain races ahead
    // by more than the reorg window, and the rest of the pass goes on from h + 1: block h is read again only
    // if the bot never took an answer given near the head as complete.
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(9).await;
    // Slow catch-up retries, and no stall while the chain is quiet, so the chain's burst lands in between.
    let env = BotEnv::new(dir.path(), &sim)
        .with("RECONNECT_MIN_BACKOFF", "2s")
        .with("RECONNECT_MAX_BACKOFF", "2s")
        .with("STALL_TIMEOUT", "20s");
    let bot = Bot::start(&env, &dir.path().join("schwad.log"));
    mine_and_wait(&sim, bot.port).await;
    sim.faults().set_lagging(Lagging {
        blocks: 3,
        share: 1.0,
        methods: vec!["eth_getLogs".to_owned()],
    });
    sim.submit(&[our_clear(&sim, 1)]).unwrap();
    let h = sim.mine();
    sim.submit(&[our_take(&sim, 2)]).unwrap();
    sim.mine();
    sim.mine();
    wait_until(
        Duration::from_secs(10),
        "the page stopped before the take",
        || async {
            try_health(bot.port)
                .await
                .and_then(|h| h["last_block_processed"].as_u64())
                >= Some(h)
        },
    )
    .await;
    sim.mine_blocks(12);
    tokio::time::sleep(Duration::from_secs(3)).await;
    sim.faults().set_lagging(Lagging::default());
    sim.mine_blocks(3);
    assert_recorded_exactly_once(&sim, &env, Duration::from_secs(20)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_index_that_names_another_log_after_a_reorg_records_that_log() {
    // Block h holds a strangers' clear, then our transaction of two clears (ours is alice in the first, bob in
    // the second). A reorg mines h again without the strangers' transaction: ours moves up by one clear's logs,
    // so the index its second clear had now belongs to its first. The bot must record the new block's fills
    // (alice at the first index, bob at the second) and count the old block's no more.
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(11).await;
    let env = BotEnv::new(dir.path(), &sim);
    let bot = Bot::start(&env, &dir.path().join("schwad.log"));
    mine_and_wait(&sim, bot.port).await;
    let strangers = sim.submit(&[strangers_clear(&sim, 1)]).unwrap();
    let ours = sim
        .submit(&[our_clear(&sim, 2), our_clear_as_bob(&sim, 3)])
        .unwrap();
    mine_and_wait(&sim, bot.port).await;
    assert_recorded_exactly_once(&sim, &env, Duration::from_secs(20)).await;

    let report = sim.reorg_dropping(1, 0.0, &[strangers]).unwrap();
    assert_eq!(report.reincluded, vec![ours]);
    let index_of = |canonical: bool, side: FillSide| {
        sim.ledger()
            .iter()
            .find(|f| {
                f.tx_hash == ours && f.owner == OWNER && f.canonical == canonical && f.side == side
            })
            .map(|f| f.log_index)
            .unwrap()
    };
    assert_eq!(
        index_of(true, FillSide::Bob),
        index_of(false, FillSide::Alice),
        "the scenario: the index of our alice fill in the old block is our bob fill's in the new one"
    );
    for _ in 0..8 {
        mine_and_wait(&sim, bot.port).await;
    }
    assert_recorded_exactly_once(&sim, &env, Duration::from_secs(20)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_removal_never_reverts_the_same_logs_in_their_new_block() {
    // A reorg takes a transaction out of block h and mines it again in the new block h: its logs keep their
    // (transaction, log index) keys in a block of another hash. The provider notifies the removed logs 3 s
    // after the new blocks (its subscription backend learns of the reorg late), when the bot has read the new
    // block and moved past the reorg window. The late removal names the old block: the fills, which are on
    // the canonical chain in the new one, must stay recorded (a campaign run lost both fills of a transaction
    // this way, for good).
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(7).await;
    let env = BotEnv::new(dir.path(), &sim);
    let bot = Bot::start(&env, &dir.path().join("schwad.log"));
    mine_and_wait(&sim, bot.port).await;
    let tx = sim
        .submit(&[our_take(&sim, 1), our_clear(&sim, 2)])
        .unwrap();
    mine_and_wait(&sim, bot.port).await;
    assert_recorded_exactly_once(&sim, &env, Duration::from_secs(20)).await;

    let removal_delay = Duration::from_secs(3);
    sim.faults().set_removal_delay(removal_delay);
    let reorged = Instant::now();
    let report = sim.reorg(1, 0.0).unwrap();
    assert_eq!(
        report.reincluded,
        vec![tx],
        "the transaction is mined again"
    );
    for _ in 0..10 {
        mine_and_wait(&sim, bot.port).await;
    }
    assert!(
        reorged.elapsed() < removal_delay,
        "the bot must be past the reorg window before the removal arrives, or the scenario proves nothing"
    );
    // Heads keep coming (a quiet node would have the session replaced as stalled, and the removal
    // could fall between two sessions) until well after the removal was sent.
    while reorged.elapsed() < removal_delay + Duration::from_millis(500) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        mine_and_wait(&sim, bot.port).await;
    }
    assert_recorded_exactly_once(&sim, &env, Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_errors_and_rate_limits_neither_collapse_the_range_nor_progress() {
    // Issue 14 items 8 and 11: 20 % of `eth_getLogs` fail with `-32603`, then half with Infura's `-32005`
    // "project ID request rate exceeded". Every fill must arrive in bounded time, and once the errors stop, a
    // new head costs about one `eth_getLogs`, not one per block of the reorg window.
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(8).await;
    let env = BotEnv::new(dir.path(), &sim);
    trade(&sim, 40, 3, Duration::ZERO).await;
    let bot = Bot::start(&env, &dir.path().join("schwad.log"));
    for (code, message, share) in [
        (-32603, "internal error", 0.2),
        (-32005, "project ID request rate exceeded", 0.5),
    ] {
        sim.faults().set_random_errors(RandomErrors {
            share,
            code,
            message: message.to_owned(),
            methods: vec!["eth_getLogs".to_owned()],
        });
        trade(&sim, 40, 2, Duration::from_millis(20)).await;
        assert_recorded_exactly_once(&sim, &env, Duration::from_secs(20)).await;
        sim.faults().set_random_errors(RandomErrors::default());
        mine_and_wait(&sim, bot.port).await;
        let before = sim.faults().requests("eth_getLogs");
        for _ in 0..20 {
            mine_and_wait(&sim, bot.port).await;
        }
        let calls = sim.faults().requests("eth_getLogs") - before;
        assert!(
            calls <= 30,
            "{calls} eth_getLogs for 20 heads after {code} errors: the range did not grow back"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_timing_out_on_wide_ranges_is_asked_narrower_ones() {
    // Issue 14 item 8: a node scanning 3 ms per block answers a 500-block `eth_getLogs` after 1.5 s, past the
    // bot's 1 s request timeout. Retrying the same range forever never catches up.
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(9).await;
    trade(&sim, 20, 3, Duration::ZERO).await;
    sim.mine_blocks(1_200);
    trade(&sim, 20, 3, Duration::ZERO).await;
    sim.faults().set_latency(Latency {
        get_logs_micros_per_block: 3_000,
        ..Latency::default()
    });
    let env = BotEnv::new(dir.path(), &sim);
    let _bot = Bot::start(&env, &dir.path().join("schwad.log"));
    assert_recorded_exactly_once(&sim, &env, Duration::from_secs(40)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symbol_call_failing_once_never_skips_the_fill() {
    // Issue 14 item 9: the first `symbol()` answers `0x` (a backend without the token's code yet), later the
    // first two revert spuriously. The fills must wait and be recorded as trades, never skipped.
    for (seed, failure, count) in [(12, CallFailure::Empty, 1), (13, CallFailure::Revert, 2)] {
        let dir = tempfile::tempdir().unwrap();
        let sim = start_sim(seed).await;
        let env = BotEnv::new(dir.path(), &sim);
        sim.faults().fail_next_calls(count, failure);
        sim.submit(&[our_take(&sim, 1)]).unwrap();
        sim.mine_blocks(3);
        let _bot = Bot::start(&env, &dir.path().join("schwad.log"));
        assert_recorded_exactly_once(&sim, &env, Duration::from_secs(30)).await;
        let db = open_db(&env.database_url()).await;
        let skipped: i64 =
            sqlx::query_scalar("SELECT count(*) FROM trades WHERE status = 'skipped'")
                .fetch_one(&db)
                .await
                .unwrap();
        assert_eq!(
            skipped, 0,
            "{failure:?}: a fill was skipped for a transient failure"
        );
        db.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_notifications_never_pair_a_clear_with_another_clears_after_clear() {
    // Issue 14 item 12: a transaction holding several clears emits ClearV2, AfterClear, ClearV2, AfterClear. When
    // the first AfterClear notification is lost, the first ClearV2 must not take the second one's amounts.
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(21).await;
    let env = BotEnv::new(dir.path(), &sim);
    let _bot = Bot::start(&env, &dir.path().join("schwad.log"));
    sim.faults().set_notification_loss_share(0.25);
    trade(&sim, 80, 3, Duration::from_millis(15)).await;
    sim.faults().set_notification_loss_share(0.0);
    sim.mine_blocks(8);
    assert_recorded_exactly_once(&sim, &env, Duration::from_secs(20)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_of_another_chain_is_never_ingested() {
    // Issue 14 item 11: the URL points at a node of chain 1, the bot expects Base (8453).
    let dir = tempfile::tempdir().unwrap();
    let sim = ChainSim::start(Config {
        owner: OWNER,
        chain_id: 1,
        ..Config::default()
    })
    .await
    .unwrap();
    sim.submit(&[our_take(&sim, 1)]).unwrap();
    sim.mine_blocks(3);
    let env = BotEnv::new(dir.path(), &sim);
    let bot = Bot::start(&env, &dir.path().join("schwad.log"));
    wait_until(
        Duration::from_secs(10),
        "health naming the wrong chain",
        || async {
            try_health(bot.port).await.is_some_and(|health| {
                health["status"] == "degraded"
                    && health["reasons"].to_string().contains("wrong chain")
            })
        },
    )
    .await;
    let db = open_db(&env.database_url()).await;
    assert!(
        stored_fills(&db).await.is_empty(),
        "fills of another chain were recorded"
    );
    assert_eq!(checkpoint(&db).await, None);
    db.close().await;
}

/// Local addresses (as `/proc/net/tcp*` spells them) listening on `port`.
fn listening_addresses(port: u16) -> Vec<String> {
    let port = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .filter_map(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    // State 0A is LISTEN.
                    (fields.get(3) == Some(&"0A") && fields[1].ends_with(&port))
                        .then(|| fields[1].to_owned())
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_can_listen_on_loopback_only() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(2).await;
    let env = BotEnv::new(dir.path(), &sim).with("SERVER_HOST", "127.0.0.1");
    let bot = Bot::start(&env, &dir.path().join("schwad.log"));
    mine_and_wait(&sim, bot.port).await;
    let addresses = listening_addresses(bot.port);
    assert_eq!(addresses, vec![format!("0100007F:{:04X}", bot.port)]);
}

/// Submits `per_tick` fills of ours and mines a block every `tick` until `stop` turns true; returns how many.
async fn live_load(
    sim: &ChainSim,
    per_tick: u64,
    tick: Duration,
    stop: &std::sync::atomic::AtomicBool,
) -> u64 {
    let mut nonce = 1_000_000;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        for _ in 0..per_tick {
            sim.submit(&[our_take(sim, nonce)]).unwrap();
            nonce += 1;
        }
        sim.mine();
        tokio::time::sleep(tick).await;
    }
    nonce - 1_000_000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_is_caught_up_under_live_load_and_health_tells_the_nodes_lag() {
    // Issue 14 item 11: 2,000 blocks of backlog read 50 at a time while the node mines a block of 4 fills of
    // ours every 10 ms. The backlog must be caught up while the live load goes on, and /health must report the
    // node's own head (not a head frozen at the start) and say `catching up` while far behind.
    let dir = tempfile::tempdir().unwrap();
    let sim = std::sync::Arc::new(start_sim(4).await);
    trade(&sim, 30, 3, Duration::ZERO).await;
    sim.mine_blocks(2_000);
    let env = BotEnv::new(dir.path(), &sim).with("GET_LOGS_MAX_RANGE", "50");
    let bot = Bot::start(&env, &dir.path().join("schwad.log"));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = tokio::spawn({
        let (sim, stop) = (std::sync::Arc::clone(&sim), std::sync::Arc::clone(&stop));
        async move { live_load(&sim, 4, Duration::from_millis(10), &stop).await }
    });
    let started = Instant::now();
    let mut said_catching_up = false;
    let mut caught_up = None;
    while started.elapsed() < Duration::from_secs(90) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let head_before = sim.head();
        let Some(health) = try_health(bot.port).await else {
            continue;
        };
        if health["chain_connected"] != true {
            continue;
        }
        let seen = health["last_block_seen"].as_u64().unwrap();
        let processed = health["last_block_processed"].as_u64().unwrap();
        assert!(
            seen + 50 >= head_before,
            "/health saw block {seen} while the node's head was {head_before}: {health}"
        );
        if head_before.saturating_sub(processed) > 100 {
            assert!(
                health["reasons"].to_string().contains("catching up"),
                "{health}"
            );
            said_catching_up = true;
        }
        if processed + 30 >= head_before && started.elapsed() > Duration::from_secs(2) {
            caught_up = Some(started.elapsed());
            break;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let live = load.await.unwrap();
    assert!(said_catching_up, "/health never said it was catching up");
    let caught_up = caught_up.expect("the backlog was not caught up within 90 s under live load");
    println!("caught up after {caught_up:.1?} while {live} live fills arrived");
    sim.mine_blocks(8);
    assert_recorded_exactly_once(&sim, &env, Duration::from_secs(60)).await;
}
