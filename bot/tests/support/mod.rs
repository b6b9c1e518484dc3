//! Shared by the integration tests and the benchmark: the real `schwad` binary against a chain
//! simulator, and the expected ledger computed independently from the simulator's own record.

#![allow(dead_code)] // each test binary uses its own subset of these helpers

mod chain;

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use sim_chain::ChainSim;
use sqlx::sqlite::SqlitePool;

#[allow(unused_imports)] // not every test binary drives the chain simulator itself
pub use chain::*;
pub use test_support::oracle::*;

/// A numeric setting of a long run or a benchmark, from the environment.
pub fn env_or(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A chain simulator whose random fills (from `seed`) are `OWNER`'s.
pub async fn start_chain(seed: u64) -> ChainSim {
    ChainSim::start(sim_chain::Config {
        owner: OWNER,
        seed,
        ..sim_chain::Config::default()
    })
    .await
    .expect("chain simulator")
}

/// A `schwad run` process.
#[derive(Debug)]
pub struct Bot {
    child: Child,
    pub port: u16,
}

/// Settings of a bot run against `sim`.
#[derive(Debug, Clone)]
pub struct BotEnv {
    pub database: PathBuf,
    pub ws_url: String,
    pub port: u16,
    pub extra: Vec<(String, String)>,
}

impl BotEnv {
    /// Default test settings: short timeouts, small ranges.
    pub fn new(dir: &Path, sim: &ChainSim) -> Self {
        Self {
            database: dir.join("schwad.db"),
            ws_url: sim.ws_url(),
            port: free_port(),
            extra: Vec::new(),
        }
    }

    pub fn database_url(&self) -> String {
        format!("sqlite:{}", self.database.display())
    }

    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.extra.push((key.to_owned(), value.to_owned()));
        self
    }
}

impl Bot {
    /// Starts `schwad run`; its logs go to `log` (a file in the test's temp dir).
    pub fn start(env: &BotEnv, log: &Path) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_schwad"));
        command
            .arg("run")
            .env_clear()
            .env("DATABASE_URL", env.database_url())
            .env("WS_RPC_URL", &env.ws_url)
            .env("ORDERBOOK", format!("{:#x}", sim_chain::BASE_ORDERBOOK))
            .env("ORDER_OWNER", format!("{OWNER:#x}"))
            .env("DEPLOYMENT_BLOCK", "0")
            .env("CONFIRMATIONS", "6")
            .env("GET_LOGS_MAX_RANGE", "500")
            .env("STALL_TIMEOUT", "600ms")
            .env("RPC_TIMEOUT", "1s")
            .env("RECONNECT_MIN_BACKOFF", "20ms")
            .env("RECONNECT_MAX_BACKOFF", "300ms")
            .env("SERVER_PORT", env.port.to_string())
            .env("LOG_LEVEL", "schwad=debug,info")
            .env("LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(log);
        for (key, value) in &env.extra {
            command.env(key, value);
        }
        let child = command.spawn().expect("schwad binary");
        Self {
            child,
            port: env.port,
        }
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// SIGTERM, then waits up to `grace` for the exit status.
    pub fn terminate(mut self, grace: Duration) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("the kill command (procps) is required");
        assert!(status.success(), "kill -TERM failed");
        self.exit_within(grace, "SIGTERM")
    }

    /// Waits up to `limit` for the process to exit on its own.
    pub fn wait(mut self, limit: Duration) -> ExitStatus {
        self.exit_within(limit, "start")
    }

    /// Its exit status, once it exits within `limit` of `what`.
    fn exit_within(&mut self, limit: Duration, what: &str) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "schwad still runs {limit:?} after its {what}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The bot's database, read while it runs.
pub async fn open_db(url: &str) -> SqlitePool {
    SqlitePool::connect(url).await.expect("database")
}

/// Stored fills of canonical events, as `(tx hash, log index, side)`, one row per stored trade.
pub async fn stored_fill_rows(db: &SqlitePool) -> Result<Vec<(String, i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.tx_hash, e.log_index, t.order_side FROM trades t
         JOIN chain_events e ON e.id = t.event_id
         WHERE e.removed = 0 AND t.status <> 'reverted'",
    )
    .fetch_all(db)
    .await
}

/// Stored fills of canonical events, as `(tx hash, log index, side)`; panics on a duplicate.
pub async fn stored_fills(db: &SqlitePool) -> BTreeSet<(String, i64, String)> {
    let rows = stored_fill_rows(db).await.expect("trades");
    let count = rows.len();
    let set: BTreeSet<_> = rows.into_iter().collect();
    assert_eq!(set.len(), count, "a fill is stored twice");
    set
}

/// Stored positions: ticker → (bought, sold).
pub async fn stored_positions(db: &SqlitePool) -> BTreeMap<String, (Decimal, Decimal)> {
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT symbol, bought_shares, sold_shares FROM positions")
            .fetch_all(db)
            .await
            .expect("positions");
    rows.into_iter()
        .map(|(symbol, bought, sold)| {
            let parse = |s: &str| {
                Decimal::from_str_exact(s)
                    .expect("exact decimal")
                    .normalize()
            };
            (symbol, (parse(&bought), parse(&sold)))
        })
        .filter(|(_, (b, s))| !(b.is_zero() && s.is_zero()))
        .collect()
}

/// The stored checkpoint, if any.
pub async fn checkpoint(db: &SqlitePool) -> Option<i64> {
    sqlx::query_scalar("SELECT block_number FROM block_checkpoint WHERE id = 1")
        .fetch_optional(db)
        .await
        .ok()
        .flatten()
}

/// Polls `condition` every 20 ms until it holds, failing after `timeout` with `what`.
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !condition().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The key sealing the tokens in tests (a sentinel: it must never leak).
pub const ENCRYPTION_KEY: &str = "5e17e1005e17e1005e17e1005e17e1005e17e1005e17e1005e17e1005e17e100";

/// A Schwab simulator tuned for tests: fast fills, short access tokens, generous limits.
pub async fn start_schwab(app_secret: &str) -> sim_schwab::Handle {
    sim_schwab::start(sim_schwab::Config {
        app_secret: app_secret.to_owned(),
        access_token_ttl: Duration::from_secs(3),
        activation_delay: Duration::from_millis(10),
        fill_delay: Duration::from_millis(40),
        requests_per_window: 100_000,
        orders_per_window: 100_000,
        prices: [("AAPL".to_owned(), vec![227.5, 227.25])].into(),
        ..sim_schwab::Config::default()
    })
    .await
    .expect("schwab simulator")
}

impl BotEnv {
    /// Hedging at `schwab` with short intervals.
    pub fn with_schwab(self, schwab: &sim_schwab::Handle) -> Self {
        self.with("BROKER", "schwab")
            .with("SCHWAB_BASE_URL", schwab.base_url())
            .with("SCHWAB_APP_KEY", schwab.app_key())
            .with("SCHWAB_APP_SECRET", schwab.app_secret())
            .with("SCHWAB_CALLBACK_URL", schwab.callback_url())
            .with("ENCRYPTION_KEY", ENCRYPTION_KEY)
            .with("SCHWAB_REQUESTS_PER_MINUTE", "100000")
            .with("SCHWAB_ORDERS_PER_MINUTE", "100000")
            .with("SCHWAB_TIMEOUT", "1s")
            .with("SCHWAB_MIN_BACKOFF", "20ms")
            .with("SCHWAB_MAX_BACKOFF", "200ms")
            .with("TOKEN_REFRESH_LEEWAY", "1s")
            .with("MARKET_HOURS_RECHECK", "100ms")
            .with("ORDER_POLL_INTERVAL", "40ms")
            .with("HEDGE_TICK", "100ms")
            .with("FAILED_HEDGE_COOLDOWN", "200ms")
            .with("ORDER_SETTLE_PERIOD", "4s")
            .with("RECONCILE_INTERVAL", "200ms")
    }

    /// The value of a setting added with [`BotEnv::with`].
    pub fn get(&self, key: &str) -> &str {
        self.extra
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .expect("setting")
    }
}

/// Runs `schwad auth` as a user would, answered by [`complete_login`]. Returns everything it printed.
pub fn login(env: &BotEnv, schwab: &sim_schwab::Handle) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_schwad"));
    command
        .arg("auth")
        .env_clear()
        .env("DATABASE_URL", env.database_url())
        .env("LOG_FORMAT", "json")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in &env.extra {
        command.env(key, value);
    }
    complete_login(command.spawn().expect("schwad auth"), schwab)
}

/// Executions not yet filled or failed.
pub async fn open_executions(db: &SqlitePool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM hedge_executions WHERE status IN ('pending', 'submitted')",
    )
    .fetch_one(db)
    .await
    .expect("executions")
}

/// `GET /metrics` of a running bot.
pub async fn metrics(port: u16) -> String {
    reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text")
}

/// `GET /health` of a running bot.
pub async fn health(port: u16) -> serde_json::Value {
    reqwest::get(format!("http://127.0.0.1:{port}/health"))
        .await
        .expect("health")
        .json()
        .await
        .expect("health JSON")
}

/// A stored execution: id, symbol, side, shares, status, filled shares, unhedged net at decision,
/// its broker orders (comma separated).
type ExecutionTuple = (
    i64,
    String,
    String,
    i64,
    String,
    i64,
    Option<String>,
    Option<String>,
);

/// Every hedge execution, read back as plain data for the oracle.
pub async fn executions(db: &SqlitePool) -> Vec<ExecutionRow> {
    let rows: Vec<ExecutionTuple> = sqlx::query_as(
        "SELECT e.id, e.symbol, e.side, e.shares, e.status, e.filled_shares,
                    e.unhedged_at_decision, group_concat(o.broker_order_id)
             FROM hedge_executions e LEFT JOIN hedge_order_ids o ON o.execution_id = e.id
             GROUP BY e.id ORDER BY e.id",
    )
    .fetch_all(db)
    .await
    .expect("executions");
    rows.into_iter()
        .map(
            |(id, symbol, side, shares, status, filled_shares, unhedged, orders)| ExecutionRow {
                id,
                symbol,
                side,
                shares,
                status,
                filled_shares,
                unhedged_at_decision: unhedged,
                order_ids: orders
                    .iter()
                    .flat_map(|orders| orders.split(','))
                    .map(|id| id.parse().expect("order id"))
                    .collect(),
            },
        )
        .collect()
}

/// Mines past the confirmation depth, waits up to `limit` for the bot to come to rest (every fill stored,
/// nothing open, every symbol hedged within a share), then checks the oracle's invariants (a)-(d). Returns the
/// violations, each described; orders in `by_hand` were entered by a person.
pub async fn violations(
    chain: &ChainSim,
    schwab: &sim_schwab::Handle,
    db: &SqlitePool,
    by_hand: &BTreeSet<i64>,
    limit: Duration,
) -> Vec<String> {
    chain.mine_blocks(8);
    let ledger = chain.ledger();
    let fills = expected_fills(&ledger);
    let bots_positions = || {
        let broker = schwab.ledger();
        let mut positions: BTreeMap<String, i64> = BTreeMap::new();
        for order in broker
            .orders
            .iter()
            .filter(|o| !by_hand.contains(&o.order_id))
        {
            let sign = match order.instruction {
                sim_schwab::Instruction::Buy | sim_schwab::Instruction::BuyToCover => 1,
                sim_schwab::Instruction::Sell | sim_schwab::Instruction::SellShort => -1,
            };
            *positions.entry(order.symbol.clone()).or_default() +=
                sign * i64::try_from(order.filled_quantity).expect("fits");
        }
        positions
    };
    let deadline = Instant::now() + limit;
    let mut violations = Vec::new();
    loop {
        let stored = stored_fills(db).await;
        let open = open_executions(db).await;
        let gaps = unhedged(&ledger, &bots_positions());
        if stored == fills && open == 0 && gaps.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            if stored != fills {
                violations.push(format!(
                    "(d) fills: {} expected, {} stored, missing {:?}",
                    fills.len(),
                    stored.len(),
                    fills.difference(&stored).collect::<Vec<_>>()
                ));
            }
            if open != 0 {
                violations.push(format!("{open} executions still open after {limit:?}"));
            }
            if !gaps.is_empty() {
                violations.push(format!("(a) unhedged by a share or more at rest: {gaps:?}"));
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let executions = executions(db).await;
    violations.extend(
        decision_violations(&executions)
            .into_iter()
            .map(|v| format!("(b) {v}")),
    );
    violations.extend(
        order_violations(&executions, &schwab.ledger(), by_hand)
            .into_iter()
            .map(|v| format!("(c) {v}")),
    );
    violations
}

/// Our order trading `thousandths` / 1000 shares of `equity` for USDC (the owner sells them when
/// `sell`); `nonce` makes each order distinct.
pub fn owner_take(
    usdc: &sim_chain::Token,
    equity: &sim_chain::Token,
    sell: bool,
    thousandths: u64,
    nonce: u64,
) -> sim_chain::Trade {
    use alloy_primitives::{B256, U256};
    let share = sim_chain::Leg {
        token: equity.address,
        amount: U256::from(thousandths) * U256::from(10).pow(U256::from(equity.decimals))
            / U256::from(1_000),
    };
    let dollars = sim_chain::Leg {
        token: usdc.address,
        amount: U256::from(200_000 * thousandths),
    };
    let (gave, received) = if sell {
        (share, dollars)
    } else {
        (dollars, share)
    };
    sim_chain::Trade::Take {
        taker: alloy_primitives::Address::repeat_byte(0x99),
        order: sim_chain::OrderFill {
            owner: OWNER,
            nonce: B256::from(U256::from(nonce)),
            gave,
            received,
        },
    }
}
