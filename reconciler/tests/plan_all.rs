//! `reconciler plan` and `apply --scope all` with both scopes: DigitalOcean on the simulator, the app on the local
//! Docker engine (the simulated droplet has no real address). One plan shows both, after the pre-flight checks.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod deploy;

use std::process::{Command, Output};

use deploy::{Deployment, Spec};
use reconciler_core::identity::LAST_GOOD_TAG;
use sim_digitalocean::{Config, Simulator};

fn reconciler(d: &Deployment, base_url: &str, token: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reconciler"))
        .args(args)
        .arg("-f")
        .arg(d.manifest_path())
        .arg("--state-dir")
        .arg(d.state_dir())
        .env_remove("RECONCILER_MANIFEST")
        .env("DIGITALOCEAN_API_URL", base_url)
        .env("DIGITALOCEAN_ACCESS_TOKEN", token)
        .env("RECONCILER_DO_POLL_INTERVAL", "10ms")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn one_plan_shows_both_scopes_with_preflight_and_apply_all_converges_them() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = runtime
        .block_on(Simulator::start(Config::default()))
        .unwrap();
    let (url, token) = (sim.base_url(), sim.token().to_owned());
    let d = Deployment::new("all");
    d.image("v1", &[]);
    d.write(&Spec::tag("v1"));

    let plan = reconciler(&d, &url, &token, &["plan"]);
    let out = text(&plan.stdout);
    assert_eq!(plan.status.code(), Some(2), "{out}{}", text(&plan.stderr));
    assert!(out.contains("Pre-flight checks:"), "{out}");
    assert!(out.contains("[ok  ] token: valid"), "{out}");
    assert!(
        out.contains("[FAIL] registry: it does not exist yet"),
        "{out}"
    );
    assert!(
        out.contains("[FAIL] volume: nothing is mounted at"),
        "{out}"
    );
    assert!(out.contains("[warn] data directory:"), "{out}");
    assert!(out.contains("free disk"), "{out}");
    assert!(out.contains("droplet.it-1"), "{out}");
    assert!(out.contains(&format!("container.{}", d.name)), "{out}");
    assert!(!out.contains(&token));

    let apply = reconciler(&d, &url, &token, &["apply", "--scope", "all"]);
    assert_eq!(
        apply.status.code(),
        Some(0),
        "{}{}",
        text(&apply.stdout),
        text(&apply.stderr)
    );
    assert_eq!(d.only_container()["State"]["Status"], "running");

    let plan = reconciler(&d, &url, &token, &["plan"]);
    let out = text(&plan.stdout);
    assert_eq!(plan.status.code(), Some(0), "{out}{}", text(&plan.stderr));
    assert!(out.contains("[ok  ] registry: it exists"), "{out}");
    assert!(out.contains("[ok  ] data directory:"), "{out}");
    runtime.block_on(sim.shutdown());
}

#[test]
fn a_deploy_that_changes_the_image_snapshots_first_and_the_last_good_tag_follows_passing_deploys() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = runtime
        .block_on(Simulator::start(Config::default()))
        .unwrap();
    let (url, token) = (sim.base_url(), sim.token().to_owned());
    let client = digitalocean_api::Client::new(
        digitalocean_api::ClientConfig::new(digitalocean_api::Token::new(&token))
            .with_base_url(&url),
    )
    .unwrap();
    let last_good = || {
        let all = runtime
            .block_on(client.list_snapshots(Some("volume")))
            .unwrap();
        let tagged: Vec<String> = all
            .iter()
            .filter(|s| s.tags.iter().any(|t| t == LAST_GOOD_TAG))
            .map(|s| s.name.clone())
            .collect();
        (all.len(), tagged)
    };
    let d = Deployment::new("lastgood");
    d.image("v1", &[]);
    d.image("v2", &[]);
    let write = |tag: &str| {
        let mut desired = d.desired(&Spec::tag(tag));
        desired.infra.snapshots.before_deploy = true;
        d.write_desired(&desired);
    };
    let apply = || {
        let out = reconciler(&d, &url, &token, &["apply", "--scope", "all"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    };
    write("v1");
    apply();
    assert_eq!(
        last_good(),
        (0, vec![]),
        "a first deploy has nothing to protect"
    );

    write("v2");
    apply();
    let (count, tagged) = last_good();
    assert_eq!((count, tagged.len()), (1, 1), "{tagged:?}");
    assert!(tagged[0].contains("predeploy"));

    std::thread::sleep(std::time::Duration::from_millis(1100)); // a distinct snapshot name
    write("v1");
    let plan = reconciler(&d, &url, &token, &["plan"]);
    let out = text(&plan.stdout);
    assert!(
        out.contains("after the health gate: tag snapshot") && out.contains(&tagged[0]),
        "the tag's move is a step of the plan, with the snapshot it leaves: {out}"
    );
    apply();
    let (count, now) = last_good();
    assert_eq!(now.len(), 1);
    assert_ne!(now, tagged, "the tag moved to the newest passing deploy");
    assert_eq!(
        count, 1,
        "the one it left is beyond `keep: 1` and went after the gate, in the same apply"
    );
    let plan = reconciler(&d, &url, &token, &["plan"]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "one apply converges: {}{}",
        text(&plan.stdout),
        text(&plan.stderr)
    );

    // A deploy that fails its gate takes its snapshot but moves no tag: the last good one stays protected.
    d.image("bad", &["FAIL_HEALTH=1"]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    write("bad");
    let out = reconciler(&d, &url, &token, &["apply", "--scope", "all"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert_eq!(
        last_good(),
        (2, now),
        "the failed deploy's snapshot is not tagged"
    );
    runtime.block_on(sim.shutdown());
}
