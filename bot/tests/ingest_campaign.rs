#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

//! A seeded randomized campaign of chain faults against the real `schwad` binary: in each phase a random
//! mix of a lagging load-balanced backend (fewer blocks behind than `CONFIRMATIONS`), random JSON-RPC
//! errors (`-32603`, `-32000`, `-32005` rate), late answers (some past the request timeout), lost and
//! duplicate notifications, a reorg's removed logs notified after its new blocks, then one random event:
//! dropped sockets, a reorg, or a SIGKILL of the bot and a restart. After the faults stop, the database
//! must hold every canonical fill of ours exactly once, with the simulator's amounts, and have reverted
//! only fills the simulator's reorgs took out: the simulator's
//! own record is the oracle.
//!
//! The suite runs `SCHWAD_CAMPAIGN_RUNS` runs (default 2) from seed `SCHWAD_CAMPAIGN_SEED` (default 1) on.
//! The long run (documented in bot/README.md):
//! `SCHWAD_CAMPAIGN_RUNS=100 SCHWAD_CAMPAIGN_SEED=$RANDOM cargo nextest run -p schwad --test ingest_campaign
//! --no-capture`. It prints one line per run and `campaign: runs=N violations=V`.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use sim_chain::{ChainSim, Config, Lagging, Latency, LogLimits, RandomErrors};
use support::{
    Bot, BotEnv, OWNER, env_or, expected_fills, expected_positions, open_db, stored_fill_rows,
    stored_positions,
};

/// Stored canonical fills and how many of them are stored more than once.
async fn stored(db: &sqlx::SqlitePool) -> (BTreeSet<(String, i64, String)>, usize) {
    let rows = stored_fill_rows(db).await.unwrap_or_default();
    let count = rows.len();
    let set: BTreeSet<_> = rows.into_iter().collect();
    let duplicates = count - set.len();
    (set, duplicates)
}

/// Fills the bot ever reverted, as `(tx hash, log index, side)`.
async fn reverted(db: &sqlx::SqlitePool) -> BTreeSet<(String, i64, String)> {
    sqlx::query_as(
        "SELECT DISTINCT e.tx_hash, e.log_index, t.order_side FROM trade_reversals r
         JOIN trades t ON t.id = r.trade_id JOIN chain_events e ON e.id = t.event_id
         WHERE r.action = 'reverted'",
    )
    .fetch_all(db)
    .await
    .unwrap_or_default()
    .into_iter()
    .collect()
}

/// Fills of ours the simulator's reorgs took out, as `(tx hash, log index, side)`.
fn reorged_out(ledger: &[sim_chain::Fill]) -> BTreeSet<(String, i64, String)> {
    ledger
        .iter()
        .filter(|f| !f.canonical && f.owner == OWNER)
        .map(|f| {
            let side = serde_json::to_value(f.side).unwrap();
            (
                format!("{:#x}", f.tx_hash),
                i64::try_from(f.log_index).unwrap(),
                side.as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A random fault mix for one phase.
fn faults(sim: &ChainSim, rng: &mut fastrand::Rng) -> String {
    let lagging = Lagging {
        blocks: rng.u64(1..=5),
        share: rng.f64() * 0.8,
        methods: Vec::new(),
    };
    let (code, message) = [
        (-32603, "internal error"),
        (-32000, "header not found"),
        (-32005, "project ID request rate exceeded"),
    ][rng.usize(..3)];
    let errors = RandomErrors {
        share: rng.f64() * 0.3,
        code,
        message: message.to_owned(),
        methods: Vec::new(),
    };
    let latency = Latency {
        get_logs_micros_per_block: 0,
        late_per_mille: rng.u32(..200),
        late_millis: rng.u64(..1_500),
    };
    let (loss, duplicates) = (rng.f64() * 0.3, rng.f64() * 0.3);
    // Half the phases: a reorg's removed logs notified up to 1.5 s after its new blocks.
    let removal_delay = Duration::from_millis(rng.u64(..2) * rng.u64(..1_500));
    let described = format!(
        "lag {}@{:.2} errors {code}@{:.2} late {}ms@{}‰ loss {loss:.2} dup {duplicates:.2} removals {}ms late",
        lagging.blocks,
        lagging.share,
        errors.share,
        latency.late_millis,
        latency.late_per_mille,
        removal_delay.as_millis()
    );
    let faults = sim.faults();
    faults.set_lagging(lagging);
    faults.set_random_errors(errors);
    faults.set_latency(latency);
    faults.set_notification_loss_share(loss);
    faults.set_duplicate_share(duplicates);
    faults.set_removal_delay(removal_delay);
    described
}

fn calm(sim: &ChainSim) {
    let faults = sim.faults();
    faults.set_lagging(Lagging::default());
    faults.set_random_errors(RandomErrors::default());
    faults.set_latency(Latency::default());
    faults.set_notification_loss_share(0.0);
    faults.set_duplicate_share(0.0);
    faults.set_removal_delay(Duration::ZERO);
}

/// One run; `Err` describes a violation.
async fn run(seed: u64) -> Result<String, String> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("schwad.log");
    let sim = ChainSim::start(Config {
        owner: OWNER,
        seed,
        log_limits: LogLimits {
            max_block_range: Some(40),
            max_results: Some(60),
        },
        ..Config::default()
    })
    .await
    .unwrap();
    let env = BotEnv::new(dir.path(), &sim);
    for _ in 0..20 {
        sim.submit_random(3);
        sim.mine();
    }
    let mut bot = Bot::start(&env, &log);
    let (mut kills, mut reorgs, mut drops) = (0, 0, 0);
    for _ in 0..8 {
        let mix = faults(&sim, &mut rng);
        println!("seed {seed}: {mix}");
        for _ in 0..rng.u64(5..15) {
            sim.submit_random(rng.usize(1..=3));
            sim.mine();
            tokio::time::sleep(Duration::from_millis(rng.u64(5..30))).await;
        }
        match rng.u8(..4) {
            0 => {
                sim.faults().drop_connections();
                drops += 1;
            }
            1 => {
                sim.reorg(rng.u64(1..=3), rng.f64()).unwrap();
                reorgs += 1;
            }
            2 => {
                tokio::time::sleep(Duration::from_millis(rng.u64(..300))).await;
                bot.kill();
                kills += 1;
                sim.submit_random(2);
                sim.mine();
                bot = Bot::start(&env, &log);
            }
            _ => {}
        }
    }
    calm(&sim);
    sim.mine_blocks(8);
    let expected = expected_fills(&sim.ledger());
    let positions = expected_positions(&sim.ledger());
    let removable = reorged_out(&sim.ledger());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if !env.database.exists() {
            continue;
        }
        let db = open_db(&env.database_url()).await;
        let (fills, duplicates) = stored(&db).await;
        let spurious: Vec<_> = reverted(&db)
            .await
            .difference(&removable)
            .cloned()
            .collect();
        if !spurious.is_empty() {
            db.close().await;
            return Err(format!("reverted fills no reorg removed: {spurious:?}"));
        }
        let matched = duplicates == 0
            && fills == expected
            && !fills.is_empty()
            && stored_positions(&db).await == positions;
        last = format!(
            "{} stored, {} expected, {} missing, {} extra, {duplicates} duplicates; missing {:?}, extra {:?}",
            fills.len(),
            expected.len(),
            expected.difference(&fills).count(),
            fills.difference(&expected).count(),
            expected.difference(&fills).collect::<Vec<_>>(),
            fills.difference(&expected).collect::<Vec<_>>(),
        );
        db.close().await;
        if matched {
            drop(bot);
            return Ok(format!(
                "{} fills, {kills} kills, {reorgs} reorgs, {drops} drops",
                expected.len()
            ));
        }
    }
    drop(bot);
    // Kept for the post-mortem: the bot's log and database, and where the simulator mined the
    // transactions of the fills that differ.
    let kept = dir.keep();
    let db = open_db(&env.database_url()).await;
    let (fills, _) = stored(&db).await;
    db.close().await;
    let differing: BTreeSet<&String> = expected
        .symmetric_difference(&fills)
        .map(|(tx, _, _)| tx)
        .collect();
    let mined: Vec<String> = sim
        .ledger()
        .iter()
        .filter(|f| differing.contains(&format!("{:#x}", f.tx_hash)))
        .map(|f| {
            format!(
                "{:.10}#{} {:?} in block {} {:.10}{}",
                format!("{:#x}", f.tx_hash),
                f.log_index,
                f.side,
                f.block_number,
                format!("{:#x}", f.block_hash),
                if f.canonical { "" } else { " (reorged out)" }
            )
        })
        .collect();
    Err(format!(
        "{last}; mined: {mined:?}; the bot's log and database are kept in {}",
        kept.display()
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn randomized_chain_faults_record_every_fill_exactly_once() {
    let runs = env_or("SCHWAD_CAMPAIGN_RUNS", 2);
    let first = env_or("SCHWAD_CAMPAIGN_SEED", 1);
    let mut violations = Vec::new();
    for seed in first..first + runs {
        match run(seed).await {
            Ok(summary) => println!("run seed {seed}: ok, {summary}"),
            Err(violation) => {
                println!("run seed {seed}: VIOLATION: {violation}");
                violations.push((seed, violation));
            }
        }
    }
    println!("campaign: runs={runs} violations={}", violations.len());
    assert!(violations.is_empty(), "{violations:?}");
}
