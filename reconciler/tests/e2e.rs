//! The deployment's four success criteria, end to end: the bot's real image deployed by the reconciler's GitOps loop
//! to the real Docker engine, fills mined by the chain simulator, hedges placed at the Schwab simulator.
//!
//! - data persistence: the database survives container restarts, redeploys and a restart of the Docker daemon
//!   (the host "reboots": the restart policy brings the bot back, the reconciler finds nothing to do);
//! - automated deployment: a manifest commit is deployed by the periodic reconcile and /health reports it;
//! - application functionality: fills are hedged at Schwab through expired tokens and dropped WebSockets;
//! - rollback: a broken image is reverted automatically, `git revert` restores the previous version;
//!
//! and in every one, no fill is lost or hedged twice. These tests restart the Docker daemon, so they run on their
//! own: `cargo nextest run --profile e2e` (scripts/test runs them after the rest of the suite).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod stack;

use std::process::{Command, Output};
use std::time::Duration;
use tokio::sync::Mutex;

use stack::{APP_SECRET, ENCRYPTION_KEY, Stack, docker, eventually};

/// The tests share the Docker daemon one of them restarts: one at a time, whatever the runner.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

const DEPLOY: Duration = Duration::from_secs(90);
const HEDGED: Duration = Duration::from_secs(60);

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn expect_exit(out: &Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "{}", text(out));
}

/// Neither sentinel secret appears in `output`.
fn assert_no_secret(what: &str, output: &str) {
    for secret in [APP_SECRET, ENCRYPTION_KEY] {
        assert!(!output.contains(secret), "{what} shows a secret");
    }
}

/// Deploys tag `c1` by one reconcile and logs the bot in at Schwab.
async fn deploy_first(stack: &Stack) -> String {
    stack.build("c1", "c1c1c1c1", false);
    let commit = stack.commit("c1", "deploy c1");
    let out = tokio::task::block_in_place(|| stack.reconcile_once());
    expect_exit(&out, 0);
    assert_no_secret("reconcile", &text(&out));
    stack.wait_serving("c1c1c1c1", DEPLOY).await;
    tokio::task::block_in_place(|| stack.login());
    stack.wait_ok(DEPLOY).await;
    commit
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automated_deployment_a_manifest_commit_is_deployed_by_the_periodic_reconcile() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut stack = Stack::new("deploy", 11).await;
    stack.build("c1", "c1c1c1c1", false);
    stack.build("c2", "c2c2c2c2", false);
    let first = stack.commit("c1", "deploy c1");
    stack.start_periodic("1s");
    stack.wait_serving("c1c1c1c1", DEPLOY).await;
    tokio::task::block_in_place(|| stack.login());
    stack.wait_ok(DEPLOY).await;
    stack.trade(10, 3).await;

    // CI commits the new tag; nobody runs anything on the droplet.
    let second = stack.commit("c2", "deploy c2");
    assert_ne!(first, second);
    let trading = async {
        stack.trade(40, 2).await;
    };
    let deployed = stack.wait_serving("c2c2c2c2", DEPLOY);
    tokio::join!(trading, deployed);
    eventually(
        Duration::from_secs(20),
        "status to record the commit",
        || async {
            let status = tokio::task::block_in_place(|| stack.status());
            status["condition"] == "converged" && status["running"]["commit"] == second.as_str()
        },
    )
    .await;
    let c = stack.container();
    assert_eq!(
        c["Config"]["Labels"]["io.schwad.manifest-commit"],
        second.as_str()
    );
    assert_no_secret("the container's labels", &c["Config"]["Labels"].to_string());
    stack.assert_hedged(HEDGED).await;
    assert_no_secret("the periodic reconcile", &stack.periodic_log());
    assert_no_secret("the bot's logs", &stack.all_logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_fills_are_hedged_through_expired_tokens_and_dropped_websockets() {
    let _one = ONE_AT_A_TIME.lock().await;
    let stack = Stack::new("hedge", 12).await;
    deploy_first(&stack).await;
    stack.trade(10, 3).await;
    stack.assert_hedged(HEDGED).await;

    for round in 0..3 {
        // The access token expires under the bot (it must refresh it), then the node drops every WebSocket.
        stack.schwab.expire_tokens(false);
        stack.trade(5, 3).await;
        stack.chain.faults().drop_connections();
        stack.trade(5, 3).await;
        stack
            .schwab
            .inject(sim_schwab::Fault::Unauthorized { calls: 1 });
        stack.trade(5, 2).await;
        stack.assert_hedged(HEDGED).await;
        let health = stack.health().await.expect("health");
        assert_eq!(health["chain_connected"], true, "round {round}: {health}");
    }
    let logs = stack.all_logs();
    let sessions = logs.matches("chain session live").count();
    assert!(
        sessions > 3,
        "{sessions} chain sessions: the bot did not reconnect after each of the 3 drops"
    );
    assert_no_secret("the bot's logs", &logs);
}

/// Restarts the Docker daemon, as a reboot of the droplet does to the containers: through systemd where it runs
/// the daemon, else SIGTERM to `dockerd` (it stops every container) and the same command line and environment
/// started again, detached, logging where it logged.
fn restart_docker_daemon() {
    let systemd = Command::new("systemctl")
        .args(["is-active", "--quiet", "docker"])
        .status()
        .is_ok_and(|s| s.success());
    if systemd {
        stack::run(Command::new("systemctl").args(["restart", "docker"]));
    } else {
        restart_dockerd_by_hand();
    }
    wait_for_docker();
}

fn restart_dockerd_by_hand() {
    let pid = stack::run(Command::new("pidof").arg("dockerd"));
    assert!(!pid.contains(' '), "more than one dockerd: {pid}");
    let proc = std::path::PathBuf::from(format!("/proc/{pid}"));
    let split = |name: &str| -> Vec<String> {
        let bytes = std::fs::read(proc.join(name)).expect("dockerd's /proc entry (run as root)");
        bytes
            .split(|b| *b == 0)
            .filter(|part| !part.is_empty())
            .map(|part| String::from_utf8_lossy(part).into_owned())
            .collect()
    };
    let command = split("cmdline");
    let environment: Vec<(String, String)> = split("environ")
        .into_iter()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect();
    let log = std::fs::read_link(proc.join("fd/2"))
        .ok()
        .filter(|p| p.is_absolute() && p.is_file())
        .unwrap_or_else(|| "/var/log/dockerd.log".into());
    stack::run(Command::new("kill").args(["-TERM", &pid]));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while proc.exists() {
        assert!(std::time::Instant::now() < deadline, "dockerd did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .expect("dockerd's log");
    let started = Command::new("setsid")
        .arg("-f")
        .args(&command)
        .env_clear()
        .envs(environment)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .status()
        .expect("setsid");
    assert!(started.success(), "starting {command:?} again failed");
}

fn wait_for_docker() {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !Command::new("docker")
        .arg("info")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the Docker daemon did not come back"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_persists_across_restarts_redeploys_and_a_docker_daemon_restart() {
    let _one = ONE_AT_A_TIME.lock().await;
    let stack = Stack::new("persist", 13).await;
    deploy_first(&stack).await;
    stack.trade(15, 3).await;
    stack.assert_hedged(HEDGED).await;
    let before = tokio::task::block_in_place(|| stack.stored_fills());

    // A container restart.
    docker(&["restart", &stack.name]);
    stack.wait_serving("c1c1c1c1", DEPLOY).await;
    assert!(tokio::task::block_in_place(|| stack.stored_fills()).is_superset(&before));
    stack.trade(5, 3).await;
    stack.assert_hedged(HEDGED).await;

    // A redeploy: a new container on the same volume.
    stack.build("c2", "c2c2c2c2", false);
    stack.commit("c2", "deploy c2");
    expect_exit(&tokio::task::block_in_place(|| stack.reconcile_once()), 0);
    stack.wait_serving("c2c2c2c2", DEPLOY).await;
    assert!(tokio::task::block_in_place(|| stack.stored_fills()).is_superset(&before));
    stack.trade(5, 3).await;
    stack.assert_hedged(HEDGED).await;
    let id = stack.container()["Id"].clone();

    // The host reboots: the daemon stops every container and its restart policy brings the bot back.
    let fills = tokio::task::block_in_place(|| stack.stored_fills());
    tokio::task::block_in_place(restart_docker_daemon);
    stack.wait_serving("c2c2c2c2", DEPLOY).await;
    assert_eq!(stack.container()["Id"], id, "the same container came back");
    assert!(tokio::task::block_in_place(|| stack.stored_fills()).is_superset(&fills));
    // The reconciler finds the deployment as it left it.
    let out = tokio::task::block_in_place(|| stack.reconcile_once());
    expect_exit(&out, 0);
    eventually(DEPLOY, "status converged after the reboot", || async {
        tokio::task::block_in_place(|| stack.status())["condition"] == "converged"
    })
    .await;
    stack.trade(5, 3).await;
    stack.assert_hedged(HEDGED).await;
    let integrity = tokio::task::block_in_place(|| stack.sql("PRAGMA integrity_check;"));
    assert_eq!(integrity, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_a_broken_image_is_reverted_and_git_revert_restores_the_previous_version() {
    let _one = ONE_AT_A_TIME.lock().await;
    let stack = Stack::new("rollback", 14).await;
    deploy_first(&stack).await;
    stack.trade(10, 3).await;

    stack.build("c2", "c2c2c2c2", false);
    let good = stack.commit("c2", "deploy c2");
    expect_exit(&tokio::task::block_in_place(|| stack.reconcile_once()), 0);
    stack.wait_serving("c2c2c2c2", DEPLOY).await;
    stack.trade(10, 3).await;

    // A broken build: the health gate fails, the reconciler puts c2 back and quarantines the revision.
    stack.build("bad", "badbadba", true);
    let bad = stack.commit("bad", "deploy a broken build");
    let trading = stack.trade(20, 2);
    let reconcile = async { tokio::task::block_in_place(|| stack.reconcile_once()) };
    let ((), out) = tokio::join!(trading, reconcile);
    expect_exit(&out, 4);
    stack.wait_serving("c2c2c2c2", DEPLOY).await;
    let status = tokio::task::block_in_place(|| stack.status());
    assert_ne!(status["condition"], "converged", "{status}");
    assert_eq!(status["last_outcome"], "reverted", "{status}");
    assert_eq!(status["quarantined"][0]["commit"], bad.as_str(), "{status}");
    assert_eq!(status["running"]["commit"], good.as_str(), "{status}");
    // The next run leaves the quarantined revision alone.
    let again = tokio::task::block_in_place(|| stack.reconcile_once());
    assert!(
        text(&again).contains("(0 mutating Docker API calls)"),
        "{}",
        text(&again)
    );
    assert_eq!(
        stack.container()["Config"]["Labels"]["io.schwad.manifest-commit"],
        good.as_str()
    );

    // The operator reverts the broken commit, then rolls the good change back too.
    stack.revert(&bad);
    expect_exit(&tokio::task::block_in_place(|| stack.reconcile_once()), 0);
    stack.wait_serving("c2c2c2c2", DEPLOY).await;
    stack.revert(&good);
    let trading = stack.trade(20, 2);
    let reconcile = async { tokio::task::block_in_place(|| stack.reconcile_once()) };
    let ((), out) = tokio::join!(trading, reconcile);
    expect_exit(&out, 0);
    stack.wait_serving("c1c1c1c1", DEPLOY).await;
    stack.assert_hedged(HEDGED).await;
    assert_no_secret("the bot's logs", &stack.all_logs());
}
