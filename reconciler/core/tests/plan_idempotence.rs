//! Property: for random desired and observed states, applying the plan to a model of the world and planning again
//! yields no steps (convergence in one apply), and applying never breaks the world's rules (the model asserts them:
//! no deleting an attached volume, no resizing a running droplet, no container name clash...).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use common::*;
use proptest::prelude::*;
use reconciler_core::identity::{LAST_GOOD_TAG, MANAGED_TAG};
use reconciler_core::manifest::{DesiredState, RegistryTier};
use reconciler_core::observed::*;
use reconciler_core::plan::{PlanOptions, plan};
use reconciler_core::render;

fn mutate_desired(d: &mut DesiredState, code: u8) {
    match code {
        0 => d.infra.droplet.size = "s-2vcpu-4gb".into(),
        1 => d.infra.volume.size_gib += 10,
        2 => {
            d.infra.firewall.inbound.pop();
        }
        3 => {
            d.app.env.insert("LOG_LEVEL".into(), "debug".into());
        }
        4 => d.app.image.tag = "feedface".into(),
        5 => d.infra.registry.tier = RegistryTier::Professional,
        6 => d.infra.snapshots.keep = 1,
        7 => d.infra.snapshots.every = None,
        8 => d.infra.snapshots.before_deploy = !d.infra.snapshots.before_deploy,
        9 => d.app.secrets = None,
        10 => d.app.ports[0].host = 9090,
        11 => d.infra.droplet.tags.push("extra".into()),
        12 => d.infra.volume.name = "schwad-data-new".into(),
        _ => d.app.keep_previous = 0,
    }
}

const DESIRED_MUTATIONS: u8 = 14;

/// The running container runs an older revision (so a kept one may match the desired).
fn d_keep(o: &mut ObservedState) {
    if let Some(c) = app(o).containers.first_mut() {
        c.image_id = image_id("drifted");
    }
}

fn mutate_observed(d: &DesiredState, o: &mut ObservedState, code: u8, n: u8) {
    let i = infra(o);
    match code {
        0 => i.registry = Observed::Known(None),
        1 => known(&mut i.volumes).clear(),
        2 => {
            known(&mut i.droplets).clear();
            for v in known(&mut i.volumes) {
                v.droplet_ids.clear();
            }
        }
        3 => known(&mut i.firewalls).clear(),
        4 => {
            if let Some(fw) = known(&mut i.firewalls).first_mut() {
                fw.inbound.clear();
                fw.tags.push("added-by-hand".into());
            }
        }
        5 => {
            if let Some(dr) = known(&mut i.droplets).first_mut() {
                dr.tags.retain(|t| t != MANAGED_TAG);
                dr.tags.push("added-by-hand".into());
            }
        }
        6 => {
            if let Some(dr) = known(&mut i.droplets).first_mut() {
                dr.size = "s-4vcpu-8gb".into();
            }
        }
        7 => {
            if let Some(dr) = known(&mut i.droplets).first_mut() {
                dr.image = "docker-18-04".into();
            }
        }
        8 => {
            for v in known(&mut i.volumes) {
                v.droplet_ids.clear();
            }
        }
        9 => {
            for v in known(&mut i.volumes) {
                v.size_gib = 5;
            }
        }
        10 => {
            let snaps = known(&mut i.snapshots);
            let template = snaps.first().cloned();
            if let Some(t) = template {
                let first = snaps.len();
                for k in 0..u32::from(n % 12) {
                    let mut s = t.clone();
                    s.id = format!("old-{first}-{k}");
                    s.created_at = now() - chrono::Duration::hours(i64::from(k) * 7 + 2);
                    snaps.push(s);
                }
            }
        }
        11 => {
            for s in known(&mut i.snapshots) {
                s.created_at = now() - chrono::Duration::days(3);
            }
        }
        12 => app(o).containers.clear(),
        13 => {
            if let Some(c) = app(o).containers.first_mut() {
                c.state = ContainerStatus::Exited;
            }
        }
        14 => {
            if let Some(c) = app(o).containers.first_mut() {
                c.labels = labels_of_revision(d, "old");
                c.image_id = image_id("old");
            }
        }
        15 => {
            let labels = labels_of_revision(d, "older");
            let name = format!(
                "{}-{}",
                d.app.container_name,
                if n.is_multiple_of(2) { "prev" } else { "next" }
            );
            app(o).containers.push(ContainerState {
                id: format!("c-left-{n}"),
                name,
                labels,
                image_id: image_id("older"),
                state: ContainerStatus::Exited,
                health: None,
                restart_count: 0,
                started_at: "t0".into(),
                runtime: None,
            });
        }
        16 => app(o).image = None,
        17 => app(o).data_dir = None,
        18 => {
            app(o).data_dir = Some(DirState {
                uid: 0,
                gid: 0,
                mode: 0o755,
            })
        }
        19 => {
            if let Some(f) = app(o).secrets_file.as_mut() {
                f.fingerprint = format!("{n:016x}");
            }
        }
        20 => {
            // Kept previous revisions, one of them possibly the desired one.
            for k in 0..(n % 4) {
                let tag = if k == 0 {
                    d.app.image.tag.clone()
                } else {
                    format!("old{k}")
                };
                let labels = labels_of_revision(d, &tag);
                app(o).containers.push(ContainerState {
                    id: format!("c-kept-{k}"),
                    name: format!("{}-keep-2026112{k}000000-{k}", d.app.container_name),
                    labels,
                    image_id: image_id(&tag),
                    state: ContainerStatus::Exited,
                    health: None,
                    restart_count: 0,
                    started_at: "t0".into(),
                    runtime: None,
                });
            }
        }
        21 => d_keep(o),
        // The gate verdicts are lost (a deploy killed during its gate, a restart by the restart policy).
        22 => app(o).verified.clear(),
        // The last good deploy's snapshot is the oldest, beyond the base's `keep` (with n >= 128, an older tagging
        // that moved nothing left a second one tagged).
        23 => {
            let snaps = known(&mut i.snapshots);
            if let Some(t) = snaps.first().cloned() {
                let first = snaps.len();
                for k in 0..=d.infra.snapshots.keep {
                    let mut s = t.clone();
                    s.id = format!("good-{first}-{k}");
                    s.name = format!("schwad-data-good-{first}-{k}");
                    s.created_at = now() - chrono::Duration::hours(100 + i64::from(k) * 5);
                    s.tags.retain(|t| t != LAST_GOOD_TAG);
                    snaps.push(s);
                }
                let len = snaps.len();
                snaps[len - 1].tags.push(LAST_GOOD_TAG.to_owned());
                if n >= 128
                    && !snaps[usize::from(n) % len]
                        .tags
                        .iter()
                        .any(|t| t == LAST_GOOD_TAG)
                {
                    snaps[usize::from(n) % len]
                        .tags
                        .push(LAST_GOOD_TAG.to_owned());
                }
            }
        }
        _ => i.firewalls = Observed::Unknown("firewalls: 503".into()),
    }
}

const OBSERVED_MUTATIONS: u8 = 25;

/// The suite's seed. A long random run (README, "Randomized and kill-point tests"): `PROPTEST_RNG_SEED=$RANDOM
/// PROPTEST_CASES=20000 cargo nextest run -p reconciler-core --test plan_idempotence`.
const SEED: u64 = 0x5c4a_d015;

fn config() -> ProptestConfig {
    let mut config = ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = proptest::test_runner::RngSeed::Fixed(SEED);
    }
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 256;
    }
    config
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn one_apply_converges(
        desired_mutations in proptest::collection::vec(0..DESIRED_MUTATIONS, 0..4),
        observed_mutations in proptest::collection::vec((0..OBSERVED_MUTATIONS, any::<u8>()), 0..6),
    ) {
        let base = desired();
        let mut world = converged(&base);
        let mut observed_mutations = observed_mutations;
        observed_mutations.sort(); // "unknown" comes last: nothing mutates what could not be read
        for (code, n) in &observed_mutations {
            mutate_observed(&base, &mut world, *code, *n);
        }
        let mut d = base.clone();
        for code in &desired_mutations {
            mutate_desired(&mut d, *code);
        }
        let options = PlanOptions {
            allow_data_loss: vec![base.infra.volume.name.clone(), d.infra.volume.name.clone()],
            keep_images: Some(1),
        };
        let first = plan(&inputs(&d), &world, &options);
        prop_assert!(first.blocked.is_empty(), "nothing blocked with data loss allowed:\n{}", render::human(&first, false));
        let after = apply(&world, &first);
        let second = plan(&inputs(&d), &after, &options);
        prop_assert!(
            second.steps.is_empty(),
            "second plan not empty.\nfirst:\n{}\nsecond:\n{}",
            render::human(&first, false),
            render::human(&second, false)
        );
        prop_assert_eq!(first.unknown, second.unknown);
    }
}
