//! The planner on a table of scenarios: desired + observed → plan. Each plan's human view is a golden file under
//! `tests/snapshots/`; the assertions below pin the semantics the golden files could hide.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use common::*;
use reconciler_core::identity::{LAST_GOOD_TAG, MANAGED_TAG, deployment_tag, labels};
use reconciler_core::manifest::{DesiredState, Filesystem, RestartPolicy};
use reconciler_core::observed::*;
use reconciler_core::plan::{
    Action, Operation, Plan, PlanOptions, ResourceKind, SnapshotRef, Step, StepScope, VolumeRef,
    plan,
};
use reconciler_core::render;

type Mutate = fn(&mut DesiredState, &mut ObservedState);

fn run(mutate: Mutate, options: &PlanOptions) -> Plan {
    let mut d = desired();
    let mut o = converged(&d);
    mutate(&mut d, &mut o);
    plan(&inputs(&d), &o, options)
}

fn fresh_install(_: &mut DesiredState, o: &mut ObservedState) {
    let i = infra(o);
    i.droplets = Observed::Known(vec![]);
    i.volumes = Observed::Known(vec![]);
    i.firewalls = Observed::Known(vec![]);
    i.registry = Observed::Known(None);
    i.snapshots = Observed::Known(vec![]);
    let a = app(o);
    a.containers.clear();
    a.image = None;
    a.data_dir = None;
}

fn no_op(_: &mut DesiredState, _: &mut ObservedState) {}

fn tag_change(d: &mut DesiredState, o: &mut ObservedState) {
    d.app.image.tag = "2222222222222222222222222222222222222222".into();
    app(o).image = None;
}

fn env_change(d: &mut DesiredState, _: &mut ObservedState) {
    d.app.env.insert("LOG_LEVEL".into(), "debug".into());
}

fn secret_rotation(_: &mut DesiredState, o: &mut ObservedState) {
    app(o).secrets_file.as_mut().unwrap().fingerprint = "0123456789abcdef".into();
}

fn firewall_rule_removed(_: &mut DesiredState, o: &mut ObservedState) {
    known(&mut infra(o).firewalls)[0].inbound.remove(0);
}

fn firewall_equivalent_forms(_: &mut DesiredState, o: &mut ObservedState) {
    let fw = &mut known(&mut infra(o).firewalls)[0];
    fw.outbound.reverse();
    for rule in &mut fw.outbound {
        if rule.ports == "all" {
            rule.ports = "0".into();
        }
        rule.addresses.reverse();
    }
}

fn volume_detached(_: &mut DesiredState, o: &mut ObservedState) {
    known(&mut infra(o).volumes)[0].droplet_ids.clear();
}

fn droplet_tag_removed(_: &mut DesiredState, o: &mut ObservedState) {
    known(&mut infra(o).droplets)[0]
        .tags
        .retain(|t| t != MANAGED_TAG);
}

fn droplet_tag_order_and_region_case(_: &mut DesiredState, o: &mut ObservedState) {
    let d = &mut known(&mut infra(o).droplets)[0];
    d.tags.reverse();
    d.region = d.region.to_uppercase();
}

fn registry_missing(_: &mut DesiredState, o: &mut ObservedState) {
    infra(o).registry = Observed::Known(None);
}

fn droplet_resized(d: &mut DesiredState, _: &mut ObservedState) {
    d.infra.droplet.size = "s-2vcpu-4gb".into();
}

fn volume_grown(d: &mut DesiredState, _: &mut ObservedState) {
    d.infra.volume.size_gib = 20;
}

fn volume_renamed(d: &mut DesiredState, _: &mut ObservedState) {
    d.infra.volume.name = "schwad-data-2".into();
    d.infra.volume.mount_path = "/mnt/schwad-data".into();
}

fn droplet_image_changed(d: &mut DesiredState, _: &mut ObservedState) {
    d.infra.droplet.image = "ubuntu-22-04-x64".into();
}

fn droplets_unknown(_: &mut DesiredState, o: &mut ObservedState) {
    infra(o).droplets = Observed::Unknown("GET /v2/droplets: 500 server_error".into());
}

fn container_stopped(_: &mut DesiredState, o: &mut ObservedState) {
    app(o).containers[0].state = ContainerStatus::Exited;
}

fn container_deleted(_: &mut DesiredState, o: &mut ObservedState) {
    app(o).containers.clear();
}

fn data_dir_root_owned(_: &mut DesiredState, o: &mut ObservedState) {
    app(o).data_dir = Some(DirState {
        uid: 0,
        gid: 0,
        mode: 0o755,
    });
}

fn quarantined(d: &mut DesiredState, o: &mut ObservedState) {
    d.app.image.tag = "3333333333333333333333333333333333333333".into();
    let hash = reconciler_core::identity::ContainerSpec::from_app(&d.app).hash();
    app(o).quarantined.push(hash);
}

fn snapshots_over_limit(d: &mut DesiredState, o: &mut ObservedState) {
    d.infra.snapshots.keep = 3;
    let dep = deployment_tag(&d.name);
    let snaps = known(&mut infra(o).snapshots);
    snaps.clear();
    for age in 1..=6 {
        let mut tags = vec![MANAGED_TAG.to_owned(), dep.clone()];
        if age == 5 {
            tags.push(LAST_GOOD_TAG.to_owned());
        }
        snaps.push(SnapshotState {
            id: format!("snap-{age}"),
            name: format!("schwad-data-age-{age}h"),
            created_at: now() - chrono::Duration::hours(age),
            volume_id: "vol-1".into(),
            tags,
        });
    }
}

fn snapshot_due(_: &mut DesiredState, o: &mut ObservedState) {
    known(&mut infra(o).snapshots)[0].created_at = now() - chrono::Duration::hours(30);
}

fn leftover_prev(d: &mut DesiredState, o: &mut ObservedState) {
    let labels = labels_of_revision(d, "0ld");
    app(o).containers.push(ContainerState {
        id: "c-old".into(),
        name: format!("{}-prev", d.app.container_name),
        labels,
        image_id: image_id("old"),
        state: ContainerStatus::Exited,
        health: None,
        restart_count: 0,
        started_at: "t0".into(),
        runtime: None,
    });
}

fn hash_format_changed(_: &mut DesiredState, o: &mut ObservedState) {
    let c = &mut app(o).containers[0];
    c.labels
        .insert(labels::SPEC_HASH.into(), "v0:deadbeef".into());
}

fn secrets_file_missing(_: &mut DesiredState, o: &mut ObservedState) {
    app(o).secrets_file = None;
}

fn unmanaged_container(_: &mut DesiredState, o: &mut ObservedState) {
    app(o).containers[0].labels.clear();
}

fn foreign_droplet_with_our_name(_: &mut DesiredState, o: &mut ObservedState) {
    known(&mut infra(o).droplets)[0].tags = vec!["someone-else".into()];
}

const CASES: &[(&str, Mutate)] = &[
    ("fresh_install", fresh_install),
    ("no_op", no_op),
    ("tag_change", tag_change),
    ("env_change", env_change),
    ("secret_rotation", secret_rotation),
    ("drift_firewall_rule_removed", firewall_rule_removed),
    ("firewall_equivalent_forms", firewall_equivalent_forms),
    ("drift_volume_detached", volume_detached),
    ("drift_droplet_tag_removed", droplet_tag_removed),
    (
        "droplet_tag_order_and_region_case",
        droplet_tag_order_and_region_case,
    ),
    ("drift_registry_missing", registry_missing),
    ("droplet_resized", droplet_resized),
    ("volume_grown", volume_grown),
    ("volume_renamed_blocked", volume_renamed),
    ("droplet_image_changed_blocked", droplet_image_changed),
    ("droplets_unknown", droplets_unknown),
    ("drift_container_stopped", container_stopped),
    ("drift_container_deleted", container_deleted),
    ("data_dir_root_owned", data_dir_root_owned),
    ("quarantined_revision", quarantined),
    ("snapshots_over_limit", snapshots_over_limit),
    ("snapshot_due", snapshot_due),
    ("leftover_prev_container", leftover_prev),
    ("hash_format_changed", hash_format_changed),
    ("secrets_file_missing", secrets_file_missing),
    ("unmanaged_container", unmanaged_container),
    (
        "foreign_droplet_with_our_name",
        foreign_droplet_with_our_name,
    ),
];

#[test]
fn golden_human_plans() {
    for (name, mutate) in CASES {
        let plan = run(*mutate, &PlanOptions::default());
        insta::assert_snapshot!(*name, render::human(&plan, false));
    }
}

#[test]
fn golden_json_plans() {
    for name in ["fresh_install", "tag_change", "volume_renamed_blocked"] {
        let (_, mutate) = CASES.iter().find(|(n, _)| *n == name).unwrap();
        let plan = run(*mutate, &PlanOptions::default());
        insta::assert_snapshot!(format!("{name}_json"), render::json(&plan));
    }
}

fn ops(plan: &Plan) -> Vec<&'static str> {
    plan.steps
        .iter()
        .map(|s| match &s.op {
            Operation::CreateRegistry { .. } => "create_registry",
            Operation::SetRegistryTier { .. } => "set_registry_tier",
            Operation::CreateVolume { .. } => "create_volume",
            Operation::ResizeVolume { .. } => "resize_volume",
            Operation::DeleteVolume { .. } => "delete_volume",
            Operation::CreateDroplet { .. } => "create_droplet",
            Operation::ShutdownDroplet { .. } => "shutdown_droplet",
            Operation::ResizeDroplet { .. } => "resize_droplet",
            Operation::PowerOnDroplet { .. } => "power_on_droplet",
            Operation::DeleteDroplet { .. } => "delete_droplet",
            Operation::Tag { .. } => "tag",
            Operation::Untag { .. } => "untag",
            Operation::AttachVolume { .. } => "attach_volume",
            Operation::DetachVolume { .. } => "detach_volume",
            Operation::StopAppOnDroplet { .. } => "stop_app_on_droplet",
            Operation::UnmountVolume { .. } => "unmount_volume",
            Operation::MountVolume { .. } => "mount_volume",
            Operation::CreateFirewall { .. } => "create_firewall",
            Operation::UpdateFirewall { .. } => "update_firewall",
            Operation::DeleteFirewall { .. } => "delete_firewall",
            Operation::SnapshotVolume { .. } => "snapshot_volume",
            Operation::DeleteSnapshot { .. } => "delete_snapshot",
            Operation::MarkLastGood { .. } => "mark_last_good",
            Operation::DeleteSnapshotAfterGate { .. } => "delete_snapshot_after_gate",
            Operation::EnsureDataDir { .. } => "ensure_data_dir",
            Operation::PullImage { .. } => "pull_image",
            Operation::RemoveImage { .. } => "remove_image",
            Operation::CreateContainer { .. } => "create_container",
            Operation::StartContainer { .. } => "start_container",
            Operation::StopContainer { .. } => "stop_container",
            Operation::RenameContainer { .. } => "rename_container",
            Operation::WaitHealthy { .. } => "wait_healthy",
            Operation::RemoveContainer { .. } => "remove_container",
        })
        .collect()
}

#[test]
fn converged_world_plans_nothing() {
    let plan = run(no_op, &PlanOptions::default());
    assert!(plan.is_empty(), "{}", render::human(&plan, false));
    assert!(plan.changes.iter().all(|c| c.action == Action::NoOp));
    assert_eq!(
        plan.summary().add + plan.summary().change + plan.summary().destroy,
        0
    );
}

#[test]
fn fresh_install_creates_in_dependency_order() {
    let plan = run(fresh_install, &PlanOptions::default());
    assert_eq!(
        ops(&plan),
        [
            "create_registry",
            "create_volume",
            "create_droplet",
            "create_firewall",
            "ensure_data_dir",
            "pull_image",
            "create_container",
            "start_container",
            "wait_healthy",
            "snapshot_volume"
        ]
    );
}

#[test]
fn replacement_stops_the_old_container_before_starting_the_new_one() {
    let plan = run(tag_change, &PlanOptions::default());
    assert_eq!(
        ops(&plan),
        [
            "pull_image",
            "snapshot_volume",
            "create_container",
            "stop_container",
            "rename_container",
            "rename_container",
            "start_container",
            "wait_healthy",
            "mark_last_good"
        ],
        "pull and create before the stop keep the gap short; the old container is kept, stopped"
    );
    let revert: Vec<_> = plan
        .revert
        .iter()
        .map(|s| render::describe(&s.op))
        .collect();
    assert!(
        revert[2].starts_with("rename container schwad-keep-20261126120000-"),
        "{revert:?}"
    );
    assert!(
        plan.changes
            .iter()
            .any(|c| c.resource.kind == ResourceKind::Container && c.action == Action::Replace)
    );
}

fn kept(d: &DesiredState, tag: &str, name: &str) -> ContainerState {
    ContainerState {
        id: format!("c-{name}"),
        name: name.into(),
        labels: labels_of_revision(d, tag),
        image_id: image_id(tag),
        state: ContainerStatus::Exited,
        health: None,
        restart_count: 0,
        started_at: "t0".into(),
        runtime: None,
    }
}

#[test]
fn going_back_to_a_kept_revision_restarts_its_container() {
    let plan = run(
        |d, o| {
            let old = d.app.image.tag.clone();
            let k = kept(d, &old, "schwad-keep-20261120000000-aaaa");
            let a = app(o);
            a.containers.push(k);
            // The running container is a newer revision; the manifest goes back to the kept one.
            a.containers[0].labels = labels_of_revision(d, "newer");
            a.containers[0].image_id = image_id("newer");
            a.image = Some(ImageState {
                id: image_id(&old),
                repo_digests: vec![],
            });
        },
        &PlanOptions::default(),
    );
    assert_eq!(
        ops(&plan),
        [
            "snapshot_volume",
            "stop_container",
            "rename_container",
            "rename_container",
            "start_container",
            "wait_healthy",
            "mark_last_good"
        ],
        "no pull, no create: {}",
        render::human(&plan, false)
    );
    assert!(plan.steps[3].cause.contains("fast rollback"));
}

#[test]
fn only_the_newest_kept_containers_stay() {
    let plan = run(
        |d, o| {
            d.app.image.tag = "next".into();
            for (i, tag) in ["a", "b", "c"].iter().enumerate() {
                let k = kept(d, tag, &format!("schwad-keep-2026112{i}000000-{tag}"));
                app(o).containers.push(k);
            }
        },
        &PlanOptions::default(),
    );
    let removed: Vec<_> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.op {
            Operation::RemoveContainer { container } => Some(container.as_str()),
            _ => None,
        })
        .collect();
    // keep_previous is 2: the one retired now and the newest kept one stay.
    assert_eq!(
        removed,
        [
            "c-schwad-keep-20261121000000-b",
            "c-schwad-keep-20261120000000-a"
        ]
    );
}

#[test]
fn env_change_names_the_variable_and_takes_no_snapshot() {
    let plan = run(env_change, &PlanOptions::default());
    let change = plan
        .changes
        .iter()
        .find(|c| c.resource.kind == ResourceKind::Container)
        .unwrap();
    assert_eq!(change.causes, ["env.LOG_LEVEL changed"]);
    assert!(!ops(&plan).contains(&"snapshot_volume"));
}

#[test]
fn secret_values_never_appear_only_their_change() {
    let plan = run(secret_rotation, &PlanOptions::default());
    let text = render::human(&plan, false) + &render::json(&plan);
    assert!(text.contains("(sensitive, changed)"));
    for line in String::from_utf8_lossy(SECRETS_FILE).lines() {
        let value = line.split_once('=').unwrap().1;
        assert!(!text.contains(&format!("={value}")), "secret value leaked");
    }
}

#[test]
fn data_destructive_changes_are_blocked_unless_allowed() {
    let plan = run(volume_renamed, &PlanOptions::default());
    // The move: the new volume from a snapshot of the old one, which is then deleted.
    assert_eq!(plan.blocked.len(), 1);
    assert!(
        plan.blocked
            .iter()
            .all(|b| b.reason.contains("--allow-data-loss=schwad-data"))
    );
    assert!(!ops(&plan).contains(&"delete_volume"));

    let allowed = PlanOptions {
        allow_data_loss: vec!["schwad-data".into()],
        ..PlanOptions::default()
    };
    let plan = run(volume_renamed, &allowed);
    assert!(plan.blocked.is_empty());
    let ops = ops(&plan);
    let pos = |op| ops.iter().position(|o| *o == op).unwrap();
    assert!(pos("detach_volume") < pos("snapshot_volume"));
    assert!(
        pos("snapshot_volume") < pos("delete_volume"),
        "a fresh snapshot before the delete"
    );
}

#[test]
fn replacing_the_droplet_holding_the_volume_is_data_destructive() {
    let plan = run(droplet_image_changed, &PlanOptions::default());
    assert_eq!(plan.blocked.len(), 1);
    assert_eq!(plan.blocked[0].resource.kind, ResourceKind::Droplet);
    assert!(plan.steps.is_empty());
}

#[test]
fn unknown_is_not_absent() {
    let plan = run(droplets_unknown, &PlanOptions::default());
    assert_eq!(plan.unknown.len(), 1);
    assert!(
        !ops(&plan)
            .iter()
            .any(|o| o.contains("droplet") || o.contains("attach"))
    );
}

#[test]
fn a_new_hash_format_alone_recreates_nothing() {
    let plan = run(hash_format_changed, &PlanOptions::default());
    assert!(plan.is_empty(), "{}", render::human(&plan, false));
}

#[test]
fn the_data_directory_is_fixed_before_the_container_starts() {
    let plan = run(
        |d, o| {
            data_dir_root_owned(d, o);
            container_deleted(d, o);
        },
        &PlanOptions::default(),
    );
    let ops = ops(&plan);
    assert!(
        ops.iter().position(|o| *o == "ensure_data_dir")
            < ops.iter().position(|o| *o == "start_container")
    );
}

#[test]
fn pruning_keeps_the_last_good_snapshot() {
    let plan = run(snapshots_over_limit, &PlanOptions::default());
    let deleted: Vec<_> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.op {
            Operation::DeleteSnapshot { snapshot_id } => Some(snapshot_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(deleted, ["snap-4", "snap-6"]);
}

/// The world of `tag_change` whose one snapshot is the last good deploy's.
fn tag_change_after_a_good_deploy(d: &mut DesiredState, o: &mut ObservedState) {
    tag_change(d, o);
    known(&mut infra(o).snapshots)[0]
        .tags
        .push(LAST_GOOD_TAG.to_owned());
}

#[test]
fn the_deploys_snapshot_is_tagged_last_good_only_after_the_gate() {
    let plan = run(tag_change_after_a_good_deploy, &PlanOptions::default());
    let ops = ops(&plan);
    let at = |op: &str| ops.iter().position(|o| *o == op).unwrap();
    assert!(at("snapshot_volume") < at("wait_healthy"));
    assert!(at("wait_healthy") < at("mark_last_good"));
    let step = &plan.steps[at("mark_last_good")];
    assert_eq!(
        step.op,
        Operation::MarkLastGood {
            snapshot: SnapshotRef::Planned("schwad-data-predeploy-20261126-120000".into()),
            untag: vec!["snap-1".into()],
        }
    );
    assert_eq!(step.op.scope(), StepScope::AfterGate);
    assert!(!step.op.scope().is_infra());
    assert!(
        step.cause.contains("only after the health gate passes"),
        "{}",
        step.cause
    );
    let human = render::human(&plan, false);
    assert!(
        human.contains(
            "after the health gate: tag snapshot schwad-data-predeploy-20261126-120000 (new) with schwad-last-good, \
             remove it from snapshot snap-1"
        ),
        "{human}"
    );
    assert!(
        human.contains("~ last_good: schwad-data-fresh → schwad-data-predeploy-20261126-120000"),
        "{human}"
    );
    // Under `keep: 7` the snapshot that loses the tag stays.
    assert!(!ops.contains(&"delete_snapshot_after_gate"), "{human}");
}

#[test]
fn no_snapshot_no_last_good_step() {
    let without = |mutate: Mutate| {
        let plan = run(mutate, &PlanOptions::default());
        assert!(
            plan.steps
                .iter()
                .all(|s| s.op.scope() != StepScope::AfterGate),
            "{}",
            render::human(&plan, false)
        );
    };
    // The image stays: no snapshot before the deploy.
    without(env_change);
    // The policy takes none before a deploy.
    without(|d, o| {
        tag_change(d, o);
        d.infra.snapshots.before_deploy = false;
    });
    // A periodic snapshot is not a deploy's.
    without(snapshot_due);
    // The first container: nothing to protect, no snapshot.
    without(container_deleted);
}

#[test]
fn the_snapshot_that_loses_the_tag_is_pruned_after_the_gate_and_one_apply_converges() {
    let mutate = |d: &mut DesiredState, o: &mut ObservedState| {
        tag_change_after_a_good_deploy(d, o);
        d.infra.snapshots.keep = 1;
        // An older snapshot the policy prunes at once.
        let mut older = known(&mut infra(o).snapshots)[0].clone();
        older.id = "snap-0".into();
        older.name = "schwad-data-older".into();
        older.created_at = now() - chrono::Duration::hours(2);
        older.tags.retain(|t| t != LAST_GOOD_TAG);
        known(&mut infra(o).snapshots).push(older);
    };
    let mut d = desired();
    let mut o = converged(&d);
    mutate(&mut d, &mut o);
    let first = plan(&inputs(&d), &o, &PlanOptions::default());
    let human = render::human(&first, false);
    let ops = ops(&first);
    let at = |op: &str| ops.iter().position(|o| *o == op).unwrap();
    assert_eq!(
        first.steps[at("delete_snapshot")].op,
        Operation::DeleteSnapshot {
            snapshot_id: "snap-0".into()
        },
        "{human}"
    );
    assert!(at("mark_last_good") < at("delete_snapshot_after_gate"));
    let after_gate = &first.steps[at("delete_snapshot_after_gate")];
    assert_eq!(
        after_gate.op,
        Operation::DeleteSnapshotAfterGate {
            snapshot_id: "snap-1".into()
        }
    );
    assert!(
        after_gate
            .cause
            .contains("only after the health gate passes")
    );
    assert_eq!(
        ops.iter().filter(|o| o.contains("delete_snapshot")).count(),
        2
    );

    let after = apply(&o, &first);
    let second = plan(&inputs(&d), &after, &PlanOptions::default());
    assert!(second.steps.is_empty(), "{}", render::human(&second, false));
    let left: Vec<_> = known(&mut infra(&mut after.clone()).snapshots)
        .iter()
        .map(|s| (s.name.clone(), s.tags.contains(&LAST_GOOD_TAG.to_owned())))
        .collect();
    assert_eq!(
        left,
        [("schwad-data-predeploy-20261126-120000".to_owned(), true)]
    );
}

/// A manifest value cannot colour the terminal, clear it or forge a line of the plan (issue 16, case 7).
#[test]
fn terminal_escapes_in_manifest_values_are_shown_escaped() {
    let plan = run(
        |d, _| {
            d.app.env.insert(
                "LOG_LEVEL".into(),
                "\x1b[2J\x1b[32mok\nPlan: 0 to add".into(),
            );
        },
        &PlanOptions::default(),
    );
    let out = render::human(&plan, false);
    assert!(!out.contains('\x1b'), "{out}");
    assert!(out.contains("\\u{1b}[2J"), "{out}");
    assert_eq!(out.matches("\nPlan: ").count(), 1, "{out}");
}

#[test]
fn an_untagged_same_named_droplet_volume_or_firewall_is_refused_with_the_adopt_command() {
    let d = desired();
    let dep = deployment_tag(&d.name);
    let untag: [(ResourceKind, &str, Mutate); 3] = [
        (ResourceKind::Droplet, "schwad-prod-1", |_, o| {
            known(&mut infra(o).droplets)[0].tags = vec![MANAGED_TAG.to_owned()];
        }),
        (ResourceKind::Volume, "schwad-data", |_, o| {
            known(&mut infra(o).volumes)[0].tags = vec![MANAGED_TAG.to_owned()];
        }),
        (ResourceKind::Firewall, "schwad-prod", |_, o| {
            known(&mut infra(o).firewalls)[0].tags = vec!["web".into()];
        }),
    ];
    for (kind, name, mutate) in untag {
        let plan = run(mutate, &PlanOptions::default());
        let blocked: Vec<_> = plan
            .blocked
            .iter()
            .filter(|b| b.resource.kind == kind)
            .collect();
        assert_eq!(blocked.len(), 1, "{kind}: {}", render::human(&plan, false));
        let reason = &blocked[0].reason;
        assert!(
            reason.contains(&format!("`reconciler adopt {kind} {name}`")) && reason.contains(&dep),
            "{reason}"
        );
        // Nothing acts on it: no tag, update, attach or delete of the unadopted resource.
        assert!(
            plan.steps.iter().all(|s| s.resource.kind != kind),
            "{kind}: {:#?}",
            plan.steps
        );
    }
}

/// Issue 15 case 11: a region change would start the bot on an empty volume (DigitalOcean copies no volume snapshot
/// across regions), and so would a rename that cannot move the data (a smaller size, another filesystem). Blocked
/// without `--allow-data-loss`; allowed, the old volume is snapshotted before it goes.
#[test]
fn a_change_that_would_start_the_bot_on_an_empty_volume_is_blocked() {
    let region: Mutate = |d, _| d.infra.region = "ams3".into();
    let smaller: Mutate = |d, o| {
        d.infra.volume.name = "schwad-data-2".into();
        known(&mut infra(o).volumes)[0].size_gib = 20;
    };
    let other_fs: Mutate = |d, _| {
        d.infra.volume.name = "schwad-data-2".into();
        d.infra.volume.filesystem = Filesystem::Xfs;
    };
    for (case, mutate, why) in [
        (
            "region",
            region,
            "cannot move a volume or copy a volume snapshot to another region",
        ),
        ("rename and shrink", smaller, "at least the snapshot's size"),
        ("rename and reformat", other_fs, "keeps its filesystem"),
    ] {
        let plan = run(mutate, &PlanOptions::default());
        let human = render::human(&plan, false);
        assert!(
            !ops(&plan).contains(&"create_volume"),
            "{case}: an empty volume is created:\n{human}"
        );
        let created = plan
            .changes
            .iter()
            .find(|c| c.resource.kind == ResourceKind::Volume && c.action == Action::Create)
            .unwrap();
        assert!(created.data_destructive, "{case}");
        assert!(
            created.causes.iter().any(|c| c.contains(why)),
            "{case}: {human}"
        );
        assert!(
            plan.blocked
                .iter()
                .any(|b| b.reason.contains("--allow-data-loss=schwad-data")),
            "{case}: {human}"
        );
        assert!(
            !human.contains("from snapshot"),
            "{case}: no move is offered:\n{human}"
        );

        // Allowed: the old volume is snapshotted before it goes.
        let allowed = run(
            mutate,
            &PlanOptions {
                allow_data_loss: vec!["schwad-data".into()],
                ..PlanOptions::default()
            },
        );
        let ops = ops(&allowed);
        let at = |op: &str| ops.iter().position(|o| *o == op).unwrap();
        assert!(
            at("snapshot_volume") < at("delete_volume"),
            "{case}: {ops:?}"
        );
        assert!(ops.contains(&"create_volume"), "{case}: {ops:?}");
    }
}

/// Issue 15 case 11: a rename in the region moves the data: the new volume is made from a fresh snapshot of the old
/// one, taken after the bot stopped and the volume was unmounted and detached, and the old one goes only after.
#[test]
fn a_renamed_volume_starts_from_a_fresh_snapshot_of_the_old_one() {
    let plan = run(volume_renamed, &PlanOptions::default());
    let human = render::human(&plan, false);
    assert!(plan.steps.is_empty(), "held back until allowed:\n{human}");
    assert!(
        plan.blocked.iter().any(|b| b
            .reason
            .contains("deletes volume schwad-data once its data is on schwad-data-2")
            && b.reason.contains("--allow-data-loss=schwad-data")),
        "{human}"
    );

    let allowed = run(
        volume_renamed,
        &PlanOptions {
            allow_data_loss: vec!["schwad-data".into()],
            ..PlanOptions::default()
        },
    );
    let steps: Vec<&Operation> = allowed.steps.iter().map(|s| &s.op).collect();
    let at = |f: &dyn Fn(&Operation) -> bool| steps.iter().position(|o| f(o)).unwrap();
    let snapshot = at(&|o| matches!(o, Operation::SnapshotVolume { .. }));
    let Operation::SnapshotVolume { name, volume, .. } = steps[snapshot] else {
        unreachable!()
    };
    assert_eq!(*volume, VolumeRef::Id("vol-1".into()));
    let created = at(&|o| {
        matches!(o, Operation::CreateVolume { name: n, from_snapshot: Some(s), .. }
            if n == "schwad-data-2" && *s == SnapshotRef::Planned(name.clone()))
    });
    let stop = at(&|o| matches!(o, Operation::StopAppOnDroplet { .. }));
    let unmount = at(&|o| matches!(o, Operation::UnmountVolume { .. }));
    let detach = at(&|o| matches!(o, Operation::DetachVolume { .. }));
    let delete =
        at(&|o| matches!(o, Operation::DeleteVolume { volume_id } if volume_id == "vol-1"));
    let attach = at(&|o| matches!(o, Operation::AttachVolume { .. }));
    assert!(
        stop < unmount && unmount < detach && detach < snapshot,
        "{steps:?}"
    );
    assert!(
        snapshot < created && created < delete && created < attach,
        "{steps:?}"
    );
    assert_eq!(
        steps
            .iter()
            .filter(|o| matches!(o, Operation::CreateVolume { .. }))
            .count(),
        1,
        "one new volume: {steps:?}"
    );
}

/// Issue 15 case 1: a deploy killed during its gate leaves the new container running with matching labels but no
/// verdict. That is not converged: the gate runs again, with a revert to the last good kept container.
#[test]
fn a_container_whose_run_never_passed_its_gate_is_checked_again() {
    let plan = run(
        |d, o| {
            let old = d.app.image.tag.clone();
            let mut k = kept(d, &old, "schwad-keep-20261120000000-aaaa");
            k.labels = labels_of_revision(d, "older");
            let a = app(o);
            a.verified = vec![GateVerdict {
                container: k.id.clone(),
                started_at: k.started_at.clone(),
            }];
            a.containers.push(k);
        },
        &PlanOptions::default(),
    );
    assert_eq!(
        ops(&plan),
        ["wait_healthy"],
        "the manifest keeps previous containers"
    );
    let revert: Vec<String> = plan
        .revert
        .iter()
        .map(|s| render::describe(&s.op))
        .collect();
    assert!(
        revert
            .iter()
            .any(|s| s.contains("rename container c-schwad-keep-20261120000000-aaaa to schwad")),
        "{revert:?}"
    );
}

/// Issue 15 case 3: killed during the revert, a quarantined revision sits under the name: the next plan restores
/// the last good container (never recreates the bad one), checked with that container's own gate.
#[test]
fn a_quarantined_revision_under_the_name_is_replaced_by_the_last_good_container() {
    let mut d = desired();
    let mut o = converged(&d);
    let hash = reconciler_core::identity::ContainerSpec::from_app(&d.app).hash();
    let mut old_app = d.app.clone();
    old_app.image.tag = "good".into();
    old_app.health_check.http = Some("http://127.0.0.1:9999/old-health".into());
    let old_labels = reconciler_core::identity::ContainerSpec::from_app(&old_app).labels(
        &d.app.container_name,
        Some(&reconciler_core::identity::secrets_fingerprint(
            SECRETS_FILE,
        )),
        Some(COMMIT),
    );
    let mut k = kept(&d, "good", "schwad-keep-20261120000000-bbbb");
    k.labels = old_labels;
    let a = app(&mut o);
    a.quarantined = vec![hash];
    a.containers[0].state = ContainerStatus::Exited;
    a.verified = vec![GateVerdict {
        container: k.id.clone(),
        started_at: k.started_at.clone(),
    }];
    a.containers.push(k);
    d.app.keep_previous = 0;
    let plan = plan(&inputs(&d), &o, &PlanOptions::default());
    assert_eq!(
        ops(&plan),
        [
            "stop_container",
            "remove_container",
            "rename_container",
            "start_container",
            "wait_healthy"
        ]
    );
    let Operation::WaitHealthy { gate, .. } = &plan.steps[4].op else {
        panic!("{plan:?}")
    };
    assert_eq!(
        gate.http.as_deref(),
        Some("http://127.0.0.1:9999/old-health")
    );
}

/// Issue 15 case 6: a same-named container with copied labels but running as root, with a writable root, no
/// cap-drop, restart=no and an extra host mount is drift, shown field by field, and replaced.
#[test]
fn hand_made_runtime_drift_is_shown_and_replaced() {
    let d = desired();
    let spec = reconciler_core::identity::ContainerSpec::from_app(&d.app);
    let mut env: std::collections::BTreeMap<String, String> = spec
        .env
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                reconciler_core::identity::env_value_fingerprint(v),
            )
        })
        .collect();
    for name in &spec.secret_names {
        env.insert(name.clone(), "x".into());
    }
    let matching = ContainerRuntime {
        user: d.app.user.clone(),
        read_only_root_fs: true,
        cap_drop: vec!["ALL".into()],
        cap_add: vec![],
        security_opt: vec!["no-new-privileges:true".into()],
        privileged: false,
        restart: spec.restart,
        mounts: vec![format!(
            "{}:{}:rw",
            d.app.volume_mount.host_path, d.app.volume_mount.container_path
        )],
        ports: d
            .app
            .ports
            .iter()
            .map(|p| {
                let ip = p
                    .host_ip
                    .as_deref()
                    .map(|i| format!("{i}:"))
                    .unwrap_or_default();
                format!("{ip}{}->{}/tcp", p.host, p.container)
            })
            .collect(),
        log: vec![
            "driver=json-file".into(),
            format!("max-file={}", d.app.logs.max_files),
            format!("max-size={}", d.app.logs.max_size),
        ],
        env,
    };
    let mut o = converged(&d);
    app(&mut o).containers[0].runtime = Some(matching.clone());
    assert!(
        plan(&inputs(&d), &o, &PlanOptions::default())
            .steps
            .is_empty(),
        "the runtime as created matches"
    );
    let mut drifted = matching;
    drifted.user = "0:0".into();
    drifted.read_only_root_fs = false;
    drifted.cap_drop.clear();
    drifted.restart = RestartPolicy::No;
    drifted.mounts.push("/:/host:rw".into());
    app(&mut o).containers[0].runtime = Some(drifted);
    let plan = plan(&inputs(&d), &o, &PlanOptions::default());
    let change = plan
        .changes
        .iter()
        .find(|c| c.resource.kind == ResourceKind::Container)
        .unwrap();
    assert_eq!(change.action, Action::Replace);
    let fields: Vec<&str> = change.fields.iter().map(|f| f.field.as_str()).collect();
    for f in [
        "runtime.user",
        "runtime.read_only_root_fs",
        "runtime.cap_drop",
        "runtime.restart",
        "runtime.mounts",
    ] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }
    let human = render::human(&plan, false);
    assert!(human.contains("drift: user is 0:0"), "{human}");
    assert!(ops(&plan).contains(&"create_container"));
}

/// The volumes the plan's droplet create attaches, with the step's cause.
fn droplet_created_with(plan: &Plan) -> Option<(&[VolumeRef], &Step)> {
    plan.steps.iter().find_map(|s| match &s.op {
        Operation::CreateDroplet { volumes, .. } => Some((volumes.as_slice(), s)),
        _ => None,
    })
}

/// Issue 20, case 9: the volume is in the droplet's create request, so cloud-init never waits for a device that a
/// later attach step brings.
#[test]
fn a_new_droplet_takes_the_volume_at_creation_instead_of_a_later_attach() {
    let fresh = run(fresh_install, &PlanOptions::default());
    let (volumes, step) = droplet_created_with(&fresh).expect("droplet created");
    assert_eq!(volumes, [VolumeRef::Planned("schwad-data".into())]);
    assert!(
        step.cause.contains("attached at creation"),
        "{}",
        step.cause
    );
    let fresh_ops = ops(&fresh);
    let pos = |op| fresh_ops.iter().position(|o| *o == op).unwrap();
    assert!(pos("create_volume") < pos("create_droplet"));
    assert!(!fresh_ops.contains(&"attach_volume"), "{fresh_ops:?}");
    let attachment = fresh
        .changes
        .iter()
        .find(|c| c.resource.kind == ResourceKind::VolumeAttachment)
        .expect("the attachment is shown");
    assert_eq!(attachment.action, Action::Create);
    assert!(
        attachment
            .causes
            .iter()
            .any(|c| c.contains("create request")),
        "{attachment:?}"
    );

    // The droplet deleted by hand: its replacement takes the surviving, detached volume by id.
    let gone = run(
        |_, o| {
            known(&mut infra(o).droplets).clear();
            known(&mut infra(o).volumes)[0].droplet_ids.clear();
        },
        &PlanOptions::default(),
    );
    let (volumes, _) = droplet_created_with(&gone).expect("droplet created");
    assert_eq!(volumes, [VolumeRef::Id("vol-1".into())]);
    assert!(!ops(&gone).contains(&"attach_volume"));

    // A replacement (allowed) detaches the volume from the old droplet and hands it to the new one at creation.
    let allowed = PlanOptions {
        allow_data_loss: vec!["schwad-data".into()],
        ..PlanOptions::default()
    };
    let replaced = run(droplet_image_changed, &allowed);
    let (volumes, _) = droplet_created_with(&replaced).expect("droplet created");
    assert_eq!(volumes, [VolumeRef::Id("vol-1".into())]);
    let ops = ops(&replaced);
    let pos = |op| ops.iter().position(|o| *o == op).unwrap();
    assert!(pos("detach_volume") < pos("create_droplet"));
    assert!(!ops.contains(&"attach_volume"), "{ops:?}");
}

/// A volume still attached to a droplet outside the deployment cannot go into a create request (DigitalOcean answers
/// 422): the droplet is created bare and the volume detached and attached after it, as before.
#[test]
fn a_volume_attached_elsewhere_is_moved_by_separate_steps() {
    let plan = run(
        |_, o| {
            known(&mut infra(o).droplets).clear();
            known(&mut infra(o).volumes)[0].droplet_ids = vec![77];
        },
        &PlanOptions::default(),
    );
    let (volumes, step) = droplet_created_with(&plan).expect("droplet created");
    assert!(volumes.is_empty());
    assert!(
        !step.cause.contains("attached at creation"),
        "{}",
        step.cause
    );
    let ops = ops(&plan);
    let pos = |op| ops.iter().position(|o| *o == op).unwrap();
    assert!(pos("create_droplet") < pos("detach_volume"));
    assert!(pos("detach_volume") < pos("attach_volume"));
}

fn keeping(n: usize) -> PlanOptions {
    PlanOptions {
        keep_images: Some(n),
        ..PlanOptions::default()
    }
}

fn removed_images(plan: &Plan) -> Vec<&str> {
    plan.steps
        .iter()
        .filter_map(|s| match &s.op {
            Operation::RemoveImage { image_id } => Some(image_id.as_str()),
            _ => None,
        })
        .collect()
}

/// Issue 19, item 3: image pruning is planned, older than the image that runs and beyond `keep`.
#[test]
fn images_older_than_the_running_one_beyond_keep_are_planned_for_removal() {
    assert!(removed_images(&run(no_op, &PlanOptions::default())).is_empty());
    assert!(removed_images(&run(no_op, &keeping(2))).is_empty());
    let plan = run(no_op, &keeping(1));
    assert_eq!(removed_images(&plan), ["sha256:old-2"]);
    let change = plan
        .changes
        .iter()
        .find(|c| c.resource.kind == ResourceKind::Image && c.action == Action::Delete)
        .unwrap();
    assert!(change.resource.name.ends_with(":old-2"), "{change:?}");
    assert!(
        plan.steps[0].cause.contains("beyond the newest 1 kept"),
        "{}",
        plan.steps[0].cause
    );
    assert_eq!(
        removed_images(&run(no_op, &keeping(0))),
        ["sha256:old-1", "sha256:old-2"],
        "the running image itself is not older than itself"
    );
}

/// An image a kept container still runs stays; one the plan pulls counts as the newest, so its removals come
/// after the gate of the container that runs it.
#[test]
fn images_in_use_stay_and_a_pulled_image_is_the_newest() {
    let mut d = desired();
    let mut o = converged(&d);
    let mut kept = app(&mut o).containers[0].clone();
    kept.id = "c-kept".into();
    kept.name = format!("{}-keep-20260101000000-aaaa", d.app.container_name);
    kept.image_id = "sha256:old-2".into();
    kept.state = ContainerStatus::Exited;
    app(&mut o).containers.push(kept);
    assert!(removed_images(&plan(&inputs(&d), &o, &keeping(1))).is_empty());

    tag_change(&mut d, &mut o);
    let plan = plan(&inputs(&d), &o, &keeping(1));
    assert_eq!(
        removed_images(&plan),
        ["sha256:old-1"],
        "pulled: the running image is the newest older one and is kept; old-2 is in use"
    );
    let ops = ops(&plan);
    let gate = ops.iter().position(|o| *o == "wait_healthy").unwrap();
    let removal = ops.iter().position(|o| *o == "remove_image").unwrap();
    assert!(gate < removal, "{ops:?}");
}

/// Issue 15 case 5: after a revision is quarantined, fixing only its health gate's inputs (the URL probed, the
/// stability window) is a new revision, which the next plan deploys.
#[test]
fn fixing_only_the_gate_of_a_quarantined_revision_deploys_it() {
    let fixes: [(&str, Mutate); 2] = [
        ("health URL", |d, _| {
            d.app.health_check.http = Some("http://127.0.0.1:8080/ready".into());
        }),
        ("stability window", |d, _| {
            d.app.health_check.stability_window =
                reconciler_core::manifest::Duration::new(std::time::Duration::from_secs(5));
        }),
    ];
    let still = run(quarantined, &PlanOptions::default());
    assert!(
        !ops(&still).contains(&"create_container"),
        "the quarantined revision is not retried: {:?}",
        ops(&still)
    );
    for (what, fix) in fixes {
        let mut d = desired();
        let mut o = converged(&d);
        quarantined(&mut d, &mut o);
        fix(&mut d, &mut o);
        let plan = plan(&inputs(&d), &o, &PlanOptions::default());
        assert!(
            ops(&plan).contains(&"create_container"),
            "{what}: {}",
            render::human(&plan, false)
        );
    }
}
