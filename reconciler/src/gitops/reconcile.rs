//! One periodic reconcile: take the lock, fetch the tip of the ref, read and validate the manifest at that commit,
//! converge the app scope, and journal what happened. An invalid manifest at the tip changes nothing: the last good
//! revision keeps running. A revision that failed its health gate stays quarantined until the manifest changes.

use std::path::PathBuf;

use chrono::Utc;
use reconciler_core::identity::ContainerSpec;
use reconciler_core::manifest::ManifestError;
use reconciler_core::plan::Plan;
use reconciler_core::render;
use sha2::{Digest, Sha256};

use super::git::{GitError, Source};
use super::journal::{Entry, Journal, JournalError, Outcome};
use super::lock::{self, LockError};
use super::state::{Desired, State, StateFileError};
use crate::converge::{self, ConvergeError, Ended, Report, Settings};
use crate::execute::progress::Progress;
use crate::execute::{Failure, chain};
use crate::exit::Exit;
use crate::load::SchemaMemo;

/// What to reconcile.
#[derive(Debug, Clone)]
pub struct Target {
    /// The deployment repository and ref.
    pub source: Source,
    /// Manifest path inside the repository.
    pub path: String,
    /// Converge settings (the commit is filled in per run).
    pub settings: Settings,
    pub journal: Journal,
}

impl Target {
    fn state_dir(&self) -> &PathBuf {
        &self.settings.state_dir
    }
}

/// What one reconcile did, for the CLI to show.
#[derive(Debug)]
pub struct Reconciled {
    /// The exit code.
    pub exit: Exit,
    /// What to tell the person running it, in order.
    pub shown: Vec<Shown>,
}

/// Something a reconcile has to tell.
#[derive(Debug)]
pub enum Shown {
    /// Another reconcile holds the lease, or a person suspended reconciles: this one did nothing.
    Locked(LockError),
    /// The plan a safety guard held back.
    Blocked(Box<Plan>),
    /// The new container failed its health gate and the revert ran.
    Reverted(Box<Failure>),
    /// What ended the reconcile with an error (also journaled).
    Error(String),
}

/// Why a reconcile could not run or record what it did (nothing is journaled for these).
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The lock could not be used.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// `status.json` could not be read or written.
    #[error(transparent)]
    StateFile(#[from] StateFileError),
    /// The journal could not be written or read.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// Why an attempt failed (journaled as its outcome).
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Converge(#[from] ConvergeError),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// Runs one reconcile.
pub async fn once(target: &Target, progress: &dyn Progress) -> Result<Reconciled, ReconcileError> {
    let mut shown = Vec::new();
    let mut lease = match lock::acquire(target.state_dir()) {
        Ok(lease) => lease,
        Err(e @ (LockError::Held(_) | LockError::Suspended(_))) => {
            shown.push(Shown::Locked(e));
            return Ok(Reconciled {
                exit: Exit::Locked,
                shown,
            });
        }
        Err(e) => return Err(e.into()),
    };
    let mut state = State::load(target.state_dir())?;
    state.last_attempt = Some(Utc::now());
    let result = attempt(target, &mut state, &mut lease, progress, &mut shown).await;
    let exit = match result {
        Ok(exit) => exit,
        Err(failure) => {
            let message = chain(&*failure.error);
            journal_failure(
                target,
                &mut state,
                failure.outcome,
                failure.commit.as_deref().unwrap_or(""),
                &message,
            )?;
            state.last_outcome = Some(failure.outcome);
            state.last_error = Some(message.clone());
            shown.push(Shown::Error(message));
            Exit::Error
        }
    };
    state.journal_head = target.journal.read_head()?;
    state.save(target.state_dir())?;
    Ok(Reconciled { exit, shown })
}

/// An attempt that failed: its journal outcome, the commit it reached, and why.
struct AttemptFailure {
    outcome: Outcome,
    commit: Option<String>,
    error: Box<AttemptError>,
}

fn failed<E: Into<AttemptError>>(
    outcome: Outcome,
    commit: Option<&str>,
) -> impl FnOnce(E) -> AttemptFailure + '_ {
    move |error| AttemptFailure {
        outcome,
        commit: commit.map(str::to_owned),
        error: Box::new(error.into()),
    }
}

async fn attempt(
    target: &Target,
    state: &mut State,
    lease: &mut lock::Lease,
    progress: &dyn Progress,
    shown: &mut Vec<Shown>,
) -> Result<Exit, AttemptFailure> {
    let commit = target
        .source
        .fetch()
        .await
        .map_err(failed(Outcome::Failed, None))?;
    let _ = lease.set_commit(&commit);
    let text = target
        .source
        .read(&commit, &target.path)
        .await
        .map_err(failed(Outcome::Invalid, Some(&commit)))?;
    let name = format!("{}@{commit:.12}", target.path);
    let loaded = crate::load::app_manifest(
        &name,
        &text,
        Some(&SchemaMemo::in_dir(&target.settings.state_dir)),
    )
    .map_err(failed(Outcome::Invalid, Some(&commit)))?;
    let app = &loaded.manifest.app;
    state.desired = Some(Desired {
        commit: commit.clone(),
        app: app.container_name.clone(),
        image: app.image.reference(),
        spec_hash: ContainerSpec::from_app(app).hash(),
    });
    let settings = Settings {
        commit: Some(commit.clone()),
        ..target.settings.clone()
    };
    let report = converge::app(&loaded, &settings, progress)
        .await
        .map_err(failed(Outcome::Failed, Some(&commit)))?;
    let exit = match &report.ended {
        Ended::NoChanges => {
            for note in &report.plan.notes {
                tracing::info!(%note, "reconcile: nothing to do");
            }
            // A reconcile killed after its last change journaled nothing: the revision it deployed is recorded
            // by the first run that finds it running (once per commit).
            if !report.desired_quarantined && state.last_applied.as_deref() != Some(&commit) {
                let found = "no changes: this commit's revision runs and passed its gate (no entry had recorded it)";
                journal(
                    target,
                    &commit,
                    &report,
                    Outcome::Applied,
                    None,
                    Some(found.to_owned()),
                )
                .map_err(failed(Outcome::Failed, Some(&commit)))?;
                state.last_applied = Some(commit.clone());
            }
            Exit::Ok
        }
        Ended::Converged => {
            journal(target, &commit, &report, Outcome::Applied, None, None)
                .map_err(failed(Outcome::Failed, Some(&commit)))?;
            state.last_applied = Some(commit.clone());
            Exit::Ok
        }
        Ended::Blocked => {
            let reason = report
                .plan
                .blocked
                .iter()
                .map(|b| format!("{}: {}", b.resource, b.reason))
                .collect::<Vec<_>>()
                .join("; ");
            shown.push(Shown::Blocked(Box::new(report.plan.clone())));
            if state.last_journaled_failure.as_deref()
                != Some(&failure_key(Outcome::Blocked, &commit, &reason))
            {
                journal(
                    target,
                    &commit,
                    &report,
                    Outcome::Blocked,
                    None,
                    Some(reason.clone()),
                )
                .map_err(failed(Outcome::Failed, Some(&commit)))?;
                state.last_journaled_failure =
                    Some(failure_key(Outcome::Blocked, &commit, &reason));
            }
            state.last_outcome = Some(Outcome::Blocked);
            state.last_error = Some(reason);
            return Ok(Exit::Blocked);
        }
        Ended::Failed(e) => {
            let message = chain(e);
            shown.push(Shown::Error(message.clone()));
            let end = (Outcome::Failed, None, message, Exit::Error);
            return not_applied(target, state, &commit, &report, end);
        }
        Ended::Restored { running } => {
            let message = match running {
                Some(id) => format!(
                    "desired revision quarantined; restored the last good container {id:.12}"
                ),
                None => "desired revision quarantined; NOTHING RUNS".to_owned(),
            };
            let back = report.last_good.as_ref().and_then(|r| r.commit.clone());
            let end = (Outcome::Reverted, back, message, Exit::Reverted);
            return not_applied(target, state, &commit, &report, end);
        }
        Ended::Reverted(failure) => {
            shown.push(Shown::Reverted(failure.clone()));
            let back = report.last_good.as_ref().and_then(|r| r.commit.clone());
            let end = (
                Outcome::Reverted,
                back,
                failure.cause.clone(),
                Exit::Reverted,
            );
            return not_applied(target, state, &commit, &report, end);
        }
    };
    state.last_success = Some(Utc::now());
    state.last_outcome = Some(Outcome::Applied);
    state.last_error = None;
    state.last_journaled_failure = None;
    Ok(exit)
}

/// Journals a converge that did not end on the desired revision (`end`: outcome, revert target, message, exit).
fn not_applied(
    target: &Target,
    state: &mut State,
    commit: &str,
    report: &Report,
    end: (Outcome, Option<String>, String, Exit),
) -> Result<Exit, AttemptFailure> {
    let (outcome, revert_target, message, exit) = end;
    journal(
        target,
        commit,
        report,
        outcome,
        revert_target,
        Some(message.clone()),
    )
    .map_err(failed(Outcome::Failed, Some(commit)))?;
    state.last_outcome = Some(outcome);
    state.last_error = Some(message);
    Ok(exit)
}

fn failure_key(outcome: Outcome, commit: &str, message: &str) -> String {
    format!("{outcome:?}:{commit}:{message}")
}

fn plan_hash(report: &Report) -> String {
    hex::encode(Sha256::digest(render::json(&report.plan).as_bytes()))
}

fn journal(
    target: &Target,
    commit: &str,
    report: &Report,
    outcome: Outcome,
    revert_target: Option<String>,
    message: Option<String>,
) -> Result<(), JournalError> {
    let health = match &report.ended {
        Ended::Converged => Some("healthy and stable for the stability window".to_owned()),
        Ended::Reverted(f) => Some(format!("failed: {}", f.cause)),
        _ => None,
    };
    target.journal.append(Entry {
        time: Utc::now(),
        commit: commit.to_owned(),
        plan_summary: format!("Plan: {}.", report.plan.summary()),
        plan_hash: plan_hash(report),
        steps: report.steps.clone(),
        health,
        outcome,
        revert_target,
        message,
    })?;
    Ok(())
}

/// Journals a failure before any plan existed, once per distinct failure.
fn journal_failure(
    target: &Target,
    state: &mut State,
    outcome: Outcome,
    commit: &str,
    message: &str,
) -> Result<(), JournalError> {
    let key = failure_key(outcome, commit, message);
    if state.last_journaled_failure.as_deref() == Some(&key) {
        return Ok(());
    }
    target.journal.append(Entry {
        time: Utc::now(),
        commit: commit.to_owned(),
        plan_summary: String::new(),
        plan_hash: String::new(),
        steps: Vec::new(),
        health: None,
        outcome,
        revert_target: None,
        message: Some(message.to_owned()),
    })?;
    state.last_journaled_failure = Some(key);
    Ok(())
}
