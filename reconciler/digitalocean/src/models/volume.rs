//! Block storage volumes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::droplet::Region;

/// A volume.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Volume {
    /// Volume id (UUID).
    pub id: String,
    /// Name (unique in a region).
    pub name: String,
    /// Size, GiB.
    pub size_gigabytes: u64,
    /// Region.
    pub region: Region,
    /// The droplet it is attached to (at most one; `null` when none).
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub droplet_ids: Vec<u64>,
    /// `ext4`, `xfs` or empty.
    #[serde(default)]
    pub filesystem_type: String,
    /// Filesystem label.
    #[serde(default)]
    pub filesystem_label: String,
    /// Tags (`null` when it has none).
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub tags: Vec<String>,
    /// Creation time.
    #[serde(default)]
    pub created_at: DateTime<Utc>,
}

/// Filesystems DigitalOcean can format a new volume with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Filesystem {
    /// ext4 (labels ≤ 16 characters).
    Ext4,
    /// XFS (labels ≤ 12 characters).
    Xfs,
}

/// The body of a volume create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreateVolume {
    /// Name (lowercase letters, digits, `-`; starts with a letter).
    pub name: String,
    /// Region slug.
    pub region: String,
    /// Size, GiB.
    pub size_gigabytes: u64,
    /// Format it with this filesystem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filesystem_type: Option<Filesystem>,
    /// Filesystem label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filesystem_label: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// A volume snapshot of the same region to start from (the volume then has its source's filesystem).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
}

/// A volume action request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VolumeAction {
    /// Attach to a droplet in the same region.
    Attach {
        /// The droplet.
        droplet_id: u64,
        /// Region slug.
        region: String,
    },
    /// Detach from a droplet.
    Detach {
        /// The droplet.
        droplet_id: u64,
        /// Region slug.
        region: String,
    },
    /// Grow the volume.
    Resize {
        /// New size, GiB.
        size_gigabytes: u64,
        /// Region slug.
        region: String,
    },
}

impl VolumeAction {
    /// The action type DigitalOcean reports for it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Attach { .. } => "attach_volume",
            Self::Detach { .. } => "detach_volume",
            Self::Resize { .. } => "resize_volume",
        }
    }

    /// The droplet the action concerns, if any.
    pub fn droplet_id(&self) -> Option<u64> {
        match self {
            Self::Attach { droplet_id, .. } | Self::Detach { droplet_id, .. } => Some(*droplet_id),
            Self::Resize { .. } => None,
        }
    }
}
