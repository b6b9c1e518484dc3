//! The `reconciler` binary's contract: exit codes and output of `validate`, `schema` and `plan`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn reconciler(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reconciler"))
        .args(args)
        .current_dir(root())
        .env_remove("RECONCILER_MANIFEST")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn validate_accepts_the_committed_manifest() {
    let out = reconciler(&["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("manifests/desired.yaml: valid"));
}

#[test]
fn validate_rejects_each_invalid_manifest_with_exit_1_and_its_message() {
    for entry in std::fs::read_dir(root().join("reconciler/tests/invalid")).unwrap() {
        let path = entry.unwrap().path();
        let body = std::fs::read_to_string(&path).unwrap();
        let expect = body
            .lines()
            .find_map(|l| l.strip_prefix("# expect: "))
            .unwrap();
        let out = reconciler(&["validate", "-f", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{}", path.display());
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(expect),
            "{}: expected {expect:?} in {stderr}",
            path.display()
        );
        assert!(
            stderr.contains(path.file_name().unwrap().to_str().unwrap()),
            "the error names the file"
        );
    }
}

#[test]
fn schema_prints_the_committed_schema() {
    let out = reconciler(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let committed = std::fs::read_to_string(root().join("schema/desired.schema.json")).unwrap();
    assert_eq!(text(&out.stdout), committed);
}

#[test]
fn plan_exits_0_when_converged() {
    let out = reconciler(&[
        "plan",
        "-f",
        "reconciler/tests/fixtures/desired.yaml",
        "--observed",
        "reconciler/tests/fixtures/observed-converged.json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("No changes."));
    assert!(stdout.contains("Plan: 0 to add, 0 to change, 0 to destroy."));
    assert!(!stdout.contains('\x1b'), "no colours off a TTY");
}

#[test]
fn plan_exits_2_with_changes_and_speaks_json() {
    let args = [
        "plan",
        "-f",
        "reconciler/tests/fixtures/desired.yaml",
        "--observed",
        "reconciler/tests/fixtures/observed-fresh.json",
    ];
    let out = reconciler(&args);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Plan: 9 to add, 0 to change, 0 to destroy."));

    let out = reconciler(&[&args[..], &["--json"]].concat());
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["converged"], false);
    assert_eq!(doc["summary"]["add"], 9);
    assert_eq!(doc["steps"][0]["op"]["op"], "create_registry");
}

#[test]
fn plan_exits_1_on_bad_input_naming_the_file() {
    let out = reconciler(&["plan", "-f", "does/not/exist.yaml", "--observed", "x.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("does/not/exist.yaml"));

    let out = reconciler(&[
        "plan",
        "-f",
        "reconciler/tests/fixtures/desired.yaml",
        "--observed",
        "Cargo.toml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("Cargo.toml: not an observed-state document"));
}

#[test]
fn the_committed_cloud_init_renders_to_valid_cloud_config() {
    let loaded = reconciler::load::manifest(&root().join("manifests/desired.yaml")).unwrap();
    let user_data = loaded
        .user_data
        .expect("the manifest names a user_data template");
    assert!(user_data.starts_with("#cloud-config\n"));
    assert!(
        user_data.len() < 64 * 1024,
        "DigitalOcean takes at most 64 KiB"
    );
    assert!(!user_data.contains("{{"), "every placeholder is filled");
    let doc: serde_yaml::Value = serde_yaml::from_str(&user_data).unwrap();
    let files: Vec<&str> = doc["write_files"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    for path in [
        "/etc/schwad/schwad.env",
        "/etc/systemd/system/schwad-reconcile.service",
        "/etc/systemd/system/schwad-reconcile.timer",
        "/usr/local/bin/schwad-install-reconciler",
    ] {
        assert!(files.contains(&path), "{path} missing from {files:?}");
    }
    let unit = doc["write_files"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "/etc/systemd/system/schwad-reconcile.service")
        .unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned();
    let committed =
        std::fs::read_to_string(root().join("deploy/systemd/schwad-reconcile.service")).unwrap();
    assert_eq!(
        unit.trim_end(),
        committed.trim_end(),
        "the unit is included verbatim"
    );
    let runcmd = serde_yaml::to_string(&doc["runcmd"]).unwrap();
    assert!(
        runcmd.contains("/etc/fstab") && runcmd.contains("chown 1001:1001 /mnt/schwad-data/bot")
    );
}
