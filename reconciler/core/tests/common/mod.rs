//! Fixtures shared by the planner tests: the committed manifest, a world that matches it, and a model of the world
//! that applies a plan's steps the way the executor would.

#![allow(dead_code)] // Each test file uses a different part of the fixtures.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use reconciler_core::identity::{
    ContainerSpec, LAST_GOOD_TAG, MANAGED_TAG, PROTECTED_TAG, deployment_tag, labels,
    repository_of, secrets_fingerprint, user_data_tag,
};
use reconciler_core::manifest::{self, DesiredState};
use reconciler_core::observed::*;
use reconciler_core::plan::{
    Desired, DropletRef, Operation, Plan, SnapshotRef, StepScope, Taggable, VolumeRef,
};

pub const USER_DATA: &str = "#cloud-config\nruncmd: [echo hello]\n";
pub const SECRETS_FILE: &[u8] =
    b"WS_RPC_URL=wss://node\nSCHWAB_APP_KEY=k\nSCHWAB_APP_SECRET=s\nENCRYPTION_KEY=e\n";
pub const COMMIT: &str = "1111111111111111111111111111111111111111";

/// The committed production manifest.
pub fn desired() -> DesiredState {
    let text = include_str!("../../../../manifests/desired.yaml");
    manifest::parse("manifests/desired.yaml", text).expect("the committed manifest is valid")
}

pub fn inputs(d: &DesiredState) -> Desired<'_> {
    Desired {
        manifest: d,
        user_data: Some(USER_DATA),
        commit: Some(COMMIT),
    }
}

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0)
        .single()
        .expect("valid time")
}

pub fn image_id(reference: &str) -> String {
    format!("sha256:{:0>64}", reference.len())
}

/// A world in which everything matches `d`.
pub fn converged(d: &DesiredState) -> ObservedState {
    let dep = deployment_tag(&d.name);
    let mut droplet_tags: Vec<String> = d.infra.droplet.tags.clone();
    droplet_tags.extend([
        MANAGED_TAG.to_owned(),
        dep.clone(),
        user_data_tag(USER_DATA),
    ]);
    let spec = ContainerSpec::from_app(&d.app);
    let fp = secrets_fingerprint(SECRETS_FILE);
    let (uid, gid) = d.app.user.split_once(':').expect("uid:gid");
    ObservedState {
        observed_at: now(),
        infra: Some(ObservedInfra {
            droplets: Observed::Known(vec![DropletState {
                id: 1,
                name: d.infra.droplet.name.clone(),
                region: d.infra.region.clone(),
                size: d.infra.droplet.size.clone(),
                image: d.infra.droplet.image.clone(),
                status: DropletStatus::Active,
                tags: droplet_tags,
                public_ipv4: Some("203.0.113.10".into()),
            }]),
            volumes: Observed::Known(vec![VolumeState {
                id: "vol-1".into(),
                name: d.infra.volume.name.clone(),
                region: d.infra.region.clone(),
                size_gib: d.infra.volume.size_gib,
                filesystem: Some("ext4".into()),
                droplet_ids: vec![1],
                tags: vec![
                    MANAGED_TAG.to_owned(),
                    dep.clone(),
                    PROTECTED_TAG.to_owned(),
                ],
            }]),
            firewalls: Observed::Known(vec![FirewallState {
                id: "fw-1".into(),
                name: d.infra.firewall.name.clone(),
                inbound: rules(&d.infra.firewall.inbound),
                outbound: rules(&d.infra.firewall.outbound),
                tags: vec![dep.clone()],
                droplet_ids: Vec::new(),
            }]),
            registry: Observed::Known(Some(RegistryState {
                name: d.infra.registry.name.clone(),
                tier: d.infra.registry.tier.slug().into(),
                region: d.infra.region.clone(),
            })),
            snapshots: Observed::Known(vec![SnapshotState {
                id: "snap-1".into(),
                name: "schwad-data-fresh".into(),
                created_at: now() - chrono::Duration::hours(1),
                volume_id: "vol-1".into(),
                tags: vec![MANAGED_TAG.to_owned(), dep],
            }]),
        }),
        app: Some(ObservedApp {
            containers: vec![ContainerState {
                id: "c-1".into(),
                name: d.app.container_name.clone(),
                labels: spec.labels(&d.app.container_name, Some(&fp), Some(COMMIT)),
                image_id: image_id(&spec.image),
                state: ContainerStatus::Running,
                health: Some(Health::Healthy),
                restart_count: 0,
                started_at: "t0".into(),
                runtime: None,
            }],
            image: Some(ImageState {
                id: image_id(&spec.image),
                repo_digests: vec![],
            }),
            data_dir: Some(DirState {
                uid: uid.parse().expect("uid"),
                gid: gid.parse().expect("gid"),
                mode: 0o750,
            }),
            secrets_file: Some(SecretsFileState {
                fingerprint: fp,
                mode: 0o600,
                names: d
                    .app
                    .secrets
                    .as_ref()
                    .map(|s| s.names.clone())
                    .unwrap_or_default(),
            }),
            quarantined: vec![],
            verified: vec![GateVerdict {
                container: "c-1".into(),
                started_at: "t0".into(),
            }],
            // The running image and two older builds of its repository.
            repository_images: vec![
                StoredImage {
                    id: image_id(&spec.image),
                    tags: vec![spec.image.clone()],
                    created: 100,
                },
                StoredImage {
                    id: "sha256:old-1".into(),
                    tags: vec![format!("{}:old-1", repository_of(&spec.image))],
                    created: 50,
                },
                StoredImage {
                    id: "sha256:old-2".into(),
                    tags: vec![format!("{}:old-2", repository_of(&spec.image))],
                    created: 40,
                },
            ],
        }),
    }
}

pub fn infra(o: &mut ObservedState) -> &mut ObservedInfra {
    o.infra.as_mut().expect("infra observed")
}

pub fn app(o: &mut ObservedState) -> &mut ObservedApp {
    o.app.as_mut().expect("app observed")
}

pub fn known<T>(o: &mut Observed<T>) -> &mut T {
    match o {
        Observed::Known(v) => v,
        Observed::Unknown(r) => panic!("unknown: {r}"),
    }
}

/// Applies every step of `plan` to a model of the world, as a faithful executor would.
pub fn apply(world: &ObservedState, plan: &Plan) -> ObservedState {
    let mut w = world.clone();
    let mut next_id = 1000u64;
    // Droplets on which the plan unmounted the volume: a detach from a running droplet of this deployment needs it.
    let mut unmounted = Vec::new();
    let mut gate_passed = false;
    for step in &plan.steps {
        next_id += 1;
        assert!(
            step.op.scope() != StepScope::AfterGate || gate_passed,
            "an after-gate step before any health gate passed"
        );
        match &step.op {
            Operation::WaitHealthy { .. } => gate_passed = true,
            Operation::UnmountVolume { droplet_id, .. } => {
                let running = w.app.as_ref().is_some_and(|a| {
                    a.containers.iter().any(|c| {
                        c.state == ContainerStatus::Running && c.labels.contains_key(MANAGED_LABEL)
                    })
                });
                assert!(!running, "unmounting the volume under a running container");
                unmounted.push(*droplet_id);
            }
            Operation::DetachVolume { droplet_id, .. } => {
                let d = droplet(&mut w, *droplet_id);
                let ours = d.tags.iter().any(|t| t == MANAGED_TAG);
                assert!(
                    !ours || d.status == DropletStatus::Off || unmounted.contains(droplet_id),
                    "detaching a mounted volume from running droplet {droplet_id}"
                );
            }
            _ => {}
        }
        apply_op(&mut w, &step.op, next_id);
    }
    w
}

fn volume_id(w: &ObservedState, v: &VolumeRef) -> String {
    match v {
        VolumeRef::Id(id) => id.clone(),
        VolumeRef::Planned(name) => w
            .infra
            .as_ref()
            .and_then(|i| i.volumes.known())
            .and_then(|vs| vs.iter().find(|x| &x.name == name))
            .map(|x| x.id.clone())
            .expect("planned volume created earlier"),
    }
}

fn droplet_id(w: &ObservedState, d: &DropletRef) -> u64 {
    match d {
        DropletRef::Id(id) => *id,
        DropletRef::Planned(name) => w
            .infra
            .as_ref()
            .and_then(|i| i.droplets.known())
            .and_then(|ds| ds.iter().find(|x| &x.name == name))
            .map(|x| x.id)
            .expect("planned droplet created earlier"),
    }
}

fn container<'a>(w: &'a mut ObservedState, key: &str) -> &'a mut ContainerState {
    app(w)
        .containers
        .iter_mut()
        .find(|c| c.id == key || c.name == key)
        .unwrap_or_else(|| panic!("container {key} exists"))
}

fn apply_op(w: &mut ObservedState, op: &Operation, id: u64) {
    let now = w.observed_at;
    match op {
        Operation::CreateRegistry { name, tier, region } => {
            *known(&mut infra(w).registry) = Some(RegistryState {
                name: name.clone(),
                tier: tier.clone(),
                region: region.clone(),
            });
        }
        Operation::SetRegistryTier { tier } => {
            known(&mut infra(w).registry)
                .as_mut()
                .expect("registry")
                .tier = tier.clone();
        }
        Operation::CreateVolume {
            name,
            region,
            size_gib,
            filesystem,
            tags,
            from_snapshot,
        } => {
            // DigitalOcean makes a volume from a snapshot of the same region, at least the source's size, with the
            // source's filesystem.
            let filesystem = match from_snapshot {
                None => Some(filesystem.to_string()),
                Some(snapshot) => {
                    let s = known(&mut infra(w).snapshots)
                        .iter()
                        .find(|s| match snapshot {
                            SnapshotRef::Planned(name) => &s.name == name,
                            SnapshotRef::Id(id) => &s.id == id,
                        })
                        .unwrap_or_else(|| panic!("{snapshot:?} exists"))
                        .clone();
                    let source = known(&mut infra(w).volumes)
                        .iter()
                        .find(|v| v.id == s.volume_id)
                        .expect("the snapshot's volume still exists")
                        .clone();
                    assert_eq!(
                        &source.region, region,
                        "a snapshot is used in its own region"
                    );
                    assert!(source.size_gib <= *size_gib, "at least the snapshot's size");
                    source.filesystem
                }
            };
            known(&mut infra(w).volumes).push(VolumeState {
                id: format!("vol-{id}"),
                name: name.clone(),
                region: region.clone(),
                size_gib: *size_gib,
                filesystem,
                droplet_ids: vec![],
                tags: tags.clone(),
            });
        }
        Operation::ResizeVolume {
            volume_id,
            size_gib,
            ..
        } => {
            let v = known(&mut infra(w).volumes)
                .iter_mut()
                .find(|v| &v.id == volume_id)
                .expect("volume");
            v.size_gib = *size_gib;
        }
        Operation::DeleteVolume { volume_id } => {
            let vols = known(&mut infra(w).volumes);
            let v = vols.iter().find(|v| &v.id == volume_id).expect("volume");
            assert!(
                v.droplet_ids.is_empty(),
                "deleting an attached volume: DigitalOcean answers 409"
            );
            vols.retain(|v| &v.id != volume_id);
        }
        Operation::CreateDroplet {
            name,
            region,
            size,
            image,
            tags,
            volumes,
            ..
        } => {
            let volume_ids: Vec<String> = volumes.iter().map(|v| volume_id(w, v)).collect();
            for v in known(&mut infra(w).volumes)
                .iter_mut()
                .filter(|v| volume_ids.contains(&v.id))
            {
                // DigitalOcean refuses a create naming an attached volume or one in another region (422).
                assert!(v.droplet_ids.is_empty(), "creating with an attached volume");
                assert_eq!(
                    &v.region, region,
                    "creating with a volume in another region"
                );
                v.droplet_ids = vec![id];
            }
            assert_eq!(
                known(&mut infra(w).volumes)
                    .iter()
                    .filter(|v| v.droplet_ids == [id])
                    .count(),
                volume_ids.len(),
                "creating with a volume that does not exist"
            );
            known(&mut infra(w).droplets).push(DropletState {
                id,
                name: name.clone(),
                region: region.clone(),
                size: size.clone(),
                image: image.clone(),
                status: DropletStatus::Active,
                tags: tags.clone(),
                public_ipv4: Some("203.0.113.20".into()),
            });
        }
        Operation::ShutdownDroplet { droplet_id } => {
            droplet(w, *droplet_id).status = DropletStatus::Off
        }
        Operation::ResizeDroplet { droplet_id, size } => {
            let d = droplet(w, *droplet_id);
            assert_eq!(d.status, DropletStatus::Off, "resize needs the droplet off");
            d.size = size.clone();
        }
        Operation::PowerOnDroplet { droplet_id } => {
            droplet(w, *droplet_id).status = DropletStatus::Active
        }
        Operation::DeleteDroplet { droplet_id } => {
            let i = infra(w);
            known(&mut i.droplets).retain(|d| d.id != *droplet_id);
            for v in known(&mut i.volumes) {
                assert!(
                    !v.droplet_ids.contains(droplet_id),
                    "volume still attached to a deleted droplet"
                );
            }
        }
        Operation::Tag { tag, target } => match target {
            Taggable::Droplet(d) => droplet(w, *d).tags.push(tag.clone()),
            Taggable::Volume(v) => {
                let vol = known(&mut infra(w).volumes)
                    .iter_mut()
                    .find(|x| &x.id == v)
                    .expect("volume");
                vol.tags.push(tag.clone());
            }
        },
        Operation::Untag { tag, target } => match target {
            Taggable::Droplet(d) => droplet(w, *d).tags.retain(|t| t != tag),
            Taggable::Volume(v) => {
                let vol = known(&mut infra(w).volumes)
                    .iter_mut()
                    .find(|x| &x.id == v)
                    .expect("volume");
                vol.tags.retain(|t| t != tag);
            }
        },
        Operation::AttachVolume {
            volume, droplet, ..
        } => {
            let (vid, did) = (volume_id(w, volume), droplet_id(w, droplet));
            let v = known(&mut infra(w).volumes)
                .iter_mut()
                .find(|x| x.id == vid)
                .expect("volume");
            assert!(v.droplet_ids.is_empty(), "attaching an attached volume");
            v.droplet_ids = vec![did];
        }
        Operation::DetachVolume {
            volume_id,
            droplet_id,
            ..
        } => {
            let v = known(&mut infra(w).volumes)
                .iter_mut()
                .find(|x| &x.id == volume_id)
                .expect("volume");
            assert!(
                v.droplet_ids.contains(droplet_id),
                "422 Attachment not found"
            );
            v.droplet_ids.retain(|d| d != droplet_id);
        }
        Operation::CreateFirewall {
            name,
            inbound,
            outbound,
            tags,
        } => {
            known(&mut infra(w).firewalls).push(FirewallState {
                id: format!("fw-{id}"),
                name: name.clone(),
                inbound: rules(inbound),
                outbound: rules(outbound),
                tags: tags.clone(),
                droplet_ids: Vec::new(),
            });
        }
        Operation::UpdateFirewall {
            firewall_id,
            name,
            inbound,
            outbound,
            tags,
        } => {
            let f = known(&mut infra(w).firewalls)
                .iter_mut()
                .find(|f| &f.id == firewall_id)
                .expect("firewall");
            *f = FirewallState {
                id: firewall_id.clone(),
                name: name.clone(),
                inbound: rules(inbound),
                outbound: rules(outbound),
                tags: tags.clone(),
                droplet_ids: Vec::new(),
            };
        }
        Operation::DeleteFirewall { firewall_id } => {
            known(&mut infra(w).firewalls).retain(|f| &f.id != firewall_id)
        }
        Operation::SnapshotVolume { volume, name, tags } => {
            let vid = volume_id(w, volume);
            known(&mut infra(w).snapshots).push(SnapshotState {
                id: format!("snap-{id}"),
                name: name.clone(),
                created_at: now,
                volume_id: vid,
                tags: tags.clone(),
            });
        }
        Operation::DeleteSnapshot { snapshot_id }
        | Operation::DeleteSnapshotAfterGate { snapshot_id } => {
            let snaps = known(&mut infra(w).snapshots);
            assert!(
                snaps
                    .iter()
                    .filter(|s| &s.id == snapshot_id)
                    .all(|s| !s.tags.iter().any(|t| t == LAST_GOOD_TAG)),
                "deleting the last good deploy's snapshot {snapshot_id}"
            );
            snaps.retain(|s| &s.id != snapshot_id)
        }
        Operation::MarkLastGood { snapshot, untag } => {
            let snaps = known(&mut infra(w).snapshots);
            let target = snaps
                .iter_mut()
                .find(|s| match snapshot {
                    SnapshotRef::Id(id) => &s.id == id,
                    SnapshotRef::Planned(name) => &s.name == name,
                })
                .expect("snapshot to tag exists");
            target.tags.push(LAST_GOOD_TAG.to_owned());
            let target = target.id.clone();
            for s in snaps
                .iter_mut()
                .filter(|s| untag.contains(&s.id) && s.id != target)
            {
                s.tags.retain(|t| t != LAST_GOOD_TAG);
            }
        }
        Operation::EnsureDataDir { uid, gid, mode, .. } => {
            app(w).data_dir = Some(DirState {
                uid: *uid,
                gid: *gid,
                mode: *mode,
            });
        }
        Operation::PullImage { reference } => {
            let a = app(w);
            a.image = Some(ImageState {
                id: image_id(reference),
                repo_digests: vec![],
            });
            // A pulled build is newer than every image already in the store.
            if a.repository_images
                .iter()
                .all(|i| i.id != image_id(reference))
            {
                a.repository_images.push(StoredImage {
                    id: image_id(reference),
                    tags: vec![reference.clone()],
                    created: 1000 + i64::try_from(id).expect("small"),
                });
            }
        }
        Operation::RemoveImage { image_id } => {
            let a = app(w);
            assert!(
                a.containers.iter().all(|c| &c.image_id != image_id),
                "409 image {image_id} in use"
            );
            a.repository_images.retain(|i| &i.id != image_id);
        }
        Operation::CreateContainer {
            name, labels: l, ..
        } => {
            let a = app(w);
            assert!(
                a.containers.iter().all(|c| &c.name != name),
                "409 name {name} in use"
            );
            let image_id = a
                .image
                .as_ref()
                .expect("image pulled before create")
                .id
                .clone();
            a.containers.push(ContainerState {
                id: format!("c-{id}"),
                name: name.clone(),
                labels: l.clone(),
                image_id,
                state: ContainerStatus::Created,
                health: None,
                restart_count: 0,
                started_at: "t0".into(),
                runtime: None,
            });
        }
        Operation::StartContainer { container: c } => {
            let c = container(w, c);
            c.state = ContainerStatus::Running;
            c.health = Some(Health::Healthy);
            c.started_at = format!("t{id}");
        }
        Operation::StopContainer { container: c, .. } => {
            container(w, c).state = ContainerStatus::Exited
        }
        Operation::StopAppOnDroplet { container: c, .. } => {
            if let Some(app) = w.app.as_mut()
                && let Some(x) = app.containers.iter_mut().find(|x| &x.name == c)
            {
                x.state = ContainerStatus::Exited;
            }
        }
        Operation::UnmountVolume { .. } | Operation::MountVolume { .. } => {}
        Operation::RenameContainer { container: c, to } => {
            assert!(
                app(w).containers.iter().all(|x| &x.name != to),
                "409 name {to} in use"
            );
            container(w, c).name = to.clone();
        }
        Operation::WaitHealthy { container: c, .. } => {
            let c = container(w, c);
            assert!(c.is_running(), "waiting on a stopped container");
            let verdict = GateVerdict {
                container: c.id.clone(),
                started_at: c.started_at.clone(),
            };
            app(w).verified.push(verdict);
        }
        Operation::RemoveContainer { container: c } => {
            let key = c.clone();
            app(w).containers.retain(|x| x.id != key && x.name != key);
        }
    }
}

fn droplet(w: &mut ObservedState, id: u64) -> &mut DropletState {
    known(&mut infra(w).droplets)
        .iter_mut()
        .find(|d| d.id == id)
        .expect("droplet")
}

/// Labels of a container created from an older revision of `d` (a different image tag).
pub fn labels_of_revision(d: &DesiredState, tag: &str) -> BTreeMap<String, String> {
    let mut app = d.app.clone();
    app.image.tag = tag.to_owned();
    ContainerSpec::from_app(&app).labels(
        &app.container_name,
        Some(&secrets_fingerprint(SECRETS_FILE)),
        Some(COMMIT),
    )
}

pub const MANAGED_LABEL: &str = labels::MANAGED_BY;

/// Manifest rules as DigitalOcean holds them.
pub fn rules(rules: &[reconciler_core::manifest::FirewallRule]) -> Vec<ObservedRule> {
    rules.iter().map(ObservedRule::from).collect()
}
