//! Droplets.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Life-cycle status of a droplet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropletStatus {
    /// Being created.
    New,
    /// Running.
    Active,
    /// Powered off.
    Off,
    /// Archived.
    Archive,
    /// A status this client does not know.
    #[serde(other)]
    Unknown,
}

/// A region as embedded in droplets and volumes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Region {
    /// Slug, e.g. `nyc3`.
    pub slug: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
}

/// The image a droplet was built from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Image {
    /// Image id.
    #[serde(default)]
    pub id: u64,
    /// Slug (public images only).
    pub slug: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: String,
}

/// One IPv4 address of a droplet.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Network {
    /// The address.
    #[serde(default)]
    pub ip_address: String,
    /// `public` or `private`.
    #[serde(default, rename = "type")]
    pub kind: String,
}

/// A droplet's addresses (empty while it is `new`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Networks {
    /// IPv4 addresses.
    #[serde(default)]
    pub v4: Vec<Network>,
}

/// A droplet.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Droplet {
    /// Droplet id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Status.
    pub status: DropletStatus,
    /// Whether an action holds it.
    #[serde(default)]
    pub locked: bool,
    /// Size slug.
    pub size_slug: String,
    /// Region.
    pub region: Region,
    /// Image.
    pub image: Image,
    /// Addresses.
    #[serde(default)]
    pub networks: Networks,
    /// Attached volume ids.
    #[serde(default)]
    pub volume_ids: Vec<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl Droplet {
    fn address(&self, kind: &str) -> Option<&str> {
        self.networks
            .v4
            .iter()
            .find(|n| n.kind == kind)
            .map(|n| n.ip_address.as_str())
    }

    /// The public IPv4 address, once the droplet is active.
    pub fn public_ipv4(&self) -> Option<&str> {
        self.address("public")
    }

    /// The private (VPC) IPv4 address.
    pub fn private_ipv4(&self) -> Option<&str> {
        self.address("private")
    }
}

/// The body of a droplet create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreateDroplet {
    /// Name (a host name).
    pub name: String,
    /// Region slug.
    pub region: String,
    /// Size slug.
    pub size: String,
    /// Image slug, e.g. `docker-20-04`.
    pub image: String,
    /// SSH key ids or fingerprints.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ssh_keys: Vec<String>,
    /// Tags (created when missing).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// cloud-init user data (≤ 64 KiB).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    /// Volume ids to attach at creation.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    /// Enable the monitoring agent.
    pub monitoring: bool,
    /// Enable IPv6.
    pub ipv6: bool,
}

/// A droplet action request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DropletAction {
    /// Graceful shutdown.
    Shutdown,
    /// Hard power off.
    PowerOff,
    /// Power on.
    PowerOn,
    /// Reboot.
    Reboot,
    /// Resize (the droplet must be off).
    Resize {
        /// New size slug.
        size: String,
        /// Also grow the disk (permanent).
        disk: bool,
    },
    /// Snapshot the droplet.
    Snapshot {
        /// Snapshot name.
        name: String,
    },
}

impl DropletAction {
    /// The action type as DigitalOcean names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Shutdown => "shutdown",
            Self::PowerOff => "power_off",
            Self::PowerOn => "power_on",
            Self::Reboot => "reboot",
            Self::Resize { .. } => "resize",
            Self::Snapshot { .. } => "snapshot",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_serialize_with_their_type() {
        let resize = DropletAction::Resize {
            size: "s-2vcpu-2gb".into(),
            disk: false,
        };
        assert_eq!(
            serde_json::to_value(&resize).unwrap(),
            serde_json::json!({"type": "resize", "size": "s-2vcpu-2gb", "disk": false})
        );
        assert_eq!(resize.kind(), "resize");
        assert_eq!(
            serde_json::to_value(DropletAction::PowerOff).unwrap(),
            serde_json::json!({"type": "power_off"})
        );
    }

    #[test]
    fn unknown_status_does_not_break_decoding() {
        let status: DropletStatus = serde_json::from_str("\"hibernating\"").unwrap();
        assert_eq!(status, DropletStatus::Unknown);
    }
}
