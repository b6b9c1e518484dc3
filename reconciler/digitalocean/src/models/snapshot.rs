//! Droplet and volume snapshots.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// A snapshot (droplet snapshot ids are numeric strings, volume snapshot ids UUIDs).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Snapshot {
    /// Snapshot id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Regions it is available in.
    #[serde(default)]
    pub regions: Vec<String>,
    /// The droplet or volume it was taken from.
    pub resource_id: String,
    /// `droplet` or `volume`.
    pub resource_type: String,
    /// Smallest disk it can be restored to, GiB.
    pub min_disk_size: u64,
    /// Billable size, GiB.
    pub size_gigabytes: f64,
    /// Tags (`null` when it has none).
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub tags: Vec<String>,
}
