//! Executor of the infra operations of a plan on DigitalOcean: one API call per step (plus the polling of its
//! action), in plan order, deciding nothing. Resources created by an earlier step (`Planned(name)`) are resolved to
//! the ids the create returned. The client makes creates safe to retry (a lost response is looked up, never
//! repeated) and rides out 429s and 5xx on idempotent calls. The few steps that run on the droplet itself (stop the
//! app and unmount its volume before a detach, mount it after an attach) go to its host. The steps that wait for the
//! app's health gate run apart, once it passed ([`InfraExecutor::after_gate`]).

use std::collections::HashMap;
use std::time::Instant;

use digitalocean_api::Client;
use digitalocean_api::models::{
    CreateDroplet, CreateRegistry, CreateVolume, DropletAction, Filesystem, FirewallSpec,
    InboundRule, OutboundRule, ResourceType, TaggedResource, Targets,
};
use reconciler_core::identity::LAST_GOOD_TAG;
use reconciler_core::manifest::{self, FirewallRule, Protocol};
use reconciler_core::plan::{
    DropletRef, Operation, SnapshotRef, Step, StepScope, Taggable, VolumeRef,
};
use reconciler_core::render;

use super::droplet_host::{Done, DropletHost, DropletStepError};
use super::progress::Progress;
use super::{StepEnd, StepOutcome, announced, elapsed_ms};

/// Runs infra steps against one DigitalOcean account.
#[derive(Debug)]
pub struct InfraExecutor<'a> {
    /// The API client.
    pub client: &'a Client,
    /// The rendered cloud-init user_data sent with a droplet create (the plan names the template it came from).
    pub user_data: Option<&'a str>,
    /// The droplet's engine and host, for the steps that run there.
    pub droplet: Option<DropletHost<'a>>,
}

/// What an infra apply did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Each step with its duration.
    pub steps: Vec<StepOutcome>,
    /// Ids of the snapshots taken, by name.
    pub snapshots: HashMap<String, String>,
}

/// A step of the infra phase failed; the steps before it took effect.
#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    /// DigitalOcean refused or failed the step.
    #[error("step {index} ({step})")]
    Api {
        /// 1-based step index.
        index: usize,
        /// What the step does.
        step: String,
        /// Why.
        #[source]
        source: digitalocean_api::Error,
    },
    /// The step names a resource an earlier step should have created.
    #[error("step {index} ({step}): no earlier step created {name}")]
    Unresolved {
        /// 1-based step index.
        index: usize,
        /// What the step does.
        step: String,
        /// The planned resource.
        name: String,
    },
    /// A step on the droplet's host failed.
    #[error("step {index} ({step}) on the droplet")]
    Droplet {
        /// 1-based step index.
        index: usize,
        /// What the step does.
        step: String,
        /// Why.
        #[source]
        source: DropletStepError,
    },
    /// The API client cannot carry out this operation.
    #[error("step {index} ({step}): {reason}")]
    Unsupported {
        /// 1-based step index.
        index: usize,
        /// What the step does.
        step: String,
        /// Why, and what to do instead.
        reason: &'static str,
    },
}

/// Why one step failed, before it is tied to its index.
enum Failed {
    Api(digitalocean_api::Error),
    Droplet(DropletStepError),
    Unresolved(String),
    Unsupported(&'static str),
}

impl From<digitalocean_api::Error> for Failed {
    fn from(e: digitalocean_api::Error) -> Self {
        Self::Api(e)
    }
}

impl Failed {
    fn at(self, index: usize, step: String) -> InfraError {
        match self {
            Self::Api(source) => InfraError::Api {
                index,
                step,
                source,
            },
            Self::Droplet(source) => InfraError::Droplet {
                index,
                step,
                source,
            },
            Self::Unresolved(name) => InfraError::Unresolved { index, step, name },
            Self::Unsupported(reason) => InfraError::Unsupported {
                index,
                step,
                reason,
            },
        }
    }
}

/// Ids of resources created during this run, by name.
#[derive(Debug, Default)]
struct Created {
    droplets: HashMap<String, u64>,
    volumes: HashMap<String, String>,
    snapshots: HashMap<String, String>,
}

impl Created {
    fn droplet(&self, r: &DropletRef) -> Result<u64, Failed> {
        match r {
            DropletRef::Id(id) => Ok(*id),
            DropletRef::Planned(name) => self
                .droplets
                .get(name)
                .copied()
                .ok_or_else(|| Failed::Unresolved(format!("droplet {name}"))),
        }
    }

    fn volume(&self, r: &VolumeRef) -> Result<String, Failed> {
        match r {
            VolumeRef::Id(id) => Ok(id.clone()),
            VolumeRef::Planned(name) => self
                .volumes
                .get(name)
                .cloned()
                .ok_or_else(|| Failed::Unresolved(format!("volume {name}"))),
        }
    }

    fn snapshot(&self, r: &SnapshotRef) -> Result<String, Failed> {
        match r {
            SnapshotRef::Id(id) => Ok(id.clone()),
            SnapshotRef::Planned(name) => self
                .snapshots
                .get(name)
                .cloned()
                .ok_or_else(|| Failed::Unresolved(format!("snapshot {name}"))),
        }
    }
}

impl InfraExecutor<'_> {
    /// Runs the infra steps of `steps` in order, stopping at the first failure.
    pub async fn apply(
        &self,
        steps: &[Step],
        progress: &dyn Progress,
    ) -> Result<Applied, InfraError> {
        self.run_where(steps, StepScope::is_infra, Created::default(), progress)
            .await
    }

    /// Runs the steps of `steps` that wait for the app's health gate, in order, stopping at the first failure. Call it
    /// only once the gate passed; a snapshot planned by name is the one `infra` (the infra phase) took.
    pub async fn after_gate(
        &self,
        steps: &[Step],
        infra: &Applied,
        progress: &dyn Progress,
    ) -> Result<Applied, InfraError> {
        let created = Created {
            snapshots: infra.snapshots.clone(),
            ..Created::default()
        };
        self.run_where(
            steps,
            |scope| scope == StepScope::AfterGate,
            created,
            progress,
        )
        .await
    }

    async fn run_where(
        &self,
        steps: &[Step],
        runs: impl Fn(StepScope) -> bool,
        mut created: Created,
        progress: &dyn Progress,
    ) -> Result<Applied, InfraError> {
        let chosen: Vec<&Step> = steps.iter().filter(|s| runs(s.op.scope())).collect();
        let mut applied = Applied::default();
        for (i, step) in chosen.iter().enumerate() {
            let index = i + 1;
            let description = render::describe(&step.op);
            let started = Instant::now();
            announced(index, chosen.len(), &description, progress, async {
                self.run(&step.op, &mut created)
                    .await
                    .map_err(|e| e.at(index, description.clone()))
            })
            .await?;
            applied.steps.push(StepOutcome {
                description,
                duration_ms: elapsed_ms(started),
                end: StepEnd::Ok,
            });
        }
        applied.snapshots = created.snapshots;
        Ok(applied)
    }

    async fn run(&self, op: &Operation, created: &mut Created) -> Result<(), Failed> {
        let c = self.client;
        match op {
            Operation::CreateRegistry { name, tier, region } => {
                c.create_registry(&CreateRegistry {
                    name: name.clone(),
                    subscription_tier_slug: tier.clone(),
                    region: region.clone(),
                })
                .await?;
            }
            Operation::SetRegistryTier { tier } => {
                c.set_registry_tier(tier).await?;
            }
            Operation::CreateVolume {
                name,
                region,
                size_gib,
                filesystem,
                tags,
                from_snapshot,
            } => {
                let snapshot_id = from_snapshot
                    .as_ref()
                    .map(|s| created.snapshot(s))
                    .transpose()?;
                let volume = c
                    .create_volume(&CreateVolume {
                        name: name.clone(),
                        region: region.clone(),
                        size_gigabytes: u64::from(*size_gib),
                        // A volume made from a snapshot has the snapshot's filesystem and data: no format.
                        filesystem_type: snapshot_id.is_none().then_some(match filesystem {
                            manifest::Filesystem::Ext4 => Filesystem::Ext4,
                            manifest::Filesystem::Xfs => Filesystem::Xfs,
                        }),
                        filesystem_label: None,
                        description: "schwad bot data (managed by schwad-reconciler)".to_owned(),
                        tags: tags.clone(),
                        snapshot_id,
                    })
                    .await?;
                created.volumes.insert(name.clone(), volume.id);
            }
            Operation::ResizeVolume {
                volume_id,
                size_gib,
                region,
            } => {
                let action = c
                    .resize_volume(volume_id, u64::from(*size_gib), region)
                    .await?;
                c.wait_for_action(action.id).await?;
            }
            Operation::DeleteVolume { volume_id } => c.delete_volume(volume_id).await?,
            Operation::CreateDroplet {
                name,
                region,
                size,
                image,
                ssh_keys,
                tags,
                monitoring,
                user_data,
                volumes,
            } => {
                let volumes = volumes
                    .iter()
                    .map(|v| created.volume(v))
                    .collect::<Result<Vec<_>, _>>()?;
                let made = c
                    .create_droplet(&CreateDroplet {
                        name: name.clone(),
                        region: region.clone(),
                        size: size.clone(),
                        image: image.clone(),
                        ssh_keys: ssh_keys.clone(),
                        tags: tags.clone(),
                        // The plan names the template; the rendered text travels beside the plan.
                        user_data: user_data.as_ref().and(self.user_data.map(str::to_owned)),
                        volumes,
                        monitoring: *monitoring,
                        ipv6: false,
                    })
                    .await?;
                match made.action_id {
                    Some(action) => {
                        c.wait_for_action(action).await?;
                    }
                    None => {
                        c.wait_for_droplet_active(made.droplet.id).await?;
                    }
                }
                created.droplets.insert(name.clone(), made.droplet.id);
            }
            Operation::ShutdownDroplet { droplet_id } => {
                self.droplet_action(*droplet_id, &DropletAction::Shutdown)
                    .await?;
            }
            Operation::ResizeDroplet { droplet_id, size } => {
                let resize = DropletAction::Resize {
                    size: size.clone(),
                    disk: false,
                };
                self.droplet_action(*droplet_id, &resize).await?;
            }
            Operation::PowerOnDroplet { droplet_id } => {
                self.droplet_action(*droplet_id, &DropletAction::PowerOn)
                    .await?;
            }
            Operation::DeleteDroplet { droplet_id } => c.delete_droplet(*droplet_id).await?,
            Operation::Tag { tag, target } => {
                // Tagging needs the tag to exist; creating an existing one is harmless.
                c.create_tag(tag).await?;
                c.tag_resources(tag, &[tagged(target)]).await?;
            }
            Operation::Untag { tag, target } => c.untag_resources(tag, &[tagged(target)]).await?,
            Operation::AttachVolume {
                volume,
                droplet,
                region,
            } => {
                let volume = created.volume(volume)?;
                let droplet = created.droplet(droplet)?;
                let action = c.attach_volume(&volume, droplet, region).await?;
                c.wait_for_action(action.id).await?;
            }
            Operation::DetachVolume {
                volume_id,
                droplet_id,
                region,
            } => {
                let action = c.detach_volume(volume_id, *droplet_id, region).await?;
                c.wait_for_action(action.id).await?;
            }
            Operation::CreateFirewall {
                name,
                inbound,
                outbound,
                tags,
            } => {
                c.create_firewall(&firewall_spec(name, inbound, outbound, tags))
                    .await?;
            }
            Operation::UpdateFirewall {
                firewall_id,
                name,
                inbound,
                outbound,
                tags,
            } => {
                c.update_firewall(firewall_id, &firewall_spec(name, inbound, outbound, tags))
                    .await?;
            }
            Operation::DeleteFirewall { firewall_id } => c.delete_firewall(firewall_id).await?,
            Operation::SnapshotVolume { volume, name, tags } => {
                let volume = created.volume(volume)?;
                let snapshot = c.create_volume_snapshot(&volume, name, tags).await?;
                created.snapshots.insert(name.clone(), snapshot.id);
            }
            Operation::DeleteSnapshot { snapshot_id }
            | Operation::DeleteSnapshotAfterGate { snapshot_id } => {
                c.delete_snapshot(snapshot_id).await?;
            }
            Operation::MarkLastGood { snapshot, untag } => {
                let id = created.snapshot(snapshot)?;
                // Tagged before the old ones are untagged, so some snapshot is always protected.
                c.create_tag(LAST_GOOD_TAG).await?;
                c.tag_resources(LAST_GOOD_TAG, &[volume_snapshot(&id)])
                    .await?;
                let old: Vec<TaggedResource> = untag
                    .iter()
                    .filter(|u| **u != id)
                    .map(|u| volume_snapshot(u))
                    .collect();
                if !old.is_empty() {
                    c.untag_resources(LAST_GOOD_TAG, &old).await?;
                }
            }
            Operation::StopAppOnDroplet { .. }
            | Operation::UnmountVolume { .. }
            | Operation::MountVolume { .. } => {
                let droplet = self.droplet.ok_or(Failed::Unsupported(
                    "this step runs on the droplet: name its host with --host",
                ))?;
                if let Done::Skipped(reason) = droplet.run(op).await.map_err(Failed::Droplet)? {
                    tracing::warn!(%reason, "droplet step skipped");
                }
            }
            Operation::EnsureDataDir { .. }
            | Operation::PullImage { .. }
            | Operation::RemoveImage { .. }
            | Operation::CreateContainer { .. }
            | Operation::StartContainer { .. }
            | Operation::StopContainer { .. }
            | Operation::RenameContainer { .. }
            | Operation::WaitHealthy { .. }
            | Operation::RemoveContainer { .. } => {
                return Err(Failed::Unsupported(
                    "an app operation reached the DigitalOcean executor",
                ));
            }
        }
        Ok(())
    }

    async fn droplet_action(&self, droplet_id: u64, action: &DropletAction) -> Result<(), Failed> {
        let started = self.client.droplet_action(droplet_id, action).await?;
        self.client.wait_for_action(started.id).await?;
        Ok(())
    }
}

fn volume_snapshot(id: &str) -> TaggedResource {
    TaggedResource {
        resource_id: id.to_owned(),
        resource_type: ResourceType::VolumeSnapshot,
    }
}

fn tagged(target: &Taggable) -> TaggedResource {
    match target {
        Taggable::Droplet(id) => TaggedResource::droplet(*id),
        Taggable::Volume(id) => TaggedResource::volume(id),
    }
}

/// The API body of a firewall: all ports are `"0"`, ICMP has no ports.
pub fn firewall_spec(
    name: &str,
    inbound: &[FirewallRule],
    outbound: &[FirewallRule],
    tags: &[String],
) -> FirewallSpec {
    let parts = |r: &FirewallRule| {
        let (protocol, ports) = match r.protocol {
            Protocol::Tcp => ("tcp", api_ports(&r.ports)),
            Protocol::Udp => ("udp", api_ports(&r.ports)),
            Protocol::Icmp => ("icmp", "0".to_owned()),
        };
        let targets = Targets {
            addresses: r.addresses.clone(),
            ..Targets::default()
        };
        (protocol.to_owned(), ports, targets)
    };
    FirewallSpec {
        name: name.to_owned(),
        inbound_rules: inbound
            .iter()
            .map(|r| {
                let (protocol, ports, sources) = parts(r);
                InboundRule {
                    protocol,
                    ports,
                    sources,
                }
            })
            .collect(),
        outbound_rules: outbound
            .iter()
            .map(|r| {
                let (protocol, ports, destinations) = parts(r);
                OutboundRule {
                    protocol,
                    ports,
                    destinations,
                }
            })
            .collect(),
        droplet_ids: Vec::new(),
        tags: tags.to_vec(),
    }
}

fn api_ports(ports: &str) -> String {
    if ports == "all" {
        "0".to_owned()
    } else {
        ports.to_owned()
    }
}
