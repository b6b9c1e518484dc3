//! Asynchronous actions: `in-progress` for the configured delay, then completed with their effect.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::records::{DropletStatus, timestamp};
use crate::catalog;

/// What happens to the world when an action completes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub(crate) enum Effect {
    /// Nothing visible (reboot, password reset...).
    None,
    /// A new droplet boots: `new` → `active`.
    Boot { droplet_id: u64 },
    /// The droplet's power status changes.
    Power {
        droplet_id: u64,
        status: DropletStatus,
    },
    /// The droplet gets a new size.
    Resize { droplet_id: u64, size_slug: String },
    /// A droplet snapshot appears.
    Snapshot { droplet_id: u64, name: String },
    /// The droplet is renamed.
    Rename { droplet_id: u64, name: String },
    /// A feature (ipv6, backups) is switched.
    Feature {
        droplet_id: u64,
        feature: String,
        enabled: bool,
    },
    /// The volume is attached to the droplet.
    Attach { volume_id: String, droplet_id: u64 },
    /// The volume is detached from the droplet.
    Detach { volume_id: String, droplet_id: u64 },
    /// The volume grows.
    ResizeVolume {
        volume_id: String,
        size_gigabytes: u64,
    },
}

/// Status of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum ActionStatus {
    InProgress,
    Completed,
    Errored,
}

/// An action record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Action {
    pub id: u64,
    pub kind: String,
    pub status: ActionStatus,
    pub started_at: DateTime<Utc>,
    pub completes_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub resource_id: Option<u64>,
    pub resource_type: String,
    pub region_slug: String,
    /// The droplet this action keeps busy ("pending event").
    pub droplet_id: Option<u64>,
    /// The volume this action concerns, for `/v2/volumes/{id}/actions`.
    pub volume_id: Option<String>,
    pub effect: Effect,
    /// Ends `errored` without its effect (fault injection).
    #[serde(default)]
    pub fails: bool,
}

impl Action {
    /// Whether the action still runs.
    pub fn in_progress(&self) -> bool {
        self.status == ActionStatus::InProgress
    }

    /// The action object.
    pub fn render(&self) -> Value {
        let status = match self.status {
            ActionStatus::InProgress => "in-progress",
            ActionStatus::Completed => "completed",
            ActionStatus::Errored => "errored",
        };
        json!({
            "id": self.id,
            "status": status,
            "type": self.kind,
            "started_at": timestamp(self.started_at),
            "completed_at": self.completed_at.map(timestamp),
            "resource_id": self.resource_id,
            "resource_type": self.resource_type,
            "region": catalog::region_json(&self.region_slug),
            "region_slug": self.region_slug,
        })
    }
}
