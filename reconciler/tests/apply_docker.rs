//! `reconciler apply --scope app` against the real Docker engine, with images built locally (no registry).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod deploy;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Stdio;
use std::time::Duration;

use deploy::{Deployment, Health, SECRET, Spec, docker, wait_until};
use reconciler_core::manifest::RestartPolicy;

#[test]
fn fresh_create_is_hardened_and_a_second_apply_changes_nothing() {
    let d = Deployment::new("fresh");
    d.image("v1", &[]);
    d.write(&Spec::tag("v1"));
    let first = d.apply();
    first.expect(0);
    assert!(first.mutations() >= 2, "{first:#?}");
    assert_eq!(first.done()["outcome"], "converged");

    let c = d.only_container();
    assert_eq!(c["State"]["Status"], "running");
    assert_eq!(c["Image"], d.image_id("v1"), "pinned to the image id");
    let config = &c["Config"];
    let host = &c["HostConfig"];
    assert_eq!(config["User"], "1001:1001");
    assert_eq!(config["StopTimeout"], 5);
    assert!(
        config["Env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == &format!("API_TOKEN={SECRET}"))
    );
    let labels = config["Labels"].as_object().unwrap();
    assert_eq!(labels["io.schwad.managed-by"], "schwad-reconciler");
    assert!(
        labels["io.schwad.spec-hash"]
            .as_str()
            .unwrap()
            .starts_with("v1:")
    );
    assert!(
        labels
            .values()
            .all(|v| !v.as_str().unwrap().contains(SECRET))
    );
    assert_eq!(host["ReadonlyRootfs"], true);
    assert_eq!(host["CapDrop"][0], "ALL");
    assert_eq!(host["SecurityOpt"][0], "no-new-privileges:true");
    assert!(
        host["Tmpfs"]["/tmp"]
            .as_str()
            .unwrap()
            .contains("mode=1777")
    );
    assert_eq!(host["RestartPolicy"]["Name"], "unless-stopped");
    assert_eq!(host["LogConfig"]["Type"], "json-file");
    assert_eq!(host["LogConfig"]["Config"]["max-file"], "2");
    assert_eq!(host["Binds"][0], format!("{}:/data:rw", d.data().display()));
    assert_eq!(
        host["PortBindings"]["8080/tcp"][0]["HostPort"],
        d.port.to_string()
    );

    let meta = std::fs::metadata(d.data()).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o7777),
        (1001, 1001, 0o750)
    );
    assert_eq!(d.health().as_deref(), Some("ok v1\n"));
    assert!(d.starts()[0].ends_with("v1 1001:1001"));

    let second = d.apply();
    second.expect(0);
    assert_eq!(second.mutations(), 0, "{second:#?}");
    assert_eq!(second.done()["outcome"], "no_changes");
    let plan = d.reconciler("plan").output().unwrap();
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&plan.stdout)
    );
}

#[test]
fn tag_change_replaces_the_container_and_the_data_survives() {
    let d = Deployment::new("tag");
    d.image("v1", &[]);
    d.image("v2", &[]);
    d.write(&Spec::tag("v1"));
    d.apply().expect(0);
    std::fs::write(d.data().join("ledger.db"), "fills").unwrap();
    let before = d.only_container()["Id"].clone();

    d.write(&Spec::tag("v2"));
    let applied = d.apply();
    applied.expect(0);
    let steps = applied.steps();
    let create = steps
        .iter()
        .position(|s| s.starts_with("create container"))
        .unwrap();
    let stop = steps
        .iter()
        .position(|s| s.starts_with("stop container"))
        .unwrap();
    assert!(
        create < stop,
        "the new container is created before the old one stops: {steps:?}"
    );
    assert!(
        !steps.iter().any(|s| s.starts_with("pull")),
        "image present → no pull: {steps:?}"
    );

    let c = d.only_container();
    assert_ne!(c["Id"], before);
    assert_eq!(c["Image"], d.image_id("v2"));
    assert_eq!(d.health().as_deref(), Some("ok v2\n"));
    assert_eq!(
        std::fs::read_to_string(d.data().join("ledger.db")).unwrap(),
        "fills"
    );
    let versions: Vec<String> = d
        .starts()
        .iter()
        .map(|l| l.split(' ').nth(1).unwrap().to_owned())
        .collect();
    assert_eq!(versions, ["v1", "v2"]);
    assert_eq!(d.apply().expect(0).mutations(), 0);
}

#[test]
fn env_change_and_secret_rotation_each_recreate_the_container() {
    let d = Deployment::new("envsecret");
    d.image("v1", &[]);
    d.write(&Spec::tag("v1"));
    d.apply().expect(0);
    let first = d.only_container();

    let mut spec = Spec::tag("v1");
    spec.env.push(("BROKER".to_owned(), "schwab".to_owned()));
    d.write(&spec);
    d.apply().expect(0);
    let second = d.only_container();
    assert_ne!(second["Id"], first["Id"]);
    assert!(
        second["Config"]["Env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "BROKER=schwab")
    );

    d.write_secret("tok-rotated-777");
    let plan = d.reconciler("plan").output().unwrap();
    assert_eq!(plan.status.code(), Some(2));
    let shown = String::from_utf8_lossy(&plan.stdout);
    assert!(shown.contains("secrets"), "{shown}");
    assert!(
        !shown.contains("tok-rotated-777") && !shown.contains(SECRET),
        "{shown}"
    );
    d.apply().expect(0);
    let third = d.only_container();
    assert_ne!(third["Id"], second["Id"]);
    assert!(
        third["Config"]["Env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "API_TOKEN=tok-rotated-777")
    );
    assert_ne!(
        third["Config"]["Labels"]["io.schwad.secrets-fingerprint"],
        second["Config"]["Labels"]["io.schwad.secrets-fingerprint"]
    );
}

#[test]
fn failing_health_check_reverts_to_the_previous_container_and_quarantines() {
    let d = Deployment::new("unhealthy");
    d.image("v1", &[]);
    d.image("bad", &["FAIL_HEALTH=1", "PRINT_SECRET=API_TOKEN"]);
    d.image("v2", &[]);
    d.write(&Spec::tag("v1"));
    d.apply().expect(0);
    std::fs::write(d.data().join("ledger.db"), "fills").unwrap();
    let good = d.only_container();

    d.write(&Spec::tag("bad"));
    let reverted = d.apply();
    reverted.expect(4);
    assert_eq!(reverted.done()["outcome"], "reverted");
    let err = &reverted.stderr;
    assert!(err.contains("not healthy within"), "{err}");
    assert!(
        err.contains("health check will fail (requested)"),
        "failed container's log shown: {err}"
    );
    assert!(
        err.contains("[redacted API_TOKEN]") && !err.contains(SECRET),
        "{err}"
    );

    let c = d.only_container();
    assert_eq!(
        c["Id"], good["Id"],
        "the previous container is back under its name"
    );
    assert_eq!(c["State"]["Status"], "running");
    assert_eq!(d.health().as_deref(), Some("ok v1\n"));
    assert_eq!(
        std::fs::read_to_string(d.data().join("ledger.db")).unwrap(),
        "fills"
    );

    let again = d.apply();
    again.expect(0);
    assert_eq!(
        again.mutations(),
        0,
        "a quarantined revision is not retried: {again:#?}"
    );
    assert!(again.stderr.contains("quarantined"), "{}", again.stderr);

    d.write(&Spec::tag("v2"));
    d.apply().expect(0);
    assert_eq!(
        d.only_container()["Image"],
        d.image_id("v2"),
        "a newer revision is tried at once"
    );
}

#[test]
fn crash_looping_image_reverts() {
    let d = Deployment::new("crashloop");
    d.image("v1", &[]);
    d.image("crash", &["CRASH=1"]);
    d.write(&Spec::tag("v1"));
    d.apply().expect(0);
    let good = d.only_container();

    d.write(&Spec::tag("crash"));
    let reverted = d.apply();
    reverted.expect(4);
    assert!(
        reverted.stderr.contains("crash loop") || reverted.stderr.contains("exited"),
        "{}",
        reverted.stderr
    );
    assert!(
        reverted
            .stderr
            .contains("fatal: cannot start (crash requested)"),
        "{}",
        reverted.stderr
    );
    assert_eq!(d.only_container()["Id"], good["Id"]);
    assert_eq!(d.health().as_deref(), Some("ok v1\n"));
}

#[test]
fn failed_first_deploy_is_stopped_and_not_retried() {
    let d = Deployment::new("firstfail");
    d.image("crash", &["CRASH=1"]);
    let mut spec = Spec::tag("crash");
    spec.restart = RestartPolicy::No;
    d.write(&spec);
    d.apply().expect(4);
    let again = d.apply();
    again.expect(0);
    assert_eq!(again.mutations(), 0, "{again:#?}");
}

#[test]
fn drift_is_healed_deleted_container_recreated_stopped_one_started() {
    let d = Deployment::new("drift");
    d.image("v1", &[]);
    d.write(&Spec::tag("v1"));
    d.apply().expect(0);

    docker(&["stop", "-t", "1", &d.name]);
    let human = d.reconciler("apply").output().unwrap();
    let shown = String::from_utf8_lossy(&human.stdout);
    assert_eq!(human.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("[1/2] start container"),
        "plain progress lines: {shown}"
    );
    assert!(
        shown.contains("(1 mutating Docker API calls)"),
        "only a start: {shown}"
    );
    assert!(
        !shown.contains('{') && !shown.contains('\x1b'),
        "no JSON, no colour: {shown}"
    );
    assert_eq!(d.only_container()["State"]["Status"], "running");

    docker(&["rm", "-f", &d.name]);
    d.apply().expect(0);
    assert_eq!(d.only_container()["State"]["Status"], "running");
    assert_eq!(d.health().as_deref(), Some("ok v1\n"));
}

#[test]
fn root_owned_data_dir_is_fixed_before_the_container_starts() {
    let d = Deployment::new("rootdir");
    d.image("v1", &[]);
    std::fs::create_dir(d.data()).unwrap();
    std::fs::set_permissions(d.data(), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(
        std::fs::metadata(d.data()).unwrap().uid(),
        0,
        "tests run as root"
    );
    d.write(&Spec::tag("v1"));
    let applied = d.apply();
    applied.expect(0);
    let steps = applied.steps();
    assert!(steps[0].starts_with("ensure data directory"), "{steps:?}");
    let meta = std::fs::metadata(d.data()).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o7777),
        (1001, 1001, 0o750)
    );
    assert_eq!(
        d.starts().len(),
        1,
        "the bot wrote its data dir on first start"
    );
}

#[test]
fn docker_health_status_gates_when_no_http_probe_is_given() {
    let d = Deployment::new("dockerhealth");
    d.image("v1", &[]);
    let mut spec = Spec::tag("v1");
    spec.health = Health::Command;
    d.write(&spec);
    d.apply().expect(0);
    assert_eq!(d.only_container()["State"]["Health"]["Status"], "healthy");
}

#[test]
fn killed_mid_replacement_a_second_apply_converges() {
    let d = Deployment::new("killed");
    d.image("v1", &[]);
    // Slow enough to be killed mid-replacement, fast enough for the gate (start period 1 s + 4 × 0.7 s) under load.
    d.image("slow", &["START_DELAY=1"]);
    d.write(&Spec::tag("v1"));
    d.apply().expect(0);
    std::fs::write(d.data().join("ledger.db"), "fills").unwrap();

    let mut spec = Spec::tag("slow");
    spec.stability = Duration::from_millis(200);
    d.write(&spec);
    let mut child = d
        .reconciler("apply")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let kept = format!("/{}-keep-", d.name);
    let mid = wait_until(Duration::from_secs(20), || {
        d.containers()
            .iter()
            .any(|c| c["Name"].as_str().is_some_and(|n| n.starts_with(&kept)))
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(mid, "the replacement reached the rename");

    let applied = d.apply();
    applied.expect(0);
    let c = d.only_container();
    assert_eq!(c["State"]["Status"], "running");
    assert_eq!(c["Image"], d.image_id("slow"));
    assert!(wait_until(Duration::from_secs(10), || d.health().is_some()));
    assert_eq!(
        std::fs::read_to_string(d.data().join("ledger.db")).unwrap(),
        "fills"
    );
    assert_eq!(d.apply().expect(0).mutations(), 0);
}

#[test]
fn exit_codes_blocked_locked_unreachable_and_plan_changes() {
    let d = Deployment::new("exits");
    d.image("v1", &[]);
    d.write(&Spec::tag("v1"));

    let plan = d.reconciler("plan").output().unwrap();
    assert_eq!(plan.status.code(), Some(2), "plan with changes");

    let held = reconciler::gitops::lock::acquire(&d.state_dir()).unwrap();
    let locked = d.apply();
    locked.expect(5);
    assert!(
        locked.stderr.contains("holds the lock"),
        "{}",
        locked.stderr
    );
    drop(held);

    let unreachable = deploy::Applied::from(
        d.apply_json()
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .output()
            .unwrap(),
    );
    unreachable.expect(1);
    assert!(
        unreachable
            .stderr
            .contains("cannot reach the Docker engine at unix:///nonexistent/docker.sock")
    );
    let plan = d
        .reconciler("plan")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert_eq!(
        plan.status.code(),
        Some(1),
        "no plan from a blank observation"
    );

    std::fs::remove_file(d.secrets_path()).unwrap();
    let blocked = d.apply();
    blocked.expect(3);
    assert!(
        blocked.stderr.contains("secrets env file"),
        "{}",
        blocked.stderr
    );
    assert_eq!(blocked.mutations(), 0);
    assert!(d.containers().is_empty());

    d.write_secret(SECRET);
    docker(&["create", "--name", &d.name, &format!("{}:v1", d.repo)]);
    let foreign = d.apply();
    foreign.expect(3);
    assert!(
        foreign.stderr.contains("not created by the reconciler"),
        "{}",
        foreign.stderr
    );
}

#[test]
fn an_unreachable_registry_fails_the_pull_naming_the_image() {
    let d = Deployment::new("pull");
    // The repository lives on a registry nobody listens on.
    let mut desired = d.desired(&Spec::tag("v9"));
    desired.app.image.repository = "127.0.0.1:9/schwad-it-pull".to_owned();
    d.write_desired(&desired);
    let failed = d.apply();
    failed.expect(1);
    assert!(
        failed
            .stderr
            .contains("pull image 127.0.0.1:9/schwad-it-pull:v9"),
        "{}",
        failed.stderr
    );
    assert_eq!(failed.done()["outcome"], "failed");
    assert!(d.containers().is_empty());
}

#[test]
fn images_older_than_the_running_one_are_pruned_beyond_keep() {
    let d = Deployment::new("prune");
    d.image("v1", &[]);
    // Image ages have one-second resolution: make v1 strictly older.
    std::thread::sleep(Duration::from_millis(1100));
    d.image("v2", &[]);
    d.image("v3", &[]);
    let apply = |tag: &str| {
        d.write(&Spec::tag(tag));
        let out = d
            .apply_json()
            .args(["--keep-images", "0"])
            .output()
            .unwrap();
        deploy::Applied::from(out).expect(0);
    };
    apply("v1");
    let (v2, v3) = (d.image_id("v2"), d.image_id("v3"));
    apply("v2");
    let left = docker(&["images", "-q", "--no-trunc", &d.repo]);
    assert!(left.contains(&v2), "the running image stays: {left}");
    assert!(
        left.contains(&v3),
        "an image not older than the running one stays: {left}"
    );
    assert_eq!(
        left.lines().count(),
        2,
        "v1 is older and beyond keep=0: {left}"
    );
    assert_eq!(d.only_container()["Image"], v2);
}

#[test]
fn a_kept_previous_container_makes_going_back_a_restart() {
    let d = Deployment::new("keep");
    d.image("v1", &[]);
    d.image("v2", &[]);
    let mut spec = Spec::tag("v1");
    spec.keep_previous = 1;
    d.write(&spec);
    d.apply().expect(0);
    let v1 = d.only_container();

    spec.tag = "v2".into();
    d.write(&spec);
    d.apply().expect(0);
    let all = d.containers();
    assert_eq!(all.len(), 2, "the v1 container is kept, stopped");
    let kept = all.iter().find(|c| c["Id"] == v1["Id"]).unwrap();
    assert_eq!(kept["State"]["Status"], "exited");
    assert!(
        kept["Name"]
            .as_str()
            .unwrap()
            .starts_with(&format!("/{}-keep-", d.name))
    );

    // Back to v1: the kept container is renamed and started, nothing is created.
    spec.tag = "v1".into();
    d.write(&spec);
    let back = d.apply();
    back.expect(0);
    assert!(
        !back
            .steps()
            .iter()
            .any(|s| s.starts_with("create container")),
        "{:?}",
        back.steps()
    );
    let running: Vec<_> = d
        .containers()
        .into_iter()
        .filter(|c| c["State"]["Status"] == "running")
        .collect();
    assert_eq!(running.len(), 1);
    assert_eq!(
        running[0]["Id"], v1["Id"],
        "the original v1 container runs again"
    );
    assert_eq!(running[0]["Name"], format!("/{}", d.name));
    assert_eq!(d.health().as_deref(), Some("ok v1\n"));
    assert_eq!(
        d.containers().len(),
        2,
        "keep_previous: 1 keeps only the v2 container beside it"
    );
    assert_eq!(d.apply().expect(0).mutations(), 0);
}

/// Issue 15 case 4: the new container cannot start after the old one stopped (its host port is taken): the revert
/// brings the old one back, the revision is quarantined, and the next apply bounces nothing.
#[test]
fn a_start_that_fails_after_the_old_container_stopped_reverts() {
    let d = Deployment::new("porttaken");
    d.image("v1", &[]);
    d.image("v2", &[]);
    d.write(&Spec::tag("v1"));
    d.apply().expect(0);
    let good = d.only_container();
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut desired = d.desired(&Spec::tag("v2"));
    desired.app.ports[0].host = port;
    d.write_desired(&desired);
    let reverted = d.apply();
    reverted.expect(4);
    assert!(reverted.stderr.contains("restored"), "{}", reverted.stderr);
    let c = d.only_container();
    assert_eq!(c["Id"], good["Id"]);
    assert_eq!(c["State"]["Status"], "running");
    assert_eq!(d.health().as_deref(), Some("ok v1\n"));
    let again = d.apply();
    again.expect(0);
    assert_eq!(again.mutations(), 0, "{again:#?}");
    drop(taken);
}

/// Issue 15 case 5: a wrong `health_check.http` fails the new revision; the revert checks the old container with
/// the old revision's URL (it passes), and fixing only the URL is a new revision that deploys.
#[test]
fn a_wrong_health_url_reverts_with_the_old_gate_and_fixing_it_deploys() {
    let d = Deployment::new("wrongurl");
    d.image("v1", &[]);
    d.image("v2", &[]);
    d.write(&Spec::tag("v1"));
    d.apply().expect(0);
    let good = d.only_container();
    let mut wrong = d.desired(&Spec::tag("v2"));
    wrong.app.health_check.http = Some(format!("http://127.0.0.1:{}/wrong-health", d.port));
    d.write_desired(&wrong);
    let reverted = d.apply();
    reverted.expect(4);
    assert!(
        reverted
            .stderr
            .contains("was restored and passed its own health gate"),
        "{}",
        reverted.stderr
    );
    assert_eq!(d.only_container()["Id"], good["Id"]);
    assert_eq!(d.health().as_deref(), Some("ok v1\n"));
    d.write(&Spec::tag("v2"));
    d.apply().expect(0);
    assert_eq!(d.only_container()["Image"], d.image_id("v2"));
    assert_eq!(d.health().as_deref(), Some("ok v2\n"));
}

/// Issue 15 case 6: a same-named container with copied labels, running as root with a writable root, no
/// cap-drop, restart=no and an extra host mount, is drift in `plan`, and `apply` replaces it.
#[test]
fn a_hand_made_container_with_copied_labels_is_drift() {
    let d = Deployment::new("handmade");
    d.image("v1", &[]);
    d.write(&Spec::tag("v1"));
    d.apply().expect(0);
    let c = d.only_container();
    let labels = c["Config"]["Labels"].as_object().unwrap().clone();
    docker(&["rm", "-f", &d.name]);
    let mut args: Vec<String> = vec!["run".into(), "-d".into(), "--name".into(), d.name.clone()];
    for (k, v) in &labels {
        args.push("--label".into());
        args.push(format!("{k}={}", v.as_str().unwrap()));
    }
    let secrets = std::fs::read_to_string(d.secrets_path()).unwrap();
    for line in secrets.lines().chain(["SERVER_PORT=8080"]) {
        args.push("-e".into());
        args.push(line.to_owned());
    }
    args.extend([
        "--restart".into(),
        "no".into(),
        "-p".into(),
        format!("{}:8080", d.port),
        "-v".into(),
        format!("{}:/data", d.data().display()),
        "-v".into(),
        "/etc:/host-etc:ro".into(),
        format!("{}:v1", d.repo),
    ]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    docker(&refs);
    let plan = d.reconciler("plan").output().unwrap();
    let shown = String::from_utf8_lossy(&plan.stdout);
    assert_eq!(plan.status.code(), Some(2), "{shown}");
    for drift in [
        "drift: user",
        "drift: read_only_root_fs",
        "drift: cap_drop",
        "drift: restart",
        "drift: mounts",
    ] {
        assert!(shown.contains(drift), "{drift}: {shown}");
    }
    d.apply().expect(0);
    let c = d.only_container();
    assert_eq!(c["Config"]["User"], "1001:1001");
    assert_eq!(c["HostConfig"]["ReadonlyRootfs"], true);
    assert_eq!(
        d.reconciler("plan").output().unwrap().status.code(),
        Some(0)
    );
}
