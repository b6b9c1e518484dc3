//! Cloud firewalls.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where traffic comes from or goes to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Targets {
    /// IPv4/IPv6 addresses and CIDR blocks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    /// Droplet ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub droplet_ids: Vec<u64>,
    /// Load balancer ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_balancer_uids: Vec<String>,
    /// Kubernetes cluster ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kubernetes_ids: Vec<String>,
    /// Tags (`null` when none).
    #[serde(
        default,
        deserialize_with = "super::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tags: Vec<String>,
}

/// An inbound rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundRule {
    /// `tcp`, `udp` or `icmp`.
    pub protocol: String,
    /// `"22"`, `"8000-9000"`, or `"0"` for all.
    pub ports: String,
    /// Allowed sources.
    pub sources: Targets,
}

/// An outbound rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundRule {
    /// `tcp`, `udp` or `icmp`.
    pub protocol: String,
    /// `"443"`, `"8000-9000"`, or `"0"` for all.
    pub ports: String,
    /// Allowed destinations.
    pub destinations: Targets,
}

/// Everything a firewall holds; the body of create and of the full-replacement PUT.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallSpec {
    /// Name.
    pub name: String,
    /// Inbound rules (`null` when none).
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub inbound_rules: Vec<InboundRule>,
    /// Outbound rules (`null` when none).
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub outbound_rules: Vec<OutboundRule>,
    /// Droplets it applies to (`null` when none).
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub droplet_ids: Vec<u64>,
    /// Tags it applies to (`null` when none).
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub tags: Vec<String>,
}

/// Convergence of a firewall.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FirewallStatus {
    /// Changes are being applied (also what a firewall without a status is taken to be).
    #[default]
    Waiting,
    /// Applied.
    Succeeded,
    /// Failed to apply.
    Failed,
}

/// A change not applied yet.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PendingChange {
    /// The droplet.
    #[serde(default)]
    pub droplet_id: u64,
    /// Whether it is being removed.
    #[serde(default)]
    pub removing: bool,
    /// Status of the change.
    #[serde(default)]
    pub status: String,
}

/// A firewall.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Firewall {
    /// Firewall id (UUID).
    pub id: String,
    /// Convergence status.
    #[serde(default)]
    pub status: FirewallStatus,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Changes still being applied.
    #[serde(default)]
    pub pending_changes: Vec<PendingChange>,
    /// Name, rules and members.
    #[serde(flatten)]
    pub spec: FirewallSpec,
}
