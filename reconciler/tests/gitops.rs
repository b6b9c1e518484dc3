//! The GitOps loop end to end, with a real git repository and the real Docker engine: deploy by commit, rollback by
//! `git revert`, automatic revert of a broken revision with quarantine, the journal and status, and the lock.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod deploy;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use deploy::{Deployment, Spec, wait_until};
use serde_json::Value;
use test_support::git::git;

/// A deployment whose manifest lives in a git repository the reconcile fetches.
struct GitOps {
    d: Deployment,
}

impl GitOps {
    fn new(test: &str) -> Self {
        let d = Deployment::new(test);
        let g = Self { d };
        std::fs::create_dir_all(g.repo()).unwrap();
        git(&g.repo(), &["init", "-q", "-b", "main"]);
        g
    }

    fn repo(&self) -> PathBuf {
        self.d.dir.path().join("repo")
    }

    /// Commits the manifest for `spec` (or raw text) and returns the commit.
    fn commit(&self, spec: &Spec, message: &str) -> String {
        self.d.write(spec);
        self.commit_text(
            &std::fs::read_to_string(self.d.manifest_path()).unwrap(),
            message,
        )
    }

    fn commit_text(&self, text: &str, message: &str) -> String {
        std::fs::create_dir_all(self.repo().join("manifests")).unwrap();
        std::fs::write(self.repo().join("manifests/desired.yaml"), text).unwrap();
        git(&self.repo(), &["add", "manifests/desired.yaml"]);
        git(&self.repo(), &["commit", "-q", "-m", message]);
        git(&self.repo(), &["rev-parse", "HEAD"])
    }

    fn command(&self, sub: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_reconciler"));
        cmd.arg(sub)
            .arg("--state-dir")
            .arg(self.d.state_dir())
            .env_remove("RECONCILER_STATE_DIR")
            .env_remove("RECONCILER_REPO")
            .env("NO_COLOR", "1");
        cmd
    }

    fn reconcile_cmd(&self) -> Command {
        let mut cmd = self.command("reconcile");
        cmd.arg("--repo")
            .arg(self.repo())
            .args(["--once", "--progress", "json"]);
        cmd
    }

    fn reconcile(&self) -> Output {
        self.reconcile_cmd().output().unwrap()
    }

    fn status(&self) -> Value {
        let out = self.command("status").arg("--json").output().unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("status JSON: {e}: {out:?}"))
    }

    fn history(&self) -> Vec<Value> {
        let out = self.command("history").arg("--json").output().unwrap();
        assert_eq!(out.status.code(), Some(0), "the journal verifies: {out:?}");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn running_version(&self) -> Option<String> {
        self.d
            .health()
            .map(|b| b.trim().trim_start_matches("ok ").to_owned())
    }
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn deploy_rollback_revert_and_quarantine_through_git() {
    let g = GitOps::new("gitops");
    for tag in ["v1", "v2", "v4"] {
        g.d.image(tag, &[]);
    }
    g.d.image("v3", &["FAIL_HEALTH=1"]);

    // A: v1.
    let a = g.commit(&Spec::tag("v1"), "deploy v1");
    let out = g.reconcile();
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    assert_eq!(g.running_version().as_deref(), Some("v1"));
    std::fs::write(g.d.data().join("ledger.db"), "trades of v1").unwrap();
    let status = g.status();
    assert_eq!(status["condition"], "converged", "{status:#}");
    assert_eq!(status["desired"]["commit"], a);
    assert_eq!(status["running"]["commit"], a);

    // B: v2, and the data written by v1 is still there.
    let b = g.commit(&Spec::tag("v2"), "deploy v2");
    let out = g.reconcile();
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    assert_eq!(g.running_version().as_deref(), Some("v2"));
    assert_eq!(
        std::fs::read_to_string(g.d.data().join("ledger.db")).unwrap(),
        "trades of v1"
    );

    // Rollback is `git revert` of B.
    let rollback = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_reconciler"));
        cmd.arg("rollback").arg("--repo").arg(g.repo());
        cmd
    };
    let out = rollback().output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("revert --no-edit {b}")),
        "{}",
        show(&out)
    );
    let out = rollback().arg("--commit").output().unwrap();
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    let out = g.reconcile();
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    assert_eq!(g.running_version().as_deref(), Some("v1"));
    assert_eq!(
        std::fs::read_to_string(g.d.data().join("ledger.db")).unwrap(),
        "trades of v1"
    );

    // C: a broken image is reverted automatically, exit 4, degraded, journaled, quarantined.
    let c = g.commit(&Spec::tag("v3"), "deploy v3 (broken)");
    let out = g.reconcile();
    assert_eq!(code(&out), Some(4), "{}", show(&out));
    assert_eq!(g.running_version().as_deref(), Some("v1"));
    let status = g.status();
    assert_eq!(status["condition"], "degraded", "{status:#}");
    assert_eq!(status["quarantined"][0]["commit"], c);
    let history = g.history();
    let last = history.last().unwrap();
    assert_eq!(last["outcome"], "reverted");
    assert_eq!(last["commit"], c);
    assert!(last["revert_target"].is_string(), "{last:#}");
    // Issue 15 case 12: the journal records how each step ended, the failed gate as failed, then the revert's steps.
    let results: Vec<&str> = last["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["result"].as_str().unwrap())
        .collect();
    let gate = results
        .iter()
        .position(|r| r.starts_with("health gate failed: "))
        .unwrap_or_else(|| panic!("the failed gate is journaled: {last:#}"));
    assert!(results[..gate].iter().all(|r| *r == "ok"), "{last:#}");
    assert!(
        last["steps"].as_array().unwrap()[gate + 1..]
            .iter()
            .any(|s| s["step"].as_str().unwrap().starts_with("revert: ")),
        "the revert's steps follow: {last:#}"
    );
    assert_eq!(last["prev_hash"], history[history.len() - 2]["hash"]);

    // The next periodic run does not touch C again, and journals nothing.
    let journaled = history.len();
    let out = g.reconcile();
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("\"mutating_docker_calls\":0"),
        "{}",
        show(&out)
    );
    assert_eq!(g.history().len(), journaled);

    // D fixes it and is deployed at once.
    let d = g.commit(&Spec::tag("v4"), "deploy v4 (fix)");
    let out = g.reconcile();
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    assert_eq!(g.running_version().as_deref(), Some("v4"));
    assert_eq!(g.status()["running"]["commit"], d);
    assert_eq!(
        std::fs::read_to_string(g.d.data().join("ledger.db")).unwrap(),
        "trades of v1"
    );

    // An invalid manifest at the tip changes nothing, keeps v4 running, is reported once.
    g.commit_text("version: 1\nname: [broken\n", "oops");
    let out = g.reconcile();
    assert_eq!(code(&out), Some(1), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("manifests/desired.yaml@"),
        "{}",
        show(&out)
    );
    assert_eq!(g.running_version().as_deref(), Some("v4"));
    let n = g.history().len();
    assert_eq!(g.history().last().unwrap()["outcome"], "invalid");
    g.reconcile();
    assert_eq!(g.history().len(), n, "the same failure is journaled once");
    assert_eq!(g.status()["condition"], "degraded");
}

#[test]
fn only_one_reconcile_acts_and_a_killed_one_leaves_no_lock() {
    let g = GitOps::new("gitops-lock");
    g.d.image("v1", &["START_DELAY=1"]);
    g.d.image("v2", &["START_DELAY=1"]);
    g.commit(&Spec::tag("v1"), "deploy v1");

    // Two at once: exactly one acts, the other exits 5.
    let first = g
        .reconcile_cmd()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let second = g
        .reconcile_cmd()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let codes = [
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    ]
    .map(|o| o.status.code());
    let mut sorted = codes;
    sorted.sort();
    assert_eq!(sorted, [Some(0), Some(5)], "{codes:?}");
    assert_eq!(g.running_version().as_deref(), Some("v1"));

    // A maintenance hold suspends reconciles (exit 5) until released.
    let out = g
        .command("lock")
        .args(["hold", "-m", "resizing the volume"])
        .output()
        .unwrap();
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    assert_eq!(g.status()["condition"], "suspended");
    assert_eq!(code(&g.reconcile()), Some(5));
    assert_eq!(
        code(&g.command("lock").arg("release").output().unwrap()),
        Some(0)
    );

    // SIGKILL in the middle of a replacement: the next reconcile converges and the lock is free.
    g.commit(&Spec::tag("v2"), "deploy v2");
    let mut child = g
        .reconcile_cmd()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let state = g.d.state_dir();
    assert!(
        wait_until(Duration::from_secs(30), || holder(&state).is_some()),
        "the reconcile took the lock"
    );
    assert!(
        wait_until(Duration::from_secs(30), || g.d.containers().len() > 1),
        "the replacement began"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let out = g.reconcile();
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    assert!(
        wait_until(Duration::from_secs(10), || g.running_version().as_deref()
            == Some("v2")),
        "v2 serves (it may still be in its start delay when a re-run finds it matching)"
    );
    g.d.only_container();
    assert!(g.status()["lock_holder"].is_null());
}

fn holder(state_dir: &Path) -> Option<String> {
    std::fs::read_to_string(state_dir.join("reconcile.lock"))
        .ok()
        .filter(|s| !s.is_empty())
}

/// The kill-point walk through the GitOps loop (issue 15): a commit that deploys v2 and one that deploys a build
/// failing its gate, each reconcile SIGKILLed after its k-th mutating Docker call in turn
/// (`RECONCILER_TEST_KILL_AFTER_CALL`), then reconciled again: the right container runs, and `status` and the
/// verified journal say so.
fn reconcile_walk(name: &str, tag: &str) -> usize {
    let start = |test: &str| {
        let g = GitOps::new(test);
        g.d.image("v1", &[]);
        g.d.image("v2", &[]);
        g.d.image("bad", &["FAIL_HEALTH=1"]);
        let spec = |tag: &str| Spec {
            stability: Duration::from_millis(200),
            ..Spec::tag(tag)
        };
        let good = g.commit(&spec("v1"), "deploy v1");
        let out = g.reconcile();
        assert_eq!(code(&out), Some(0), "{}", show(&out));
        let new = g.commit(&spec(tag), &format!("deploy {tag}"));
        (g, good, new)
    };
    let check = |g: &GitOps, good: &str, new: &str, at: &str| {
        g.d.only_container();
        let status = g.status();
        let history = g.history();
        let last = history.last().unwrap();
        if tag == "bad" {
            assert_eq!(g.running_version().as_deref(), Some("v1"), "{at}");
            assert_eq!(status["condition"], "degraded", "{at}: {status:#}");
            assert_eq!(status["running"]["commit"], good, "{at}: {status:#}");
            assert_eq!(status["quarantined"][0]["commit"], new, "{at}: {status:#}");
            assert_eq!(
                (&last["commit"], &last["outcome"]),
                (&Value::from(new), &Value::from("reverted")),
                "{at}: {history:#?}"
            );
        } else {
            assert_eq!(g.running_version().as_deref(), Some("v2"), "{at}");
            assert_eq!(status["condition"], "converged", "{at}: {status:#}");
            assert_eq!(status["running"]["commit"], new, "{at}: {status:#}");
            assert_eq!(
                (&last["commit"], &last["outcome"]),
                (&Value::from(new), &Value::from("applied")),
                "{at}: {history:#?}"
            );
        }
        assert_eq!(status["running"]["gate_passed"], true, "{at}: {status:#}");
        assert!(status["lock_holder"].is_null(), "{at}: {status:#}");
    };

    let (clean, good, new) = start(name);
    let out = clean.reconcile();
    assert!(matches!(code(&out), Some(0 | 4)), "{}", show(&out));
    check(&clean, &good, &new, &format!("{name} clean"));
    let calls = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find_map(|e| e["mutating_docker_calls"].as_u64())
        .expect("the done event counts the calls");
    drop(clean);
    for k in 1..=calls {
        let at = format!("{name} killed after call {k}/{calls}");
        let (g, good, new) = start(name);
        let killed = g
            .reconcile_cmd()
            .env("RECONCILER_TEST_KILL_AFTER_CALL", k.to_string())
            .output()
            .unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&killed.status),
            Some(9),
            "{at}: the hook killed it"
        );
        let out = g.reconcile();
        assert!(matches!(code(&out), Some(0 | 4)), "{at}: {}", show(&out));
        check(&g, &good, &new, &at);
    }
    usize::try_from(calls).unwrap()
}

#[test]
fn every_kill_point_of_a_reconciled_deploy_ends_applied_and_says_so() {
    let n = reconcile_walk("gitops-kp-deploy", "v2");
    eprintln!("reconcile deploy: {n} kill points");
}

#[test]
fn every_kill_point_of_a_reconciled_revert_ends_reverted_and_says_so() {
    let n = reconcile_walk("gitops-kp-revert", "bad");
    eprintln!("reconcile revert: {n} kill points");
}
