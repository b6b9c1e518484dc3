//! `schwad-sim chain`: command-line arguments and the process's life until SIGINT or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use alloy_primitives::Address;
use anyhow::Context;

use crate::faults::LogLimits;
use crate::sim::{ChainSim, Config};

/// Command-line arguments of the chain simulator.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (JSON-RPC over HTTP and WebSocket, control under /control).
    #[arg(long, default_value = "127.0.0.1:8545")]
    pub listen: SocketAddr,
    /// Orderbook contract address emitting the trade logs.
    #[arg(long, default_value = "0x881cf4c0764e733d9C387f3858eE87CcA04AFFe0")]
    pub orderbook: Address,
    /// Owner whose orders are "ours" in random trades.
    #[arg(long)]
    pub owner: Address,
    /// Mine a block at this interval (e.g. `1s`, `250ms`); without it, blocks are mined on demand.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub block_time: Option<Duration>,
    /// Random transactions added to each mined block.
    #[arg(long, default_value_t = 0)]
    pub trades_per_block: u32,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// What `eth_chainId` answers (8453 is Base).
    #[arg(long, default_value_t = 8453)]
    pub chain_id: u64,
    /// Most blocks one `eth_getLogs` may span (unlimited if absent).
    #[arg(long)]
    pub max_logs_block_range: Option<u64>,
    /// Most logs one `eth_getLogs` may return.
    #[arg(long, default_value_t = 10_000)]
    pub max_logs_results: usize,
}

impl Args {
    /// The simulator settings these arguments ask for.
    pub fn config(&self) -> Config {
        Config {
            listen: self.listen,
            chain_id: self.chain_id,
            orderbook: self.orderbook,
            owner: self.owner,
            block_time: self.block_time,
            trades_per_block: self.trades_per_block,
            seed: self.seed,
            log_limits: LogLimits {
                max_block_range: self.max_logs_block_range,
                max_results: Some(self.max_logs_results),
            },
            ..Config::default()
        }
    }
}

/// Runs the simulator, printing `{"http": ..., "ws": ...}` on one stdout line, until SIGINT or SIGTERM.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = args.config();
    let sim = ChainSim::start(config)
        .await
        .context("starting the chain simulator")?;
    let urls = serde_json::json!({ "http": sim.http_url(), "ws": sim.ws_url() });
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{urls}").context("printing the URLs")?;
    stdout.flush().context("printing the URLs")?;
    drop(stdout);
    shutdown_signal()
        .await
        .context("waiting for a shutdown signal")?;
    tracing::info!("shutting down");
    sim.shutdown().await;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() -> std::io::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        interrupted = tokio::signal::ctrl_c() => interrupted,
        _ = terminate.recv() => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn arguments_become_the_config() {
        let owner = "0x00000000000000000000000000000000000000aa";
        let cli = Cli::try_parse_from([
            "chain",
            "--listen",
            "127.0.0.1:9545",
            "--owner",
            owner,
            "--block-time",
            "250ms",
            "--trades-per-block",
            "3",
            "--seed",
            "9",
            "--max-logs-block-range",
            "2000",
        ])
        .unwrap();
        let config = cli.args.config();
        assert_eq!(config.listen.port(), 9545);
        assert_eq!(config.owner, owner.parse::<Address>().unwrap());
        assert_eq!(config.orderbook, crate::BASE_ORDERBOOK);
        assert_eq!(config.block_time, Some(Duration::from_millis(250)));
        assert_eq!(
            (config.trades_per_block, config.seed, config.chain_id),
            (3, 9, 8453)
        );
        assert_eq!(
            config.log_limits,
            LogLimits {
                max_block_range: Some(2000),
                max_results: Some(10_000)
            }
        );
        assert!(
            Cli::try_parse_from(["chain"]).is_err(),
            "the owner is required"
        );
    }
}
