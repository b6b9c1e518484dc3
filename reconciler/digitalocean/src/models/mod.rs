//! Typed DigitalOcean objects (only the fields the reconciler reads or writes). A field the spec leaves optional
//! has a default, one it marks `nullable` reads `null` as that default; the only fields required beyond the spec's
//! `required` lists are those without which the object cannot be acted on (its id, name, region; the creation time
//! that tells a just-created object from an older one). `tests/spec_models.rs` checks both against the spec.

mod account;
mod action;
mod droplet;
mod firewall;
mod registry;
mod snapshot;
mod ssh_key;
mod tag;
mod volume;

pub use account::Account;
pub use action::{Action, ActionStatus};
pub use droplet::{
    CreateDroplet, Droplet, DropletAction, DropletStatus, Image, Network, Networks, Region,
};
pub use firewall::{
    Firewall, FirewallSpec, FirewallStatus, InboundRule, OutboundRule, PendingChange, Targets,
};
pub use registry::{
    CreateRegistry, DockerCredentials, Registry, RepositoryTag, Subscription, SubscriptionTier,
};
pub use snapshot::Snapshot;
pub use ssh_key::{CreateSshKey, SshKey};
pub use tag::{ResourceType, TaggedResource};
pub use volume::{CreateVolume, Filesystem, Volume, VolumeAction};

use serde::{Deserialize, Deserializer};

/// Reads a field the spec marks `nullable` as its default when it is `null` (use with `#[serde(default)]`, so a
/// missing field reads the same).
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
