//! The kill-point walk (issue 15): for a deploy, a revert (failing image) and a fast rollback, count the mutating
//! Docker calls of a clean run, then for k = 1..N SIGKILL the reconciler right after its k-th call
//! (`RECONCILER_TEST_KILL_AFTER_CALL`, a debug-build hook), run `apply` again and check the invariants: exactly one
//! bot container runs, the desired revision only if it passed its gate (else the last good one), the data is
//! intact, the lock is free, the running container's run is the recorded last good one, and `plan` exits 0.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod deploy;

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use deploy::{Deployment, Spec};

/// A scenario: how to reach the starting point, the manifest to apply, and which tag must run at the end.
struct Scenario {
    name: &'static str,
    setup: fn(&Deployment) -> Spec,
    expected: &'static str,
}

fn base(d: &Deployment) -> Spec {
    d.image("v1", &[]);
    d.image("v2", &[]);
    d.image("bad", &["FAIL_HEALTH=1"]);
    let mut spec = Spec::tag("v1");
    spec.stability = Duration::from_millis(200);
    d.write(&spec);
    d.apply().expect(0);
    std::fs::write(d.data().join("ledger.db"), "fills").unwrap();
    spec
}

fn deploy(d: &Deployment) -> Spec {
    let mut spec = base(d);
    spec.tag = "v2".into();
    spec
}

fn revert(d: &Deployment) -> Spec {
    let mut spec = base(d);
    spec.tag = "bad".into();
    spec
}

fn fast_rollback(d: &Deployment) -> Spec {
    let mut spec = base(d);
    spec.keep_previous = 1;
    spec.tag = "v2".into();
    d.write(&spec);
    d.apply().expect(0);
    spec.tag = "v1".into();
    spec
}

const SCENARIOS: [Scenario; 3] = [
    Scenario {
        name: "deploy",
        setup: deploy,
        expected: "v2",
    },
    Scenario {
        name: "revert",
        setup: revert,
        expected: "v1",
    },
    Scenario {
        name: "rollback",
        setup: fast_rollback,
        expected: "v1",
    },
];

fn check(d: &Deployment, expected: &str, at: &str) {
    let running: Vec<_> = d
        .containers()
        .into_iter()
        .filter(|c| c["State"]["Running"] == true)
        .collect();
    assert_eq!(running.len(), 1, "{at}: exactly one bot container runs");
    let c = &running[0];
    assert_eq!(c["Name"], format!("/{}", d.name), "{at}");
    assert_eq!(c["Image"], d.image_id(expected), "{at}: {expected} runs");
    assert!(
        deploy::wait_until(Duration::from_secs(5), || d.health().is_some()),
        "{at}: healthy"
    );
    assert_eq!(
        d.health().as_deref(),
        Some(format!("ok {expected}\n").as_str()),
        "{at}"
    );
    assert_eq!(
        std::fs::read_to_string(d.data().join("ledger.db")).unwrap(),
        "fills",
        "{at}: data intact"
    );
    drop(reconciler::gitops::lock::acquire(&d.state_dir()).expect("the lock is free"));
    let record: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.state_dir().join(format!("app-{}.json", d.name))).unwrap(),
    )
    .unwrap();
    assert_eq!(
        record["last_good"]["image_id"], c["Image"],
        "{at}: last good is what runs"
    );
    assert!(
        record["verified"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["container"] == c["Id"] && v["started_at"] == c["State"]["StartedAt"]),
        "{at}: the running container's run passed its gate: {record}"
    );
    let plan = d.reconciler("plan").output().unwrap();
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{at}: plan afterwards: {}{}",
        String::from_utf8_lossy(&plan.stdout),
        String::from_utf8_lossy(&plan.stderr)
    );
}

fn walk(s: &Scenario) -> usize {
    let clean = Deployment::new(&format!("kp-{}", s.name));
    let spec = (s.setup)(&clean);
    clean.write(&spec);
    let applied = clean.apply();
    assert!(matches!(applied.code, Some(0 | 4)), "{applied:?}");
    check(&clean, s.expected, &format!("{} clean", s.name));
    let calls = applied.mutations() as usize;
    drop(clean);
    for k in 1..=calls {
        let at = format!("{} killed after call {k}/{calls}", s.name);
        let d = Deployment::new(&format!("kp-{}", s.name));
        let spec = (s.setup)(&d);
        d.write(&spec);
        let killed = d
            .apply_json()
            .env("RECONCILER_TEST_KILL_AFTER_CALL", k.to_string())
            .output()
            .unwrap();
        assert_eq!(killed.status.signal(), Some(9), "{at}: the hook killed it");
        let again = d.apply();
        assert!(matches!(again.code, Some(0 | 4)), "{at}: {again:?}");
        check(&d, s.expected, &at);
    }
    calls
}

#[test]
fn every_kill_point_of_a_deploy_converges() {
    let n = walk(&SCENARIOS[0]);
    eprintln!("deploy: {n} kill points");
}

#[test]
fn every_kill_point_of_a_revert_converges() {
    let n = walk(&SCENARIOS[1]);
    eprintln!("revert: {n} kill points");
}

#[test]
fn every_kill_point_of_a_fast_rollback_converges() {
    let n = walk(&SCENARIOS[2]);
    eprintln!("rollback: {n} kill points");
}
