//! `schwad`: parse the command line, set up logging, run the command.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use schwad::config::{Cli, Command, LogFormat};
use schwad::{commands, service};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(error) = init_logging(&cli.log_level, cli.log_format) {
        eprintln!("schwad: {error:#}");
        return ExitCode::FAILURE;
    }
    match execute(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run(args) => {
            let settings = args.settings()?;
            service::run(settings).await?;
        }
        Command::ProcessTx(args) => {
            let config = args.chain.ingest_config()?;
            let applied = commands::process_tx(&args.database.database_url, config, args.hash)
                .await
                .with_context(|| format!("processing transaction {}", args.hash))?;
            println!(
                "{}: {} new, {} already recorded, {} restored",
                args.hash, applied.inserted, applied.duplicates, applied.restored
            );
        }
        Command::Positions(args) => {
            print!(
                "{}",
                commands::positions(&args.database.database_url, args.trades).await?
            );
        }
    }
    Ok(())
}

fn init_logging(level: &str, format: LogFormat) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(level).context("invalid LOG_LEVEL")?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
    Ok(())
}
