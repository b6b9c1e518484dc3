//! The infrastructure part of the manifests that app-scope tests write: the app's tests never touch DigitalOcean,
//! but a manifest names every resource.

use reconciler_core::manifest::{
    Droplet, Filesystem, Firewall, FirewallRule, Infra, Protocol, Registry, RegistryTier,
    SnapshotPolicy, Volume,
};

/// Infra named after `prefix` (droplet `{prefix}-1`, volume `{prefix}-data`, firewall and registry `{prefix}`) in
/// nyc3, with the volume's mount path at `mount_path`.
pub fn infra(prefix: &str, droplet_size: &str, mount_path: String) -> Infra {
    Infra {
        region: "nyc3".to_owned(),
        droplet: Droplet {
            name: format!("{prefix}-1"),
            size: droplet_size.to_owned(),
            image: "docker-20-04".to_owned(),
            ssh_keys: Vec::new(),
            tags: Vec::new(),
            monitoring: false,
            user_data: None,
        },
        volume: Volume {
            name: format!("{prefix}-data"),
            size_gib: 1,
            filesystem: Filesystem::Ext4,
            mount_path,
            owner: "1001:1001".to_owned(),
            mode: "0750".to_owned(),
        },
        firewall: Firewall {
            name: prefix.to_owned(),
            inbound: vec![FirewallRule {
                protocol: Protocol::Tcp,
                ports: "22".to_owned(),
                addresses: vec!["0.0.0.0/0".to_owned()],
            }],
            outbound: Vec::new(),
        },
        registry: Registry {
            name: prefix.to_owned(),
            tier: RegistryTier::Starter,
            region: None,
        },
        snapshots: SnapshotPolicy {
            every: None,
            keep: 1,
            before_deploy: false,
        },
    }
}
