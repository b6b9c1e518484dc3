//! The health gate: healthy (an HTTP probe from the host, or Docker's own health status), then healthy for the
//! stability window with zero restarts. Exits, restarts and a missed deadline fail it. This is the polling loop;
//! the verdict on what it saw is [`verdict`]'s.

mod verdict;

use std::time::{Duration, Instant};

use reconciler_core::plan::HealthGate;
use verdict::{Judge, Sample, Verdict};

use super::progress::{Event, GateStatus, Progress};
use crate::docker::{DockerError, Engine};

/// Why a container failed its gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateFailure {
    /// The cause, for people.
    pub cause: String,
}

/// Polls `container` until it passes `gate` or fails it. `Err` only when Docker itself fails.
pub async fn wait_healthy(
    engine: &Engine,
    container: &str,
    gate: &HealthGate,
    progress: &dyn Progress,
) -> Result<Result<(), GateFailure>, DockerError> {
    let interval = Duration::from_millis(gate.interval_ms.max(10));
    let fail_now = |cause: String| {
        progress.event(&Event::Health {
            container: container.to_owned(),
            status: GateStatus::Failed,
        });
        Ok(Err(GateFailure { cause }))
    };
    let http = match &gate.http {
        None => None,
        Some(url) => match digitalocean_api::http::client_builder()
            .timeout(Duration::from_millis(gate.timeout_ms.max(1)))
            .no_proxy()
            .build()
        {
            Ok(client) => Some((client, url.as_str())),
            Err(e) => return fail_now(format!("cannot build the HTTP client for the probe: {e}")),
        },
    };
    let Some(first) = engine.status(container).await? else {
        return fail_now(format!("container {container} does not exist"));
    };
    let mut judge = Judge::new(gate, first.restart_count, Instant::now());
    progress.event(&Event::Health {
        container: container.to_owned(),
        status: GateStatus::Waiting,
    });
    loop {
        let Some(status) = engine.status(container).await? else {
            return fail_now(format!("container {container} disappeared"));
        };
        let sample = Sample {
            state: status.state,
            restart_count: status.restart_count,
            exit_code: status.exit_code,
            health: status.health,
        };
        if let Some(cause) = judge.fault(&sample) {
            return fail_now(cause);
        }
        let healthy = match &http {
            Some((client, url)) => probe(client, url).await,
            None => sample.docker_healthy(),
        };
        let now = Instant::now();
        match judge.judge(healthy, now) {
            Verdict::Waiting | Verdict::Holding => {}
            Verdict::Healthy => progress.event(&Event::Health {
                container: container.to_owned(),
                status: GateStatus::Healthy,
            }),
            Verdict::Stable => {
                progress.event(&Event::Health {
                    container: container.to_owned(),
                    status: GateStatus::Stable,
                });
                return Ok(Ok(()));
            }
            Verdict::Failed(cause) => return fail_now(cause),
        }
        tokio::time::sleep(judge.next_poll(interval, now)).await;
    }
}

async fn probe(client: &reqwest::Client, url: &str) -> bool {
    match client.get(url).send().await {
        Ok(response) => response.status().is_success(),
        Err(e) => {
            tracing::debug!(url, error = %e, "health probe failed");
            false
        }
    }
}
