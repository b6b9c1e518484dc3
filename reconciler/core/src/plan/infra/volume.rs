//! Planning the block-storage volume: strays of the deployment deleted, the volume created, replaced (a filesystem
//! change, a shrink) or grown and re-tagged, each destruction after the volume was freed, detached and snapshotted.

use super::{Released, VolumeOutcome, finish_update, refuse_untagged, tags_of};
use crate::identity::{MANAGED_TAG, PROTECTED_TAG, deployment_tag};
use crate::manifest::DesiredState;
use crate::observed::{DropletStatus, Observed, ObservedInfra, VolumeState};
use crate::plan::builder::{Builder, Change};
use crate::plan::{Action, Operation, ResourceId, ResourceKind, Taggable, VolumeRef};

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

    // Managed volumes no longer in the manifest (a rename, for instance) go away: their data with them.
    for stray in volumes.iter().filter(|v| {
        v.tags.contains(&dep) && !(v.name == want.name && v.region.eq_ignore_ascii_case(&region))
    }) {
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
    let Some(current) = volumes
        .iter()
        .find(|v| v.name == want.name && v.region.eq_ignore_ascii_case(&region))
    else {
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
                "volume {} → {}: the bot's data stays on volume {}; the new volume starts empty (rename it back to \
                 keep the data)",
                old.name, want.name, old.name
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
        c.step(create_volume_op(d, &want_tags), replace[0].clone());
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

fn create_volume_op(d: &DesiredState, tags: &[String]) -> Operation {
    let want = &d.infra.volume;
    Operation::CreateVolume {
        name: want.name.clone(),
        region: d.infra.region.to_ascii_lowercase(),
        size_gib: want.size_gib,
        filesystem: want.filesystem,
        tags: tags.to_vec(),
    }
}

fn create_volume_change(d: &DesiredState, id: ResourceId, tags: &[String], cause: &str) -> Change {
    let want = &d.infra.volume;
    let mut c = Change::new(id, Action::Create);
    c.field("size_gib", None, Some(want.size_gib.to_string()))
        .field("filesystem", None, Some(want.filesystem.to_string()))
        .field("region", None, Some(d.infra.region.to_ascii_lowercase()))
        .cause(cause)
        .step(create_volume_op(d, tags), cause);
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
    c.step(
        Operation::SnapshotVolume {
            volume: VolumeRef::Id(v.id.clone()),
            name: format!("{}-before-delete-{}", v.name, b.now.format("%Y%m%d-%H%M%S")),
            tags: vec![MANAGED_TAG.to_owned()],
        },
        "fresh snapshot before the volume is destroyed",
    );
    c.step(
        Operation::DeleteVolume {
            volume_id: v.id.clone(),
        },
        cause,
    );
}
