//! The executor: walks a plan's steps, one backend call per step, each under a timeout that names the step when
//! it hangs, and reports every step that ran and how it ended. A gate's verdict is recorded the moment it is known
//! (passed: the container's run is verified and its revision is the last good one; failed: the revision is
//! quarantined). The revert is not the executor's: the caller plans it again from what it then observes.

pub mod digitalocean;
pub mod droplet_host;
mod health;
mod outcome;
pub mod progress;
pub mod state;
mod steps;

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use reconciler_core::identity::labels;
use reconciler_core::plan::{Operation, Step};

use crate::docker::{DockerError, Engine, Status};
use crate::host::{Host, HostError, SecretEnv};
pub use health::GateFailure;
pub use outcome::{StepEnd, StepOutcome};
use progress::{Event, Progress};
use state::{Revision, StateDir};

/// How long steps may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Any step but a pull, a stop or a health wait.
    pub step: Duration,
    /// Pulling an image.
    pub pull: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            step: Duration::from_secs(60),
            pull: Duration::from_secs(900),
        }
    }
}

/// Runs plan steps against a Docker engine and a host.
#[derive(Debug)]
pub struct Executor<'a, H> {
    pub engine: &'a Engine,
    pub host: &'a H,
    /// Step timeouts.
    pub timeouts: Timeouts,
    /// Docker config file with registry credentials.
    pub docker_config: Option<PathBuf>,
    /// Host path of the secrets env file the container gets (also used to redact its output).
    pub secrets_file: Option<String>,
    /// Log lines of the failed container to show.
    pub log_lines: usize,
    /// Where gate verdicts go (`None`: not recorded).
    pub verdicts: Option<Verdicts<'a>>,
}

/// A failed health gate, as reported to people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Why the gate failed (or the step that failed after the running container was stopped).
    pub cause: String,
    /// The container that failed.
    pub container: String,
    pub image_id: String,
    /// Its last log lines, secrets redacted.
    pub logs: Vec<String>,
    /// Its last health check results, secrets redacted.
    pub health_log: Vec<String>,
    /// The container the revert restored (it passed its own gate), `None` when nothing runs.
    pub restored: Option<String>,
    /// Why the failed revision could not be quarantined (`None`: it is): the next run may deploy it again.
    pub quarantine_error: Option<String>,
}

/// What a run of steps did: every step that ran, and how the run ended.
#[derive(Debug)]
pub struct Run {
    /// The steps that ran, in order (the last one is the failed one when the run failed).
    pub steps: Vec<StepOutcome>,
    /// The containers that passed a gate, in order.
    pub passed: Vec<Status>,
    /// How it ended.
    pub ended: RunEnd,
}

/// How a run of steps ended.
#[derive(Debug)]
pub enum RunEnd {
    /// Every step ran.
    Done,
    /// A container failed its gate (its verdict is gone and its revision is quarantined); later steps did not run.
    GateFailed(Box<Failure>),
    /// A step failed; later steps did not run.
    Error(ExecuteError),
}

/// Where the executor records gate verdicts the moment a gate ends, so no later failure or kill loses them.
#[derive(Debug, Clone, Copy)]
pub struct Verdicts<'a> {
    /// The state directory.
    pub state: &'a StateDir,
    pub app: &'a str,
    /// The desired revision, quarantined when a failed container's own labels cannot be read.
    pub desired: &'a Revision,
}

impl Verdicts<'_> {
    fn passed(&self, status: &Status) {
        if let Err(e) = self.state.update(self.app, |r| r.gate_passed(status)) {
            tracing::warn!(error = %e, "recording a passed health gate failed; the next apply runs the gate again");
        }
    }

    /// Quarantines the revision `status` runs (the desired one when it cannot be read). An error here is loud: it
    /// is logged, and returned for the failure report.
    pub fn failed(&self, container: &str, status: Option<&Status>, cause: &str) -> Option<String> {
        let revision = match status {
            Some(s) if s.labels.contains_key(labels::SPEC_HASH) => {
                Revision::of(s, Some(cause.to_owned()))
            }
            _ => Revision {
                cause: Some(cause.to_owned()),
                at: chrono::Utc::now(),
                ..self.desired.clone()
            },
        };
        let id = status.map_or(container, |s| s.id.as_str());
        let e = self
            .state
            .update(self.app, |r| r.gate_failed(id, revision))
            .err()?;
        tracing::error!(error = %e, "QUARANTINE NOT RECORDED: the failed revision may be retried");
        Some(chain(&e))
    }
}

/// A step that could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    /// The step did not finish in time.
    #[error("step {index} ({step}) hung: no result after {}s", timeout.as_secs_f64())]
    Timeout {
        /// 1-based step index.
        index: usize,
        /// What the step does.
        step: String,
        timeout: Duration,
    },
    /// The Docker engine failed the step.
    #[error("step {index} ({step})")]
    Docker {
        /// 1-based step index.
        index: usize,
        /// What the step does.
        step: String,
        /// Why.
        #[source]
        source: DockerError,
    },
    /// The host failed the step.
    #[error("step {index} ({step})")]
    Host {
        /// 1-based step index.
        index: usize,
        /// What the step does.
        step: String,
        /// Why.
        #[source]
        source: HostError,
    },
    /// A step this executor cannot run (a DigitalOcean operation in an app-scope apply).
    #[error("step {index} ({step}) is not an app operation; this executor runs only the app scope")]
    Unsupported {
        /// 1-based step index.
        index: usize,
        /// What the step does.
        step: String,
    },
    /// The step's own precondition failed.
    #[error("step {index} ({step}): {message}")]
    Failed {
        /// 1-based step index.
        index: usize,
        /// What the step does.
        step: String,
        /// Why.
        message: String,
    },
    /// The revert itself failed after a failed gate: the app may be down.
    #[error("the new container failed its health gate ({cause}) and the revert failed too")]
    RevertFailed {
        /// Why the gate failed.
        cause: String,
        /// Why the revert failed.
        #[source]
        source: Box<ExecuteError>,
    },
    /// The previous container was restored but failed its own gate.
    #[error(
        "the new container failed its health gate ({cause}); the previous one was restored but is not healthy: {restored}"
    )]
    RestoredUnhealthy {
        /// Why the new one failed.
        cause: String,
        /// Why the restored one failed.
        restored: String,
    },
}

/// What a step yields when it is not an error.
enum StepResult {
    Done,
    GateFailed(GateFailure),
}

impl<H: Host + Sync> Executor<'_, H> {
    /// Runs `steps` in order until one fails or a gate fails (which quarantines the failed revision at once).
    /// Reverting is the caller's: it plans again from what it then observes.
    pub async fn apply(&self, steps: &[Step], progress: &dyn Progress) -> Run {
        let total = steps.len();
        let mut run = Run {
            steps: Vec::new(),
            passed: Vec::new(),
            ended: RunEnd::Done,
        };
        for (i, step) in steps.iter().enumerate() {
            let started = Instant::now();
            let result = self.run(i + 1, total, step, progress).await;
            let mut outcome = StepOutcome {
                description: reconciler_core::render::describe(&step.op),
                duration_ms: elapsed_ms(started),
                end: StepEnd::Ok,
            };
            match result {
                Ok(StepResult::Done) => {
                    if let Operation::WaitHealthy { container, .. } = &step.op {
                        match self.engine.status(container).await {
                            Ok(Some(status)) => {
                                if let Some(v) = &self.verdicts {
                                    v.passed(&status);
                                }
                                run.passed.push(status);
                            }
                            Ok(None) | Err(_) => tracing::warn!(
                                container,
                                "the container passed its gate but could not be read back"
                            ),
                        }
                    }
                    run.steps.push(outcome);
                }
                Ok(StepResult::GateFailed(gate)) => {
                    let container = step_container(&step.op).unwrap_or_default();
                    let status = self.engine.status(container).await.ok().flatten();
                    let unrecorded = self
                        .verdicts
                        .as_ref()
                        .and_then(|v| v.failed(container, status.as_ref(), &gate.cause));
                    outcome.end = StepEnd::GateFailed(gate.cause.clone());
                    run.steps.push(outcome);
                    let mut failure = self.failure(gate.cause, container).await;
                    failure.quarantine_error = unrecorded;
                    progress.event(&Event::Reverting {
                        cause: failure.cause.clone(),
                    });
                    run.ended = RunEnd::GateFailed(Box::new(failure));
                    return run;
                }
                Err(e) => {
                    outcome.end = StepEnd::Failed(chain(&e));
                    run.steps.push(outcome);
                    run.ended = RunEnd::Error(e);
                    return run;
                }
            }
        }
        run
    }

    async fn run(
        &self,
        index: usize,
        total: usize,
        step: &Step,
        progress: &dyn Progress,
    ) -> Result<StepResult, ExecuteError> {
        let description = reconciler_core::render::describe(&step.op);
        let timeout = self.timeout_of(&step.op);
        announced(index, total, &description, progress, async {
            with_timeout(
                index,
                &description,
                timeout,
                self.perform(&step.op, progress),
            )
            .await?
            .map_err(|e| e.at(index, &description))
        })
        .await
    }

    fn timeout_of(&self, op: &Operation) -> Duration {
        let slack = self.timeouts.step;
        match op {
            Operation::PullImage { .. } => self.timeouts.pull,
            Operation::StopContainer { grace_secs, .. } => Duration::from_secs(*grace_secs) + slack,
            Operation::WaitHealthy { gate, .. } => {
                Duration::from_millis(gate.deadline_ms + gate.stability_ms) + slack
            }
            _ => slack,
        }
    }

    /// The failure report: cause, and the container's last log and health lines with secrets redacted.
    pub async fn failure(&self, cause: String, container: &str) -> Failure {
        let secrets = self.secrets().await;
        let logs = self
            .engine
            .log_tail(container, self.log_lines)
            .await
            .unwrap_or_else(|e| vec![format!("(logs unavailable: {e})")]);
        let status = self.engine.status(container).await.ok().flatten();
        let (health_log, image_id) = status
            .map(|s| (s.health_log, s.image_id))
            .unwrap_or_default();
        Failure {
            cause: secrets.redact(&cause),
            container: container.to_owned(),
            image_id,
            logs: logs.iter().map(|l| secrets.redact(l)).collect(),
            health_log: health_log.iter().map(|l| secrets.redact(l)).collect(),
            restored: None,
            quarantine_error: None,
        }
    }

    /// The secrets the container is given, to redact its output (empty if it has none or they cannot be read).
    async fn secrets(&self) -> SecretEnv {
        match &self.secrets_file {
            Some(path) => self.host.secret_env(path).await.unwrap_or_default(),
            None => SecretEnv::default(),
        }
    }
}

/// Runs step `index` of `total` between its `StepStarted` and (when it succeeds) `StepDone` events: the one step
/// loop shape of both executors.
pub(crate) async fn announced<T, E>(
    index: usize,
    total: usize,
    description: &str,
    progress: &dyn Progress,
    step: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    progress.event(&Event::StepStarted {
        index,
        total,
        description: description.to_owned(),
    });
    let started = Instant::now();
    let result = step.await?;
    progress.event(&Event::StepDone {
        index,
        elapsed_ms: elapsed_ms(started),
    });
    Ok(result)
}

/// Milliseconds since `since`.
pub(crate) fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Runs `fut` under `timeout`; a hang becomes an error naming step `index` (`description`).
pub async fn with_timeout<T>(
    index: usize,
    description: &str,
    timeout: Duration,
    fut: impl Future<Output = T>,
) -> Result<T, ExecuteError> {
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| ExecuteError::Timeout {
            index,
            step: description.to_owned(),
            timeout,
        })
}

/// An error with its causes, `outer: inner: ...`.
impl ExecuteError {
    /// Whether the engine answered and refused the step (a port taken, a value it rejects): the revision's own
    /// fault. A lost connection or a hung call says nothing about the revision, so it is not quarantined for it.
    pub fn is_engine_refusal(&self) -> bool {
        matches!(
            self,
            ExecuteError::Docker {
                source: DockerError::Call {
                    source: bollard::errors::Error::DockerResponseServerError { .. },
                    ..
                },
                ..
            }
        )
    }
}

pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn step_container(op: &Operation) -> Option<&str> {
    match op {
        Operation::WaitHealthy { container, .. } => Some(container),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hanging_step_is_named() {
        let err = with_timeout(
            3,
            "stop container schwad",
            Duration::from_millis(20),
            std::future::pending::<()>(),
        )
        .await
        .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("step 3 (stop container schwad) hung"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn a_quick_step_passes_through() {
        let value = with_timeout(1, "x", Duration::from_secs(1), async { 7 })
            .await
            .unwrap();
        assert_eq!(value, 7);
    }

    #[test]
    fn a_quarantine_that_cannot_be_recorded_is_returned() {
        let dir = tempfile::tempdir().unwrap();
        let desired = Revision {
            spec_hash: "v1:a".to_owned(),
            secrets_fingerprint: None,
            commit: None,
            image: "img:v1".to_owned(),
            image_id: "sha256:1".to_owned(),
            repo_digests: Vec::new(),
            at: chrono::Utc::now(),
            cause: None,
        };
        let recorded = StateDir::new(dir.path().join("state"));
        let verdicts = Verdicts {
            state: &recorded,
            app: "bot",
            desired: &desired,
        };
        assert_eq!(verdicts.failed("bot", None, "exited"), None);
        assert_eq!(recorded.load("bot").unwrap().quarantined.len(), 1);

        // The state directory's place is taken by a file: nothing can be written there.
        let blocked = StateDir::new(dir.path().join("file"));
        std::fs::write(blocked.path(), "").unwrap();
        let verdicts = Verdicts {
            state: &blocked,
            ..verdicts
        };
        let error = verdicts.failed("bot", None, "exited");
        assert!(
            error.as_ref().is_some_and(|e| e.contains("file")),
            "{error:?}"
        );
    }
}
