//! Placeholder until the simulator lands: its owner replaces this file.

/// Command-line arguments of this simulator.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
}

/// Runs the simulator until interrupted.
pub async fn run(args: Args) -> anyhow::Result<()> {
    anyhow::bail!("simulator not built yet (asked to listen on {})", args.listen)
}
