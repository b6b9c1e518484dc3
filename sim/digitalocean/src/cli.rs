//! `schwad-sim digitalocean`: run the simulator as a process until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::config::{Config, DEFAULT_TOKEN, RateLimitConfig};
use crate::handle::Simulator;

/// Command-line arguments of this simulator.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (port 0 picks a free one; the URL is printed on stdout).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// JSON file the account state is loaded from at start and saved to on exit.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// The bearer token to accept.
    #[arg(long, default_value = DEFAULT_TOKEN)]
    pub token: String,
    /// Custom scopes of the token, comma-separated (e.g. `droplet:read,registry:read`); full access when unset.
    #[arg(long, value_delimiter = ',')]
    pub scopes: Option<Vec<String>>,
    /// How long actions stay in progress (droplets `new`, firewalls `waiting`), e.g. `2s`, `300ms`.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub action_delay: Duration,
    /// Requests allowed per hour (sliding window).
    #[arg(long, default_value_t = 5000)]
    pub rate_limit: u32,
    /// Requests allowed per minute (sliding burst window; over it, 429 with retry-after).
    #[arg(long, default_value_t = 250)]
    pub burst_limit: u32,
}

/// Runs the simulator until interrupted, then saves the state if `--state` was given.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = Config {
        listen: args.listen,
        token: args.token,
        scopes: args.scopes,
        action_delay: args.action_delay,
        rate_limit: RateLimitConfig {
            limit: args.rate_limit,
            burst_limit: args.burst_limit,
            ..RateLimitConfig::default()
        },
    };
    let handle = match &args.state {
        Some(path) => Simulator::start_from_file(config, path).await?,
        None => Simulator::start(config).await?,
    };
    println!(
        "{}",
        serde_json::json!({"simulator": "digitalocean", "base_url": handle.base_url()})
    );
    wait_for_signal().await?;
    if let Some(path) = &args.state {
        handle.save(path)?;
        tracing::info!(path = %path.display(), "state saved");
    }
    handle.shutdown().await;
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        interrupted = tokio::signal::ctrl_c() => interrupted.context("waiting for SIGINT")?,
        _ = terminate.recv() => {}
    }
    Ok(())
}
