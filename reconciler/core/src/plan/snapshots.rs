//! The snapshot policy: a periodic snapshot when the newest is too old, the last-good tag moved to a deploy's
//! snapshot once its health gate passed, and pruning down to `keep`, never the one taken for the last good deploy.

use super::builder::{Builder, Change};
use super::infra::VolumeOutcome;
use super::model::*;
use crate::identity::{LAST_GOOD_TAG, MANAGED_TAG, deployment_tag};
use crate::manifest::{DesiredState, SnapshotPolicy};
use crate::observed::{Observed, ObservedInfra, SnapshotState};

/// Plans periodic snapshots, the last-good tag's move to the snapshot of a health-gated deploy, and pruning (after
/// every other step, so snapshots this plan takes are counted).
pub(super) fn plan(
    b: &mut Builder<'_>,
    d: &DesiredState,
    o: &ObservedInfra,
    volume: &VolumeOutcome,
) {
    let observed = match &o.snapshots {
        Observed::Known(all) => all.as_slice(),
        Observed::Unknown(reason) => {
            b.unknown(ResourceKind::Snapshot, reason);
            // Tagging the deploy's snapshot deletes nothing; the old holders keep the tag until a later deploy.
            return mark_last_good(b, &[]);
        }
    };
    periodic(b, d, observed, volume);

    // Once the tag moves, the snapshots it leaves are pruned like any other: after the gate, and only then.
    let dep = deployment_tag(&d.name);
    let untag: Vec<&SnapshotState> = match b.deploy_snapshot() {
        Some(_) => observed
            .iter()
            .filter(|s| s.tags.contains(&dep) && is_last_good(s))
            .collect(),
        None => Vec::new(),
    };
    let after_gate: Vec<SnapshotState> = observed
        .iter()
        .map(|s| {
            let mut s = s.clone();
            if untag.iter().any(|u| u.id == s.id) {
                s.tags.retain(|t| t != LAST_GOOD_TAG);
            }
            s
        })
        .collect();
    // Snapshots this plan takes under the policy's tag count against `keep`; safety snapshots taken before a
    // destruction carry no deployment tag and are never pruned.
    let planned = b
        .planned_snapshots()
        .filter(|(_, _, tags)| tags.contains(&dep))
        .count();
    let (later, now): (Vec<Prune>, Vec<Prune>) =
        prune_snapshots(&d.infra.snapshots, &d.name, &after_gate, planned)
            .into_iter()
            .partition(|p| untag.iter().any(|u| u.id == p.snapshot_id));
    for prune in now {
        delete(
            b,
            prune.name,
            Operation::DeleteSnapshot {
                snapshot_id: prune.snapshot_id,
            },
            prune.cause,
        );
    }
    mark_last_good(b, &untag);
    for prune in later {
        let cause = format!(
            "{}; it stops being the last good deploy's when the tag moves, so it goes only after the health gate \
             passes",
            prune.cause
        );
        delete(
            b,
            prune.name,
            Operation::DeleteSnapshotAfterGate {
                snapshot_id: prune.snapshot_id,
            },
            cause,
        );
    }
}

/// A snapshot when the newest of the volume is older than the policy's interval and the plan takes none of it.
fn periodic(
    b: &mut Builder<'_>,
    d: &DesiredState,
    observed: &[SnapshotState],
    volume: &VolumeOutcome,
) {
    let dep = deployment_tag(&d.name);
    let target = match volume {
        VolumeOutcome::Existing { id, .. } => (VolumeRef::Id(id.clone()), Some(id.as_str())),
        VolumeOutcome::Planned(name) => (VolumeRef::Planned(name.clone()), None),
        VolumeOutcome::Unknown => return,
    };
    let (Some(every), (volume_ref, volume_id)) = (d.infra.snapshots.every, target) else {
        return;
    };
    if b.planned_snapshots()
        .any(|(v, _, tags)| *v == volume_ref && tags.contains(&dep))
    {
        return;
    }
    let newest = observed
        .iter()
        .filter(|s| s.tags.contains(&dep) && Some(s.volume_id.as_str()) == volume_id)
        .max_by_key(|s| s.created_at);
    let cause = match newest.map(|s| b.now.signed_duration_since(s.created_at)) {
        None => "no snapshot of the volume yet".to_owned(),
        Some(age) if age.to_std().is_ok_and(|a| a >= every.get()) => format!(
            "newest snapshot is {}h old; policy: every {every}",
            age.num_hours()
        ),
        Some(_) => return,
    };
    let name = format!("{}-{}", d.infra.volume.name, b.now.format("%Y%m%d-%H%M%S"));
    let mut c = Change::new(
        ResourceId::new(ResourceKind::Snapshot, &name),
        Action::Create,
    );
    c.cause(&cause).step(
        Operation::SnapshotVolume {
            volume: volume_ref,
            name,
            tags: vec![MANAGED_TAG.to_owned(), dep],
        },
        cause,
    );
    b.add(c);
}

/// Moves the last-good tag from `holders` to the snapshot of this plan's health-gated deploy, if it has one.
fn mark_last_good(b: &mut Builder<'_>, holders: &[&SnapshotState]) {
    let Some(name) = b.deploy_snapshot().map(str::to_owned) else {
        return;
    };
    let cause = "the snapshot taken before this deploy becomes the last good deploy's, which the policy never \
                 prunes; runs only after the health gate passes";
    let before = (!holders.is_empty()).then(|| {
        holders
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    });
    let mut c = Change::new(
        ResourceId::new(ResourceKind::Snapshot, &name),
        Action::Update,
    );
    c.field("last_good", before, Some(name.clone()))
        .cause(cause)
        .step(
            Operation::MarkLastGood {
                snapshot: SnapshotRef::Planned(name),
                untag: holders.iter().map(|s| s.id.clone()).collect(),
            },
            cause,
        );
    b.add(c);
}

fn delete(b: &mut Builder<'_>, name: String, op: Operation, cause: String) {
    let mut c = Change::new(
        ResourceId::new(ResourceKind::Snapshot, name),
        Action::Delete,
    );
    c.cause(&cause).step(op, cause);
    b.add(c);
}

fn is_last_good(s: &SnapshotState) -> bool {
    s.tags.iter().any(|t| t == LAST_GOOD_TAG)
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
        .filter(|s| !is_last_good(s))
        .map(|s| Prune {
            snapshot_id: s.id.clone(),
            name: s.name.clone(),
            cause: format!("policy keeps the newest {keep} snapshots"),
        })
        .collect()
}
