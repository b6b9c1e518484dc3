//! Hostile input at the `reconciler` binary (issue 16): a token in the repository URL never reaches stderr, the
//! journal, `status.json`, `status` or `history`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::process::{Command, Output};

fn reconciler(state: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reconciler"))
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .env_remove("RECONCILER_REPO")
        .env_remove("RECONCILER_STATE_DIR")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// Issue 16, case 3: a sentinel in the URL's userinfo and in its query is nowhere in what the failed fetch leaves.
#[test]
fn a_token_in_the_repository_url_is_never_printed_or_stored() {
    let state = tempfile::tempdir().unwrap();
    let user = "userinfo-sentinel-4b1d";
    let query = "query-sentinel-77ce";
    let url = format!("https://ci:{user}@127.0.0.1:9/deploy.git?private_token={query}");
    let fetch = reconciler(state.path(), &["reconcile", "--once", "--repo", &url]);
    assert_ne!(fetch.status.code(), Some(0));
    let status = reconciler(state.path(), &["status", "--json"]);
    let history = reconciler(state.path(), &["history"]);
    let mut seen = vec![("reconcile stderr", fetch.stderr)];
    seen.push(("status", [status.stdout, status.stderr].concat()));
    seen.push(("history", [history.stdout, history.stderr].concat()));
    for file in ["journal.jsonl", "status.json"] {
        seen.push((file, std::fs::read(state.path().join(file)).unwrap()));
    }
    for (what, bytes) in seen {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("127.0.0.1:9/deploy.git") || what == "history",
            "{what} does not name the URL: {text}"
        );
        for sentinel in [user, query] {
            assert!(!text.contains(sentinel), "{what} leaks {sentinel}: {text}");
        }
    }
}
