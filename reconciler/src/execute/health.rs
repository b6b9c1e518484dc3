//! The health gate: healthy (an HTTP probe from the host, or Docker's own health status), then healthy for the
//! stability window with zero restarts. Exits, restarts and a missed deadline fail it.

use std::time::{Duration, Instant};

use reconciler_core::observed::{ContainerStatus, Health};
use reconciler_core::plan::HealthGate;

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
    let deadline = Instant::now() + Duration::from_millis(gate.deadline_ms);
    let stability = Duration::from_millis(gate.stability_ms);
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
    let baseline = first.restart_count;
    let mut healthy_since: Option<Instant> = None;
    progress.event(&Event::Health {
        container: container.to_owned(),
        status: GateStatus::Waiting,
    });
    loop {
        let Some(status) = engine.status(container).await? else {
            return fail_now(format!("container {container} disappeared"));
        };
        if status.restart_count > baseline || status.state == ContainerStatus::Restarting {
            return fail_now(format!(
                "crash loop: restarted {} times (last exit code {})",
                status.restart_count - baseline.min(status.restart_count),
                status.exit_code
            ));
        }
        if matches!(
            status.state,
            ContainerStatus::Exited | ContainerStatus::Dead | ContainerStatus::Created
        ) {
            return fail_now(format!(
                "container {} (exit code {})",
                status.state, status.exit_code
            ));
        }
        let healthy = match &http {
            Some((client, url)) => probe(client, url).await,
            None => match status.health {
                Some(Health::Healthy) => true,
                Some(Health::Unhealthy) => {
                    return fail_now("Docker reports the container unhealthy".to_owned());
                }
                Some(Health::Starting) => false,
                None => status.state == ContainerStatus::Running,
            },
        };
        let now = Instant::now();
        match (healthy, healthy_since) {
            (true, None) => {
                healthy_since = Some(now);
                progress.event(&Event::Health {
                    container: container.to_owned(),
                    status: GateStatus::Healthy,
                });
            }
            (true, Some(since)) if now.duration_since(since) >= stability => {
                progress.event(&Event::Health {
                    container: container.to_owned(),
                    status: GateStatus::Stable,
                });
                return Ok(Ok(()));
            }
            (true, Some(_)) => {}
            (false, Some(since)) => {
                return fail_now(format!(
                    "health check failed {:.1}s into the {:.1}s stability window",
                    now.duration_since(since).as_secs_f64(),
                    stability.as_secs_f64()
                ));
            }
            (false, None) if now >= deadline => {
                return fail_now(format!(
                    "not healthy within {:.1}s{}",
                    gate.deadline_ms as f64 / 1000.0,
                    gate.http
                        .as_ref()
                        .map(|u| format!(" (probing {u})"))
                        .unwrap_or_default()
                ));
            }
            (false, None) => {}
        }
        // Stability needs one more look after the window; a zero window passes on the next poll.
        let sleep = healthy_since.map_or(interval, |since| {
            interval.min(
                (since + stability)
                    .saturating_duration_since(now)
                    .max(Duration::from_millis(1)),
            )
        });
        tokio::time::sleep(sleep).await;
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
