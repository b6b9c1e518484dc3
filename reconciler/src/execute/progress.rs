//! Progress events of an apply, and their two views: lines (with a pull progress bar on a terminal) for people,
//! one JSON object per line for machines.

use std::io::Write;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// Something that happened during an apply.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The plan about to run.
    Plan {
        /// Number of steps.
        steps: usize,
        /// Terraform-style summary.
        summary: String,
    },
    /// A step began.
    StepStarted {
        /// 1-based index.
        index: usize,
        /// Number of steps in this phase.
        total: usize,
        /// What it does.
        description: String,
    },
    /// A step finished.
    StepDone {
        /// 1-based index.
        index: usize,
        /// How long it took.
        elapsed_ms: u64,
    },
    /// A line of pull progress.
    Pull {
        /// Image reference.
        image: String,
        /// Layer, if the line is about one.
        layer: Option<String>,
        /// Status text.
        status: String,
        /// Bytes done.
        current: Option<u64>,
        /// Bytes in all.
        total: Option<u64>,
    },
    /// The health gate's verdict changed.
    Health {
        container: String,
        status: GateStatus,
    },
    /// The new container failed its gate; the previous one is being restored.
    Reverting {
        /// Why.
        cause: String,
    },
    /// The apply ended.
    Done {
        outcome: ApplyOutcome,
        /// Mutating Docker API calls made.
        mutating_docker_calls: usize,
        /// Wall time.
        elapsed_ms: u64,
    },
}

/// Where a container stands in its health gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateStatus {
    /// Not healthy yet, within the deadline.
    Waiting,
    /// Healthy; the stability window runs.
    Healthy,
    /// Healthy for the whole window: the gate passed.
    Stable,
    /// The gate failed.
    Failed,
}

impl std::fmt::Display for GateStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Waiting => "waiting",
            Self::Healthy => "healthy",
            Self::Stable => "stable",
            Self::Failed => "failed",
        })
    }
}

/// How an apply ended, as its `done` event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyOutcome {
    /// Every step ran and the container passed its gate.
    Converged,
    /// Nothing to do.
    NoChanges,
    /// The new container failed its gate; the previous one runs again.
    Reverted,
    /// The desired revision is quarantined; the last good container was brought back.
    Restored,
    /// A safety guard held the plan back.
    Blocked,
    /// A step or the revert failed.
    Failed,
}

impl std::fmt::Display for ApplyOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Converged => "converged",
            Self::NoChanges => "no_changes",
            Self::Reverted => "reverted",
            Self::Restored => "restored",
            Self::Blocked => "blocked",
            Self::Failed => "failed",
        })
    }
}

/// Receives progress events.
pub trait Progress: Send + Sync {
    /// Handles one event.
    fn event(&self, event: &Event);
}

/// One JSON object per line on stdout.
#[derive(Debug, Default)]
pub struct JsonLines;

impl Progress for JsonLines {
    fn event(&self, event: &Event) {
        if let Ok(line) = serde_json::to_string(event) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
        }
    }
}

/// Plain lines for people; on a terminal, pulls show a progress bar.
#[derive(Debug)]
pub struct Human {
    terminal: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Human {
    /// Lines on stdout; `terminal` enables the pull progress bar.
    pub fn new(terminal: bool) -> Self {
        Self {
            terminal,
            bar: Mutex::new(None),
        }
    }

    fn pull_bar(&self, current: u64, total: u64, status: &str) {
        let Ok(mut bar) = self.bar.lock() else { return };
        let bar = bar.get_or_insert_with(|| {
            let bar = ProgressBar::new(total);
            if let Ok(style) =
                ProgressStyle::with_template("      {msg:24} [{bar:30}] {bytes}/{total_bytes}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        bar.set_length(total);
        bar.set_position(current);
        bar.set_message(status.to_owned());
    }

    fn finish_bar(&self) {
        if let Ok(mut bar) = self.bar.lock()
            && let Some(bar) = bar.take()
        {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Human {
    fn event(&self, event: &Event) {
        let line = match event {
            Event::Plan { steps, summary } => format!("Applying {steps} steps ({summary})"),
            Event::StepStarted {
                index,
                total,
                description,
            } => format!("[{index}/{total}] {description}"),
            Event::StepDone { index, elapsed_ms } => {
                self.finish_bar();
                format!("[{index}] done in {:.1}s", *elapsed_ms as f64 / 1000.0)
            }
            Event::Pull {
                image,
                layer,
                status,
                current,
                total,
            } => {
                if self.terminal
                    && let (Some(current), Some(total)) = (current, total)
                {
                    return self.pull_bar(*current, *total, status);
                }
                match layer {
                    Some(layer) => format!("      {image}: {layer}: {status}"),
                    None => format!("      {image}: {status}"),
                }
            }
            Event::Health { container, status } => format!("      {container}: {status}"),
            Event::Reverting { cause } => {
                format!("Health gate failed: {cause}\nReverting to the previous container")
            }
            Event::Done {
                outcome,
                mutating_docker_calls,
                elapsed_ms,
            } => format!(
                "Apply {outcome} in {:.1}s ({mutating_docker_calls} mutating Docker API calls)",
                *elapsed_ms as f64 / 1000.0
            ),
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_with_their_kind() {
        let json = serde_json::to_value(Event::Done {
            outcome: ApplyOutcome::Converged,
            mutating_docker_calls: 0,
            elapsed_ms: 12,
        })
        .unwrap();
        assert_eq!(json["event"], "done");
        assert_eq!(json["outcome"], "converged");
        assert_eq!(json["mutating_docker_calls"], 0);
    }
}
