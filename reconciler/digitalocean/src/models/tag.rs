//! Tagging resources.

use serde::Serialize;

/// Kinds of resources a tag can be put on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceType {
    /// A droplet.
    Droplet,
    /// A volume.
    Volume,
    /// A volume snapshot.
    VolumeSnapshot,
}

/// One resource to tag or untag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaggedResource {
    /// The id, always as a string.
    pub resource_id: String,
    /// The kind.
    pub resource_type: ResourceType,
}

impl TaggedResource {
    /// A droplet.
    pub fn droplet(id: u64) -> Self {
        Self {
            resource_id: id.to_string(),
            resource_type: ResourceType::Droplet,
        }
    }

    /// A volume.
    pub fn volume(id: &str) -> Self {
        Self {
            resource_id: id.to_owned(),
            resource_type: ResourceType::Volume,
        }
    }
}
