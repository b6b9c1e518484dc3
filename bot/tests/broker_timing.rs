#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

//! The real `schwad` binary against both simulators under an operator's bad day at the broker:
//! orders created after the request timed out (also across a SIGKILL), lost answers with a
//! lagging order list, orders listed without their symbol, a skewed clock, a person's orders, one
//! execution's order that cannot be read, a rule that must not chase a net around a whole
//! number, an order replaced at the broker. Each ends with the oracle's invariants.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use sim_chain::{ChainSim, Config, Token};
use sim_schwab::{Fault, Instruction, LostResponse, OrderStatus, Quirks};
use sqlx::sqlite::SqlitePool;
use support::{
    Bot, BotEnv, OWNER, health, login, open_db, open_executions, owner_take, start_schwab,
    violations, wait_until,
};

/// A bot hedging at the Schwab simulator, with the chain simulator feeding it fills.
struct Stage {
    _dir: tempfile::TempDir,
    chain: ChainSim,
    schwab: sim_schwab::Handle,
    env: BotEnv,
    log: PathBuf,
    bot: Option<Bot>,
    db: SqlitePool,
    nonce: u64,
}

impl Stage {
    async fn start(seed: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let chain = ChainSim::start(Config {
            owner: OWNER,
            seed,
            ..Config::default()
        })
        .await
        .unwrap();
        let schwab = start_schwab("sim-app-secret").await;
        let env = BotEnv::new(dir.path(), &chain).with_schwab(&schwab);
        login(&env, &schwab);
        let log = dir.path().join("schwad.log");
        let bot = Some(Bot::start(&env, &log));
        let db = open_db(&env.database_url()).await;
        Self {
            _dir: dir,
            chain,
            schwab,
            env,
            log,
            bot,
            db,
            nonce: 1,
        }
    }

    fn token(&self, symbol: &str) -> Token {
        self.chain
            .tokens()
            .into_iter()
            .find(|token| token.symbol == symbol)
            .unwrap()
    }

    /// The owner trades `thousandths` / 1000 shares of `symbol` (sells them when `sell`), mined.
    fn fill(&mut self, symbol: &str, sell: bool, thousandths: u64) {
        let trade = owner_take(
            &self.token("USDC"),
            &self.token(symbol),
            sell,
            thousandths,
            self.nonce,
        );
        self.nonce += 1;
        self.chain.submit(&[trade]).unwrap();
        self.chain.mine();
    }

    fn orders(&self) -> Vec<sim_schwab::LedgerOrder> {
        self.schwab.ledger().orders
    }

    async fn wait_orders(&self, count: usize, what: &str) {
        wait_until(Duration::from_secs(20), what, || async {
            self.orders().len() >= count
        })
        .await;
    }

    /// Waits for the bot to come to rest and asserts the oracle's invariants.
    async fn assert_at_rest(&self, by_hand: &BTreeSet<i64>) {
        let violations = violations(
            &self.chain,
            &self.schwab,
            &self.db,
            by_hand,
            Duration::from_secs(30),
        )
        .await;
        assert!(
            violations.is_empty(),
            "{violations:#?}\n--- orders ---\n{:#?}",
            self.orders()
        );
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }

    fn restart(&mut self) {
        if let Some(bot) = self.bot.take() {
            bot.kill();
        }
        self.bot = Some(Bot::start(&self.env, &self.log));
    }

    /// `schwad resolve --execution <execution> <decision…>`, as a person runs it beside the bot.
    fn resolve(&self, execution: i64, decision: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_schwad"))
            .args(["resolve", "--database-url", &self.env.database_url()])
            .args(["--execution", &execution.to_string()])
            .args(decision)
            .output()
            .unwrap()
    }

    /// Plays the person `/health` asks for: for every execution it names as ambiguous, the
    /// candidate with the execution's symbol in Schwab's own ledger (what the person sees in
    /// Schwab's website) is named its order, or, with none, the execution is not placed. Returns
    /// once no execution is open, or after `within`.
    async fn decide_ambiguous_as_a_person(&self, within: Duration) -> usize {
        let mut decided = 0;
        let until = std::time::Instant::now() + within;
        while std::time::Instant::now() < until && open_executions(&self.db).await > 0 {
            let hedging = health(self.port()).await["hedging"].clone();
            for entry in hedging["ambiguous"].as_array().into_iter().flatten() {
                let execution = entry["execution"].as_i64().unwrap();
                let candidates: Vec<i64> = entry["orders"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|id| id.as_i64().unwrap())
                    .collect();
                let theirs: Vec<i64> = self
                    .orders()
                    .iter()
                    .filter(|order| {
                        candidates.contains(&order.order_id) && order.symbol == entry["symbol"]
                    })
                    .map(|order| order.order_id)
                    .collect();
                let output = match theirs[..] {
                    [order] => self.resolve(execution, &["--order", &order.to_string()]),
                    [] => self.resolve(execution, &["--not-placed"]),
                    _ => continue, // two orders of one symbol: the oracle reports it
                };
                decided += usize::from(output.status.success());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        decided
    }

    fn port(&self) -> u16 {
        self.bot.as_ref().unwrap().port
    }

    /// Pending (outcome unknown) executions.
    async fn pending(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM hedge_executions WHERE status = 'pending'")
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    /// The broker order of the symbol's open execution, once it has one.
    async fn submitted_order(&self, symbol: &str) -> i64 {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let order: Option<i64> = sqlx::query_scalar(
                "SELECT broker_order_id FROM hedge_executions
                 WHERE symbol = ?1 AND status = 'submitted'",
            )
            .bind(symbol)
            .fetch_optional(&self.db)
            .await
            .unwrap();
            if let Some(order) = order {
                return order;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no submitted {symbol} execution"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// An AAPL order as a person enters it by hand.
fn by_hand_order(order_type: &str, duration: &str, instruction: &str, quantity: u64) -> Value {
    let mut body = json!({
        "orderType": order_type,
        "session": "NORMAL",
        "duration": duration,
        "orderStrategyType": "SINGLE",
        "orderLegCollection": [{
            "instruction": instruction,
            "quantity": quantity,
            "instrument": { "symbol": "AAPL", "assetType": "EQUITY" }
        }]
    });
    if order_type == "LIMIT" {
        body["price"] = json!("1.00"); // far below the market: it never fills
    }
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_created_after_the_request_timed_out_is_found_not_placed_again() {
    let mut stage = Stage::start(31).await;
    // The POST reaches Schwab 1.5 s late: the bot's request (1 s timeout) is long gone.
    stage.schwab.inject(Fault::DelayOrders {
        orders: 1,
        before_ms: 1_500,
        after_ms: 0,
    });
    stage.fill("AAPL0x", false, 2_000);
    stage.assert_at_rest(&BTreeSet::new()).await;
    assert_eq!(stage.orders().len(), 1, "{:#?}", stage.orders());
    assert!(stage.logs().contains("pending hedge found at the broker"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_created_after_a_crash_is_found_by_the_restarted_bot() {
    let mut stage = Stage::start(32).await;
    stage.schwab.inject(Fault::DelayOrders {
        orders: 1,
        before_ms: 3_000,
        after_ms: 0,
    });
    stage.fill("AAPL0x", false, 2_000);
    // The POST has reached Schwab (its fault is consumed) and nothing answered yet: SIGKILL.
    wait_until(Duration::from_secs(10), "the POST in flight", || async {
        stage.schwab.faults().is_empty() && stage.pending().await == 1
    })
    .await;
    stage.restart();
    // Past the moment the order is created: a second order would be visible by then.
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    stage.assert_at_rest(&BTreeSet::new()).await;
    assert_eq!(stage.orders().len(), 1, "{:#?}", stage.orders());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_and_a_lagging_order_list_place_one_order() {
    let mut stage = Stage::start(33).await;
    stage.schwab.set_quirks(Quirks {
        list_lag_ms: 500,
        ..Quirks::default()
    });
    for instead in [LostResponse::Status { status: 502 }, LostResponse::Drop] {
        stage
            .schwab
            .inject(Fault::LoseOrderResponse { orders: 1, instead });
        let before = stage.orders().len();
        stage.fill("AAPL0x", false, 2_000);
        stage.assert_at_rest(&BTreeSet::new()).await;
        assert_eq!(stage.orders().len(), before + 1, "{:#?}", stage.orders());
    }
}

/// With `quirks` in force, a hedge whose answer is lost is found at the broker: one order.
async fn one_order_despite(quirks: Quirks, seed: u64) {
    let mut stage = Stage::start(seed).await;
    stage.schwab.set_quirks(quirks);
    stage.schwab.inject(Fault::LoseOrderResponse {
        orders: 1,
        instead: LostResponse::Status { status: 502 },
    });
    stage.fill("NVDAs1", true, 3_000);
    stage.assert_at_rest(&BTreeSet::new()).await;
    assert_eq!(stage.orders().len(), 1, "{:#?}", stage.orders());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_listed_without_its_symbol_is_recognised() {
    let quirks = Quirks {
        omit_symbols: true,
        ..Quirks::default()
    };
    one_order_despite(quirks, 34).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_clock_ten_seconds_ahead_of_schwab_still_finds_its_order() {
    let quirks = Quirks {
        clock_offset_ms: -10_000,
        ..Quirks::default()
    };
    one_order_despite(quirks, 35).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persons_order_is_never_adopted_and_a_foreign_fill_degrades_health() {
    let mut stage = Stage::start(36).await;
    // A person's limit order, good till canceled: same symbol, side and quantity as the hedge.
    let person = stage
        .schwab
        .enter_order(&by_hand_order("LIMIT", "GOOD_TILL_CANCEL", "BUY", 3), None)
        .unwrap();
    stage.schwab.inject(Fault::LoseOrderResponse {
        orders: 1,
        instead: LostResponse::Status { status: 502 },
    });
    stage.fill("AAPL0x", true, 3_000); // the owner sold 3: the bot buys 3
    let by_hand_ids = BTreeSet::from([person]);
    stage.assert_at_rest(&by_hand_ids).await;
    assert_eq!(stage.orders().len(), 2, "{:#?}", stage.orders());
    // The person cancels: nothing is ordered again.
    stage.schwab.cancel_order(person).unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stage.assert_at_rest(&by_hand_ids).await;
    assert_eq!(stage.orders().len(), 2, "{:#?}", stage.orders());
    assert_eq!(health(stage.port()).await["status"], "ok");

    // A person's market order fills: the broker no longer holds what the ledger hedged.
    let foreign = stage
        .schwab
        .enter_order(&by_hand_order("MARKET", "DAY", "SELL", 1), None)
        .unwrap();
    wait_until(
        Duration::from_secs(10),
        "the mismatch on /health",
        || async {
            let health = health(stage.port()).await;
            health["status"] == "degraded"
                && health["hedging"]["mismatches"]
                    == json!([{"symbol": "AAPL", "broker": "2", "ledger": "3", "difference": "-1"}])
        },
    )
    .await;
    let metrics = support::metrics(stage.port()).await;
    assert!(
        metrics.contains("schwad_broker_position_mismatch_shares{symbol=\"AAPL\"} -1\n"),
        "{metrics}"
    );
    assert!(stage.orders().iter().any(|o| o.order_id == foreign));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_candidate_orders_block_the_symbol_and_health_names_both() {
    let mut stage = Stage::start(37).await;
    stage.schwab.inject(Fault::DelayOrders {
        orders: 1,
        before_ms: 0,
        after_ms: 1_500,
    });
    stage.fill("AAPL0x", true, 3_000); // the bot buys 3; its answer comes too late
    stage.wait_orders(1, "the bot's order").await;
    // Meanwhile a person buys 3 at market: indistinguishable from the bot's order.
    let person = stage
        .schwab
        .enter_order(&by_hand_order("MARKET", "DAY", "BUY", 3), None)
        .unwrap();
    let ours = stage.orders()[0].order_id;
    let mut both = vec![ours, person];
    both.sort_unstable();
    wait_until(
        Duration::from_secs(20),
        "health to name both orders and the unknown outcome",
        || async {
            let health = health(stage.port()).await;
            let hedging = &health["hedging"];
            health["status"] == "degraded"
                && hedging["ambiguous"][0]["orders"] == json!(both)
                && hedging["unknown_outcomes"][0]["symbol"] == "AAPL"
        },
    )
    .await;
    // Blocked: nothing else was ordered.
    stage.fill("AAPL0x", true, 2_000);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(stage.orders().len(), 2, "{:#?}", stage.orders());
    assert_eq!(open_executions(&stage.db).await, 1);
    // A person decides with `schwad resolve`; decisions that do not apply change nothing.
    let execution = health(stage.port()).await["hedging"]["ambiguous"][0]["execution"]
        .as_i64()
        .unwrap();
    let refused = stage.resolve(execution + 1, &["--order", &ours.to_string()]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no hedge execution"));
    let decided = stage.resolve(execution, &["--order", &ours.to_string()]);
    assert!(decided.status.success(), "{decided:?}");
    let again = stage.resolve(execution, &["--order", &person.to_string()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not pending"));
    // The bot follows the decision: its order filled, the symbol is free, the 2 shares sold
    // meanwhile are bought, and the person's order is never the bot's.
    stage.assert_at_rest(&BTreeSet::from([person])).await;
    assert!(
        health(stage.port()).await["hedging"]["ambiguous"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_order_while_the_first_works_then_a_crash_with_its_outcome_unknown_hedges_once() {
    let mut stage = Stage::start(40).await;
    // The first AAPL order works and never fills on its own: it stays open.
    stage.schwab.inject(Fault::StickOrders { orders: 1 });
    stage.fill("AAPL0x", false, 2_000);
    let working = stage.submitted_order("AAPL").await;
    // Two more shares bought: a second order for only those, beside the working one; its POST
    // reaches Schwab 3 s late, and the bot is killed before any answer.
    stage.schwab.inject(Fault::DelayOrders {
        orders: 1,
        before_ms: 3_000,
        after_ms: 0,
    });
    stage.fill("AAPL0x", false, 2_000);
    wait_until(
        Duration::from_secs(10),
        "the second POST in flight",
        || async { stage.schwab.faults().is_empty() && stage.pending().await == 1 },
    )
    .await;
    assert_eq!(open_executions(&stage.db).await, 2);
    stage.restart();
    // Past the moment the second order is created: a third would be visible by then.
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    wait_until(
        Duration::from_secs(10),
        "the pending order found",
        || async { stage.pending().await == 0 },
    )
    .await;
    let orders = stage.orders();
    assert_eq!(orders.len(), 2, "{orders:#?}");
    assert!(
        orders
            .iter()
            .all(|o| o.symbol == "AAPL" && o.quantity == 2 && o.instruction == Instruction::Sell),
        "{orders:#?}"
    );
    // A person cancels the working order: its shares are hedged again, once.
    stage.schwab.cancel_order(working).unwrap();
    stage.assert_at_rest(&BTreeSet::new()).await;
    let statuses: Vec<OrderStatus> = stage.orders().iter().map(|o| o.status).collect();
    assert_eq!(
        statuses,
        [
            OrderStatus::Canceled,
            OrderStatus::Filled,
            OrderStatus::Filled
        ],
        "{:#?}",
        stage.orders()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symbol_at_its_open_order_limit_waits_for_one_to_end() {
    let mut stage = Stage::start(41).await;
    stage.env = stage.env.clone().with("MAX_OPEN_HEDGES_PER_SYMBOL", "1");
    stage.restart();
    stage.schwab.inject(Fault::StickOrders { orders: 1 });
    stage.fill("AAPL0x", false, 2_000);
    let working = stage.submitted_order("AAPL").await;
    // Two more shares bought: no second order while the first works.
    stage.fill("AAPL0x", false, 2_000);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(stage.orders().len(), 1, "{:#?}", stage.orders());
    // A person cancels it: after the cooldown, one order covers all four shares.
    stage.schwab.cancel_order(working).unwrap();
    stage.assert_at_rest(&BTreeSet::new()).await;
    let quantities: Vec<u64> = stage.orders().iter().map(|o| o.quantity).collect();
    assert_eq!(quantities, [2, 4], "{:#?}", stage.orders());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_unreadable_order_does_not_stop_the_other_symbols() {
    let mut stage = Stage::start(38).await;
    stage.schwab.inject(Fault::StickOrders { orders: 1 });
    stage.fill("AAPL0x", false, 2_000);
    let stuck = stage.submitted_order("AAPL").await;
    // Every order lookup now answers 404.
    stage
        .schwab
        .inject(Fault::OrderNotFound { calls: 1_000_000 });
    wait_until(
        Duration::from_secs(10),
        "AAPL backing off on /health",
        || async {
            let health = health(stage.port()).await;
            health["status"] == "degraded"
                && health["hedging"]["backing_off"][0]["symbol"] == "AAPL"
        },
    )
    .await;
    // Another symbol is still hedged.
    stage.fill("NVDAs1", false, 2_000);
    wait_until(Duration::from_secs(10), "NVDA's hedge order", || async {
        stage.orders().iter().any(|o| o.symbol == "NVDA")
    })
    .await;
    // The faults end; a person cancels the stuck order: it is failed and hedged again.
    stage.schwab.clear_faults();
    stage.schwab.cancel_order(stuck).unwrap();
    stage.assert_at_rest(&BTreeSet::new()).await;
    // A FILLED order shown without its executions for a while.
    stage.schwab.inject(Fault::HideExecutions { calls: 3 });
    stage.fill("TSLA0x", true, 2_000);
    stage.assert_at_rest(&BTreeSet::new()).await;
    let statuses: Vec<OrderStatus> = stage.orders().iter().map(|o| o.status).collect();
    assert_eq!(
        statuses,
        [
            OrderStatus::Canceled,
            OrderStatus::Filled,
            OrderStatus::Filled,
            OrderStatus::Filled
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reversal_or_a_net_oscillating_around_one_share_is_not_chased() {
    let mut stage = Stage::start(39).await;
    // +1.2, then -0.7: one sell, and no buy for an unhedged -0.5.
    stage.fill("AAPL0x", false, 1_200);
    stage.assert_at_rest(&BTreeSet::new()).await;
    stage.fill("AAPL0x", true, 700);
    // 1.05 -> 0.95 -> 1.05: one sell only.
    stage.fill("NVDAs1", false, 1_050);
    stage.assert_at_rest(&BTreeSet::new()).await;
    stage.fill("NVDAs1", true, 100);
    tokio::time::sleep(Duration::from_millis(500)).await;
    stage.fill("NVDAs1", false, 100);
    tokio::time::sleep(Duration::from_millis(500)).await;
    stage.assert_at_rest(&BTreeSet::new()).await;
    let orders: Vec<(String, u64)> = stage
        .orders()
        .iter()
        .map(|o| (o.symbol.clone(), o.quantity))
        .collect();
    assert_eq!(
        orders,
        [("AAPL".to_owned(), 1), ("NVDA".to_owned(), 1)],
        "{:#?}",
        stage.orders()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_order_is_followed_to_its_fill() {
    let mut stage = Stage::start(40).await;
    stage.schwab.inject(Fault::StickOrders { orders: 1 });
    stage.fill("AAPL0x", false, 2_000);
    let stuck = stage.submitted_order("AAPL").await;
    // Replaced at the broker by an order that fills.
    stage
        .schwab
        .enter_order(&by_hand_order("MARKET", "DAY", "SELL", 2), Some(stuck))
        .unwrap();
    stage.assert_at_rest(&BTreeSet::new()).await;
    let statuses: Vec<OrderStatus> = stage.orders().iter().map(|o| o.status).collect();
    assert_eq!(statuses, [OrderStatus::Replaced, OrderStatus::Filled]);
    assert!(stage.logs().contains("following the replacing order"));
}

/// A seeded randomized campaign of broker faults: each run trades random fractional fills over
/// three symbols while the POST is delayed before and after Schwab acts, answers are lost
/// (502, dropped, timed out), the list lags, symbols go missing, Schwab's clock is skewed, a
/// person enters limit orders and the bot is SIGKILLed at random points; then a person decides
/// what `/health` names as ambiguous (`schwad resolve`), and the oracle's invariants must hold. The suite runs `CAMPAIGN_RUNS` (default 2) runs from `CAMPAIGN_SEED`
/// (default 1); a long run, e.g.
/// `CAMPAIGN_RUNS=50 CAMPAIGN_SEED=$RANDOM cargo nextest run -p schwad --test broker_timing campaign --no-capture`,
/// prints its runs and violations. Delays are scaled to the tests' timeout (1 s) and settle
/// period (4 s): at most 2.5 s before Schwab acts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_of_random_broker_faults_keeps_every_invariant() {
    let env = |key: &str, default: u64| {
        std::env::var(key)
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    };
    let (seed, runs) = (env("CAMPAIGN_SEED", 1), env("CAMPAIGN_RUNS", 2));
    let mut failed = Vec::new();
    for run in 0..runs {
        let mut rng = fastrand::Rng::with_seed(seed.wrapping_add(run));
        let mut stage = Stage::start(seed.wrapping_add(run)).await;
        let mut by_hand = BTreeSet::new();
        stage.schwab.set_quirks(Quirks {
            clock_offset_ms: rng.i64(-15_000..=15_000),
            ..Quirks::default()
        });
        for _ in 0..5 {
            match rng.u8(0..6) {
                0 => stage.schwab.inject(Fault::DelayOrders {
                    orders: 1,
                    before_ms: rng.u64(0..2_500),
                    after_ms: rng.u64(0..2_500),
                }),
                1 => stage.schwab.inject(Fault::LoseOrderResponse {
                    orders: 1,
                    instead: match rng.u8(0..3) {
                        0 => LostResponse::Status { status: 502 },
                        1 => LostResponse::Drop,
                        _ => LostResponse::Timeout {
                            after_ms: rng.u64(0..1_500),
                        },
                    },
                }),
                2 => {
                    let clock_offset_ms = stage.schwab.quirks().clock_offset_ms;
                    stage.schwab.set_quirks(Quirks {
                        list_lag_ms: rng.u64(0..800),
                        omit_symbols: rng.bool(),
                        clock_offset_ms,
                    });
                }
                3 => {
                    let quantity = rng.u64(1..4);
                    let order = by_hand_order("LIMIT", "GOOD_TILL_CANCEL", "BUY", quantity);
                    by_hand.insert(stage.schwab.enter_order(&order, None).unwrap());
                }
                _ => {}
            }
            for _ in 0..rng.usize(1..4) {
                let symbol = ["AAPL0x", "NVDAs1", "TSLA0x"][rng.usize(0..3)];
                stage.fill(symbol, rng.bool(), rng.u64(100..3_000));
            }
            tokio::time::sleep(Duration::from_millis(rng.u64(0..1_000))).await;
            if rng.u8(0..4) == 0 {
                stage.restart();
            }
        }
        let decided = stage
            .decide_ambiguous_as_a_person(Duration::from_secs(30))
            .await;
        let violations = violations(
            &stage.chain,
            &stage.schwab,
            &stage.db,
            &by_hand,
            Duration::from_secs(30),
        )
        .await;
        if !violations.is_empty() {
            eprintln!(
                "--- run {run}: the bot's log ---\n{}\n--- orders ---\n{:#?}",
                stage.logs(),
                stage.orders()
            );
        }
        println!(
            "campaign run {run} (seed {}): {} orders, {decided} decided by a person, {} violations",
            seed.wrapping_add(run),
            stage.orders().len(),
            violations.len()
        );
        failed.extend(violations.into_iter().map(|v| format!("run {run}: {v}")));
    }
    println!(
        "campaign: seed {seed}, {runs} runs, {} violations",
        failed.len()
    );
    assert!(failed.is_empty(), "{failed:#?}");
}
