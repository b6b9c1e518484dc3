//! Planning the droplet: strays of the deployment deleted, the droplet created, refused when not the deployment's,
//! replaced when only a new one can change what differs, else resized and re-tagged in place.

use std::collections::BTreeSet;

use super::{DropletOutcome, Released, VolumeOutcome, finish_update, refuse_untagged, tags_of};
use crate::identity::{USER_DATA_TAG_PREFIX, deployment_tag, user_data_tag};
use crate::manifest::DesiredState;
use crate::observed::{DropletState, DropletStatus, Observed, ObservedInfra};
use crate::plan::builder::{Builder, Change};
use crate::plan::{Action, DropletRef, Operation, ResourceId, ResourceKind, Taggable, VolumeRef};

pub(super) fn desired_droplet_tags(d: &DesiredState, user_data: Option<&str>) -> BTreeSet<String> {
    let mut tags: BTreeSet<String> = d.infra.droplet.tags.iter().cloned().collect();
    tags.extend(tags_of(d));
    if let Some(text) = user_data {
        tags.insert(user_data_tag(text));
    }
    tags
}

/// Plans the droplet: strays of the deployment go; the one with the manifest's name is created, refused when it is
/// not the deployment's (adopt), replaced when what only a new droplet can change differs, else updated.
pub(super) fn plan(
    b: &mut Builder<'_>,
    d: &DesiredState,
    user_data: Option<&str>,
    o: &ObservedInfra,
    volume: &mut VolumeOutcome,
    released: &mut Released,
) -> Option<DropletOutcome> {
    let want = &d.infra.droplet;
    let dep = deployment_tag(&d.name);
    let id = ResourceId::new(ResourceKind::Droplet, &want.name);
    let droplets = match &o.droplets {
        Observed::Known(v) => v,
        Observed::Unknown(reason) => {
            b.unknown(ResourceKind::Droplet, reason);
            return None;
        }
    };
    let want_tags = desired_droplet_tags(d, user_data);
    delete_stray_droplets(b, d, droplets, volume, released);

    let named: Vec<&DropletState> = droplets
        .iter()
        .filter(|x| x.name.eq_ignore_ascii_case(&want.name))
        .collect();
    let current = match named.as_slice() {
        [] => return Some(create_droplet(b, d, id, &want_tags, volume)),
        [one] if one.tags.contains(&dep) => *one,
        [one] => {
            refuse_untagged(b, id, format!("droplet {} (id {})", one.name, one.id), &dep);
            return None;
        }
        many => {
            b.conflict(
                id,
                format!(
                    "{} droplets are named {}; DigitalOcean does not enforce unique names, so remove the extra ones by hand",
                    many.len(),
                    want.name
                ),
            );
            return None;
        }
    };
    let replace = replace_causes(d, current, &want_tags);
    if replace.is_empty() {
        update_droplet(b, d, id, current, &want_tags);
        return Some(DropletOutcome::existing(current.id));
    }
    Some(replace_droplet(
        b, d, id, current, &replace, &want_tags, volume,
    ))
}

/// Droplets of the deployment no longer in the manifest: shut down (unless off or already), volume detached and
/// snapshotted, deleted.
fn delete_stray_droplets(
    b: &mut Builder<'_>,
    d: &DesiredState,
    droplets: &[DropletState],
    volume: &mut VolumeOutcome,
    released: &Released,
) {
    let dep = deployment_tag(&d.name);
    for stray in droplets
        .iter()
        .filter(|x| x.tags.contains(&dep) && !x.name.eq_ignore_ascii_case(&d.infra.droplet.name))
    {
        let mut c = Change::new(
            ResourceId::new(ResourceKind::Droplet, &stray.name),
            Action::Delete,
        );
        c.cause(format!(
            "droplet {} is no longer in the manifest",
            stray.name
        ));
        if stray.status != DropletStatus::Off && !released.shut_down.contains(&stray.id) {
            c.step(
                Operation::ShutdownDroplet {
                    droplet_id: stray.id,
                },
                "a graceful shutdown stops its containers and unmounts its volumes",
            );
        }
        if detach_from(volume, stray.id, &mut c, d) {
            c.destroys(&d.infra.volume.name);
        }
        c.step(
            Operation::DeleteDroplet {
                droplet_id: stray.id,
            },
            "no longer in the manifest",
        );
        b.add(c);
    }
}

/// What only a new droplet changes: its region, its image, or the user_data it ran on first boot.
fn replace_causes(
    d: &DesiredState,
    current: &DropletState,
    want_tags: &BTreeSet<String>,
) -> Vec<String> {
    let want = &d.infra.droplet;
    let mut replace = Vec::new();
    if !current.region.eq_ignore_ascii_case(&d.infra.region) {
        replace.push(format!(
            "region {} → {}",
            current.region,
            d.infra.region.to_ascii_lowercase()
        ));
    }
    if current.image != want.image {
        replace.push(format!("image {} → {}", current.image, want.image));
    }
    if let (Some(have), Some(want)) = (user_data_tag_of(&current.tags), user_data_tag_of(want_tags))
        && have != want
    {
        replace.push("user_data changed (it only runs on first boot)".to_owned());
    }
    replace
}

/// The tag recording the hash of the user_data a droplet was (or is to be) created with.
fn user_data_tag_of<'a>(tags: impl IntoIterator<Item = &'a String>) -> Option<&'a String> {
    tags.into_iter()
        .find(|t| t.starts_with(USER_DATA_TAG_PREFIX))
}

/// Shut down, detach and snapshot the volume, delete, create anew (with the volume when it is free).
fn replace_droplet(
    b: &mut Builder<'_>,
    d: &DesiredState,
    id: ResourceId,
    current: &DropletState,
    replace: &[String],
    want_tags: &BTreeSet<String>,
    volume: &mut VolumeOutcome,
) -> DropletOutcome {
    let want = &d.infra.droplet;
    let mut c = Change::new(id, Action::Replace);
    for cause in replace {
        c.cause(cause);
    }
    if replace.iter().any(|r| r.starts_with("region")) {
        c.field(
            "region",
            Some(current.region.clone()),
            Some(d.infra.region.to_ascii_lowercase()),
        );
    }
    if current.image != want.image {
        c.field(
            "image",
            Some(current.image.clone()),
            Some(want.image.clone()),
        );
    }
    let cause = replace[0].clone();
    c.step(
        Operation::ShutdownDroplet {
            droplet_id: current.id,
        },
        &cause,
    );
    let mut detached = volume.clone();
    if detach_from(&mut detached, current.id, &mut c, d) {
        c.destroys(&d.infra.volume.name);
    }
    c.step(
        Operation::DeleteDroplet {
            droplet_id: current.id,
        },
        &cause,
    );
    let (op, outcome, with_volume) = create_droplet_op(d, want_tags, &detached);
    c.step(op, format!("{cause}{with_volume}"));
    if b.add(c) {
        *volume = detached;
        return outcome;
    }
    DropletOutcome::existing(current.id)
}

/// Resize (off, resize, on) and tag drift, in place.
fn update_droplet(
    b: &mut Builder<'_>,
    d: &DesiredState,
    id: ResourceId,
    current: &DropletState,
    want_tags: &BTreeSet<String>,
) {
    let want = &d.infra.droplet;
    let mut c = Change::new(id, Action::Update);
    if current.size != want.size {
        let cause = format!("size {} → {}", current.size, want.size);
        c.field("size", Some(current.size.clone()), Some(want.size.clone()))
            .cause(&cause)
            .step(
                Operation::ShutdownDroplet {
                    droplet_id: current.id,
                },
                &cause,
            )
            .step(
                Operation::ResizeDroplet {
                    droplet_id: current.id,
                    size: want.size.clone(),
                },
                &cause,
            )
            .step(
                Operation::PowerOnDroplet {
                    droplet_id: current.id,
                },
                &cause,
            );
    }
    for tag in want_tags.iter().filter(|t| !current.tags.contains(t)) {
        let cause = format!("drift: droplet tag {tag} removed outside the manifest");
        c.field("tags", None, Some(tag.clone())).cause(&cause).step(
            Operation::Tag {
                tag: tag.clone(),
                target: Taggable::Droplet(current.id),
            },
            cause,
        );
    }
    let no_template = user_data_tag_of(want_tags).is_none();
    for tag in current.tags.iter().filter(|t| !want_tags.contains(*t)) {
        if tag.starts_with(USER_DATA_TAG_PREFIX) && no_template {
            continue; // No template to compare with: keep the record.
        }
        let cause = format!("drift: droplet tag {tag} not in the manifest");
        c.field("tags", Some(tag.clone()), None).cause(&cause).step(
            Operation::Untag {
                tag: tag.clone(),
                target: Taggable::Droplet(current.id),
            },
            cause,
        );
    }
    finish_update(b, c);
}

/// Adds detach steps if the volume is attached to `droplet`, and marks it detached; returns whether it was.
fn detach_from(volume: &mut VolumeOutcome, droplet: u64, c: &mut Change, d: &DesiredState) -> bool {
    let VolumeOutcome::Existing { id, attached } = volume else {
        return false;
    };
    if !attached.contains(&droplet) {
        return false;
    }
    c.step(
        Operation::DetachVolume {
            volume_id: id.clone(),
            droplet_id: droplet,
            region: d.infra.region.to_ascii_lowercase(),
        },
        "the volume must be detached before its droplet is destroyed",
    );
    c.step(
        Operation::SnapshotVolume {
            volume: VolumeRef::Id(id.clone()),
            name: format!("{}-before-droplet-{droplet}-destroyed", d.infra.volume.name),
            tags: tags_of(d),
        },
        "fresh snapshot before the droplet holding the volume is destroyed",
    );
    attached.retain(|d| *d != droplet);
    true
}

/// The volume a new droplet can take at creation: one this plan creates, or an existing one attached nowhere once
/// the planned detaches ran (the plan only keeps volumes in the manifest's region, the droplet's).
fn free_volume(volume: &VolumeOutcome) -> Option<VolumeRef> {
    match volume {
        VolumeOutcome::Existing { attached, .. } if !attached.is_empty() => None,
        other => other.reference(),
    }
}

/// The droplet's create step, what it leaves, and the words its cause gets for a volume attached at creation.
fn create_droplet_op(
    d: &DesiredState,
    tags: &BTreeSet<String>,
    volume: &VolumeOutcome,
) -> (Operation, DropletOutcome, String) {
    let want = &d.infra.droplet;
    let volumes: Vec<VolumeRef> = free_volume(volume).into_iter().collect();
    let with_volume = if volumes.is_empty() {
        String::new()
    } else {
        format!(
            "; volume {} attached at creation, so its device is there when cloud-init waits for it on first boot",
            d.infra.volume.name
        )
    };
    let outcome = DropletOutcome {
        reference: DropletRef::Planned(want.name.clone()),
        volume_at_create: !volumes.is_empty(),
    };
    let op = Operation::CreateDroplet {
        name: want.name.clone(),
        region: d.infra.region.to_ascii_lowercase(),
        size: want.size.clone(),
        image: want.image.clone(),
        ssh_keys: want.ssh_keys.clone(),
        tags: tags.iter().cloned().collect(),
        monitoring: want.monitoring,
        user_data: want.user_data.clone(),
        volumes,
    };
    (op, outcome, with_volume)
}

fn create_droplet(
    b: &mut Builder<'_>,
    d: &DesiredState,
    id: ResourceId,
    tags: &BTreeSet<String>,
    volume: &VolumeOutcome,
) -> DropletOutcome {
    let want = &d.infra.droplet;
    let cause = "droplet does not exist";
    let (op, outcome, with_volume) = create_droplet_op(d, tags, volume);
    let mut c = Change::new(id, Action::Create);
    c.field("size", None, Some(want.size.clone()))
        .field("image", None, Some(want.image.clone()))
        .field("region", None, Some(d.infra.region.to_ascii_lowercase()))
        .field(
            "tags",
            None,
            Some(tags.iter().cloned().collect::<Vec<_>>().join(",")),
        )
        .cause(cause)
        .step(op, format!("{cause}{with_volume}"));
    b.add(c);
    outcome
}
