//! The executor: walks a plan's steps, one backend call per step, each under a timeout that names the step when
//! it hangs. A failed health gate runs the plan's revert steps and reports the cause with the failed container's
//! last log lines (secrets redacted).

pub mod digitalocean;
pub mod droplet_host;
mod health;
pub mod progress;
pub mod prune;
pub mod state;
mod steps;

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use reconciler_core::plan::{Operation, Plan, Step};

use crate::docker::{DockerError, Engine};
use crate::host::{Host, HostError, SecretEnv};
pub use health::GateFailure;
use progress::{Event, Progress};

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
    /// The engine.
    pub engine: &'a Engine,
    /// The host.
    pub host: &'a H,
    /// Step timeouts.
    pub timeouts: Timeouts,
    /// Docker config file with registry credentials.
    pub docker_config: Option<PathBuf>,
    /// Host path of the secrets env file the container gets (also used to redact its output).
    pub secrets_file: Option<String>,
    /// Log lines of the failed container to show.
    pub log_lines: usize,
}

/// How an apply ended when no step errored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every step ran; the new container passed its gate.
    Converged,
    /// The new container failed its gate and the previous state was restored.
    Reverted(Box<Failure>),
}

/// A failed health gate, as reported to people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Why the gate failed.
    pub cause: String,
    /// The container that failed.
    pub container: String,
    /// Its image id.
    pub image_id: String,
    /// Its last log lines, secrets redacted.
    pub logs: Vec<String>,
    /// Its last health check results, secrets redacted.
    pub health_log: Vec<String>,
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
        /// Its timeout.
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
    /// Runs `plan.steps`; on a failed health gate, runs `plan.revert` and returns [`Outcome::Reverted`].
    pub async fn apply(
        &self,
        plan: &Plan,
        progress: &dyn Progress,
    ) -> Result<Outcome, ExecuteError> {
        let total = plan.steps.len();
        for (i, step) in plan.steps.iter().enumerate() {
            match self.run(i + 1, total, step, progress).await? {
                StepResult::Done => {}
                StepResult::GateFailed(gate) => {
                    let container = step_container(&step.op).unwrap_or_default();
                    let failure = self.failure(gate.cause, container).await;
                    progress.event(&Event::Reverting {
                        cause: failure.cause.clone(),
                    });
                    return self.revert(plan, failure, progress).await;
                }
            }
        }
        Ok(Outcome::Converged)
    }

    async fn revert(
        &self,
        plan: &Plan,
        failure: Failure,
        progress: &dyn Progress,
    ) -> Result<Outcome, ExecuteError> {
        let total = plan.revert.len();
        for (i, step) in plan.revert.iter().enumerate() {
            match self.run(i + 1, total, step, progress).await {
                Ok(StepResult::Done) => {}
                Ok(StepResult::GateFailed(restored)) => {
                    return Err(ExecuteError::RestoredUnhealthy {
                        cause: failure.cause,
                        restored: restored.cause,
                    });
                }
                Err(e) => {
                    return Err(ExecuteError::RevertFailed {
                        cause: failure.cause,
                        source: Box::new(e),
                    });
                }
            }
        }
        Ok(Outcome::Reverted(Box::new(failure)))
    }

    async fn run(
        &self,
        index: usize,
        total: usize,
        step: &Step,
        progress: &dyn Progress,
    ) -> Result<StepResult, ExecuteError> {
        let description = reconciler_core::render::describe(&step.op);
        progress.event(&Event::StepStarted {
            index,
            total,
            description: description.clone(),
        });
        let started = Instant::now();
        let timeout = self.timeout_of(&step.op);
        let result = with_timeout(
            index,
            &description,
            timeout,
            self.perform(&step.op, progress),
        )
        .await?
        .map_err(|e| e.at(index, &description))?;
        progress.event(&Event::StepDone {
            index,
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
        Ok(result)
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
    async fn failure(&self, cause: String, container: &str) -> Failure {
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
}
