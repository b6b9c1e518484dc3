//! Planning the cloud firewall: strays deleted, the firewall created, or replaced in full (DigitalOcean's PUT) with
//! every rule atom it adds or removes as a field and a cause.

use super::refuse_untagged;
use crate::identity::deployment_tag;
use crate::manifest::DesiredState;
use crate::observed::{Observed, ObservedInfra};
use crate::plan::builder::{Builder, Change};
use crate::plan::firewall_rules;
use crate::plan::{Action, Operation, ResourceId, ResourceKind};

pub(super) fn plan(b: &mut Builder<'_>, d: &DesiredState, o: &ObservedInfra) {
    let want = &d.infra.firewall;
    let dep = deployment_tag(&d.name);
    let id = ResourceId::new(ResourceKind::Firewall, &want.name);
    let firewalls = match &o.firewalls {
        Observed::Known(v) => v,
        Observed::Unknown(reason) => return b.unknown(ResourceKind::Firewall, reason),
    };
    for stray in firewalls
        .iter()
        .filter(|f| f.tags.contains(&dep) && f.name != want.name)
    {
        let mut c = Change::new(
            ResourceId::new(ResourceKind::Firewall, &stray.name),
            Action::Delete,
        );
        c.cause(format!(
            "firewall {} is no longer in the manifest",
            stray.name
        ))
        .step(
            Operation::DeleteFirewall {
                firewall_id: stray.id.clone(),
            },
            "no longer in the manifest",
        );
        b.add(c);
    }
    let target = vec![dep.clone()];
    let named: Vec<_> = firewalls.iter().filter(|f| f.name == want.name).collect();
    if let Some(other) = named.iter().find(|f| !f.tags.contains(&dep)) {
        // A firewall carries no tags of its own: it is this deployment's when it applies to the deployment's tag.
        let what = format!(
            "firewall {} (id {}) applying to tags [{}]",
            other.name,
            other.id,
            other.tags.join(", ")
        );
        return refuse_untagged(b, id, what, &dep);
    }
    let Some(current) = named.first() else {
        let mut c = Change::new(id, Action::Create);
        c.field("inbound_rules", None, Some(want.inbound.len().to_string()))
            .field(
                "outbound_rules",
                None,
                Some(want.outbound.len().to_string()),
            )
            .field("tags", None, Some(dep.clone()))
            .cause("firewall does not exist")
            .step(
                Operation::CreateFirewall {
                    name: want.name.clone(),
                    inbound: want.inbound.clone(),
                    outbound: want.outbound.clone(),
                    tags: target,
                },
                "firewall does not exist",
            );
        b.add(c);
        return;
    };
    // The update is a full replacement: every atom it adds or removes is a field and a cause.
    let mut c = Change::new(id.clone(), Action::Update);
    let mut causes = Vec::new();
    for (direction, desired, observed) in [
        ("inbound", &want.inbound, &current.inbound),
        ("outbound", &want.outbound, &current.outbound),
    ] {
        let diff = firewall_rules::diff(desired, observed);
        for atom in diff.missing {
            causes.push(format!("drift: {direction} rule {atom} missing"));
            c.field(direction, None, Some(atom.to_string()));
        }
        for atom in diff.extra {
            causes.push(format!(
                "drift: {direction} rule {atom} not in the manifest"
            ));
            c.field(direction, Some(atom.to_string()), None);
        }
    }
    let mut have_tags = current.tags.clone();
    have_tags.sort();
    if have_tags != target {
        causes.push(format!(
            "drift: applies to tags [{}], want [{dep}]",
            have_tags.join(", ")
        ));
        c.field("tags", Some(have_tags.join(",")), Some(dep.clone()));
    }
    if !current.droplet_ids.is_empty() {
        let ids: Vec<String> = current.droplet_ids.iter().map(u64::to_string).collect();
        causes.push(format!(
            "drift: applies to droplets [{}] by id; the manifest picks droplets by tag only",
            ids.join(", ")
        ));
        c.field("droplet_ids", Some(ids.join(",")), None);
    }
    if causes.is_empty() {
        return b.no_op(id);
    }
    for cause in &causes {
        c.cause(cause);
    }
    c.step(
        Operation::UpdateFirewall {
            firewall_id: current.id.clone(),
            name: want.name.clone(),
            inbound: want.inbound.clone(),
            outbound: want.outbound.clone(),
            tags: target,
        },
        causes.join("; "),
    );
    b.add(c);
}
