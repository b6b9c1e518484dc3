//! Command line and environment: every setting is a flag with an environment variable, resolved
//! into validated settings before anything runs. Errors name the variable.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use alloy_primitives::{Address, B256};
use clap::{Args, Parser, Subcommand, ValueEnum};
use rust_decimal::Decimal;
use url::Url;

use crate::broker::schwab::api::RetryPolicy;
use crate::broker::schwab::{AccountChoice, AppConfig, SchwabConfig, TokenCipher};
use crate::chain::decode::OwnerFilter;
use crate::chain::ingest::IngestConfig;
use crate::chain::rpc::Endpoint;
use crate::executor::ExecutorConfig;
use crate::secret::Secret;

/// Records every fill of a Rain orderbook owner's orders into SQLite and hedges them at Schwab.
#[derive(Debug, Parser)]
#[command(name = "schwad", version, about)]
pub struct Cli {
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `schwad=debug,info`.
    #[arg(long, env = "LOG_LEVEL", default_value = "info", global = true)]
    pub log_level: String,
    /// Log format: `json` in production, `text` for humans.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Text,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once at start; boxing would only add noise
pub enum Command {
    /// Run the service: ingest fills from the chain and serve /health and /metrics.
    Run(RunArgs),
    /// Re-process one transaction by hand (its fills of ours; duplicates are skipped).
    ProcessTx(ProcessTxArgs),
    /// Print the position accumulators and the most recent trades.
    Positions(PositionsArgs),
    /// Log in to Schwab: print the authorize URL, read the redirect URL pasted back, store the
    /// tokens (encrypted) in the database. A running bot picks them up on its own.
    Auth(AuthArgs),
    /// Decide, as a person, a hedge the bot cannot resolve on its own (`/health` lists it under
    /// `hedging.ambiguous`): name its order at the broker, or say that none there is its.
    Resolve(ResolveArgs),
    /// Check, copy or query the database (the image's stand-in for `sqlite3`).
    Db(DbArgs),
    /// Exit 0 if the running bot's /health answers 200 (the image's HEALTHCHECK).
    Healthcheck(HealthcheckArgs),
}

/// The database.
#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// SQLite database, e.g. `sqlite:/data/schwad.db` (created if missing; its directory must
    /// be writable for the WAL).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
}

/// The chain, the orderbook and which orders are ours.
#[derive(Debug, Args)]
pub struct ChainArgs {
    /// WebSocket JSON-RPC endpoint of the node (`ws://` or `wss://`).
    #[arg(long, env = "WS_RPC_URL", hide_env_values = true)]
    pub ws_rpc_url: Url,
    /// The chain the node must serve (`eth_chainId`, checked on every connection): Base by default.
    #[arg(long, env = "CHAIN_ID", default_value_t = 8453)]
    pub chain_id: u64,
    /// The Rain orderbook (IOrderBookV4) contract.
    #[arg(long, env = "ORDERBOOK")]
    pub orderbook: Address,
    /// Owner whose orders' fills are ours.
    #[arg(long, env = "ORDER_OWNER")]
    pub order_owner: Option<Address>,
    /// Comma-separated order hashes whose fills are ours (any owner).
    #[arg(long, env = "ORDER_HASHES", value_delimiter = ',')]
    pub order_hashes: Vec<B256>,
    /// Block the orderbook was deployed at: where reading starts without a checkpoint.
    #[arg(long, env = "DEPLOYMENT_BLOCK")]
    pub deployment_block: u64,
    /// Reorg window: the last blocks re-read on every new head (at least 1: the re-read is also what
    /// covers a load-balanced node answering from a block or two behind).
    #[arg(long, env = "CONFIRMATIONS", default_value_t = 12)]
    pub confirmations: u64,
    /// Largest block range of one `eth_getLogs` (shrunk automatically if the node refuses it).
    #[arg(long, env = "GET_LOGS_MAX_RANGE", default_value_t = 2000)]
    pub get_logs_max_range: u64,
    /// Replace the connection when no new head arrives for this long.
    #[arg(long, env = "STALL_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub stall_timeout: Duration,
    /// Timeout of one JSON-RPC request.
    #[arg(long, env = "RPC_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub rpc_timeout: Duration,
    /// First delay before reconnecting (doubles with jitter).
    #[arg(long, env = "RECONNECT_MIN_BACKOFF", default_value = "250ms", value_parser = humantime::parse_duration)]
    pub reconnect_min_backoff: Duration,
    /// Longest delay before reconnecting.
    #[arg(long, env = "RECONNECT_MAX_BACKOFF", default_value = "30s", value_parser = humantime::parse_duration)]
    pub reconnect_max_backoff: Duration,
}

/// `schwad run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub chain: ChainArgs,
    /// Port of the health and metrics server.
    #[arg(long, env = "SERVER_PORT", default_value_t = 8080)]
    pub server_port: u16,
    /// Address the health and metrics server listens on: all interfaces by default, `127.0.0.1`
    /// for loopback only.
    #[arg(long, env = "SERVER_HOST", default_value = "0.0.0.0")]
    pub server_host: IpAddr,
    /// Block explorer page of a transaction, without the hash: the dashboard links each fill there.
    #[arg(
        long,
        env = "EXPLORER_TX_URL",
        default_value = "https://basescan.org/tx/"
    )]
    pub explorer_tx_url: Url,
    /// Longest wait for ingestion to stop after SIGTERM (keep below the container's stop grace period).
    #[arg(long, env = "SHUTDOWN_TIMEOUT", default_value = "8s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,
    #[command(flatten)]
    pub broker: BrokerArgs,
}

/// Which broker places the hedges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BrokerKind {
    /// Charles Schwab.
    Schwab,
    /// Log orders and fill them at `DRY_RUN_FILL_PRICE`; nothing is sent.
    DryRun,
}

/// The Schwab app registration and the token encryption key (`schwad run` and `schwad auth`).
#[derive(Debug, Args)]
pub struct SchwabAppArgs {
    /// Schwab's API host (or a simulator).
    #[arg(
        long,
        env = "SCHWAB_BASE_URL",
        default_value = "https://api.schwabapi.com"
    )]
    pub schwab_base_url: Url,
    /// The app's App Key (OAuth client id).
    #[arg(long, env = "SCHWAB_APP_KEY")]
    pub schwab_app_key: Option<String>,
    /// The app's App Secret (OAuth client secret).
    #[arg(long, env = "SCHWAB_APP_SECRET", hide_env_values = true)]
    pub schwab_app_secret: Option<Secret>,
    /// The app's registered callback URL, byte for byte (no trailing slash unless registered so).
    #[arg(long, env = "SCHWAB_CALLBACK_URL", default_value = "https://127.0.0.1")]
    pub schwab_callback_url: String,
    /// 64 hex characters (32 bytes): the AES-256-GCM key sealing the tokens in the database.
    #[arg(long, env = "ENCRYPTION_KEY", hide_env_values = true)]
    pub encryption_key: Option<Secret>,
    /// Timeout of one request to Schwab.
    #[arg(long, env = "SCHWAB_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub schwab_timeout: Duration,
}

/// The broker and the hedging loop.
#[derive(Debug, Args)]
pub struct BrokerArgs {
    /// `schwab`, or `dry-run` for a first run without credentials.
    #[arg(long, env = "BROKER", value_enum, default_value_t = BrokerKind::DryRun)]
    pub broker: BrokerKind,
    /// Price (USD) the dry-run broker fills at.
    #[arg(long, env = "DRY_RUN_FILL_PRICE", default_value = "100")]
    pub dry_run_fill_price: Decimal,
    #[command(flatten)]
    pub app: SchwabAppArgs,
    /// The trading account: its account number, or its index in Schwab's list (0 = first).
    #[arg(long, env = "SCHWAB_ACCOUNT", default_value = "0")]
    pub schwab_account: String,
    /// API requests per minute (Schwab allows 120).
    #[arg(long, env = "SCHWAB_REQUESTS_PER_MINUTE", default_value_t = 120)]
    pub schwab_requests_per_minute: u32,
    /// Order placements per minute (the app's order limit, 0-120 at Schwab).
    #[arg(long, env = "SCHWAB_ORDERS_PER_MINUTE", default_value_t = 120)]
    pub schwab_orders_per_minute: u32,
    /// Retries of a failed read (429, 5xx, network); order placements are never retried.
    #[arg(long, env = "SCHWAB_MAX_RETRIES", default_value_t = 4)]
    pub schwab_max_retries: u32,
    /// First backoff delay of a retried read (doubles with jitter).
    #[arg(long, env = "SCHWAB_MIN_BACKOFF", default_value = "500ms", value_parser = humantime::parse_duration)]
    pub schwab_min_backoff: Duration,
    /// Longest backoff delay of a retried read (also caps `Retry-After`).
    #[arg(long, env = "SCHWAB_MAX_BACKOFF", default_value = "30s", value_parser = humantime::parse_duration)]
    pub schwab_max_backoff: Duration,
    /// Refresh the access token this long before it expires.
    #[arg(long, env = "TOKEN_REFRESH_LEEWAY", default_value = "60s", value_parser = humantime::parse_duration)]
    pub token_refresh_leeway: Duration,
    /// How often a closed market is checked again.
    #[arg(long, env = "MARKET_HOURS_RECHECK", default_value = "60s", value_parser = humantime::parse_duration)]
    pub market_hours_recheck: Duration,
    /// Mean interval between status polls of a placed order (with jitter).
    #[arg(long, env = "ORDER_POLL_INTERVAL", default_value = "2s", value_parser = humantime::parse_duration)]
    pub order_poll_interval: Duration,
    /// Most orders of one symbol working at once (their shares reserved); fills beyond wait and
    /// are batched into the next order.
    #[arg(long, env = "MAX_OPEN_HEDGES_PER_SYMBOL", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_open_hedges_per_symbol: u32,
    /// Longest wait between hedging passes (new trades start one at once).
    #[arg(long, env = "HEDGE_TICK", default_value = "1s", value_parser = humantime::parse_duration)]
    pub hedge_tick: Duration,
    /// How long a symbol waits after a failed order before it is hedged again.
    #[arg(long, env = "FAILED_HEDGE_COOLDOWN", default_value = "60s", value_parser = humantime::parse_duration)]
    pub failed_hedge_cooldown: Duration,
    /// After an order whose outcome is unknown (timeout, 5xx, lost connection, crash), how long
    /// from sending it the bot looks it up before it may place it again. Must exceed
    /// SCHWAB_TIMEOUT plus Schwab's order-list lag.
    #[arg(long, env = "ORDER_SETTLE_PERIOD", default_value = "60s", value_parser = humantime::parse_duration)]
    pub order_settle_period: Duration,
    /// How often broker positions are compared with the ledger's hedges.
    #[arg(long, env = "RECONCILE_INTERVAL", default_value = "60s", value_parser = humantime::parse_duration)]
    pub reconcile_interval: Duration,
}

/// `schwad auth`.
#[derive(Debug, Args)]
pub struct AuthArgs {
    /// The database the bot uses.
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub app: SchwabAppArgs,
}

/// `schwad process-tx`.
#[derive(Debug, Args)]
pub struct ProcessTxArgs {
    /// The transaction hash.
    pub hash: B256,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub chain: ChainArgs,
}

/// `schwad positions`.
#[derive(Debug, Args)]
pub struct PositionsArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// How many recent trades to print.
    #[arg(long, default_value_t = 20)]
    pub trades: u32,
}

/// `schwad resolve`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("decision").required(true).args(["order", "not_placed"])))]
pub struct ResolveArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The pending execution (its id on `/health`).
    #[arg(long)]
    pub execution: i64,
    /// The broker order id that is this execution's (one of the candidates `/health` names).
    #[arg(long)]
    pub order: Option<i64>,
    /// None of the broker's orders is this execution's: its shares are ordered again.
    #[arg(long)]
    pub not_placed: bool,
}

/// `schwad db`.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// The database (it must exist).
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: DbCommand,
}

/// The `schwad db` subcommands.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// `PRAGMA integrity_check`: prints `ok` and exits 0 for a sound database, else the problems and exits 1.
    Check,
    /// Write a consistent copy to DESTINATION (a new file), safe while the bot runs.
    Backup {
        /// The copy's path, e.g. `/data/schwad-2026-01-31.db`.
        destination: String,
    },
    /// Run SQL and print each result row as one line, columns separated by `|`.
    Query {
        /// One or more statements.
        sql: String,
    },
}

/// `schwad healthcheck`.
#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// Port of the bot's health server on this host.
    #[arg(long, env = "SERVER_PORT", default_value_t = 8080)]
    pub server_port: u16,
    /// The URL to check instead of `http://127.0.0.1:<SERVER_PORT>/health`.
    #[arg(long)]
    pub url: Option<Url>,
    /// Longest wait for the answer.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

impl HealthcheckArgs {
    /// The URL to check.
    pub fn url(&self) -> Result<Url, url::ParseError> {
        match &self.url {
            Some(url) => Ok(url.clone()),
            None => Url::parse(&format!("http://127.0.0.1:{}/health", self.server_port)),
        }
    }
}

/// A setting that parsed but makes no sense.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No way to tell which orders are ours.
    #[error("set ORDER_OWNER and/or ORDER_HASHES: without them no fill is ours")]
    NoOrders,
    /// The RPC URL is not a WebSocket URL.
    #[error("WS_RPC_URL must be a ws:// or wss:// URL")]
    NotWebSocket,
    /// A value must be positive.
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
    /// A setting the chosen broker needs is unset.
    #[error("{0} is required with BROKER=schwab and for `schwad auth`")]
    Missing(&'static str),
    /// The encryption key is malformed (its value is never shown).
    #[error("ENCRYPTION_KEY must be 64 hex characters (32 bytes)")]
    EncryptionKey,
    /// An unknown order outcome would be settled before its request could have timed out.
    #[error(
        "ORDER_SETTLE_PERIOD must be longer than SCHWAB_TIMEOUT (plus Schwab's order-list lag)"
    )]
    SettlePeriod,
}

/// The broker settings of `schwad run`.
#[derive(Debug, Clone)]
pub enum BrokerSettings {
    /// Orders logged and filled at this price.
    DryRun {
        /// USD per share every order fills at.
        fill_price: Decimal,
    },
    /// Charles Schwab.
    Schwab(Box<SchwabConfig>),
}

/// Settings of `schwad run`, validated.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// SQLite URL.
    pub database_url: String,
    pub ingest: IngestConfig,
    /// Where the health and metrics server listens.
    pub listen: SocketAddr,
    /// Block explorer page of a transaction, without the hash.
    pub explorer_tx_url: Url,
    /// Longest wait for ingestion to stop on shutdown.
    pub shutdown_timeout: Duration,
    pub broker: BrokerSettings,
    /// The hedging loop.
    pub executor: ExecutorConfig,
}

impl RunArgs {
    /// Validates the arguments.
    pub fn settings(self) -> Result<RunSettings, ConfigError> {
        let broker = self.broker;
        for (name, value) in [
            ("ORDER_POLL_INTERVAL", broker.order_poll_interval),
            ("HEDGE_TICK", broker.hedge_tick),
            ("MARKET_HOURS_RECHECK", broker.market_hours_recheck),
            ("RECONCILE_INTERVAL", broker.reconcile_interval),
        ] {
            if value.is_zero() {
                return Err(ConfigError::Zero(name));
            }
        }
        if broker.order_settle_period <= broker.app.schwab_timeout {
            return Err(ConfigError::SettlePeriod);
        }
        let executor = ExecutorConfig {
            tick: broker.hedge_tick,
            poll_interval: broker.order_poll_interval,
            max_open_per_symbol: broker.max_open_hedges_per_symbol,
            failure_cooldown: broker.failed_hedge_cooldown,
            settle_period: broker.order_settle_period,
            reconcile_interval: broker.reconcile_interval,
        };
        let settings = match broker.broker {
            BrokerKind::DryRun => BrokerSettings::DryRun {
                fill_price: broker.dry_run_fill_price,
            },
            BrokerKind::Schwab => {
                let (app, encryption_key) = broker.app.resolve()?;
                BrokerSettings::Schwab(Box::new(SchwabConfig {
                    app,
                    account: AccountChoice::parse(&broker.schwab_account),
                    encryption_key,
                    requests_per_minute: broker.schwab_requests_per_minute,
                    orders_per_minute: broker.schwab_orders_per_minute,
                    retry: RetryPolicy {
                        max_retries: broker.schwab_max_retries,
                        min_backoff: broker.schwab_min_backoff,
                        max_backoff: broker.schwab_max_backoff.max(broker.schwab_min_backoff),
                    },
                    refresh_leeway: broker.token_refresh_leeway,
                    market_recheck: broker.market_hours_recheck,
                }))
            }
        };
        Ok(RunSettings {
            database_url: self.database.database_url,
            ingest: self.chain.ingest_config()?,
            listen: SocketAddr::from((self.server_host, self.server_port)),
            explorer_tx_url: self.explorer_tx_url,
            shutdown_timeout: self.shutdown_timeout,
            broker: settings,
            executor,
        })
    }
}

impl SchwabAppArgs {
    /// The app registration and the validated encryption key.
    pub fn resolve(self) -> Result<(AppConfig, Secret), ConfigError> {
        let app_key = self
            .schwab_app_key
            .filter(|key| !key.is_empty())
            .ok_or(ConfigError::Missing("SCHWAB_APP_KEY"))?;
        let app_secret = self
            .schwab_app_secret
            .filter(|secret| !secret.expose().is_empty())
            .ok_or(ConfigError::Missing("SCHWAB_APP_SECRET"))?;
        let encryption_key = self
            .encryption_key
            .ok_or(ConfigError::Missing("ENCRYPTION_KEY"))?;
        TokenCipher::from_hex(&encryption_key).map_err(|_| ConfigError::EncryptionKey)?;
        if self.schwab_timeout.is_zero() {
            return Err(ConfigError::Zero("SCHWAB_TIMEOUT"));
        }
        let app = AppConfig {
            base_url: self.schwab_base_url,
            app_key,
            app_secret,
            callback_url: self.schwab_callback_url,
            request_timeout: self.schwab_timeout,
        };
        Ok((app, encryption_key))
    }
}

impl ChainArgs {
    /// Validates the chain settings.
    pub fn ingest_config(self) -> Result<IngestConfig, ConfigError> {
        if self.order_owner.is_none() && self.order_hashes.is_empty() {
            return Err(ConfigError::NoOrders);
        }
        let endpoint = Endpoint::new(self.ws_rpc_url).ok_or(ConfigError::NotWebSocket)?;
        if self.get_logs_max_range == 0 {
            return Err(ConfigError::Zero("GET_LOGS_MAX_RANGE"));
        }
        if self.confirmations == 0 {
            return Err(ConfigError::Zero("CONFIRMATIONS"));
        }
        if self.stall_timeout.is_zero() {
            return Err(ConfigError::Zero("STALL_TIMEOUT"));
        }
        if self.rpc_timeout.is_zero() {
            return Err(ConfigError::Zero("RPC_TIMEOUT"));
        }
        Ok(IngestConfig {
            endpoint,
            chain_id: self.chain_id,
            orderbook: self.orderbook,
            filter: OwnerFilter {
                owner: self.order_owner,
                order_hashes: self.order_hashes.into_iter().collect::<HashSet<_>>(),
            },
            deployment_block: self.deployment_block,
            confirmations: self.confirmations,
            max_range: self.get_logs_max_range,
            stall_timeout: self.stall_timeout,
            request_timeout: self.rpc_timeout,
            min_backoff: self.reconnect_min_backoff,
            max_backoff: self.reconnect_max_backoff.max(self.reconnect_min_backoff),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: [&str; 8] = [
        "schwad",
        "run",
        "--database-url=sqlite::memory:",
        "--ws-rpc-url=ws://127.0.0.1:8546/key",
        "--orderbook=0x881cf4c0764e733d9C387f3858eE87CcA04AFFe0",
        "--deployment-block=34299726",
        "--server-port=9000",
        "--stall-timeout=2s",
    ];

    fn run_args(extra: &[&str]) -> Result<RunArgs, clap::Error> {
        let cli = Cli::try_parse_from(BASE.iter().chain(extra))?;
        match cli.command {
            Command::Run(args) => Ok(args),
            other => panic!("parsed {other:?}"),
        }
    }

    #[test]
    fn owner_or_hashes_are_required() {
        let err = run_args(&[]).unwrap().settings().unwrap_err();
        assert!(err.to_string().contains("ORDER_OWNER"), "{err}");
    }

    #[test]
    fn valid_arguments_resolve_into_settings() {
        let hash = format!("{:#x}", B256::repeat_byte(1));
        let settings = run_args(&[&format!("--order-hashes={hash},{hash}")])
            .unwrap()
            .settings()
            .unwrap();
        assert_eq!(settings.listen.port(), 9000);
        assert_eq!(settings.ingest.filter.order_hashes.len(), 1);
        assert_eq!(settings.ingest.stall_timeout, Duration::from_secs(2));
        assert_eq!(settings.ingest.confirmations, 12);
    }

    #[test]
    fn no_reorg_window_is_refused() {
        let err = run_args(&[
            "--order-owner=0x881cf4c0764e733d9C387f3858eE87CcA04AFFe0",
            "--confirmations=0",
        ])
        .unwrap()
        .settings()
        .unwrap_err();
        assert!(err.to_string().contains("CONFIRMATIONS"), "{err}");
    }

    #[test]
    fn health_listens_on_all_interfaces_unless_told_loopback() {
        let owner = "--order-owner=0x881cf4c0764e733d9C387f3858eE87CcA04AFFe0";
        let all = run_args(&[owner]).unwrap().settings().unwrap();
        assert!(all.listen.ip().is_unspecified());
        assert_eq!(all.ingest.chain_id, 8453);
        let loopback = run_args(&[owner, "--server-host=127.0.0.1"])
            .unwrap()
            .settings()
            .unwrap();
        assert!(loopback.listen.ip().is_loopback());
    }

    #[test]
    fn malformed_values_name_the_variable() {
        let err = run_args(&["--order-owner=0xnope"]).unwrap_err().to_string();
        assert!(err.contains("ORDER_OWNER"), "{err}");
    }

    #[test]
    fn the_schwab_broker_needs_credentials_and_a_well_formed_key() {
        let err = run_args(&[
            "--order-owner=0x881cf4c0764e733d9C387f3858eE87CcA04AFFe0",
            "--broker=schwab",
        ])
        .unwrap()
        .settings()
        .unwrap_err();
        assert!(err.to_string().contains("SCHWAB_APP_KEY"), "{err}");
        let err = run_args(&[
            "--order-owner=0x881cf4c0764e733d9C387f3858eE87CcA04AFFe0",
            "--broker=schwab",
            "--schwab-app-key=k",
            "--schwab-app-secret=s",
            "--encryption-key=not-hex-sentinel",
        ])
        .unwrap()
        .settings()
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("ENCRYPTION_KEY") && !text.contains("sentinel"),
            "{text}"
        );
    }

    #[test]
    fn the_dry_run_is_the_default_broker() {
        let settings = run_args(&["--order-owner=0x881cf4c0764e733d9C387f3858eE87CcA04AFFe0"])
            .unwrap()
            .settings()
            .unwrap();
        assert!(matches!(settings.broker, BrokerSettings::DryRun { .. }));
    }

    #[test]
    fn http_rpc_urls_are_refused() {
        let cli = Cli::try_parse_from(
            BASE.iter()
                .map(|a| {
                    if a.starts_with("--ws-rpc-url") {
                        "--ws-rpc-url=http://x"
                    } else {
                        a
                    }
                })
                .chain(["--order-owner=0x881cf4c0764e733d9C387f3858eE87CcA04AFFe0"]),
        )
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        assert!(matches!(args.settings(), Err(ConfigError::NotWebSocket)));
    }
}
