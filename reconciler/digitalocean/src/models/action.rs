//! Asynchronous actions.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// Status of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionStatus {
    /// Still running.
    InProgress,
    /// Done.
    Completed,
    /// Failed.
    Errored,
}

/// An action (droplet power, resize, snapshot, volume attach...).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Action {
    /// Action id.
    pub id: u64,
    /// Status.
    pub status: ActionStatus,
    /// Type, e.g. `power_off`, `attach_volume`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it completed.
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
    /// The resource (droplet id for droplet actions).
    #[serde(default)]
    pub resource_id: Option<u64>,
    /// `droplet`, `volume`...
    #[serde(default)]
    pub resource_type: String,
    /// Region slug.
    #[serde(default)]
    pub region_slug: Option<String>,
}
