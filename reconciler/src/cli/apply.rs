//! `reconciler apply`: observe, plan and converge the app scope on the Docker engine, health-gated, with an
//! automatic revert (exit 4) that quarantines the failed revision.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use clap::ValueEnum;
use reconciler_core::identity::ContainerSpec;
use reconciler_core::manifest::App;
use reconciler_core::observed::{ObservedApp, ObservedState};
use reconciler_core::plan::{Plan, PlanOptions, plan};
use reconciler_core::render;

use super::load::Loaded;
use crate::docker::{Engine, auth};
use crate::execute::progress::{Event, Human, JsonLines, Progress};
use crate::execute::prune::{prune_images, repository_of};
use crate::execute::state::{DEFAULT_STATE_DIR, Revision, StateDir};
use crate::execute::{Executor, Failure, Outcome, Timeouts};
use crate::exit::Exit;
use crate::gitops::lock::{self, LockError};
use crate::host::LocalHost;
use crate::observe::observe_app;

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
    /// Directory of the lock, the last-good revision and the quarantine.
    #[arg(long, env = "RECONCILER_STATE_DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Progress output.
    #[arg(long, value_enum, default_value_t = ProgressFormat::Human)]
    pub progress: ProgressFormat,
    /// Manifest commit recorded on the container.
    #[arg(long, env = "RECONCILER_COMMIT")]
    pub commit: Option<String>,
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

/// Converges the app scope; exit 0 converged, 3 blocked, 4 reverted, 5 locked, 1 on error.
pub async fn run(args: &Args, color: bool) -> anyhow::Result<Exit> {
    let started = Instant::now();
    args.scope.require_app()?;
    let loaded = super::load::manifest(&args.file)?;
    let app = &loaded.manifest.app;
    let _lease = match lock::acquire(&args.state_dir) {
        Ok(lease) => lease,
        Err(e @ (LockError::Held(_) | LockError::Suspended(_))) => {
            eprintln!("{e}");
            return Ok(Exit::Locked);
        }
        Err(e) => return Err(e.into()),
    };
    let progress: Box<dyn Progress> = match args.progress {
        ProgressFormat::Json => Box::new(JsonLines),
        ProgressFormat::Human => Box::new(Human::new(std::io::stdout().is_terminal())),
    };
    let state = StateDir::new(&args.state_dir);
    let engine = Engine::connect().await?;
    let observed = observe_app(&engine, &LocalHost, &state, app).await?;
    let plan = plan_app(&loaded, args.commit.as_deref(), observed.clone());
    let done = |outcome: &str| {
        progress.event(&Event::Done {
            outcome: outcome.to_owned(),
            mutating_docker_calls: engine.recorder().count(),
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
    };
    let human = args.progress == ProgressFormat::Human;
    if !plan.blocked.is_empty() {
        eprint!("{}", render::human(&plan, false));
        done("blocked");
        return Ok(Exit::Blocked);
    }
    if plan.steps.is_empty() {
        for note in &plan.notes {
            eprintln!("note: {note}");
        }
        if human {
            println!("No changes: {} matches the manifest.", app.container_name);
        }
        done("no_changes");
        return Ok(Exit::Ok);
    }
    if human {
        print!("{}", render::human(&plan, color));
    }
    progress.event(&Event::Plan {
        steps: plan.steps.len(),
        summary: {
            let s = plan.summary();
            format!(
                "{} to add, {} to change, {} to destroy",
                s.add, s.change, s.destroy
            )
        },
    });
    let executor = Executor {
        engine: &engine,
        host: &LocalHost,
        timeouts: Timeouts {
            step: args.step_timeout,
            pull: args.pull_timeout,
        },
        docker_config: args.docker_config.clone().or_else(auth::config_path),
        secrets_file: app.secrets.as_ref().map(|s| s.env_file.clone()),
        log_lines: args.log_lines,
    };
    let outcome = executor.apply(&plan, progress.as_ref()).await;
    let mut record = state.load(&app.container_name)?;
    let revision = revision(&engine, app, &observed, args.commit.as_deref()).await?;
    match outcome {
        Ok(Outcome::Converged) => {
            let protect = revision.image_id.clone();
            record.last_good = Some(revision);
            state.save(&app.container_name, &record)?;
            let reference = app.image.reference();
            match prune_images(
                &engine,
                repository_of(&reference),
                args.keep_images,
                &protect,
            )
            .await
            {
                Ok(removed) if !removed.is_empty() => {
                    tracing::info!(count = removed.len(), "pruned old images");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "pruning old images failed"),
            }
            done("converged");
            Ok(Exit::Ok)
        }
        Ok(Outcome::Reverted(failure)) => {
            record.quarantine(Revision {
                image_id: failure.image_id.clone(),
                cause: Some(failure.cause.clone()),
                ..revision
            });
            state.save(&app.container_name, &record)?;
            eprint!("{}", report(&failure));
            done("reverted");
            Ok(Exit::Reverted)
        }
        Err(e) => {
            done("failed");
            Err(e.into())
        }
    }
}

/// Observes the app scope of the live systems (for `plan` without `--observed`).
pub async fn observe_live(
    loaded: &Loaded,
    scope: Scope,
    state_dir: &std::path::Path,
) -> anyhow::Result<ObservedState> {
    scope.require_app()?;
    let engine = Engine::connect().await?;
    let app = observe_app(
        &engine,
        &LocalHost,
        &StateDir::new(state_dir),
        &loaded.manifest.app,
    )
    .await?;
    Ok(ObservedState {
        observed_at: Utc::now(),
        infra: None,
        app: Some(app),
    })
}

fn plan_app(loaded: &Loaded, commit: Option<&str>, observed: ObservedApp) -> Plan {
    let observed = ObservedState {
        observed_at: Utc::now(),
        infra: None,
        app: Some(observed),
    };
    plan(&loaded.desired(commit), &observed, &PlanOptions::default())
}

/// The desired revision as it now stands on the host.
async fn revision(
    engine: &Engine,
    app: &App,
    observed: &ObservedApp,
    commit: Option<&str>,
) -> anyhow::Result<Revision> {
    let reference = app.image.reference();
    let image = engine
        .image(&reference)
        .await
        .with_context(|| format!("reading image {reference} after the apply"))?;
    Ok(Revision {
        spec_hash: ContainerSpec::from_app(app).hash(),
        secrets_fingerprint: observed
            .secrets_file
            .as_ref()
            .map(|s| s.fingerprint.clone()),
        commit: commit.map(str::to_owned),
        image: reference,
        image_id: image.as_ref().map(|i| i.id.clone()).unwrap_or_default(),
        repo_digests: image.map(|i| i.repo_digests).unwrap_or_default(),
        at: Utc::now(),
        cause: None,
    })
}

/// The failure report: cause, then the failed container's logs and health log (already redacted).
fn report(failure: &Failure) -> String {
    let mut out = format!(
        "Reverted: the new container failed its health gate: {}\nThe previous container was restored; this revision is quarantined until the manifest changes.\n",
        failure.cause
    );
    out.push_str(&format!(
        "--- last log lines of {} ---\n",
        failure.container
    ));
    for line in &failure.logs {
        out.push_str(line);
        out.push('\n');
    }
    if !failure.health_log.is_empty() {
        out.push_str("--- health check log ---\n");
        for line in &failure.health_log {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}
