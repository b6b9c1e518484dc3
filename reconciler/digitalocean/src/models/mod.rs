//! Typed DigitalOcean objects (only the fields the reconciler reads or writes).

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
