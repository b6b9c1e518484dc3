//! `reconciler apply`: observe, plan and converge the app scope on the Docker engine, health-gated, with an
//! automatic revert (exit 4) that quarantines the failed revision.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;
use reconciler_core::render;

use crate::converge::{self, Ended, Settings};
use crate::docker::auth;
use crate::execute::Timeouts;
use crate::execute::progress::{Human, JsonLines, Progress};
use crate::execute::state::DEFAULT_STATE_DIR;
use crate::exit::Exit;
use crate::gitops::lock::{self, LockError};

/// Which half of the manifest to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scope {
    /// The bot container on the droplet's Docker engine, its image and data directory.
    App,
    /// The DigitalOcean resources.
    Infra,
    /// Both.
    All,
}

impl Scope {
    /// Fails unless the scope is the app alone (the infra half needs the DigitalOcean observer).
    pub fn require_app(self) -> anyhow::Result<()> {
        match self {
            Self::App => Ok(()),
            Self::Infra | Self::All => anyhow::bail!(
                "--scope infra and all need the DigitalOcean observer, which is not wired yet; use --scope app"
            ),
        }
    }
}

/// Output format of apply's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressFormat {
    /// Lines for people (a progress bar for pulls on a terminal).
    Human,
    /// One JSON event per line.
    Json,
}

/// Arguments of `apply`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The manifest.
    #[arg(
        short,
        long,
        env = "RECONCILER_MANIFEST",
        default_value = "manifests/desired.yaml"
    )]
    pub file: PathBuf,
    /// What to converge.
    #[arg(long, value_enum, default_value_t = Scope::All)]
    pub scope: Scope,
    /// Manifest commit recorded on the container.
    #[arg(long, env = "RECONCILER_COMMIT")]
    pub commit: Option<String>,
    /// How to converge.
    #[command(flatten)]
    pub converge: ConvergeArgs,
}

/// Options of every converge (`apply` and `reconcile`).
#[derive(Debug, clap::Args)]
pub struct ConvergeArgs {
    /// Directory of the lock, the journal, the last-good revision and the quarantine.
    #[arg(long, env = "RECONCILER_STATE_DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Progress output.
    #[arg(long, value_enum, default_value_t = ProgressFormat::Human)]
    pub progress: ProgressFormat,
    /// Timeout of a step (a stop adds its grace period, a health wait its deadline and window).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub step_timeout: Duration,
    /// Timeout of an image pull.
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
    pub pull_timeout: Duration,
    /// Images of the app's repository older than the running one that are kept for a fast rollback.
    #[arg(long, default_value_t = 3)]
    pub keep_images: usize,
    /// Log lines of a failed container to show.
    #[arg(long, default_value_t = 30)]
    pub log_lines: usize,
    /// Docker config file with registry credentials (default: `$DOCKER_CONFIG/config.json` or
    /// `~/.docker/config.json`).
    #[arg(long)]
    pub docker_config: Option<PathBuf>,
}

impl ConvergeArgs {
    /// The converge settings these arguments name.
    pub fn settings(&self, commit: Option<String>) -> Settings {
        Settings {
            state_dir: self.state_dir.clone(),
            commit,
            timeouts: Timeouts {
                step: self.step_timeout,
                pull: self.pull_timeout,
            },
            keep_images: self.keep_images,
            log_lines: self.log_lines,
            docker_config: self.docker_config.clone().or_else(auth::config_path),
        }
    }
}

/// The progress view for `format`.
pub fn progress(format: ProgressFormat) -> Box<dyn Progress> {
    match format {
        ProgressFormat::Json => Box::new(JsonLines),
        ProgressFormat::Human => Box::new(Human::new(std::io::stdout().is_terminal())),
    }
}

/// Converges the app scope; exit 0 converged, 3 blocked, 4 reverted, 5 locked, 1 on error.
pub async fn run(args: &Args, color: bool) -> anyhow::Result<Exit> {
    args.scope.require_app()?;
    let loaded = crate::load::manifest(&args.file)?;
    let _lease = match lock::acquire(&args.converge.state_dir) {
        Ok(lease) => lease,
        Err(e @ (LockError::Held(_) | LockError::Suspended(_))) => {
            eprintln!("{e}");
            return Ok(Exit::Locked);
        }
        Err(e) => return Err(e.into()),
    };
    let settings = args.converge.settings(args.commit.clone());
    let progress = progress(args.converge.progress);
    let human = args.converge.progress == ProgressFormat::Human;
    let prepared = converge::prepare(&loaded, &settings).await?;
    if human && !prepared.plan.steps.is_empty() && prepared.plan.blocked.is_empty() {
        print!("{}", render::human(&prepared.plan, color));
    }
    let report = prepared.run(&loaded, &settings, progress.as_ref()).await?;
    Ok(match &report.ended {
        Ended::Blocked => {
            eprint!("{}", render::human(&report.plan, false));
            Exit::Blocked
        }
        Ended::NoChanges => {
            for note in &report.plan.notes {
                eprintln!("note: {note}");
            }
            if human {
                println!(
                    "No changes: {} matches the manifest.",
                    loaded.manifest.app.container_name
                );
            }
            Exit::Ok
        }
        Ended::Converged => Exit::Ok,
        Ended::Reverted(failure) => {
            eprint!("{}", converge::failure_report(failure));
            Exit::Reverted
        }
    })
}
