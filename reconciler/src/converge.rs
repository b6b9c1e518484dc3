//! One converge of the app scope — observe → plan → execute → record — shared by `apply` and the periodic
//! `reconcile`. It decides nothing itself: the plan comes from `reconciler-core`, the steps run in the executor, and
//! the outcome goes back to the caller, which prints or journals it.

use std::path::PathBuf;
use std::time::Instant;

use chrono::Utc;
use reconciler_core::identity::{ContainerSpec, labels};
use reconciler_core::manifest::App;
use reconciler_core::observed::{ContainerStatus, ObservedApp, ObservedInfra, ObservedState};
use reconciler_core::plan::{Operation, Plan, PlanOptions, StepScope, plan};

use crate::docker::{DockerError, Engine};
use crate::execute::digitalocean::{Applied, InfraError, InfraExecutor};
use crate::execute::droplet_host::DropletHost;
use crate::execute::progress::{ApplyOutcome, Event, Progress};
use crate::execute::state::{Revision, StateDir, StateError};
use crate::execute::{
    self, ExecuteError, Executor, Failure, RunEnd, StepOutcome, Timeouts, Verdicts, elapsed_ms,
};
use crate::host::{AppHost, HostError, LocalHost, RemoteHost};
use crate::load::Loaded;
use crate::observe::{ObserveError, observe_app};
use crate::ssh::{Remote, RemoteLease, SshError, SshTarget};

/// Where the Docker engine of a remote host listens.
pub const REMOTE_DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// Connects to the app's Docker engine and host: the local ones, or those of `ssh` through one SSH connection that
/// forwards the remote Docker socket (the connection lives as long as the returned host).
pub async fn connect_app(ssh: Option<&SshTarget>) -> Result<(Engine, AppHost), ConvergeError> {
    let Some(target) = ssh else {
        return Ok((Engine::connect().await?, AppHost::Local(LocalHost)));
    };
    let remote = Remote::connect(target, std::path::Path::new(REMOTE_DOCKER_SOCKET)).await?;
    let engine = Engine::connect_unix(remote.docker_socket())
        .await
        .map_err(|source| ConvergeError::RemoteDocker {
            destination: target.destination.clone(),
            source,
        })?;
    Ok((
        engine,
        AppHost::Remote(RemoteHost::new(std::sync::Arc::new(remote))),
    ))
}

/// How to converge.
#[derive(Debug, Clone)]
pub struct Settings {
    /// State directory (last good revision, quarantine).
    pub state_dir: PathBuf,
    /// Manifest commit recorded on the container.
    pub commit: Option<String>,
    /// Step timeouts.
    pub timeouts: Timeouts,
    /// Images older than the running one kept for a fast rollback.
    pub keep_images: usize,
    /// Log lines of a failed container to show.
    pub log_lines: usize,
    /// Docker config file with registry credentials.
    pub docker_config: Option<PathBuf>,
}

/// How a converge ended.
#[derive(Debug)]
pub enum Ended {
    /// Nothing to do.
    NoChanges,
    /// Every step ran and the container passed its health gate.
    Converged,
    /// A safety guard blocked the plan; nothing ran.
    Blocked,
    /// The new container failed its health gate (or a step failed after the running container stopped): its
    /// revision is quarantined and the revert, planned again from what was then observed, ran.
    Reverted(Box<Failure>),
    /// The desired revision is quarantined (it failed before, e.g. in a reconcile killed before its revert ended):
    /// this converge restored the last good container, or, when `running` is `None`, nothing runs.
    Restored {
        /// The container that runs, under the app's name.
        running: Option<String>,
    },
    /// A step failed and nothing had to be reverted, or the revert failed too (the report keeps the steps that ran).
    Failed(ConvergeError),
}

impl Ended {
    /// What the apply's `done` event says of it.
    pub fn outcome(&self) -> ApplyOutcome {
        match self {
            Self::NoChanges => ApplyOutcome::NoChanges,
            Self::Converged => ApplyOutcome::Converged,
            Self::Blocked => ApplyOutcome::Blocked,
            Self::Reverted(_) => ApplyOutcome::Reverted,
            Self::Restored { .. } => ApplyOutcome::Restored,
            Self::Failed(_) => ApplyOutcome::Failed,
        }
    }
}

/// What a converge did.
#[derive(Debug)]
pub struct Report {
    /// The plan it ran (or would have run, when blocked).
    pub plan: Plan,
    /// How it ended.
    pub ended: Ended,
    /// The steps run, with their durations.
    pub steps: Vec<StepOutcome>,
    /// The last revision that passed its health gate, after this converge.
    pub last_good: Option<Revision>,
    /// Mutating Docker API calls made.
    pub mutating_docker_calls: usize,
    /// Wall time in milliseconds.
    pub elapsed_ms: u64,
    /// Whether the desired revision was quarantined when observed (so a plan without changes keeps it out).
    pub desired_quarantined: bool,
}

/// The steps of a revert, each named as one.
fn revert_steps(steps: Vec<StepOutcome>) -> impl Iterator<Item = StepOutcome> {
    steps.into_iter().map(|s| StepOutcome {
        description: format!("revert: {}", s.description),
        ..s
    })
}

/// The DigitalOcean side of an app converge under `--scope all`: with the infra observed (after its own converge),
/// the plan snapshots the volume before a deploy that changes the image, and its steps that wait for the health gate
/// tag that snapshot as the last good deploy's (the one the snapshot policy never prunes).
#[derive(Debug, Clone)]
pub struct InfraContext {
    /// The API client.
    pub client: digitalocean_api::Client,
    /// The infra as observed.
    pub observed: ObservedInfra,
}

/// A remote host to converge the app on.
#[derive(Debug, Clone)]
pub struct RemoteApp {
    /// How to reach it.
    pub ssh: SshTarget,
    /// Its reconciler state directory, where the reconcile lease lives.
    pub state_dir: std::path::PathBuf,
}

/// Why a converge could not run, or how it failed.
#[derive(Debug, thiserror::Error)]
pub enum ConvergeError {
    /// Another reconcile holds the lease on the remote host (e.g. the droplet's periodic reconcile).
    #[error("another reconcile holds the lock {0} on the remote host")]
    RemoteLocked(String),
    /// The local Docker engine failed.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// The SSH connection to the remote host failed.
    #[error(transparent)]
    Ssh(#[from] SshError),
    /// The remote host's Docker engine, forwarded over SSH, failed to answer.
    #[error("the Docker engine of {destination} over ssh")]
    RemoteDocker {
        /// The SSH destination.
        destination: String,
        /// Why.
        #[source]
        source: DockerError,
    },
    /// The app's host failed (its lease, a probe tunnel).
    #[error(transparent)]
    Host(#[from] HostError),
    /// Observing the app scope failed.
    #[error(transparent)]
    Observe(#[from] ObserveError),
    /// The state directory failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// An infra step failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
    /// An app step failed, or the revert after a failed gate did.
    #[error(transparent)]
    Execute(#[from] ExecuteError),
    /// Observing for the revert failed after the new container failed.
    #[error("the new container failed ({cause}); observing for the revert failed")]
    RevertObserve {
        /// Why the new container failed.
        cause: String,
        /// Why observing failed.
        #[source]
        source: Box<ConvergeError>,
    },
}

/// An observed world and its plan, ready to run.
#[derive(Debug)]
pub struct Prepared {
    engine: Engine,
    host: AppHost,
    /// The remote host's reconcile lease, held until the converge ends.
    _lease: Option<RemoteLease>,
    infra: Option<InfraContext>,
    observed: ObservedApp,
    state: StateDir,
    started: Instant,
    pub plan: Plan,
}

/// Observes the app scope of `loaded` on the local Docker engine and plans. The caller holds the lock.
pub async fn prepare(loaded: &Loaded, settings: &Settings) -> Result<Prepared, ConvergeError> {
    prepare_on(loaded, settings, None, None).await
}

/// Observes the app scope of `loaded` on the local Docker engine, or on `remote`'s (whose reconcile lease it takes),
/// and plans (with the infra of `infra`, when given). The caller holds the local lock.
pub async fn prepare_on(
    loaded: &Loaded,
    settings: &Settings,
    remote: Option<&RemoteApp>,
    infra: Option<InfraContext>,
) -> Result<Prepared, ConvergeError> {
    let started = Instant::now();
    let state = StateDir::new(&settings.state_dir);
    let (engine, host) = connect_app(remote.map(|r| &r.ssh)).await?;
    let lease = match (&host, remote) {
        (AppHost::Remote(host), Some(remote)) => {
            let path = remote
                .state_dir
                .join("reconcile.lock")
                .display()
                .to_string();
            match host.lock(&path).await? {
                Some(lease) => Some(lease),
                None => return Err(ConvergeError::RemoteLocked(path)),
            }
        }
        _ => None,
    };
    let observed = observe_app(&engine, &host, &state, &loaded.manifest.app).await?;
    let plan = plan_app(
        loaded,
        settings.commit.as_deref(),
        observed.clone(),
        infra.as_ref().map(|i| i.observed.clone()),
        Some(settings.keep_images),
    );
    Ok(Prepared {
        engine,
        host,
        _lease: lease,
        infra,
        observed,
        state,
        started,
        plan,
    })
}

/// Observes, plans and converges the app scope of `loaded`. The caller holds the lock.
pub async fn app(
    loaded: &Loaded,
    settings: &Settings,
    progress: &dyn Progress,
) -> Result<Report, ConvergeError> {
    prepare(loaded, settings)
        .await?
        .run(loaded, settings, progress)
        .await
}

impl Prepared {
    /// Runs the plan: nothing when it is empty or blocked.
    pub async fn run(
        self,
        loaded: &Loaded,
        settings: &Settings,
        progress: &dyn Progress,
    ) -> Result<Report, ConvergeError> {
        let Self {
            engine,
            host,
            _lease,
            infra,
            observed,
            state,
            started,
            plan,
        } = self;
        let app = &loaded.manifest.app;
        let record = state.load(&app.container_name)?;
        let mut report = Report {
            plan,
            ended: Ended::NoChanges,
            steps: Vec::new(),
            last_good: record.last_good.clone(),
            mutating_docker_calls: 0,
            elapsed_ms: 0,
            desired_quarantined: observed
                .quarantined
                .contains(&ContainerSpec::from_app(app).hash()),
        };
        let done = |report: &mut Report| {
            report.mutating_docker_calls = engine.recorder().count();
            report.elapsed_ms = elapsed_ms(started);
            progress.event(&Event::Done {
                outcome: report.ended.outcome(),
                mutating_docker_calls: report.mutating_docker_calls,
                elapsed_ms: report.elapsed_ms,
            });
        };
        if !report.plan.blocked.is_empty() {
            report.ended = Ended::Blocked;
            done(&mut report);
            return Ok(report);
        }
        if report.plan.steps.is_empty() {
            done(&mut report);
            return Ok(report);
        }
        progress.event(&Event::Plan {
            steps: report.plan.steps.len(),
            summary: report.plan.summary().to_string(),
        });
        let infra_executor = infra.as_ref().map(|ctx| InfraExecutor {
            client: &ctx.client,
            user_data: loaded.user_data.as_deref(),
            droplet: Some(DropletHost {
                engine: &engine,
                host: &host,
            }),
        });
        let taken = match &infra_executor {
            Some(executor) => executor.apply(&report.plan.steps, progress).await?,
            None => Applied::default(),
        };
        let mut app_plan = report.plan.clone();
        app_plan.steps.retain(|s| s.op.scope() == StepScope::App);
        if let AppHost::Remote(remote) = &host {
            tunnel_probes(remote, &mut app_plan).await?;
        }
        let desired = desired_revision(app, &observed, settings.commit.as_deref());
        let executor = Executor {
            engine: &engine,
            host: &host,
            timeouts: settings.timeouts,
            docker_config: settings.docker_config.clone(),
            secrets_file: app.secrets.as_ref().map(|s| s.env_file.clone()),
            log_lines: settings.log_lines,
            verdicts: Some(Verdicts {
                state: &state,
                app: &app.container_name,
                desired: &desired,
            }),
        };
        let run = executor.apply(&app_plan.steps, progress).await;
        report.steps = run.steps.clone();
        let failure = match run.ended {
            RunEnd::Done => None,
            RunEnd::GateFailed(failure) => Some(*failure),
            RunEnd::Error(e) => {
                // Nothing to revert while the container under the name runs and passed its gate (a pull or a
                // create that failed), or when the engine did not refuse the step (a lost connection, a hung
                // call): report the error; the next run gates the unverified container again. Otherwise the
                // revision was refused after the app was interrupted: quarantine it and go back.
                let current = engine.status(&app.container_name).await.ok().flatten();
                let record = state.load(&app.container_name).unwrap_or_default();
                let intact = current.as_ref().is_some_and(|c| {
                    c.state == ContainerStatus::Running
                        && record
                            .verified
                            .iter()
                            .any(|v| v.container == c.id && v.started_at == c.started_at)
                });
                // Steps that touch the container under the name (the failed one included).
                let touched = app_plan.steps[..run.steps.len().min(app_plan.steps.len())]
                    .iter()
                    .any(|s| {
                        matches!(
                            s.op,
                            Operation::StopContainer { .. }
                                | Operation::RenameContainer { .. }
                                | Operation::StartContainer { .. }
                        )
                    });
                if intact || !touched || !e.is_engine_refusal() {
                    report.ended = Ended::Failed(e.into());
                    done(&mut report);
                    return Ok(report);
                }
                let cause = execute::chain(&e);
                let unrecorded = executor
                    .verdicts
                    .as_ref()
                    .and_then(|v| v.failed(&app.container_name, None, &cause));
                let mut failure = executor.failure(cause, &app.container_name).await;
                failure.quarantine_error = unrecorded;
                Some(failure)
            }
        };
        let Some(mut failure) = failure else {
            let desired_runs = run
                .passed
                .last()
                .map(|s| s.labels.get(labels::SPEC_HASH) == Some(&desired.spec_hash));
            let quarantined = observed.quarantined.contains(&desired.spec_hash);
            if desired_runs == Some(false) || (desired_runs.is_none() && quarantined) {
                report.last_good = state.load(&app.container_name)?.last_good;
                report.ended = Ended::Restored {
                    running: run.passed.last().map(|s| s.id.clone()),
                };
                done(&mut report);
                return Ok(report);
            }
            let record = state.load(&app.container_name)?;
            report.last_good = record.last_good.clone();
            let after_gate =
                run_after_gate(infra_executor.as_ref(), &report.plan, &taken, progress).await;
            report.steps.extend(after_gate);
            report.ended = Ended::Converged;
            done(&mut report);
            return Ok(report);
        };
        // The revert: plan again from what is observed now (the failed revision is quarantined), and run that.
        let revert = async {
            let observed = observe_app(&engine, &host, &state, app).await?;
            // Only going back: images are pruned after a deploy that passes its gate.
            let mut plan = plan_app(loaded, settings.commit.as_deref(), observed, None, None);
            plan.steps.retain(|s| s.op.scope() == StepScope::App);
            if let AppHost::Remote(remote) = &host {
                tunnel_probes(remote, &mut plan).await?;
            }
            Ok::<_, ConvergeError>(plan)
        };
        let plan = match revert.await {
            Ok(plan) => plan,
            Err(e) => {
                report.ended = Ended::Failed(ConvergeError::RevertObserve {
                    cause: failure.cause.clone(),
                    source: Box::new(e),
                });
                done(&mut report);
                return Ok(report);
            }
        };
        let reverted = executor.apply(&plan.steps, progress).await;
        report.steps.extend(revert_steps(reverted.steps));
        report.last_good = state.load(&app.container_name)?.last_good;
        match reverted.ended {
            RunEnd::Done => {
                failure.restored = reverted.passed.last().map(|s| s.id.clone());
                report.ended = Ended::Reverted(Box::new(failure));
                done(&mut report);
            }
            RunEnd::GateFailed(restored) => {
                report.ended = Ended::Failed(
                    ExecuteError::RestoredUnhealthy {
                        cause: failure.cause,
                        restored: restored.cause,
                    }
                    .into(),
                );
                done(&mut report);
            }
            RunEnd::Error(e) => {
                report.ended = Ended::Failed(
                    ExecuteError::RevertFailed {
                        cause: failure.cause,
                        source: Box::new(e),
                    }
                    .into(),
                );
                done(&mut report);
            }
        }
        Ok(report)
    }
}

fn plan_app(
    loaded: &Loaded,
    commit: Option<&str>,
    observed: ObservedApp,
    infra: Option<ObservedInfra>,
    keep_images: Option<usize>,
) -> Plan {
    let observed = ObservedState {
        observed_at: Utc::now(),
        infra,
        app: Some(observed),
    };
    let options = PlanOptions {
        keep_images,
        ..PlanOptions::default()
    };
    plan(&loaded.desired(commit), &observed, &options)
}

/// Points the health probes of `plan` at ports forwarded to the remote host, which is where the bot listens.
async fn tunnel_probes(remote: &RemoteHost, plan: &mut Plan) -> Result<(), HostError> {
    for step in plan.steps.iter_mut().chain(plan.revert.iter_mut()) {
        if let Operation::WaitHealthy { gate, .. } = &mut step.op
            && let Some(url) = &gate.http
        {
            gate.http = Some(remote.tunnel(url).await?);
        }
    }
    Ok(())
}

/// Runs the steps of `plan` that wait for the health gate, which passed (the last-good tag's move to the deploy's
/// snapshot, the prunes that move allows). A failure only warns: the deploy stands, and the tag stays where it was
/// until a later deploy moves it.
async fn run_after_gate(
    executor: Option<&InfraExecutor<'_>>,
    plan: &Plan,
    taken: &Applied,
    progress: &dyn Progress,
) -> Vec<StepOutcome> {
    if !plan
        .steps
        .iter()
        .any(|s| s.op.scope() == StepScope::AfterGate)
    {
        return Vec::new();
    }
    let Some(executor) = executor else {
        tracing::warn!(
            "the plan has steps after the health gate but no DigitalOcean client to run them"
        );
        return Vec::new();
    };
    match executor.after_gate(&plan.steps, taken, progress).await {
        Ok(applied) => applied.steps,
        Err(e) => {
            tracing::warn!(
                error = %execute::chain(&e),
                "a step after the health gate failed (tagging the last good deploy's snapshot or a prune it allows); \
                 the deploy stands"
            );
            Vec::new()
        }
    }
}

/// The desired revision, from the manifest and what was observed (no Docker call that could fail).
fn desired_revision(app: &App, observed: &ObservedApp, commit: Option<&str>) -> Revision {
    Revision {
        spec_hash: ContainerSpec::from_app(app).hash(),
        secrets_fingerprint: observed
            .secrets_file
            .as_ref()
            .map(|s| s.fingerprint.clone()),
        commit: commit.map(str::to_owned),
        image: app.image.reference(),
        image_id: observed
            .image
            .as_ref()
            .map(|i| i.id.clone())
            .unwrap_or_default(),
        repo_digests: observed
            .image
            .as_ref()
            .map(|i| i.repo_digests.clone())
            .unwrap_or_default(),
        at: Utc::now(),
        cause: None,
    }
}

/// What an infra converge did.
#[derive(Debug)]
pub struct InfraReport {
    /// The plan it ran (or would have run, when blocked).
    pub plan: Plan,
    /// How it ended ([`Ended::Reverted`] never happens here).
    pub ended: Ended,
    /// The steps run, with their durations.
    pub steps: Vec<StepOutcome>,
}

/// Observes the infra scope of `loaded` on DigitalOcean and plans it (the app scope is not observed).
pub async fn prepare_infra(
    loaded: &Loaded,
    client: &digitalocean_api::Client,
    options: &PlanOptions,
) -> Plan {
    let infra = crate::observe::digitalocean::observe_infra(client, &loaded.manifest).await;
    let observed = ObservedState {
        observed_at: Utc::now(),
        infra: Some(infra),
        app: None,
    };
    plan(&loaded.desired(None), &observed, options)
}

/// Runs an infra `plan` made by [`prepare_infra`]: nothing when it is empty or blocked. Its steps on the droplet
/// (around a volume's detach and attach) run on `droplet`. The caller holds the lock.
pub async fn infra(
    loaded: &Loaded,
    client: &digitalocean_api::Client,
    plan: Plan,
    droplet: Option<DropletHost<'_>>,
    progress: &dyn Progress,
) -> Result<InfraReport, InfraError> {
    let mut report = InfraReport {
        plan,
        ended: Ended::NoChanges,
        steps: Vec::new(),
    };
    if !report.plan.blocked.is_empty() {
        report.ended = Ended::Blocked;
        return Ok(report);
    }
    if report.plan.steps.is_empty() {
        return Ok(report);
    }
    let executor = InfraExecutor {
        client,
        user_data: loaded.user_data.as_deref(),
        droplet,
    };
    report.steps = executor.apply(&report.plan.steps, progress).await?.steps;
    report.ended = Ended::Converged;
    Ok(report)
}
