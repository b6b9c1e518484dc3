//! The stored resources and how each renders as its API object.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::catalog;

/// Formats a timestamp the way the API does (`2020-11-14T16:29:21Z`).
pub(crate) fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Life-cycle status of a droplet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DropletStatus {
    New,
    Active,
    Off,
}

impl DropletStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Active => "active",
            Self::Off => "off",
        }
    }
}

/// A droplet.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Droplet {
    pub id: u64,
    pub name: String,
    pub size_slug: String,
    pub image_slug: String,
    pub region: String,
    pub status: DropletStatus,
    pub created_at: DateTime<Utc>,
    pub tags: Vec<String>,
    pub volume_ids: Vec<String>,
    pub snapshot_ids: Vec<u64>,
    pub user_data: Option<String>,
    pub vpc_uuid: String,
    pub features: Vec<String>,
}

impl Droplet {
    /// The droplet object; networks stay empty while the droplet is `new`.
    pub fn render(&self, locked: bool) -> Value {
        let size = catalog::size(&self.size_slug).map_or(Value::Null, catalog::size_json);
        let image = catalog::image(&self.image_slug).map_or(Value::Null, catalog::image_json);
        let (memory, vcpus, disk) =
            catalog::size(&self.size_slug).map_or((0, 0, 0), |s| (s.memory, s.vcpus, s.disk));
        json!({
            "id": self.id,
            "name": self.name,
            "memory": memory,
            "vcpus": vcpus,
            "disk": disk,
            "locked": locked,
            "status": self.status.as_str(),
            "created_at": timestamp(self.created_at),
            "features": self.features,
            "backup_ids": [],
            "next_backup_window": null,
            "snapshot_ids": self.snapshot_ids,
            "image": image,
            "volume_ids": self.volume_ids,
            "size": size,
            "size_slug": self.size_slug,
            "networks": self.networks(),
            "region": catalog::region_json(&self.region),
            "tags": self.tags,
            "vpc_uuid": self.vpc_uuid,
        })
    }

    fn networks(&self) -> Value {
        if self.status == DropletStatus::New {
            return json!({"v4": [], "v6": []});
        }
        let (hi, lo) = ((self.id >> 8) & 0xff, self.id & 0xff);
        json!({
            "v4": [
                {"ip_address": format!("164.90.{hi}.{lo}"), "netmask": "255.255.240.0", "gateway": "164.90.0.1", "type": "public"},
                {"ip_address": format!("10.108.{hi}.{lo}"), "netmask": "255.255.0.0", "gateway": "10.108.0.1", "type": "private"},
            ],
            "v6": [],
        })
    }
}

/// A block storage volume.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Volume {
    pub id: String,
    pub name: String,
    pub description: String,
    pub size_gigabytes: u64,
    pub region: String,
    pub droplet_ids: Vec<u64>,
    pub filesystem_type: String,
    pub filesystem_label: String,
    pub created_at: DateTime<Utc>,
    pub tags: Vec<String>,
    /// The snapshot it was made from: DigitalOcean does not show it; kept so tests can follow the data.
    #[serde(default)]
    pub source_snapshot: Option<String>,
}

impl Volume {
    /// The volume object.
    pub fn render(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "size_gigabytes": self.size_gigabytes,
            "region": catalog::region_json(&self.region),
            "droplet_ids": self.droplet_ids,
            "filesystem_type": self.filesystem_type,
            "filesystem_label": self.filesystem_label,
            "created_at": timestamp(self.created_at),
            "tags": self.tags,
        })
    }
}

/// A droplet or volume snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub region: String,
    pub resource_id: String,
    pub resource_type: String,
    pub min_disk_size: u64,
    pub size_gigabytes: f64,
    pub tags: Vec<String>,
    /// A volume snapshot's filesystem, which a volume made from it has (not shown by the API).
    #[serde(default)]
    pub filesystem_type: String,
}

impl Snapshot {
    /// The snapshot object.
    pub fn render(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "created_at": timestamp(self.created_at),
            "regions": [self.region],
            "resource_id": self.resource_id,
            "resource_type": self.resource_type,
            "min_disk_size": self.min_disk_size,
            "size_gigabytes": self.size_gigabytes,
            "tags": nullable(&self.tags),
        })
    }
}

/// A cloud firewall. Rules are stored as sent (they are validated on the way in).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Firewall {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub settles_at: DateTime<Utc>,
    pub droplet_ids: Vec<u64>,
    /// Droplets being taken off, shown as pending removals until the firewall settles.
    #[serde(default)]
    pub removing: Vec<u64>,
    pub tags: Vec<String>,
    pub inbound_rules: Vec<Value>,
    pub outbound_rules: Vec<Value>,
}

impl Firewall {
    /// Records the droplets of `before` that are no longer members as pending removals.
    pub fn note_removed(&mut self, before: &[u64]) {
        for id in before {
            if !self.droplet_ids.contains(id) && !self.removing.contains(id) {
                self.removing.push(*id);
            }
        }
        self.removing.retain(|id| !self.droplet_ids.contains(id));
    }

    /// The firewall object: `waiting` with pending changes until the last change settles.
    pub fn render(&self, now: DateTime<Utc>) -> Value {
        let settled = now >= self.settles_at;
        let change = |id: &u64, removing: bool| json!({"droplet_id": id, "removing": removing, "status": "waiting"});
        let pending: Vec<Value> = if settled {
            Vec::new()
        } else {
            let adding = self.droplet_ids.iter().map(|id| change(id, false));
            adding
                .chain(self.removing.iter().map(|id| change(id, true)))
                .collect()
        };
        json!({
            "id": self.id,
            "name": self.name,
            "status": if settled { "succeeded" } else { "waiting" },
            "created_at": timestamp(self.created_at),
            "pending_changes": pending,
            "droplet_ids": self.droplet_ids,
            "tags": self.tags,
            "inbound_rules": self.inbound_rules,
            "outbound_rules": self.outbound_rules,
        })
    }
}

/// The account's container registry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Registry {
    pub name: String,
    pub region: String,
    pub tier_slug: String,
    pub created_at: DateTime<Utc>,
    /// When the subscription tier last changed (`created_at` until then).
    #[serde(default)]
    pub tier_updated_at: Option<DateTime<Utc>>,
    /// Pushed tags, by repository name (which may contain `/`).
    #[serde(default)]
    pub repositories: BTreeMap<String, Vec<RepositoryTag>>,
}

impl Registry {
    /// The registry object.
    pub fn render(&self) -> Value {
        let stored: u64 = self
            .repositories
            .values()
            .flatten()
            .map(|t| t.size_bytes)
            .sum();
        json!({
            "name": self.name,
            "created_at": timestamp(self.created_at),
            "region": self.region,
            "storage_usage_bytes": stored,
            "storage_usage_bytes_updated_at": timestamp(self.created_at),
            "subscription": self.subscription(),
        })
    }

    /// The subscription object.
    pub fn subscription(&self) -> Value {
        json!({
            "tier": crate::routes::registry::tier_json(&self.tier_slug),
            "created_at": timestamp(self.created_at),
            "updated_at": timestamp(self.tier_updated_at.unwrap_or(self.created_at)),
        })
    }
}

/// A tag pushed to a registry repository.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RepositoryTag {
    pub tag: String,
    pub manifest_digest: String,
    pub compressed_size_bytes: u64,
    pub size_bytes: u64,
    pub updated_at: DateTime<Utc>,
}

impl RepositoryTag {
    /// The repository_tag object of `repository` in `registry`.
    pub fn render(&self, registry: &str, repository: &str) -> Value {
        json!({
            "registry_name": registry,
            "repository": repository,
            "tag": self.tag,
            "manifest_digest": self.manifest_digest,
            "compressed_size_bytes": self.compressed_size_bytes,
            "size_bytes": self.size_bytes,
            "updated_at": timestamp(self.updated_at),
        })
    }
}

/// An SSH key of the account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SshKey {
    pub id: u64,
    pub fingerprint: String,
    pub public_key: String,
    pub name: String,
}

impl SshKey {
    /// The ssh_key object.
    pub fn render(&self) -> Value {
        json!({"id": self.id, "fingerprint": self.fingerprint, "public_key": self.public_key, "name": self.name})
    }
}

/// An empty list of a field the spec marks `nullable` reads `null`, as DigitalOcean sends a volume snapshot's `tags`.
fn nullable<T: Serialize>(items: &[T]) -> Value {
    if items.is_empty() {
        Value::Null
    } else {
        json!(items)
    }
}
