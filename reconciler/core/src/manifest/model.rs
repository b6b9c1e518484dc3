//! Typed desired state: the structs `manifests/desired.yaml` deserializes into.
//!
//! Doc comments here become the `description` of each field in `schema/desired.schema.json`, which editors show
//! while the manifest is edited.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::duration::Duration;

/// The desired state of one schwad deployment: the DigitalOcean infrastructure and the bot container running on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "schwad desired state")]
pub struct DesiredState {
    /// Manifest format version. This reconciler reads version 1.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// Deployment name. Every DigitalOcean resource of this deployment carries the tag `schwad-deployment:<name>`,
    /// so two deployments in one account never touch each other's resources.
    #[schemars(
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"),
        length(min = 1, max = 40)
    )]
    pub name: String,
    /// DigitalOcean infrastructure: droplet, block-storage volume, firewall, container registry and snapshots.
    pub infra: Infra,
    /// The bot container on the droplet's Docker engine.
    pub app: App,
}

/// DigitalOcean infrastructure of the deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Infra {
    /// Region slug for the droplet and the volume, e.g. `nyc3` (compared case-insensitively).
    #[schemars(regex(pattern = r"^[a-zA-Z]{3}[0-9]$"))]
    pub region: String,
    /// The droplet that runs Docker and the bot.
    pub droplet: Droplet,
    /// The block-storage volume that holds the bot's SQLite database.
    pub volume: Volume,
    /// The cloud firewall in front of the droplet.
    pub firewall: Firewall,
    /// The DigitalOcean container registry the bot's image is pushed to.
    pub registry: Registry,
    /// Volume snapshot policy.
    pub snapshots: SnapshotPolicy,
}

/// The droplet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Droplet {
    /// Droplet name (its hostname).
    #[schemars(
        regex(pattern = r"^[a-zA-Z0-9]?[a-z0-9A-Z.\-]*[a-z0-9A-Z]$"),
        length(min = 1, max = 255)
    )]
    pub name: String,
    /// Size slug, e.g. `s-1vcpu-2gb`. A larger size resizes the droplet in place.
    #[schemars(regex(pattern = r"^[a-z0-9-]+$"))]
    pub size: String,
    /// Image slug, e.g. `docker-20-04` (DigitalOcean's Docker 1-Click image). Changing it replaces the droplet.
    #[schemars(regex(pattern = r"^[a-z0-9.-]+$"))]
    pub image: String,
    /// Fingerprints of SSH keys already added to the DigitalOcean account; installed for root at creation only.
    #[serde(default)]
    pub ssh_keys: Vec<String>,
    /// Extra tags for the droplet (the reconciler adds its own identity tags). Order does not matter.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Install the DigitalOcean monitoring agent at creation.
    #[serde(default)]
    pub monitoring: bool,
    /// Path of the cloud-init user_data template, relative to this manifest (e.g. `../deploy/cloud-init.yaml`);
    /// `{{placeholders}}` are filled from the manifest. It runs on first boot only, so a change replaces the
    /// droplet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
}

/// A DigitalOcean tag name.
pub type Tag = String;

/// The block-storage volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    /// Volume name: lowercase letters, digits and dashes, starting with a letter. Renaming replaces the volume,
    /// which destroys its data and is blocked unless explicitly allowed.
    #[schemars(
        regex(pattern = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"),
        length(min = 1, max = 64)
    )]
    pub name: String,
    /// Size in GiB. Growing resizes in place; shrinking is impossible without replacing the volume.
    #[schemars(range(min = 1, max = 16384))]
    pub size_gib: u32,
    /// Filesystem the volume is formatted with at creation.
    pub filesystem: Filesystem,
    /// Absolute path where the droplet mounts the volume (through fstab, so it survives reboots).
    pub mount_path: String,
    /// Owner of the mount point as `uid:gid`.
    #[schemars(regex(pattern = r"^[0-9]+:[0-9]+$"))]
    pub owner: String,
    /// Octal mode of the mount point, e.g. `0750`.
    #[schemars(regex(pattern = r"^0?[0-7]{3}$"))]
    pub mode: String,
}

/// Filesystem of a block-storage volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Filesystem {
    /// ext4.
    Ext4,
    /// XFS.
    Xfs,
}

impl std::fmt::Display for Filesystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Ext4 => "ext4",
            Self::Xfs => "xfs",
        })
    }
}

/// The cloud firewall. Rules are compared as sets; `all`, `0` and `1-65535` mean the same port range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Firewall {
    /// Firewall name.
    #[schemars(
        regex(pattern = r"^[a-zA-Z0-9][a-zA-Z0-9.-]*$"),
        length(min = 1, max = 255)
    )]
    pub name: String,
    /// Inbound rules. At least SSH (22) and the bot's port (8080) from the operators' addresses.
    pub inbound: Vec<FirewallRule>,
    /// Outbound rules.
    #[serde(default)]
    pub outbound: Vec<FirewallRule>,
}

/// One firewall rule: a protocol, a port range and the addresses it applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FirewallRule {
    /// Protocol.
    pub protocol: Protocol,
    /// A port (`22`), a range (`8000-9000`) or `all`. Ignored for ICMP.
    #[serde(default = "all_ports")]
    #[schemars(regex(pattern = r"^(all|[0-9]{1,5}(-[0-9]{1,5})?)$"))]
    pub ports: String,
    /// IPv4/IPv6 addresses or CIDR blocks: the sources of an inbound rule, the destinations of an outbound one.
    #[schemars(length(min = 1))]
    pub addresses: Vec<String>,
}

fn all_ports() -> String {
    "all".to_owned()
}

/// Network protocol of a firewall rule or a published port.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP (firewall rules only).
    Icmp,
}

/// The DigitalOcean container registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    /// Registry name (globally unique at DigitalOcean); images are `registry.digitalocean.com/<name>/<repo>`.
    #[schemars(regex(pattern = r"^[a-z0-9-]{1,63}$"))]
    pub name: String,
    /// Subscription tier.
    pub tier: RegistryTier,
    /// Registry region; defaults to the infra region. Registries exist in nyc3, sfo3, ams3, sgp1 and fra1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// Container registry subscription tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RegistryTier {
    /// Free tier: one repository, 500 MiB.
    Starter,
    /// Basic tier.
    Basic,
    /// Professional tier.
    Professional,
}

impl RegistryTier {
    /// The DigitalOcean subscription tier slug.
    pub fn slug(self) -> &'static str {
        match self {
            Self::Starter => "starter",
            Self::Basic => "basic",
            Self::Professional => "professional",
        }
    }
}

/// When the volume is snapshotted and how many snapshots are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotPolicy {
    /// Take a snapshot when the newest one is older than this (e.g. `24h`). Absent: no periodic snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<Duration>,
    /// How many managed snapshots to keep; older ones are pruned, except the one taken for the last good deploy.
    #[schemars(range(min = 1, max = 100))]
    pub keep: u32,
    /// Snapshot the volume before each deploy that changes the bot's image.
    #[serde(default)]
    pub before_deploy: bool,
}

/// The bot container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct App {
    /// Container name.
    #[schemars(
        regex(pattern = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"),
        length(min = 1, max = 63)
    )]
    pub container_name: String,
    /// Image to run.
    pub image: Image,
    /// Plain environment variables (never secrets: those go in `secrets`). A name given twice is an error.
    #[serde(default, deserialize_with = "super::limits::unique_keys")]
    #[schemars(extend("propertyNames" = { "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" }))]
    pub env: BTreeMap<String, String>,
    /// Secrets: only their names live here; their values live in an env file on the droplet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Secrets>,
    /// Bind mount of a directory on the block-storage volume into the container.
    pub volume_mount: VolumeMount,
    /// User the container runs as, `uid:gid`. The bot's image uses `1001:1001`.
    #[schemars(regex(pattern = r"^[0-9]+:[0-9]+$"))]
    pub user: String,
    /// Docker restart policy.
    pub restart: RestartPolicy,
    /// Published ports.
    #[serde(default)]
    pub ports: Vec<Port>,
    /// Health check that gates every deploy.
    pub health_check: HealthCheck,
    /// Log rotation of Docker's json-file driver.
    pub logs: Logs,
    /// Time between SIGTERM and SIGKILL when the container is stopped.
    pub stop_grace_period: Duration,
    /// Stopped containers of previous revisions kept (renamed `<name>-keep-<time>-<hash>`) for a fast rollback: going
    /// back to a kept revision restarts its container instead of creating one. Older ones are removed.
    #[serde(default = "keep_two")]
    #[schemars(range(max = 10))]
    pub keep_previous: u32,
    /// Container hardening.
    #[serde(default)]
    pub hardening: Hardening,
}

/// Image reference of the bot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// Repository, e.g. `registry.digitalocean.com/schwad/schwad`.
    #[schemars(regex(
        pattern = r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$"
    ))]
    pub repository: String,
    /// Tag. CI writes the commit SHA here on every deploy; rollback is reverting that commit.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"))]
    pub tag: String,
    /// Optional pinned digest (`sha256:<64 hex>`); when set, the image must have exactly this digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^sha256:[a-f0-9]{64}$"))]
    pub digest: Option<String>,
}

impl Image {
    /// The reference Docker pulls: `repository:tag`, or `repository@digest` when a digest is pinned.
    pub fn reference(&self) -> String {
        match &self.digest {
            Some(digest) => format!("{}@{}", self.repository, digest),
            None => format!("{}:{}", self.repository, self.tag),
        }
    }
}

/// Where the values of the container's secrets live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    /// Absolute path of the env file on the droplet holding `NAME=value` lines (mode 0600, never in git).
    pub env_file: String,
    /// Names of the secret variables the env file must define.
    #[schemars(inner(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$")))]
    pub names: Vec<String>,
}

/// A bind mount of a host directory into the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VolumeMount {
    /// Absolute host path; must lie under the volume's `mount_path`. Created with the container user as owner.
    pub host_path: String,
    /// Absolute path inside the container.
    pub container_path: String,
}

/// Docker restart policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Never restart.
    No,
    /// Restart on a non-zero exit.
    OnFailure,
    /// Always restart, also when the daemon starts.
    Always,
    /// Always restart unless stopped by hand.
    UnlessStopped,
}

impl RestartPolicy {
    /// Docker's name of the policy.
    pub fn docker_name(self) -> &'static str {
        match self {
            Self::No => "no",
            Self::OnFailure => "on-failure",
            Self::Always => "always",
            Self::UnlessStopped => "unless-stopped",
        }
    }
}

impl std::fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.docker_name())
    }
}

/// A published port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Port {
    /// Port on the host.
    #[schemars(range(min = 1, max = 65535))]
    pub host: u16,
    /// Port in the container.
    #[schemars(range(min = 1, max = 65535))]
    pub container: u16,
    /// `tcp` or `udp`.
    #[serde(default = "tcp")]
    pub protocol: Protocol,
    /// Host address to bind, e.g. `127.0.0.1`; all addresses when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
}

fn tcp() -> Protocol {
    Protocol::Tcp
}

/// The health check that gates a deploy. Give exactly one of `http` or `command`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// URL probed from the host, e.g. `http://127.0.0.1:8080/health`; healthy on a 2xx answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<String>,
    /// Command run inside the container (Docker `HEALTHCHECK CMD`, exec form); healthy on exit 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Time between probes.
    pub interval: Duration,
    /// Time after which a probe counts as failed.
    pub timeout: Duration,
    /// Consecutive failures that make the container unhealthy.
    #[schemars(range(min = 1, max = 100))]
    pub retries: u32,
    /// Grace period after start during which failures do not count.
    pub start_period: Duration,
    /// How long the new container must stay healthy, with zero restarts, before a deploy counts as good.
    pub stability_window: Duration,
}

/// Log rotation of Docker's json-file driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Logs {
    /// Maximum size of one log file, e.g. `10m`.
    #[schemars(regex(pattern = r"^[0-9]+[kmg]$"))]
    pub max_size: String,
    /// Number of rotated log files kept.
    #[schemars(range(min = 1, max = 100))]
    pub max_files: u32,
}

/// Container hardening.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hardening {
    /// Read-only root filesystem (a writable tmpfs is mounted at `/tmp`).
    #[serde(default = "yes")]
    pub read_only_root_fs: bool,
    /// Linux capabilities to drop, e.g. `[ALL]`.
    #[serde(default = "drop_all")]
    pub cap_drop: Vec<String>,
    /// Set `no-new-privileges`.
    #[serde(default = "yes")]
    pub no_new_privileges: bool,
}

impl Default for Hardening {
    fn default() -> Self {
        Self {
            read_only_root_fs: true,
            cap_drop: drop_all(),
            no_new_privileges: true,
        }
    }
}

fn keep_two() -> u32 {
    2
}

fn yes() -> bool {
    true
}

fn drop_all() -> Vec<String> {
    vec!["ALL".to_owned()]
}
