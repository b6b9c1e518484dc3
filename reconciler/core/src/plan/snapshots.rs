//! The snapshot policy: a periodic snapshot when the newest is too old, and pruning down to `keep`, never the one
//! taken for the last good deploy.

use super::builder::{Builder, Change};
use super::infra::VolumeOutcome;
use super::model::*;
use crate::identity::{LAST_GOOD_TAG, MANAGED_TAG, deployment_tag};
use crate::manifest::DesiredState;
use crate::observed::{Observed, ObservedInfra};

/// Plans periodic snapshots and pruning (after every other step, so snapshots this plan takes are counted).
pub(super) fn plan(
    b: &mut Builder<'_>,
    d: &DesiredState,
    o: &ObservedInfra,
    volume: &VolumeOutcome,
) {
    let policy = &d.infra.snapshots;
    let dep = deployment_tag(&d.name);
    let mut snapshots: Vec<_> = match &o.snapshots {
        Observed::Known(all) => all.iter().filter(|s| s.tags.contains(&dep)).collect(),
        Observed::Unknown(reason) => return b.unknown(ResourceKind::Snapshot, reason),
    };
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

    let keep = usize::try_from(policy.keep).unwrap_or(usize::MAX);
    // Snapshots this plan takes under the policy's tag count against `keep`; safety snapshots taken before a
    // destruction carry no deployment tag and are never pruned.
    let planned = b
        .planned_snapshots()
        .filter(|(_, tags)| tags.contains(&dep))
        .count();
    let room = keep.saturating_sub(planned);
    for old in snapshots
        .iter()
        .skip(room)
        .filter(|s| !s.tags.iter().any(|t| t == LAST_GOOD_TAG))
    {
        let cause = format!("policy keeps the newest {keep} snapshots");
        let mut c = Change::new(
            ResourceId::new(ResourceKind::Snapshot, &old.name),
            Action::Delete,
        );
        c.cause(&cause).step(
            Operation::DeleteSnapshot {
                snapshot_id: old.id.clone(),
            },
            cause,
        );
        b.add(c);
    }
}
