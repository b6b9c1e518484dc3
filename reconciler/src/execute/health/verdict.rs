//! The health gate's verdict as a pure function of what the polls saw: no Docker, no HTTP, no clock of its own.
//! A container fails on a restart, an exit or Docker's `unhealthy`; passes once healthy for the whole stability
//! window; fails when it turns unhealthy inside the window or is not healthy by the deadline.

use std::time::{Duration, Instant};

use reconciler_core::observed::{ContainerStatus, Health};
use reconciler_core::plan::HealthGate;

/// What one poll saw of the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Sample {
    pub state: ContainerStatus,
    pub restart_count: u32,
    pub exit_code: i64,
    pub health: Option<Health>,
}

impl Sample {
    /// Whether Docker calls it healthy: its health check passed, or it runs and has none.
    pub fn docker_healthy(&self) -> bool {
        match self.health {
            Some(Health::Healthy) => true,
            Some(Health::Starting | Health::Unhealthy) => false,
            None => self.state == ContainerStatus::Running,
        }
    }
}

/// Where the gate stands after a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Not healthy yet, within the deadline.
    Waiting,
    /// Healthy for the first time: the stability window starts.
    Healthy,
    /// Healthy, inside the stability window.
    Holding,
    /// Healthy for the whole window: the gate passed.
    Stable,
    /// The gate failed, and why.
    Failed(String),
}

/// The gate's memory between polls: the restarts it started with and when the container turned healthy.
#[derive(Debug, Clone)]
pub(super) struct Judge {
    gate: HealthGate,
    baseline: u32,
    deadline: Instant,
    healthy_since: Option<Instant>,
}

impl Judge {
    /// A gate starting at `start` on a container that had restarted `baseline` times.
    pub fn new(gate: &HealthGate, baseline: u32, start: Instant) -> Self {
        Self {
            gate: gate.clone(),
            baseline,
            deadline: start + Duration::from_millis(gate.deadline_ms),
            healthy_since: None,
        }
    }

    fn stability(&self) -> Duration {
        Duration::from_millis(self.gate.stability_ms)
    }

    /// What the container's state alone says, before any probe: a restart, an exit, or (when the gate reads
    /// Docker's health) `unhealthy`.
    pub fn fault(&self, s: &Sample) -> Option<String> {
        if s.restart_count > self.baseline || s.state == ContainerStatus::Restarting {
            return Some(format!(
                "crash loop: restarted {} times (last exit code {})",
                s.restart_count - self.baseline.min(s.restart_count),
                s.exit_code
            ));
        }
        if matches!(
            s.state,
            ContainerStatus::Exited | ContainerStatus::Dead | ContainerStatus::Created
        ) {
            return Some(format!("container {} (exit code {})", s.state, s.exit_code));
        }
        if self.gate.http.is_none() && s.health == Some(Health::Unhealthy) {
            return Some("Docker reports the container unhealthy".to_owned());
        }
        None
    }

    /// The verdict of a poll at `now` of a container without a fault: `healthy` is the probe's answer, or Docker's.
    pub fn judge(&mut self, healthy: bool, now: Instant) -> Verdict {
        let stability = self.stability();
        match (healthy, self.healthy_since) {
            (true, None) => {
                self.healthy_since = Some(now);
                Verdict::Healthy
            }
            (true, Some(since)) if now.duration_since(since) >= stability => Verdict::Stable,
            (true, Some(_)) => Verdict::Holding,
            (false, Some(since)) => Verdict::Failed(format!(
                "health check failed {:.1}s into the {:.1}s stability window",
                now.duration_since(since).as_secs_f64(),
                stability.as_secs_f64()
            )),
            (false, None) if now >= self.deadline => Verdict::Failed(format!(
                "not healthy within {:.1}s{}",
                self.gate.deadline_ms as f64 / 1000.0,
                self.gate
                    .http
                    .as_ref()
                    .map(|u| format!(" (probing {u})"))
                    .unwrap_or_default()
            )),
            (false, None) => Verdict::Waiting,
        }
    }

    /// How long to wait before the next poll at `now`: the interval, or less to look again as the window ends (a
    /// zero window passes on the next poll).
    pub fn next_poll(&self, interval: Duration, now: Instant) -> Duration {
        self.healthy_since.map_or(interval, |since| {
            interval.min(
                (since + self.stability())
                    .saturating_duration_since(now)
                    .max(Duration::from_millis(1)),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(http: Option<&str>) -> HealthGate {
        HealthGate {
            http: http.map(str::to_owned),
            deadline_ms: 10_000,
            interval_ms: 1_000,
            timeout_ms: 500,
            stability_ms: 3_000,
        }
    }

    fn running(health: Option<Health>) -> Sample {
        Sample {
            state: ContainerStatus::Running,
            restart_count: 2,
            exit_code: 0,
            health,
        }
    }

    fn at(start: Instant, secs: u64) -> Instant {
        start + Duration::from_secs(secs)
    }

    #[test]
    fn healthy_for_the_whole_window_passes() {
        let start = Instant::now();
        let mut judge = Judge::new(&gate(None), 2, start);
        let s = running(Some(Health::Starting));
        assert_eq!(judge.fault(&s), None);
        assert_eq!(
            judge.judge(s.docker_healthy(), at(start, 1)),
            Verdict::Waiting
        );
        assert_eq!(judge.judge(true, at(start, 2)), Verdict::Healthy);
        assert_eq!(
            judge.next_poll(Duration::from_secs(1), at(start, 2)),
            Duration::from_secs(1)
        );
        assert_eq!(judge.judge(true, at(start, 4)), Verdict::Holding);
        assert_eq!(
            judge.next_poll(Duration::from_secs(5), at(start, 4)),
            Duration::from_secs(1),
            "the next look falls where the window ends"
        );
        assert_eq!(judge.judge(true, at(start, 5)), Verdict::Stable);
    }

    #[test]
    fn unhealthy_inside_the_window_fails() {
        let start = Instant::now();
        let mut judge = Judge::new(&gate(Some("http://127.0.0.1:8080/health")), 0, start);
        assert_eq!(judge.judge(true, at(start, 1)), Verdict::Healthy);
        let Verdict::Failed(cause) = judge.judge(false, at(start, 2)) else {
            panic!("an answer that is not healthy inside the window fails the gate");
        };
        assert!(
            cause.contains("1.0s into the 3.0s stability window"),
            "{cause}"
        );
    }

    #[test]
    fn not_healthy_by_the_deadline_fails_naming_the_probe() {
        let start = Instant::now();
        let mut judge = Judge::new(&gate(Some("http://127.0.0.1:8080/health")), 0, start);
        assert_eq!(judge.judge(false, at(start, 9)), Verdict::Waiting);
        assert_eq!(
            judge.judge(false, at(start, 10)),
            Verdict::Failed(
                "not healthy within 10.0s (probing http://127.0.0.1:8080/health)".to_owned()
            )
        );
    }

    #[test]
    fn restarts_exits_and_docker_unhealthy_are_faults() {
        let judge = Judge::new(&gate(None), 2, Instant::now());
        let restarted = Sample {
            restart_count: 3,
            exit_code: 137,
            ..running(None)
        };
        assert_eq!(
            judge.fault(&restarted).as_deref(),
            Some("crash loop: restarted 1 times (last exit code 137)")
        );
        let exited = Sample {
            state: ContainerStatus::Exited,
            exit_code: 1,
            ..running(None)
        };
        assert_eq!(
            judge.fault(&exited).as_deref(),
            Some("container exited (exit code 1)")
        );
        assert_eq!(
            judge.fault(&running(Some(Health::Unhealthy))).as_deref(),
            Some("Docker reports the container unhealthy")
        );
        let probed = Judge::new(
            &gate(Some("http://127.0.0.1:8080/health")),
            2,
            Instant::now(),
        );
        assert_eq!(
            probed.fault(&running(Some(Health::Unhealthy))),
            None,
            "a gate that probes HTTP does not read Docker's health"
        );
    }

    #[test]
    fn without_a_health_check_running_is_healthy() {
        assert!(running(None).docker_healthy());
        assert!(!running(Some(Health::Starting)).docker_healthy());
        let created = Sample {
            state: ContainerStatus::Created,
            ..running(None)
        };
        assert!(!created.docker_healthy());
    }
}
