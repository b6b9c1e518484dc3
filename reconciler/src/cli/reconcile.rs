//! `reconciler reconcile`: the GitOps loop on the droplet.

use std::time::Duration;

use reconciler_core::render;

use super::apply::{ConvergeArgs, progress};
use super::failure_report;
use crate::exit::Exit;
use crate::gitops::git::Source;
use crate::gitops::journal::Journal;
use crate::gitops::reconcile::{Reconciled, Shown, Target, once};

/// Arguments of `reconcile`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The deployment repository: a URL (a deploy key through `GIT_SSH_COMMAND` for a private one) or a path.
    #[arg(long, env = "RECONCILER_REPO")]
    pub repo: String,
    /// The ref whose tip is deployed.
    #[arg(long = "ref", env = "RECONCILER_REF", default_value = "main")]
    pub git_ref: String,
    /// Manifest path inside the repository.
    #[arg(
        long,
        env = "RECONCILER_PATH",
        default_value = "manifests/desired.yaml"
    )]
    pub path: String,
    /// Reconcile once and exit with its code (the systemd timer's mode).
    #[arg(long, conflicts_with = "interval")]
    pub once: bool,
    /// Reconcile forever, this long apart.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub interval: Option<Duration>,
    /// How to converge.
    #[command(flatten)]
    pub converge: ConvergeArgs,
}

/// Runs one reconcile (`--once`, the default) or loops until SIGTERM/SIGINT (`--interval`).
pub async fn run(args: &Args) -> anyhow::Result<Exit> {
    let state_dir = &args.converge.state_dir;
    let target = Target {
        source: Source::new(state_dir, &args.repo, &args.git_ref),
        path: args.path.clone(),
        settings: args.converge.settings(None),
        journal: Journal::new(state_dir, super::JOURNAL_MAX_BYTES, super::JOURNAL_KEEP),
    };
    let progress = progress(args.converge.progress);
    let Some(interval) = args.interval else {
        return Ok(show(once(&target, progress.as_ref()).await?));
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        match once(&target, progress.as_ref()).await {
            Ok(reconciled) => {
                let exit = show(reconciled);
                tracing::info!(code = exit as u8, "reconcile finished");
            }
            Err(e) => {
                tracing::error!(error = %format!("{:#}", anyhow::Error::from(e)), "reconcile failed")
            }
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = term.recv() => return Ok(Exit::Ok),
            _ = tokio::signal::ctrl_c() => return Ok(Exit::Ok),
        }
    }
}

/// Prints what a reconcile has to tell on stderr; returns its exit code.
fn show(reconciled: Reconciled) -> Exit {
    for shown in reconciled.shown {
        match shown {
            Shown::Locked(e) => eprintln!("{e}"),
            Shown::Blocked(plan) => eprint!("{}", render::human(&plan, false)),
            Shown::Reverted(failure) => eprint!("{}", failure_report(&failure)),
            Shown::Error(message) => eprintln!("error: {message}"),
        }
    }
    reconciled.exit
}
