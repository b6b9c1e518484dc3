//! Planning the DigitalOcean side: registry, volume, droplet, the volume's attachment and the firewall, in that
//! order (each may need the one before).

mod droplet;
mod firewall;
mod volume;

use std::collections::BTreeSet;

use super::builder::{Builder, Change};
use super::model::*;
use crate::identity::{MANAGED_TAG, deployment_tag};
use crate::manifest::DesiredState;
use crate::observed::{DropletStatus, Observed, ObservedInfra};

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

impl Released {
    fn merge(&mut self, other: Self) {
        self.app_stopped |= other.app_stopped;
        self.shut_down.extend(other.shut_down);
    }
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
    let mut volume = volume::plan(b, d, o, &mut released);
    let droplet = droplet::plan(b, d, user_data, o, &mut volume, &mut released);
    attachment(b, d, o, &volume, droplet);
    firewall::plan(b, d, o);
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

/// Adds an update with steps, or records a no-op.
fn finish_update(b: &mut Builder<'_>, c: Change) {
    if c.steps().is_empty() {
        b.no_op(c.resource().clone());
    } else {
        b.add(c);
    }
}
