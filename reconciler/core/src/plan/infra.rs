//! Planning the DigitalOcean side: registry, volume, droplet, the volume's attachment and the firewall, in that
//! order (each may need the one before).

use std::collections::BTreeSet;

use super::builder::{Builder, Change};
use super::firewall_rules;
use super::model::*;
use crate::identity::{
    MANAGED_TAG, PROTECTED_TAG, USER_DATA_TAG_PREFIX, deployment_tag, user_data_tag,
};
use crate::manifest::DesiredState;
use crate::observed::{DropletState, DropletStatus, Observed, ObservedInfra, VolumeState};

/// What the plan leaves of the volume, for the steps that refer to it.
#[derive(Debug, Clone)]
pub(super) enum VolumeOutcome {
    /// Could not be observed.
    Unknown,
    /// Exists (and stays): its id and the droplets it is attached to once the planned steps ran.
    Existing { id: String, attached: Vec<u64> },
    /// Created by this plan.
    Planned(String),
}

impl VolumeOutcome {
    /// How later steps name the volume.
    pub(super) fn reference(&self) -> Option<VolumeRef> {
        match self {
            Self::Unknown => None,
            Self::Existing { id, .. } => Some(VolumeRef::Id(id.clone())),
            Self::Planned(name) => Some(VolumeRef::Planned(name.clone())),
        }
    }
}

/// What the infra plan leaves for the app plan and the snapshot policy.
#[derive(Debug, Clone)]
pub(super) struct InfraOutcome {
    /// What becomes of the volume.
    pub volume: VolumeOutcome,
    /// Whether a step stops the app container on the droplet (to release its volume), so the app plan starts it
    /// again.
    pub app_stopped: bool,
}

/// What the plan leaves of the droplet, for the attachment.
#[derive(Debug, Clone)]
struct DropletOutcome {
    /// How later steps name the droplet.
    reference: DropletRef,
    /// Whether the droplet's create request attaches the volume.
    volume_at_create: bool,
}

impl DropletOutcome {
    fn existing(id: u64) -> Self {
        Self {
            reference: DropletRef::Id(id),
            volume_at_create: false,
        }
    }
}

/// Droplets and the app that the plan already took down to free a volume.
#[derive(Debug, Default)]
struct Released {
    app_stopped: bool,
    shut_down: BTreeSet<u64>,
}

/// Plans the infra scope.
pub(super) fn plan(
    b: &mut Builder<'_>,
    d: &DesiredState,
    user_data: Option<&str>,
    o: &ObservedInfra,
) -> InfraOutcome {
    let mut released = Released::default();
    registry(b, d, o);
    let mut volume = volume(b, d, o, &mut released);
    let droplet = droplet(b, d, user_data, o, &mut volume, &mut released);
    attachment(b, d, o, &volume, droplet);
    firewall(b, d, o);
    InfraOutcome {
        volume,
        app_stopped: released.app_stopped,
    }
}

/// The one adoption rule of droplets, volumes and firewalls: a resource with the manifest's name that does not carry
/// the deployment's tag is never taken silently; the plan holds it back and names the command that adopts it.
fn refuse_untagged(b: &mut Builder<'_>, id: ResourceId, what: String, dep: &str) {
    let command = format!("reconciler adopt {} {}", id.kind, id.name);
    b.conflict(
        id,
        format!(
            "{what} exists without the tag {dep}, so it is not taken as this deployment's; if it is, adopt it with \
             `{command}` (which tags it), or choose another name"
        ),
    );
}

fn tags_of(d: &DesiredState) -> Vec<String> {
    vec![MANAGED_TAG.to_owned(), deployment_tag(&d.name)]
}

fn registry(b: &mut Builder<'_>, d: &DesiredState, o: &ObservedInfra) {
    let want = &d.infra.registry;
    let id = ResourceId::new(ResourceKind::Registry, &want.name);
    let region = want
        .region
        .as_deref()
        .unwrap_or(&d.infra.region)
        .to_ascii_lowercase();
    let observed = match &o.registry {
        Observed::Known(r) => r,
        Observed::Unknown(reason) => return b.unknown(ResourceKind::Registry, reason),
    };
    match observed {
        None => {
            let mut c = Change::new(id, Action::Create);
            c.field("tier", None, Some(want.tier.slug().to_owned()))
                .field("region", None, Some(region.clone()))
                .cause("registry does not exist")
                .step(
                    Operation::CreateRegistry {
                        name: want.name.clone(),
                        tier: want.tier.slug().to_owned(),
                        region,
                    },
                    "registry does not exist",
                );
            b.add(c);
        }
        Some(r) if r.name != want.name => b.conflict(
            id,
            format!(
                "the account already has registry {:?} and DigitalOcean allows one; set infra.registry.name to it or \
                 delete it by hand",
                r.name
            ),
        ),
        Some(r) if !r.region.eq_ignore_ascii_case(&region) => b.conflict(
            id,
            format!("registry {} is in {}, not {region}; registries cannot move", r.name, r.region),
        ),
        Some(r) if r.tier != want.tier.slug() => {
            let cause = format!("subscription tier {} → {}", r.tier, want.tier.slug());
            let mut c = Change::new(id, Action::Update);
            c.field("tier", Some(r.tier.clone()), Some(want.tier.slug().to_owned()))
                .cause(&cause)
                .step(
                    Operation::SetRegistryTier {
                        tier: want.tier.slug().to_owned(),
                    },
                    cause,
                );
            b.add(c);
        }
        Some(_) => b.no_op(id),
    }
}

fn volume(
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

impl Released {
    fn merge(&mut self, other: Self) {
        self.app_stopped |= other.app_stopped;
        self.shut_down.extend(other.shut_down);
    }
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

fn desired_droplet_tags(d: &DesiredState, user_data: Option<&str>) -> BTreeSet<String> {
    let mut tags: BTreeSet<String> = d.infra.droplet.tags.iter().cloned().collect();
    tags.extend(tags_of(d));
    if let Some(text) = user_data {
        tags.insert(user_data_tag(text));
    }
    tags
}

/// Plans the droplet: strays of the deployment go; the one with the manifest's name is created, refused when it is
/// not the deployment's (adopt), replaced when what only a new droplet can change differs, else updated.
fn droplet(
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

fn attachment(
    b: &mut Builder<'_>,
    d: &DesiredState,
    o: &ObservedInfra,
    volume: &VolumeOutcome,
    droplet: Option<DropletOutcome>,
) {
    let name = format!("{}→{}", d.infra.volume.name, d.infra.droplet.name);
    let id = ResourceId::new(ResourceKind::VolumeAttachment, &name);
    let (Some(volume_ref), Some(droplet)) = (volume.reference(), droplet) else {
        b.note(format!(
            "{id} not planned: the volume or the droplet is unknown or held back"
        ));
        return;
    };
    if droplet.volume_at_create {
        // No step of its own: the droplet's create request carries the volume.
        let mut c = Change::new(id, Action::Create);
        c.cause("attached by the droplet's create request (its volumes field)");
        b.add(c);
        return;
    }
    let droplet = droplet.reference;
    let region = d.infra.region.to_ascii_lowercase();
    let attached = match volume {
        VolumeOutcome::Existing { attached, .. } => attached.clone(),
        _ => Vec::new(),
    };
    if let DropletRef::Id(droplet_id) = droplet
        && attached.contains(&droplet_id)
    {
        return b.no_op(id);
    }
    let (action, cause) = match (&droplet, attached.is_empty(), &volume_ref) {
        (DropletRef::Id(_), true, VolumeRef::Id(_)) => (
            Action::Update,
            "drift: volume detached outside the manifest",
        ),
        (_, false, _) => (Action::Update, "drift: volume attached to another droplet"),
        _ => (Action::Create, "attach the volume to the droplet"),
    };
    let mut c = Change::new(id, action);
    c.cause(cause);
    if let VolumeOutcome::Existing { id: volume_id, .. } = volume {
        for other in &attached {
            c.step(
                Operation::DetachVolume {
                    volume_id: volume_id.clone(),
                    droplet_id: *other,
                    region: region.clone(),
                },
                cause,
            );
        }
    }
    let running = match &droplet {
        DropletRef::Id(id) => o
            .droplets
            .known()
            .and_then(|ds| ds.iter().find(|x| x.id == *id))
            .filter(|x| x.status != DropletStatus::Off)
            .map(|x| x.id),
        DropletRef::Planned(_) => None, // cloud-init mounts it on first boot
    };
    c.step(
        Operation::AttachVolume {
            volume: volume_ref,
            droplet,
            region,
        },
        cause,
    );
    if let Some(droplet_id) = running {
        c.step(
            Operation::MountVolume {
                droplet_id,
                volume_name: d.infra.volume.name.clone(),
                mount_path: d.infra.volume.mount_path.clone(),
            },
            "the running droplet mounts the attached volume through its fstab entry",
        );
    }
    b.add(c);
}

fn firewall(b: &mut Builder<'_>, d: &DesiredState, o: &ObservedInfra) {
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

/// Adds an update with steps, or records a no-op.
fn finish_update(b: &mut Builder<'_>, c: Change) {
    if c.steps().is_empty() {
        b.no_op(c.resource().clone());
    } else {
        b.add(c);
    }
}
