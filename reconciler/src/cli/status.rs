//! `reconciler status`: desired and running revision, health, last good and quarantined revisions, the lock, and
//! whether the deployment is converged, progressing, degraded or suspended.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use reconciler_core::identity::labels;
use reconciler_core::observed::{ContainerStatus, Health};
use serde::Serialize;

use crate::docker::Engine;
use crate::execute::state::{DEFAULT_STATE_DIR, Revision, StateDir};
use crate::exit::Exit;
use crate::gitops::journal::Outcome;
use crate::gitops::lock::{self, Hold, Holder};
use crate::gitops::state::{Desired, State};

/// Arguments of `status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// State directory of the periodic reconcile.
    #[arg(long, env = "RECONCILER_STATE_DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// The running container as Docker reports it.
#[derive(Debug, Serialize)]
struct Running {
    id: String,
    name: String,
    image: String,
    image_id: String,
    spec_hash: Option<String>,
    commit: Option<String>,
    state: ContainerStatus,
    health: Option<Health>,
    restart_count: u32,
    /// Docker's `State.StartedAt` of the current run.
    started_at: String,
    /// Whether this run passed its health gate (recorded by the executor; labels alone prove nothing).
    gate_passed: bool,
}

/// Overall condition, in Argo CD's spirit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Condition {
    /// What runs is what the manifest says, and it is healthy.
    Converged,
    /// A reconcile is running now, or the container is still in its health check's start period.
    Progressing,
    /// What runs differs from the manifest, is unhealthy, or the last reconcile failed.
    Degraded,
    /// A person suspended reconciles.
    Suspended,
}

#[derive(Debug, Serialize)]
struct Status {
    condition: Condition,
    desired: Option<Desired>,
    running: Option<Running>,
    docker_error: Option<String>,
    last_good: Option<Revision>,
    quarantined: Vec<Revision>,
    lock_holder: Option<Holder>,
    hold: Option<Hold>,
    last_success: Option<DateTime<Utc>>,
    last_attempt: Option<DateTime<Utc>>,
    last_outcome: Option<Outcome>,
    last_error: Option<String>,
}

/// Prints the status; exit 0 when converged, 1 otherwise.
pub async fn run(args: &Args) -> anyhow::Result<Exit> {
    let state = State::load(&args.state_dir)?;
    let app = state.desired.as_ref().map(|d| d.app.clone());
    let record = match &app {
        Some(app) => StateDir::new(&args.state_dir).load(app)?,
        None => Default::default(),
    };
    let (mut running, docker_error) = match &app {
        Some(app) => match running(app).await {
            Ok(running) => (running, None),
            Err(e) => (None, Some(format!("{e:#}"))),
        },
        None => (None, None),
    };
    if let Some(r) = running.as_mut() {
        r.gate_passed = record
            .verified
            .iter()
            .any(|v| v.container == r.id && v.started_at == r.started_at);
    }
    let hold = lock::hold(&args.state_dir);
    let lock_holder = lock::holder(&args.state_dir);
    let in_sync = match (&state.desired, &running) {
        (Some(d), Some(r)) => r.spec_hash.as_deref() == Some(d.spec_hash.as_str()),
        _ => false,
    };
    let healthy = running.as_ref().is_some_and(|r| {
        r.state == ContainerStatus::Running
            && r.gate_passed
            && r.health.is_none_or(|h| h == Health::Healthy)
    });
    let failed = matches!(
        state.last_outcome,
        Some(Outcome::Failed | Outcome::Invalid | Outcome::Reverted | Outcome::Blocked)
    );
    let condition = if hold.is_some() {
        Condition::Suspended
    } else if lock_holder.is_some()
        || running.as_ref().and_then(|r| r.health) == Some(Health::Starting)
    {
        Condition::Progressing
    } else if in_sync && healthy && !failed {
        Condition::Converged
    } else {
        Condition::Degraded
    };
    let status = Status {
        condition,
        desired: state.desired,
        running,
        docker_error,
        last_good: record.last_good,
        quarantined: record.quarantined,
        lock_holder,
        hold,
        last_success: state.last_success,
        last_attempt: state.last_attempt,
        last_outcome: state.last_outcome,
        last_error: state.last_error,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", human(&status));
    }
    Ok(if condition == Condition::Converged {
        Exit::Ok
    } else {
        Exit::Error
    })
}

async fn running(app: &str) -> anyhow::Result<Option<Running>> {
    let engine = Engine::connect().await?;
    let containers = engine.app_containers(app).await?;
    Ok(containers
        .into_iter()
        .find(|c| c.name == app)
        .map(|c| Running {
            image: c
                .labels
                .get(labels::SPEC)
                .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
                .and_then(|v| v["image"].as_str().map(str::to_owned))
                .unwrap_or_default(),
            spec_hash: c.labels.get(labels::SPEC_HASH).cloned(),
            commit: c.labels.get(labels::COMMIT).cloned(),
            gate_passed: false,
            started_at: c.started_at,
            id: c.id,
            name: c.name,
            image_id: c.image_id,
            state: c.state,
            health: c.health,
            restart_count: c.restart_count,
        }))
}

fn short(commit: Option<&str>) -> String {
    commit.map_or_else(|| "-".to_owned(), |c| c.chars().take(12).collect())
}

fn human(s: &Status) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "condition:    {:?}", s.condition);
    match &s.desired {
        Some(d) => {
            let _ = writeln!(
                out,
                "desired:      {} ({})",
                d.image,
                short(Some(&d.commit))
            );
        }
        None => {
            let _ = writeln!(
                out,
                "desired:      - (no reconcile has fetched the repository yet)"
            );
        }
    }
    match (&s.running, &s.docker_error) {
        (Some(r), _) => {
            let _ = writeln!(
                out,
                "running:      {} ({}), image {}, {}{}, restarts {}{}",
                r.image,
                short(r.commit.as_deref()),
                r.image_id
                    .trim_start_matches("sha256:")
                    .chars()
                    .take(12)
                    .collect::<String>(),
                r.state,
                r.health
                    .as_ref()
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default(),
                r.restart_count,
                if r.gate_passed {
                    ""
                } else {
                    ", health gate not passed since its last start"
                }
            );
        }
        (None, Some(e)) => {
            let _ = writeln!(out, "running:      unknown: {e}");
        }
        (None, None) => {
            let _ = writeln!(out, "running:      nothing");
        }
    }
    if let Some(g) = &s.last_good {
        let _ = writeln!(
            out,
            "last good:    {} ({}) at {}",
            g.image,
            short(g.commit.as_deref()),
            g.at
        );
    }
    for q in &s.quarantined {
        let _ = writeln!(
            out,
            "quarantined:  {} ({}): {}",
            q.image,
            short(q.commit.as_deref()),
            q.cause.as_deref().unwrap_or("failed its health gate")
        );
    }
    if let Some(h) = &s.lock_holder {
        let _ = writeln!(
            out,
            "lock:         held by pid {} since {} ({})",
            h.pid,
            h.since,
            short(h.commit.as_deref())
        );
    }
    if let Some(h) = &s.hold {
        let _ = writeln!(out, "suspended:    since {}: {}", h.since, h.reason);
    }
    let when = |t: &Option<DateTime<Utc>>| t.map_or_else(|| "never".to_owned(), |t| t.to_string());
    let _ = writeln!(out, "last success: {}", when(&s.last_success));
    let _ = writeln!(
        out,
        "last attempt: {}{}",
        when(&s.last_attempt),
        s.last_outcome
            .map(|o| format!(" ({o:?})"))
            .unwrap_or_default()
    );
    if let Some(e) = &s.last_error {
        let _ = writeln!(out, "last error:   {e}");
    }
    out
}
