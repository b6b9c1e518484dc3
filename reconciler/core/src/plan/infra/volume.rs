//! Planning the block-storage volume: strays of the deployment deleted, the volume created, replaced (a filesystem
//! change, a shrink) or grown and re-tagged, each destruction after the volume was freed, detached and snapshotted.

use super::{Released, VolumeOutcome, finish_update, refuse_untagged, tags_of};
use crate::identity::{MANAGED_TAG, PROTECTED_TAG, deployment_tag};
use crate::manifest::DesiredState;
use crate::observed::{DropletStatus, Observed, ObservedInfra, VolumeState};
use crate::plan::builder::{Builder, Change};
use crate::plan::{Action, Operation, ResourceId, ResourceKind, SnapshotRef, Taggable, VolumeRef};

pub(super) fn plan(
    b: &mut Builder<'_>,
    d: &DesiredState,
    o: &ObservedInfra,
    released: &mut Released,
) -> VolumeOutcome {
    let want = &d.infra.volume;
    let region = d.infra.region.to_ascii_lowercase();
    let dep = deployment_tag(&d.name);
    let volumes = match &o.volumes {
        Observed::Known(v) => v,
        Observed::Unknown(reason) => {
            b.unknown(ResourceKind::Volume, reason);
            return VolumeOutcome::Unknown;
        }
    };
    let mut want_tags = tags_of(d);
    want_tags.push(PROTECTED_TAG.to_owned());

    let wanted = |v: &VolumeState| v.name == want.name && v.region.eq_ignore_ascii_case(&region);
    // A rename in the same region moves the data: the new volume starts from a fresh snapshot of the old one.
    let moved = if volumes.iter().any(wanted) {
        None
    } else {
        volumes
            .iter()
            .find(|v| v.tags.contains(&dep) && v.region.eq_ignore_ascii_case(&region))
            .filter(|v| unmovable(d, v).is_none())
    };

    // Managed volumes no longer in the manifest go away: their data with them (but for a move's source).
    for stray in volumes
        .iter()
        .filter(|v| v.tags.contains(&dep) && !wanted(v) && moved.is_none_or(|m| m.id != v.id))
    {
        let mut c = Change::new(
            ResourceId::new(ResourceKind::Volume, &stray.name),
            Action::Delete,
        );
        c.field("size_gib", Some(stray.size_gib.to_string()), None)
            .cause(format!(
                "volume {} is no longer in the manifest",
                stray.name
            ))
            .destroys(&stray.name);
        let mut freed = Released::default();
        destroy_volume(
            b,
            &mut c,
            d,
            o,
            stray,
            "volume is no longer in the manifest",
            &mut freed,
        );
        if b.add(c) {
            released.merge(freed);
        }
    }

    let id = ResourceId::new(ResourceKind::Volume, &want.name);
    if let Some(old) = moved {
        return plan_move(b, d, o, old, id, &want_tags, released);
    }
    let Some(current) = volumes.iter().find(|v| wanted(v)) else {
        // The bot would start on the new, empty volume while its data stays on the deployment's other one.
        let left_behind = volumes.iter().find(|v| v.tags.contains(&dep));
        let cause = match left_behind {
            None => "volume does not exist".to_owned(),
            Some(old) if !old.region.eq_ignore_ascii_case(&region) => format!(
                "region {} → {region}: the bot's data stays on volume {} in {}; DigitalOcean cannot move a volume or \
                 copy a volume snapshot to another region (its transfer action is for images only), so the new volume \
                 starts empty: copy the data by hand first, or keep the region",
                old.region, old.name, old.region
            ),
            Some(old) => format!(
                "volume {} → {}: the bot's data stays on volume {}; the new volume starts empty ({})",
                old.name,
                want.name,
                old.name,
                unmovable(d, old).unwrap_or("rename it back to keep the data")
            ),
        };
        let mut c = create_volume_change(d, id, &want_tags, &cause);
        if let Some(old) = left_behind {
            c.destroys(&old.name);
        }
        if !b.add(c) {
            return VolumeOutcome::Unknown;
        }
        return VolumeOutcome::Planned(want.name.clone());
    };
    if !current.tags.contains(&dep) {
        let what = format!(
            "volume {} (id {}) in {}",
            current.name, current.id, current.region
        );
        refuse_untagged(b, id, what, &dep);
        return VolumeOutcome::Unknown;
    }

    let mut replace = Vec::new();
    if let Some(fs) = &current.filesystem
        && !fs.is_empty()
        && *fs != want.filesystem.to_string()
    {
        replace.push(format!("filesystem {fs} → {}", want.filesystem));
    }
    if current.size_gib > want.size_gib {
        replace.push(format!(
            "size {} GiB → {} GiB: volumes cannot shrink",
            current.size_gib, want.size_gib
        ));
    }
    if !replace.is_empty() {
        let mut c = Change::new(id.clone(), Action::Replace);
        c.destroys(&want.name);
        for cause in &replace {
            c.cause(cause);
        }
        let mut freed = Released::default();
        destroy_volume(b, &mut c, d, o, current, &replace[0], &mut freed);
        c.step(create_volume_op(d, &want_tags, None), replace[0].clone());
        if b.add(c) {
            released.merge(freed);
            return VolumeOutcome::Planned(want.name.clone());
        }
        return VolumeOutcome::Existing {
            id: current.id.clone(),
            attached: current.droplet_ids.clone(),
        };
    }

    let mut c = Change::new(id, Action::Update);
    if current.size_gib < want.size_gib {
        let cause = format!("size {} GiB → {} GiB", current.size_gib, want.size_gib);
        c.field(
            "size_gib",
            Some(current.size_gib.to_string()),
            Some(want.size_gib.to_string()),
        )
        .cause(&cause)
        .step(
            Operation::ResizeVolume {
                volume_id: current.id.clone(),
                size_gib: want.size_gib,
                region: region.clone(),
            },
            cause,
        );
    }
    for tag in want_tags.iter().filter(|t| !current.tags.contains(t)) {
        let cause = format!("drift: volume tag {tag} removed outside the manifest");
        c.field("tags", None, Some(tag.clone())).cause(&cause).step(
            Operation::Tag {
                tag: tag.clone(),
                target: Taggable::Volume(current.id.clone()),
            },
            cause,
        );
    }
    finish_update(b, c);
    VolumeOutcome::Existing {
        id: current.id.clone(),
        attached: current.droplet_ids.clone(),
    }
}

/// Why the data of `old` cannot move to the manifest's volume through a snapshot, if it cannot.
fn unmovable(d: &DesiredState, old: &VolumeState) -> Option<&'static str> {
    let want = &d.infra.volume;
    if old.size_gib > want.size_gib {
        Some(
            "a volume made from a snapshot is at least the snapshot's size: keep the size to move the data",
        )
    } else if old
        .filesystem
        .as_deref()
        .is_some_and(|fs| !fs.is_empty() && fs != want.filesystem.to_string())
    {
        Some(
            "a volume made from a snapshot keeps its filesystem: change the name and the filesystem apart",
        )
    } else {
        None
    }
}

/// The move of a renamed volume's data in its region: free and detach `old`, snapshot it, create the manifest's
/// volume from that snapshot, delete `old`. Data-destructive only in that `old` goes (after its copy exists), so it
/// is held back like every deletion.
fn plan_move(
    b: &mut Builder<'_>,
    d: &DesiredState,
    o: &ObservedInfra,
    old: &VolumeState,
    id: ResourceId,
    tags: &[String],
    released: &mut Released,
) -> VolumeOutcome {
    let want = &d.infra.volume;
    let cause = format!(
        "volume {} → {}: the data moves: the new volume is created from a fresh snapshot of {}, which is then \
         deleted",
        old.name, want.name, old.name
    );
    let snapshot = before_delete_name(b, old);
    let mut c = Change::new(id, Action::Create);
    c.field("size_gib", None, Some(want.size_gib.to_string()))
        .field("region", None, Some(d.infra.region.to_ascii_lowercase()))
        .field("from_snapshot", None, Some(snapshot.clone()))
        .cause(&cause)
        .moves(&old.name, &want.name);
    let mut freed = Released::default();
    free_volume(&mut c, d, o, old, &cause, &mut freed);
    c.step(
        snapshot_op(old, snapshot.clone()),
        "the data the new volume starts with",
    )
    .step(
        create_volume_op(d, tags, Some(SnapshotRef::Planned(snapshot))),
        &cause,
    )
    .step(
        Operation::DeleteVolume {
            volume_id: old.id.clone(),
        },
        format!("its data is on {} now", want.name),
    );
    let runs = b.add(c);
    let mut gone = Change::new(
        ResourceId::new(ResourceKind::Volume, &old.name),
        Action::Delete,
    );
    gone.field("size_gib", Some(old.size_gib.to_string()), None)
        .cause(format!("its data moves to {}", want.name));
    b.add(gone);
    if !runs {
        return VolumeOutcome::Unknown;
    }
    released.merge(freed);
    VolumeOutcome::Planned(want.name.clone())
}

fn create_volume_op(
    d: &DesiredState,
    tags: &[String],
    from_snapshot: Option<SnapshotRef>,
) -> Operation {
    let want = &d.infra.volume;
    Operation::CreateVolume {
        name: want.name.clone(),
        region: d.infra.region.to_ascii_lowercase(),
        size_gib: want.size_gib,
        filesystem: want.filesystem,
        tags: tags.to_vec(),
        from_snapshot,
    }
}

fn create_volume_change(d: &DesiredState, id: ResourceId, tags: &[String], cause: &str) -> Change {
    let want = &d.infra.volume;
    let mut c = Change::new(id, Action::Create);
    c.field("size_gib", None, Some(want.size_gib.to_string()))
        .field("filesystem", None, Some(want.filesystem.to_string()))
        .field("region", None, Some(d.infra.region.to_ascii_lowercase()))
        .cause(cause)
        .step(create_volume_op(d, tags, None), cause);
    c
}

/// Frees the volume on `droplet_id` before it is detached: on the manifest's droplet the app container stops and the
/// volume is unmounted (host steps); a stray droplet of this deployment is shut down (it is deleted anyway); a
/// droplet that is off needs nothing, and one outside the deployment is out of the reconciler's reach.
fn release(
    c: &mut Change,
    d: &DesiredState,
    o: &ObservedInfra,
    droplet_id: u64,
    released: &mut Released,
) {
    let Some(droplet) = o
        .droplets
        .known()
        .and_then(|ds| ds.iter().find(|x| x.id == droplet_id))
    else {
        return;
    };
    if droplet.status == DropletStatus::Off || released.shut_down.contains(&droplet_id) {
        return;
    }
    let cause = "the volume is released before it is detached";
    if droplet.name.eq_ignore_ascii_case(&d.infra.droplet.name) {
        c.step(
            Operation::StopAppOnDroplet {
                droplet_id,
                container: d.app.container_name.clone(),
                grace_secs: d.app.stop_grace_period.get().as_secs(),
            },
            cause,
        )
        .step(
            Operation::UnmountVolume {
                droplet_id,
                mount_path: d.infra.volume.mount_path.clone(),
            },
            cause,
        );
        released.app_stopped = true;
    } else if droplet.tags.contains(&deployment_tag(&d.name)) {
        c.step(Operation::ShutdownDroplet { droplet_id }, cause);
        released.shut_down.insert(droplet_id);
    }
}

/// The safe order of destruction: stop the container and unmount (or shut a stray droplet down), detach, snapshot,
/// delete.
fn destroy_volume(
    b: &Builder<'_>,
    c: &mut Change,
    d: &DesiredState,
    o: &ObservedInfra,
    v: &VolumeState,
    cause: &str,
    released: &mut Released,
) {
    free_volume(c, d, o, v, cause, released);
    c.step(
        snapshot_op(v, before_delete_name(b, v)),
        "fresh snapshot before the volume is destroyed",
    );
    c.step(
        Operation::DeleteVolume {
            volume_id: v.id.clone(),
        },
        cause,
    );
}

/// The name of the snapshot taken of `v` before it is deleted.
fn before_delete_name(b: &Builder<'_>, v: &VolumeState) -> String {
    format!("{}-before-delete-{}", v.name, b.now.format("%Y%m%d-%H%M%S"))
}

/// A snapshot outside the policy: no deployment tag, so it is never pruned.
fn snapshot_op(v: &VolumeState, name: String) -> Operation {
    Operation::SnapshotVolume {
        volume: VolumeRef::Id(v.id.clone()),
        name,
        tags: vec![MANAGED_TAG.to_owned()],
    }
}

/// Releases `v` from every droplet it is attached to and detaches it.
fn free_volume(
    c: &mut Change,
    d: &DesiredState,
    o: &ObservedInfra,
    v: &VolumeState,
    cause: &str,
    released: &mut Released,
) {
    for droplet in &v.droplet_ids {
        release(c, d, o, *droplet, released);
        c.step(
            Operation::DetachVolume {
                volume_id: v.id.clone(),
                droplet_id: *droplet,
                region: v.region.clone(),
            },
            cause,
        );
    }
}
