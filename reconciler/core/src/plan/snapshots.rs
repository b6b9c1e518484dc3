//! The snapshot policy: a periodic snapshot when the newest is too old, and pruning down to `keep`, never the one
//! taken for the last good deploy.

use super::builder::{Builder, Change};
use super::infra::VolumeOutcome;
use super::model::*;
use crate::identity::{LAST_GOOD_TAG, MANAGED_TAG, deployment_tag};
use crate::manifest::DesiredState;
use crate::observed::{Observed, ObservedInfra};

/// Plans periodic snapshots and pruning (after every other step, so snapshots this plan takes are counted).
pub(super) fn plan(b: &mut Builder<'_>, d: &DesiredState, o: &ObservedInfra, volume: &VolumeOutcome) {
    let policy = &d.infra.snapshots;
    let dep = deployment_tag(&d.name);
    let mut snapshots: Vec<_> = match &o.snapshots {
        Observed::Known(all) => all.iter().filter(|s| s.tags.contains(&dep)).collect(),
        Observed::Unknown(reason) => return b.unknown(ResourceKind::Snapshot, reason),
    };
    snapshots.sort_by_key(|s| std::cmp::Reverse(s.created_at));

    if let (Some(every), VolumeOutcome::Existing { id, .. }) = (policy.every, volume)
        && b.planned_snapshots() == 0
    {
        let age = snapshots.first().map(|s| b.now.signed_duration_since(s.created_at));
        let due = match age {
            None => Some("no snapshot of the volume yet".to_owned()),
            Some(age) if age.to_std().is_ok_and(|a| a >= every.get()) => Some(format!(
                "newest snapshot is {}h old; policy: every {every}",
                age.num_hours()
            )),
            Some(_) => None,
        };
        if let Some(cause) = due {
            let name = format!("{}-{}", d.infra.volume.name, b.now.format("%Y%m%d-%H%M%S"));
            let mut c = Change::new(ResourceId::new(ResourceKind::Snapshot, &name), Action::Create);
            c.cause(&cause).step(
                Operation::SnapshotVolume {
                    volume: VolumeRef::Id(id.clone()),
                    name,
                    tags: vec![MANAGED_TAG.to_owned(), dep.clone()],
                },
                cause,
            );
            b.add(c);
        }
    }

    let keep = usize::try_from(policy.keep).unwrap_or(usize::MAX);
    let room = keep.saturating_sub(b.planned_snapshots());
    for old in snapshots.iter().skip(room).filter(|s| !s.tags.iter().any(|t| t == LAST_GOOD_TAG)) {
        let cause = format!("policy keeps the newest {keep} snapshots");
        let mut c = Change::new(ResourceId::new(ResourceKind::Snapshot, &old.name), Action::Delete);
        c.cause(&cause).step(
            Operation::DeleteSnapshot {
                snapshot_id: old.id.clone(),
            },
            cause,
        );
        b.add(c);
    }
}
