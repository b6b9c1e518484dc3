//! The observed state: one immutable snapshot of the world, taken before planning.
//!
//! Observers (DigitalOcean API, Docker engine, host) fill it; the planner only reads it. A part that could not be
//! read is [`Observed::Unknown`], never "absent": the planner neither creates nor deletes what it could not see.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::manifest::{FirewallRule, Protocol, RestartPolicy};

/// One part of the world as read, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Observed<T> {
    /// Read successfully.
    Known(T),
    /// Could not be read; the reason names what failed.
    Unknown(String),
}

impl<T> Observed<T> {
    /// The value when known.
    pub fn known(&self) -> Option<&T> {
        match self {
            Self::Known(value) => Some(value),
            Self::Unknown(_) => None,
        }
    }
}

/// Everything observed in one reconcile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedState {
    /// When the snapshot was taken (snapshot ages are measured from here).
    pub observed_at: DateTime<Utc>,
    /// The DigitalOcean side; `None` when the infra scope was not observed.
    pub infra: Option<ObservedInfra>,
    /// The droplet's Docker engine and host; `None` when the app scope was not observed.
    pub app: Option<ObservedApp>,
}

/// DigitalOcean resources of the deployment: those carrying its tags, plus any with a desired name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedInfra {
    pub droplets: Observed<Vec<DropletState>>,
    /// Block-storage volumes.
    pub volumes: Observed<Vec<VolumeState>>,
    /// Cloud firewalls.
    pub firewalls: Observed<Vec<FirewallState>>,
    /// The account's container registry, if any.
    pub registry: Observed<Option<RegistryState>>,
    /// Volume snapshots tagged with the deployment tag.
    pub snapshots: Observed<Vec<SnapshotState>>,
}

/// A droplet as DigitalOcean reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropletState {
    /// Droplet id.
    pub id: u64,
    pub name: String,
    pub region: String,
    pub size: String,
    /// Image slug (empty for images without one).
    pub image: String,
    pub status: DropletStatus,
    pub tags: Vec<String>,
    /// Public IPv4 address, once networking is up.
    pub public_ipv4: Option<String>,
}

/// A droplet's status, in DigitalOcean's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DropletStatus {
    /// Being created.
    New,
    /// Running.
    Active,
    /// Powered off.
    Off,
    /// Archived.
    Archive,
}

impl DropletStatus {
    /// DigitalOcean's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Active => "active",
            Self::Off => "off",
            Self::Archive => "archive",
        }
    }
}

impl fmt::Display for DropletStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A block-storage volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeState {
    /// Volume id (UUID).
    pub id: String,
    pub name: String,
    pub region: String,
    /// Size in GiB.
    pub size_gib: u32,
    /// Filesystem type it was formatted with, when DigitalOcean knows it.
    pub filesystem: Option<String>,
    /// Droplets it is attached to (at most one).
    pub droplet_ids: Vec<u64>,
    pub tags: Vec<String>,
}

/// A cloud firewall in full: every rule with every kind of source or destination, and every droplet and tag it
/// applies to, so that what a full-replacement update removes is in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallState {
    /// Firewall id (UUID).
    pub id: String,
    pub name: String,
    /// Inbound rules.
    pub inbound: Vec<ObservedRule>,
    /// Outbound rules.
    pub outbound: Vec<ObservedRule>,
    /// Tags whose droplets the firewall applies to.
    pub tags: Vec<String>,
    /// Droplets it applies to by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub droplet_ids: Vec<u64>,
}

/// A firewall rule as DigitalOcean holds it: its sources (inbound) or destinations (outbound) of every kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedRule {
    pub protocol: Protocol,
    /// A port, a range, `0` or `all`.
    pub ports: String,
    /// Addresses and CIDR blocks.
    #[serde(default)]
    pub addresses: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub droplet_ids: Vec<u64>,
    /// Load balancer ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_balancer_uids: Vec<String>,
    /// Kubernetes cluster ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kubernetes_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl From<&FirewallRule> for ObservedRule {
    fn from(rule: &FirewallRule) -> Self {
        Self {
            protocol: rule.protocol,
            ports: rule.ports.clone(),
            addresses: rule.addresses.clone(),
            droplet_ids: Vec::new(),
            load_balancer_uids: Vec::new(),
            kubernetes_ids: Vec::new(),
            tags: Vec::new(),
        }
    }
}

/// The account's container registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryState {
    pub name: String,
    /// Subscription tier slug.
    pub tier: String,
    pub region: String,
}

/// A volume snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotState {
    /// Snapshot id.
    pub id: String,
    pub name: String,
    /// When it was taken.
    pub created_at: DateTime<Utc>,
    /// Id of the volume it was taken from.
    pub volume_id: String,
    pub tags: Vec<String>,
}

/// The droplet's Docker engine and host, as far as the app needs them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedApp {
    /// Containers carrying this app's labels, plus any container holding the app's name.
    pub containers: Vec<ContainerState>,
    /// The desired image in the local image store, if present.
    pub image: Option<ImageState>,
    /// The bind-mounted data directory on the host, if it exists.
    pub data_dir: Option<DirState>,
    /// The secrets env file on the host, if it exists.
    pub secrets_file: Option<SecretsFileState>,
    /// Spec hashes that failed their health gate and must not be retried until the manifest changes.
    pub quarantined: Vec<String>,
    /// Containers whose current run passed its health gate (recorded by the executor right after the gate).
    #[serde(default)]
    pub verified: Vec<GateVerdict>,
    /// Images of the app's repository in the local store, for pruning.
    #[serde(default)]
    pub repository_images: Vec<StoredImage>,
}

impl ObservedApp {
    /// Whether `c`'s current run passed its health gate. A container started again (by a person, a restart policy or
    /// a fast rollback) runs unverified until the gate passes again; so does one created but never started.
    pub fn passed_gate(&self, c: &ContainerState) -> bool {
        self.verified
            .iter()
            .any(|v| v.container == c.id && v.started_at == c.started_at)
    }
}

/// A health gate passed: the container and the start it passed for (Docker's `State.StartedAt`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateVerdict {
    /// Container id.
    pub container: String,
    /// Docker's `State.StartedAt` of the run that passed.
    pub started_at: String,
}

/// A container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerState {
    /// Container id.
    pub id: String,
    /// Name, without Docker's leading slash.
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// Id of the image it runs.
    pub image_id: String,
    pub state: ContainerStatus,
    /// `None` when the container has no health check.
    pub health: Option<Health>,
    /// Restarts since it was created.
    pub restart_count: u32,
    /// Docker's `State.StartedAt` of the current or last run (`0001-01-01T00:00:00Z` when never started).
    #[serde(default)]
    pub started_at: String,
    /// The runtime settings the manifest decides, as Docker reports them; `None` when not read.
    #[serde(default)]
    pub runtime: Option<ContainerRuntime>,
}

/// Docker's `State.Status` of a container, in Docker's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerStatus {
    /// Created, never started.
    Created,
    /// Running.
    Running,
    /// Paused.
    Paused,
    /// Being restarted by its restart policy.
    Restarting,
    /// Being removed.
    Removing,
    /// Stopped (its process ended).
    Exited,
    /// Docker failed to stop or remove it.
    Dead,
    /// Being stopped.
    Stopping,
}

impl ContainerStatus {
    /// Docker's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Restarting => "restarting",
            Self::Removing => "removing",
            Self::Exited => "exited",
            Self::Dead => "dead",
            Self::Stopping => "stopping",
        }
    }
}

impl fmt::Display for ContainerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Docker's `State.Health.Status` of a container that has a health check, in Docker's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Within its start period, or no check has passed or failed `retries` times yet.
    Starting,
    /// The last check passed.
    Healthy,
    /// `retries` checks in a row failed.
    Unhealthy,
}

impl Health {
    /// Docker's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Healthy => "healthy",
            Self::Unhealthy => "unhealthy",
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A published port in [`ContainerRuntime::ports`] form: `[host_ip:]host_port->container_port/protocol`.
pub fn published_port(host_ip: Option<&str>, host_port: &str, container: &str) -> String {
    match host_ip.filter(|ip| !ip.is_empty()) {
        Some(ip) => format!("{ip}:{host_port}->{container}"),
        None => format!("{host_port}->{container}"),
    }
}

/// What a container runs with, in the terms the manifest sets them (Docker's inspect output, normalised: lists
/// sorted, empty host IPs absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerRuntime {
    /// `Config.User`.
    pub user: String,
    /// `HostConfig.ReadonlyRootfs`.
    pub read_only_root_fs: bool,
    /// `HostConfig.CapDrop`, sorted.
    pub cap_drop: Vec<String>,
    /// `HostConfig.CapAdd`, sorted.
    pub cap_add: Vec<String>,
    /// `HostConfig.SecurityOpt`, sorted.
    pub security_opt: Vec<String>,
    /// `HostConfig.Privileged`.
    pub privileged: bool,
    /// `HostConfig.RestartPolicy.Name` (Docker's empty name is `no`).
    pub restart: RestartPolicy,
    /// Bind mounts and volumes as `source:destination:rw|ro`, sorted.
    pub mounts: Vec<String>,
    /// Published ports as `[host_ip:]host_port->container_port/protocol`, sorted.
    pub ports: Vec<String>,
    /// `HostConfig.LogConfig`: the driver and its options as `key=value`, sorted.
    pub log: Vec<String>,
    /// Environment: name → value for plain variables (values of secret names are never kept).
    pub env: BTreeMap<String, String>,
}

impl ContainerState {
    /// Whether the container is running (or restarting, which Docker will keep doing).
    pub fn is_running(&self) -> bool {
        matches!(
            self.state,
            ContainerStatus::Running | ContainerStatus::Restarting
        )
    }
}

/// An image in the local store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageState {
    /// Image id (`sha256:...`).
    pub id: String,
    /// Registry digests (`repo@sha256:...`).
    pub repo_digests: Vec<String>,
}

/// An image of the app's repository in the local store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredImage {
    /// `sha256:...`.
    pub id: String,
    /// Every `repo:tag` it carries, this repository's and any other's.
    pub tags: Vec<String>,
    /// When it was built, in seconds since the epoch (Docker's resolution).
    pub created: i64,
}

/// Owner and mode of a directory on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirState {
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Permission bits.
    pub mode: u32,
}

/// The secrets env file: never its values, only a fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretsFileState {
    /// Salted hash of the contents (see [`crate::identity::secrets_fingerprint`]).
    pub fingerprint: String,
    /// Permission bits.
    pub mode: u32,
    /// Names the file defines.
    pub names: Vec<String>,
}
