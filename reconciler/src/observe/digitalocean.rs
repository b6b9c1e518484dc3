//! Observation of the infra scope on DigitalOcean: one read per resource kind, issued together. A kind whose read
//! fails is [`Observed::Unknown`] (with the error), never "absent", so the planner neither creates nor deletes it.
//!
//! Reads: all droplets, kept when they carry the desired name (so a droplet that lost its tags is still found and
//! never duplicated) or the deployment tag (so one renamed out of the manifest is seen), the volumes of every region
//! (so one a region change would leave behind is seen), all
//! firewalls, the registry, and the volume snapshots. A converged deployment costs five GET requests (each list is
//! one page of up to 200).

use digitalocean_api::models::{
    Droplet, DropletStatus, Firewall, InboundRule, OutboundRule, Snapshot, Targets, Volume,
};
use digitalocean_api::{Client, Error};
use reconciler_core::identity::deployment_tag;
use reconciler_core::manifest::{DesiredState, Protocol};
use reconciler_core::observed::{
    DropletState, DropletStatus as Status, FirewallState, Observed, ObservedInfra, ObservedRule,
    RegistryState, SnapshotState, VolumeState,
};

/// Reads the DigitalOcean resources the planner compares with `desired`.
pub async fn observe_infra(client: &Client, desired: &DesiredState) -> ObservedInfra {
    let dep = deployment_tag(&desired.name);
    let (droplets, volumes, firewalls, registry, snapshots) = tokio::join!(
        client.list_droplets(),
        // Every region: a volume left behind by a region change must be seen.
        client.list_volumes(None, None),
        client.list_firewalls(),
        client.get_registry(),
        client.list_snapshots(Some("volume")),
    );
    ObservedInfra {
        droplets: known(droplets, "droplets", |all| {
            all.iter()
                .filter(|d| {
                    d.name.eq_ignore_ascii_case(&desired.infra.droplet.name)
                        || d.tags.contains(&dep)
                })
                .map(droplet_state)
                .collect()
        }),
        volumes: known(volumes, "volumes", |all| {
            Ok(all.iter().map(volume_state).collect())
        }),
        firewalls: known(firewalls, "firewalls", |all| {
            all.iter().map(firewall_state).collect()
        }),
        registry: known(registry, "registry", |r| {
            Ok(r.as_ref().map(|r| RegistryState {
                name: r.name.clone(),
                tier: r.tier_slug().unwrap_or_default().to_owned(),
                region: r.region.clone(),
            }))
        }),
        snapshots: known(snapshots, "snapshots", |all| {
            Ok(all.iter().map(snapshot_state).collect())
        }),
    }
}

/// The kind as read, or unknown when the read failed or `convert` met a value the reconciler has no name for.
fn known<T, U>(
    read: Result<T, Error>,
    kind: &str,
    convert: impl FnOnce(&T) -> Result<U, String>,
) -> Observed<U> {
    let read = read.map_err(|e| format!("listing {kind} failed: {e}"));
    match read.and_then(|value| convert(&value)) {
        Ok(value) => Observed::Known(value),
        Err(reason) => {
            tracing::warn!(kind, %reason, "DigitalOcean read failed; the kind is unknown");
            Observed::Unknown(reason)
        }
    }
}

fn droplet_state(d: &Droplet) -> Result<DropletState, String> {
    Ok(DropletState {
        id: d.id,
        name: d.name.clone(),
        region: d.region.slug.clone(),
        size: d.size_slug.clone(),
        image: d.image.slug.clone().unwrap_or_default(),
        status: match d.status {
            DropletStatus::New => Status::New,
            DropletStatus::Active => Status::Active,
            DropletStatus::Off => Status::Off,
            DropletStatus::Archive => Status::Archive,
            DropletStatus::Unknown => {
                return Err(format!(
                    "droplet {} (id {}) has a status the reconciler does not know",
                    d.name, d.id
                ));
            }
        },
        tags: d.tags.clone(),
        public_ipv4: d.public_ipv4().map(str::to_owned),
    })
}

fn volume_state(v: &Volume) -> VolumeState {
    VolumeState {
        id: v.id.clone(),
        name: v.name.clone(),
        region: v.region.slug.clone(),
        size_gib: u32::try_from(v.size_gigabytes).unwrap_or(u32::MAX),
        filesystem: (!v.filesystem_type.is_empty()).then(|| v.filesystem_type.clone()),
        droplet_ids: v.droplet_ids.clone(),
        tags: v.tags.clone(),
    }
}

/// A volume snapshot as the planner and the snapshot policy see it.
pub fn snapshot_state(s: &Snapshot) -> SnapshotState {
    SnapshotState {
        id: s.id.clone(),
        name: s.name.clone(),
        created_at: s.created_at,
        volume_id: s.resource_id.clone(),
        tags: s.tags.clone(),
    }
}

/// A firewall in full: every rule with every kind of target, and its droplets, so the plan shows all the update
/// replaces. A rule whose protocol the reconciler does not know is an error naming the firewall.
pub fn firewall_state(f: &Firewall) -> Result<FirewallState, String> {
    let unknown = |protocol: &str| {
        format!(
            "firewall {} (id {}) has a rule with protocol {protocol:?}, which the reconciler does not know",
            f.spec.name, f.id
        )
    };
    Ok(FirewallState {
        id: f.id.clone(),
        name: f.spec.name.clone(),
        inbound: f
            .spec
            .inbound_rules
            .iter()
            .map(|r: &InboundRule| {
                rule(&r.protocol, &r.ports, &r.sources).ok_or_else(|| unknown(&r.protocol))
            })
            .collect::<Result<_, _>>()?,
        outbound: f
            .spec
            .outbound_rules
            .iter()
            .map(|r: &OutboundRule| {
                rule(&r.protocol, &r.ports, &r.destinations).ok_or_else(|| unknown(&r.protocol))
            })
            .collect::<Result<_, _>>()?,
        tags: f.spec.tags.clone(),
        droplet_ids: f.spec.droplet_ids.clone(),
    })
}

/// A DigitalOcean rule as observed; `None` for a protocol other than the three the API allows.
fn rule(protocol: &str, ports: &str, targets: &Targets) -> Option<ObservedRule> {
    let protocol = match protocol {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        "icmp" => Protocol::Icmp,
        _ => return None,
    };
    let ports = if ports.is_empty() || ports == "0" {
        "all".to_owned()
    } else {
        ports.to_owned()
    };
    Some(ObservedRule {
        protocol,
        ports,
        addresses: targets.addresses.clone(),
        droplet_ids: targets.droplet_ids.clone(),
        load_balancer_uids: targets.load_balancer_uids.clone(),
        kubernetes_ids: targets.kubernetes_ids.clone(),
        tags: targets.tags.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn firewall(protocol: &str) -> Firewall {
        serde_json::from_value(serde_json::json!({
            "id": "fw-1",
            "created_at": "2026-01-01T00:00:00Z",
            "name": "schwad",
            "inbound_rules": [{"protocol": protocol, "ports": "22", "sources": {"addresses": ["0.0.0.0/0"]}}],
            "outbound_rules": [],
            "droplet_ids": [],
            "tags": []
        }))
        .unwrap()
    }

    #[test]
    fn a_rule_protocol_the_reconciler_does_not_know_is_an_error_naming_the_firewall() {
        assert_eq!(
            firewall_state(&firewall("udp")).unwrap().inbound[0].protocol,
            Protocol::Udp
        );
        let err = firewall_state(&firewall("sctp")).unwrap_err();
        assert!(
            err.contains("firewall schwad (id fw-1)") && err.contains("\"sctp\""),
            "{err}"
        );
    }
}
