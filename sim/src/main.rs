//! `schwad-sim`: runs one of the loopback simulators until interrupted.

use clap::{Parser, Subcommand};

/// Loopback simulators of the outside systems schwad talks to.
#[derive(Debug, Parser)]
#[command(name = "schwad-sim", version, about)]
struct Cli {
    #[command(subcommand)]
    simulator: Simulator,
}

#[derive(Debug, Subcommand)]
enum Simulator {
    /// The DigitalOcean API v2 (droplets, volumes, firewalls, registry, snapshots, actions).
    Digitalocean(sim_digitalocean::Args),
    /// The Charles Schwab Trader API (OAuth, accounts, orders, market hours).
    Schwab(sim_schwab::Args),
    /// An EVM JSON-RPC node (HTTP and WebSocket) serving a Rain orderbook.
    Chain(sim_chain::Args),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().simulator {
        Simulator::Digitalocean(args) => sim_digitalocean::run(args).await,
        Simulator::Schwab(args) => sim_schwab::run(args).await,
        Simulator::Chain(args) => sim_chain::run(args).await,
    }
}
