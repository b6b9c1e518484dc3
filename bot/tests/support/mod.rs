//! Shared by the integration tests and the benchmark: the real `schwad` binary against a chain
//! simulator, and the expected ledger computed independently from the simulator's own record.

#![allow(dead_code)] // each test binary uses its own subset of these helpers

mod chain;
mod oracle;

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
pub use oracle::*;

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
        let deadline = Instant::now() + grace;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "schwad did not stop within {grace:?} of SIGTERM"
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

/// `GET /health` of a running bot.
pub async fn health(port: u16) -> serde_json::Value {
    reqwest::get(format!("http://127.0.0.1:{port}/health"))
        .await
        .expect("health")
        .json()
        .await
        .expect("health JSON")
}
