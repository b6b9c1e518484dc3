//! The snapshot policy: a periodic snapshot when the newest is too old, and pruning down to `keep`, never the one
//! taken for the last good deploy.

use super::builder::{Builder, Change};
use super::infra::VolumeOutcome;
use super::model::*;
use crate::identity::{LAST_GOOD_TAG, MANAGED_TAG, deployment_tag};
use crate::manifest::{DesiredState, SnapshotPolicy};
use crate::observed::{Observed, ObservedInfra, SnapshotState};

/// Plans periodic snapshots and pruning (after every other step, so snapshots this plan takes are counted).
pub(super) fn plan(
    b: &mut Builder<'_>,
    d: &DesiredState,
    o: &ObservedInfra,
    volume: &VolumeOutcome,
) {
    let policy = &d.infra.snapshots;
    let dep = deployment_tag(&d.name);
    let observed = match &o.snapshots {
        Observed::Known(all) => all.as_slice(),
        Observed::Unknown(reason) => return b.unknown(ResourceKind::Snapshot, reason),
    };
    let mut snapshots: Vec<_> = observed.iter().filter(|s| s.tags.contains(&dep)).collect();
    snapshots.sort_by_key(|s| std::cmp::Reverse(s.created_at));

    let target = match volume {
        VolumeOutcome::Existing { id, .. } => Some((VolumeRef::Id(id.clone()), Some(id.as_str()))),
        VolumeOutcome::Planned(name) => Some((VolumeRef::Planned(name.clone()), None)),
        VolumeOutcome::Unknown => None,
    };
    if let (Some(every), Some((volume_ref, volume_id))) = (policy.every, target)
        && !b
            .planned_snapshots()
            .any(|(v, tags)| *v == volume_ref && tags.contains(&dep))
    {
        let newest = snapshots
            .iter()
            .find(|s| Some(s.volume_id.as_str()) == volume_id);
        let due = match newest.map(|s| b.now.signed_duration_since(s.created_at)) {
            None => Some("no snapshot of the volume yet".to_owned()),
            Some(age) if age.to_std().is_ok_and(|a| a >= every.get()) => Some(format!(
                "newest snapshot is {}h old; policy: every {every}",
                age.num_hours()
            )),
            Some(_) => None,
        };
        if let Some(cause) = due {
            let name = format!("{}-{}", d.infra.volume.name, b.now.format("%Y%m%d-%H%M%S"));
            let mut c = Change::new(
                ResourceId::new(ResourceKind::Snapshot, &name),
                Action::Create,
            );
            c.cause(&cause).step(
                Operation::SnapshotVolume {
                    volume: volume_ref,
                    name,
                    tags: vec![MANAGED_TAG.to_owned(), dep.clone()],
                },
                cause,
            );
            b.add(c);
        }
    }

    // Snapshots this plan takes under the policy's tag count against `keep`; safety snapshots taken before a
    // destruction carry no deployment tag and are never pruned.
    let planned = b
        .planned_snapshots()
        .filter(|(_, tags)| tags.contains(&dep))
        .count();
    for prune in prune_snapshots(policy, &d.name, observed, planned) {
        let mut c = Change::new(
            ResourceId::new(ResourceKind::Snapshot, &prune.name),
            Action::Delete,
        );
        c.cause(&prune.cause).step(
            Operation::DeleteSnapshot {
                snapshot_id: prune.snapshot_id,
            },
            prune.cause,
        );
        b.add(c);
    }
}

/// A snapshot the policy deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prune {
    pub snapshot_id: String,
    pub name: String,
    /// Why it goes.
    pub cause: String,
}

/// The snapshots of `observed` that `policy` deletes, newest first: of those carrying the tag of `deployment`, all
/// but the newest `keep`, of which `planned` are taken by earlier steps of the same plan (a plan stops at a failed
/// step, so they exist before any delete runs). Never the newest observed one when none is planned, never one tagged
/// as the last good deploy's, never one without the deployment's tag.
pub fn prune_snapshots(
    policy: &SnapshotPolicy,
    deployment: &str,
    observed: &[SnapshotState],
    planned: usize,
) -> Vec<Prune> {
    let dep = deployment_tag(deployment);
    let mut ours: Vec<&SnapshotState> = observed.iter().filter(|s| s.tags.contains(&dep)).collect();
    // Newest first; the id breaks ties so the choice does not depend on the listing's order.
    ours.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    let keep = usize::try_from(policy.keep).unwrap_or(usize::MAX);
    let room = if planned == 0 {
        keep.max(1)
    } else {
        keep.saturating_sub(planned)
    };
    ours.into_iter()
        .skip(room)
        .filter(|s| !s.tags.iter().any(|t| t == LAST_GOOD_TAG))
        .map(|s| Prune {
            snapshot_id: s.id.clone(),
            name: s.name.clone(),
            cause: format!("policy keeps the newest {keep} snapshots"),
        })
        .collect()
}
