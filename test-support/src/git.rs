//! `git` as the GitOps tests drive it: in one repository, committing as a fixed test identity.

use std::path::Path;
use std::process::Command;

/// Runs `git -C repo args...` and returns its trimmed stdout; panics with git's stderr on failure.
pub fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["-c", "user.name=test", "-c", "user.email=test@localhost"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
