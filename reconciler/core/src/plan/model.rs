//! What a plan is made of: resource changes for people, atomic steps for the executor.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::identity::ContainerSpec;
use crate::manifest::{Filesystem, FirewallRule};

/// Version of the plan's JSON form (`reconciler plan --json`); see `docs/plan-json.md`.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// The difference between desired and observed state, and the ordered steps that remove it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Format version of this document.
    pub format_version: u32,
    /// One entry per resource compared, with what changes (no-ops included).
    pub changes: Vec<ResourceChange>,
    /// Atomic operations in execution order.
    pub steps: Vec<Step>,
    /// What to run if the new container fails its health gate: restores the previous one.
    pub revert: Vec<Step>,
    /// Changes a safety guard holds back; `apply` refuses to run while any remain.
    pub blocked: Vec<Blocked>,
    /// Resources that could not be observed; nothing is created or deleted for them.
    pub unknown: Vec<Unknown>,
    /// Remarks that change nothing (e.g. a quarantined revision being skipped).
    pub notes: Vec<String>,
}

impl Plan {
    /// Whether applying would change nothing.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.blocked.is_empty()
    }

    /// Whether everything was observed and nothing would change: the only plan that says "converged".
    pub fn is_converged(&self) -> bool {
        self.is_empty() && self.unknown.is_empty()
    }

    /// The kinds that could not be observed, each once, in kind order.
    pub fn unknown_kinds(&self) -> Vec<ResourceKind> {
        let kinds: std::collections::BTreeSet<ResourceKind> =
            self.unknown.iter().map(|u| u.kind).collect();
        kinds.into_iter().collect()
    }

    /// Resource counts in Terraform's sense (a replacement adds one and destroys one).
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for change in &self.changes {
            match change.action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Replace => {
                    s.add += 1;
                    s.destroy += 1;
                }
                Action::Delete => s.destroy += 1,
                Action::NoOp => {}
            }
        }
        s
    }
}

/// Counts for the summary line `Plan: 1 to add, 1 to change, 0 to destroy.`; shown as `1 to add, 1 to change, 0 to
/// destroy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Resources created (replacements included).
    pub add: usize,
    /// Resources updated in place.
    pub change: usize,
    /// Resources destroyed (replacements included).
    pub destroy: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} to add, {} to change, {} to destroy",
            self.add, self.change, self.destroy
        )
    }
}

/// Kinds of resources the reconciler manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// Container registry.
    Registry,
    /// Block-storage volume.
    Volume,
    /// Droplet.
    Droplet,
    /// The volume's attachment to the droplet.
    VolumeAttachment,
    /// Cloud firewall.
    Firewall,
    /// Volume snapshot.
    Snapshot,
    /// Image in the droplet's local store.
    Image,
    /// Data directory on the host.
    DataDir,
    /// The bot container.
    Container,
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Registry => "registry",
            Self::Volume => "volume",
            Self::Droplet => "droplet",
            Self::VolumeAttachment => "volume_attachment",
            Self::Firewall => "firewall",
            Self::Snapshot => "snapshot",
            Self::Image => "image",
            Self::DataDir => "data_dir",
            Self::Container => "container",
        })
    }
}

/// A resource: its kind and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceId {
    pub kind: ResourceKind,
    /// Name (for an attachment, `volume→droplet`).
    pub name: String,
}

impl ResourceId {
    /// A resource of `kind` called `name`.
    pub fn new(kind: ResourceKind, name: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
        }
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind, self.name)
    }
}

/// What happens to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Nothing: it matches.
    NoOp,
    /// Created.
    Create,
    /// Updated in place.
    Update,
    /// Destroyed and created again.
    Replace,
    /// Destroyed.
    Delete,
}

/// The change to one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceChange {
    pub resource: ResourceId,
    /// What happens to it.
    pub action: Action,
    /// Field-level before/after of what differs (all desired fields for a create).
    pub fields: Vec<FieldDiff>,
    /// Why, for people (the executor never reads it).
    pub causes: Vec<String>,
    /// Whether it destroys the data on a volume.
    pub data_destructive: bool,
}

/// One field that differs. Secret values never appear: a secret field reads `(sensitive)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDiff {
    /// Dotted field name.
    pub field: String,
    /// Observed value, `None` when absent.
    pub before: Option<String>,
    /// Desired value, `None` when it goes away.
    pub after: Option<String>,
}

/// One atomic operation with its resource and cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The resource it acts on.
    pub resource: ResourceId,
    /// The action of that resource's change this step belongs to.
    pub action: Action,
    /// The operation.
    pub op: Operation,
    /// Why it is needed.
    pub cause: String,
}

/// A droplet named by id when it exists, or by name when an earlier step creates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropletRef {
    /// An existing droplet.
    Id(u64),
    /// The droplet an earlier step of this plan creates.
    Planned(String),
}

/// A volume named by id when it exists, or by name when an earlier step creates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VolumeRef {
    /// An existing volume.
    Id(String),
    /// The volume an earlier step of this plan creates.
    Planned(String),
}

/// A snapshot named by id when it exists, or by name when an earlier step of the plan takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotRef {
    /// An existing snapshot.
    Id(String),
    /// The snapshot an earlier step of this plan takes.
    Planned(String),
}

/// The target of a tag operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Taggable {
    /// A droplet id.
    Droplet(u64),
    /// A volume id.
    Volume(String),
}

/// The health gate a new container must pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthGate {
    /// URL probed from the host, or `None` to read Docker's own health status.
    pub http: Option<String>,
    /// Give up after this long without a healthy answer (start period + retries × interval).
    pub deadline_ms: u64,
    /// Probe interval.
    pub interval_ms: u64,
    /// Per-probe timeout.
    pub timeout_ms: u64,
    /// How long it must then stay healthy with zero restarts.
    pub stability_ms: u64,
}

/// An atomic operation. Each is one API call (or one host command), carrying all the data it needs, so the executor
/// makes no decisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Operation {
    /// Create the container registry.
    CreateRegistry {
        name: String,
        tier: String,
        region: String,
    },
    /// Change the registry's subscription tier.
    SetRegistryTier { tier: String },
    /// Create the block-storage volume.
    CreateVolume {
        name: String,
        region: String,
        /// Size in GiB.
        size_gib: u32,
        /// Filesystem to format (a volume made from a snapshot keeps the snapshot's).
        filesystem: Filesystem,
        tags: Vec<String>,
        /// The volume snapshot whose data the new volume starts with.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from_snapshot: Option<SnapshotRef>,
    },
    /// Grow the volume.
    ResizeVolume {
        volume_id: String,
        /// New size in GiB.
        size_gib: u32,
        region: String,
    },
    /// Delete the volume (data-destructive).
    DeleteVolume { volume_id: String },
    /// Create the droplet.
    CreateDroplet {
        name: String,
        region: String,
        size: String,
        image: String,
        /// SSH key fingerprints.
        ssh_keys: Vec<String>,
        /// Tags (identity tags included).
        tags: Vec<String>,
        /// Install the monitoring agent.
        monitoring: bool,
        /// Path of the user_data template (the executor reads and renders it); its hash is in `tags`.
        user_data: Option<String>,
        /// Volumes attached at creation (the create request's `volumes`), so the device is there on first boot.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        volumes: Vec<VolumeRef>,
    },
    /// Gracefully shut the droplet down.
    ShutdownDroplet { droplet_id: u64 },
    /// Resize the droplet (it must be off).
    ResizeDroplet { droplet_id: u64, size: String },
    /// Power the droplet on.
    PowerOnDroplet { droplet_id: u64 },
    /// Delete the droplet.
    DeleteDroplet { droplet_id: u64 },
    /// Add a tag to a resource.
    Tag {
        tag: String,
        /// Resource.
        target: Taggable,
    },
    /// Remove a tag from a resource.
    Untag {
        tag: String,
        /// Resource.
        target: Taggable,
    },
    /// Attach the volume to the droplet.
    AttachVolume {
        volume: VolumeRef,
        droplet: DropletRef,
        region: String,
    },
    /// Detach the volume from a droplet.
    DetachVolume {
        volume_id: String,
        droplet_id: u64,
        region: String,
    },
    /// On the droplet: stop the app container, so nothing writes to the volume about to be unmounted.
    StopAppOnDroplet {
        droplet_id: u64,
        /// Container name.
        container: String,
        /// Grace period in seconds.
        grace_secs: u64,
    },
    /// On the droplet: unmount the volume's filesystem, so the detach that follows finds it clean.
    UnmountVolume {
        droplet_id: u64,
        /// Mount point.
        mount_path: String,
    },
    /// On the droplet: mount the volume through its fstab entry after it was attached to the running droplet
    /// (cloud-init does it on a new droplet's first boot).
    MountVolume {
        droplet_id: u64,
        /// Volume name (its device is `/dev/disk/by-id/scsi-0DO_Volume_<name>`).
        volume_name: String,
        /// Mount point.
        mount_path: String,
    },
    /// Create the firewall.
    CreateFirewall {
        name: String,
        /// Inbound rules.
        inbound: Vec<FirewallRule>,
        /// Outbound rules.
        outbound: Vec<FirewallRule>,
        /// Droplet tags it applies to.
        tags: Vec<String>,
    },
    /// Replace the firewall's whole definition (DigitalOcean's PUT is a full replacement).
    UpdateFirewall {
        firewall_id: String,
        name: String,
        /// Inbound rules.
        inbound: Vec<FirewallRule>,
        /// Outbound rules.
        outbound: Vec<FirewallRule>,
        /// Droplet tags it applies to.
        tags: Vec<String>,
    },
    /// Delete a firewall no longer in the manifest.
    DeleteFirewall { firewall_id: String },
    /// Snapshot the volume.
    SnapshotVolume {
        volume: VolumeRef,
        /// Snapshot name.
        name: String,
        tags: Vec<String>,
    },
    /// Delete a snapshot.
    DeleteSnapshot { snapshot_id: String },
    /// Once the deploy passed its health gate: tag its snapshot as the last good deploy's (the one the snapshot
    /// policy never prunes), then take the tag off the snapshots that had it.
    MarkLastGood {
        snapshot: SnapshotRef,
        /// Ids of the snapshots tagged last-good until now.
        untag: Vec<String>,
    },
    /// Once the deploy passed its health gate: delete a snapshot the policy prunes as soon as the tag moved off it.
    DeleteSnapshotAfterGate { snapshot_id: String },
    /// Create or fix the host data directory (owner and mode) before the container starts.
    EnsureDataDir {
        /// Host path.
        path: String,
        /// Owner uid.
        uid: u32,
        /// Owner gid.
        gid: u32,
        /// Mode bits.
        mode: u32,
    },
    /// Pull the image into the local store.
    PullImage { reference: String },
    /// Remove an image from the local store; the engine refuses one a container still uses.
    RemoveImage { image_id: String },
    /// Create (not start) a container.
    CreateContainer {
        /// Container name.
        name: String,
        spec: Box<ContainerSpec>,
        /// Labels (identity included).
        labels: BTreeMap<String, String>,
    },
    /// Start a container.
    StartContainer {
        /// Container name or id.
        container: String,
    },
    /// Stop a container: SIGTERM, then SIGKILL after the grace period.
    StopContainer {
        /// Container name or id.
        container: String,
        /// Grace period in seconds.
        grace_secs: u64,
    },
    /// Rename a container.
    RenameContainer {
        /// Container name or id.
        container: String,
        /// New name.
        to: String,
    },
    /// Wait until the container passes its health gate.
    WaitHealthy {
        /// Container name or id.
        container: String,
        gate: HealthGate,
    },
    /// Remove a container (stopped first if needed).
    RemoveContainer {
        /// Container name or id.
        container: String,
    },
}

impl Operation {
    /// Whether the step changes the world (every operation but waiting does).
    pub fn is_mutating(&self) -> bool {
        !matches!(self, Self::WaitHealthy { .. })
    }

    /// Where the step runs. Exhaustive, so a new operation is placed here before any executor can run it.
    pub fn scope(&self) -> StepScope {
        match self {
            Self::CreateRegistry { .. }
            | Self::SetRegistryTier { .. }
            | Self::CreateVolume { .. }
            | Self::ResizeVolume { .. }
            | Self::DeleteVolume { .. }
            | Self::CreateDroplet { .. }
            | Self::ShutdownDroplet { .. }
            | Self::ResizeDroplet { .. }
            | Self::PowerOnDroplet { .. }
            | Self::DeleteDroplet { .. }
            | Self::Tag { .. }
            | Self::Untag { .. }
            | Self::AttachVolume { .. }
            | Self::DetachVolume { .. }
            | Self::CreateFirewall { .. }
            | Self::UpdateFirewall { .. }
            | Self::DeleteFirewall { .. }
            | Self::SnapshotVolume { .. }
            | Self::DeleteSnapshot { .. } => StepScope::DigitalOcean,
            Self::StopAppOnDroplet { .. }
            | Self::UnmountVolume { .. }
            | Self::MountVolume { .. } => StepScope::DropletHost,
            Self::EnsureDataDir { .. }
            | Self::PullImage { .. }
            | Self::RemoveImage { .. }
            | Self::CreateContainer { .. }
            | Self::StartContainer { .. }
            | Self::StopContainer { .. }
            | Self::RenameContainer { .. }
            | Self::WaitHealthy { .. }
            | Self::RemoveContainer { .. } => StepScope::App,
            Self::MarkLastGood { .. } | Self::DeleteSnapshotAfterGate { .. } => {
                StepScope::AfterGate
            }
        }
    }

    /// Whether the step runs on the droplet's host during the infra phase (the rest of that phase are API calls).
    pub fn runs_on_droplet(&self) -> bool {
        self.scope() == StepScope::DropletHost
    }

    /// Whether the step takes the app down on the droplet (stop the container, unmount its volume).
    pub fn interrupts_app(&self) -> bool {
        matches!(
            self,
            Self::StopAppOnDroplet { .. } | Self::UnmountVolume { .. }
        )
    }
}

/// Where an operation runs, and so which executor and phase run it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepScope {
    /// A DigitalOcean API call (infra phase).
    DigitalOcean,
    /// A command on the droplet's host around a volume's detach or attach (infra phase).
    DropletHost,
    /// A call to the app's Docker engine or host (app phase).
    App,
    /// A DigitalOcean API call run only once the app phase ended with its health gate passed; never on a failed or
    /// reverted deploy.
    AfterGate,
}

impl StepScope {
    /// Whether the infra phase runs it.
    pub fn is_infra(self) -> bool {
        matches!(self, Self::DigitalOcean | Self::DropletHost)
    }
}

/// A change held back by a safety guard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocked {
    pub resource: ResourceId,
    /// Why it is held back and how to allow it.
    pub reason: String,
    /// The steps it would take.
    pub steps: Vec<Step>,
}

/// A resource whose state could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unknown {
    /// Kind of resource.
    pub kind: ResourceKind,
    /// Why it could not be read.
    pub reason: String,
}
