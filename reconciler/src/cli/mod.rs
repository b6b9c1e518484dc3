//! Command-line interface: clap types and one module per command.

mod adopt;
mod apply;
mod failure;
mod history;
mod lock;
mod plan;
mod reconcile;
mod rollback;
mod schema;
mod snapshot;
mod status;
mod validate;

use clap::{Parser, Subcommand, ValueEnum};

use crate::exit::Exit;
use failure::failure_report;

/// GitOps deployment of the schwad bot: observe → diff → plan → converge.
#[derive(Debug, Parser)]
#[command(name = "reconciler", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// When to colour human output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// Log filter for diagnostics on stderr (e.g. `info`, `reconciler=debug`).
    #[arg(long, global = true, env = "RECONCILER_LOG", default_value = "warn")]
    log: String,
    /// Log format on stderr.
    #[arg(long, global = true, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a manifest: syntax (file:line:column), the JSON schema and rules across fields. Exit 1 if invalid.
    Validate(validate::Args),
    /// Print the JSON schema of the manifest (what `schema/desired.schema.json` holds).
    Schema,
    /// Show what apply would change (a dry run). Exit 0 when converged, 2 when there are changes, 1 on error.
    Plan(plan::Args),
    /// Converge the infrastructure and the bot container to the manifest (health-gated, reverts on failure).
    Apply(apply::Args),
    /// Periodic GitOps loop on the droplet: fetch the repository, plan and apply the app scope, journal the result.
    Reconcile(reconcile::Args),
    /// Show the desired and running revision, health, lock holder and convergence (exit 0 only when converged).
    Status(status::Args),
    /// Show the journal of past reconciles (and verify its hash chain).
    History(history::Args),
    /// Suspend or resume the periodic reconcile for maintenance.
    Lock(lock::Args),
    /// Print (or with --commit make) the `git revert` of the last manifest change.
    Rollback(rollback::Args),
    /// Snapshot the volume now (tagged like the policy's, so later plans prune it with them).
    Snapshot(snapshot::Args),
    /// Make the manifest's droplet, volume or firewall that lacks the deployment's tag this deployment's (plans
    /// refuse it until then).
    Adopt(adopt::Args),
}

/// The manifest file, for the commands that read one.
#[derive(Debug, clap::Args)]
pub struct ManifestArg {
    /// The manifest.
    #[arg(
        short,
        long,
        env = "RECONCILER_MANIFEST",
        default_value = "manifests/desired.yaml"
    )]
    pub file: std::path::PathBuf,
}

/// The journal rotates past this size.
const JOURNAL_MAX_BYTES: u64 = 4 << 20;
/// Rotated journal files kept.
const JOURNAL_KEEP: usize = 5;

/// When to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Whether to colour stdout.
    pub fn enabled(self) -> bool {
        use std::io::IsTerminal;
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }
}

/// Format of diagnostics on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (production).
    Json,
}

fn init_logging(filter: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Exit {
    init_logging(&cli.log, cli.log_format);
    let color = cli.color.enabled();
    let result = match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Schema => schema::run(),
        Command::Plan(args) => plan::run(&args, color).await,
        Command::Apply(args) => apply::run(&args, color).await,
        Command::History(args) => history::run(&args),
        Command::Lock(args) => lock::run(&args),
        Command::Rollback(args) => rollback::run(&args).await,
        Command::Reconcile(args) => reconcile::run(&args).await,
        Command::Status(args) => status::run(&args).await,
        Command::Snapshot(args) => snapshot::run(&args).await,
        Command::Adopt(args) => adopt::run(&args).await,
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        Exit::Error
    })
}
