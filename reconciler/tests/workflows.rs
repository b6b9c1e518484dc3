#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

//! The GitHub workflows hold what `docs/operations.md` promises an operator (issue 20, cases 4, 5, 7, 8 and
//! 10). They cannot run here, so they are read as data and held against two sources they do not share: the
//! docs' token table (which GitHub environment holds which DigitalOcean token) and the files the droplet's
//! user_data template includes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_yaml::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn workflow(name: &str) -> Value {
    let path = root().join(".github/workflows").join(name);
    serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn job<'a>(workflow: &'a Value, name: &str) -> &'a Value {
    workflow["jobs"]
        .get(name)
        .unwrap_or_else(|| panic!("no job {name}"))
}

/// The `secrets.NAME`s a job's text refers to.
fn secrets(job: &Value) -> BTreeSet<String> {
    let text = serde_yaml::to_string(job).unwrap();
    text.split("secrets.")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

/// The docs' token table (section "Tokens"): each `DIGITALOCEAN_*` token and the GitHub environments that hold it.
fn documented_environments() -> BTreeMap<String, BTreeSet<String>> {
    let docs = std::fs::read_to_string(root().join("docs/operations.md")).unwrap();
    docs.lines()
        .skip_while(|line| *line != "## Tokens")
        .skip(1)
        .take_while(|line| !line.starts_with("## "))
        .filter(|line| line.starts_with("| `DIGITALOCEAN_"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let token = cells[1].trim_matches('`').to_owned();
            let environments = cells[2]
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect();
            (token, environments)
        })
        .collect()
}

#[test]
fn every_job_has_the_environment_that_holds_its_tokens_and_no_other_token() {
    let documented = documented_environments();
    assert_eq!(
        documented.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "DIGITALOCEAN_ACCESS_TOKEN",
            "DIGITALOCEAN_READ_TOKEN",
            "DIGITALOCEAN_REGISTRY_TOKEN",
            "DIGITALOCEAN_SNAPSHOT_TOKEN"
        ],
        "the docs' token table"
    );
    // Least privilege: what each job may hold.
    let allowed: [(&str, &str, &[&str]); 6] = [
        ("infra.yml", "plan", &["DIGITALOCEAN_READ_TOKEN"]),
        ("infra.yml", "snapshot", &["DIGITALOCEAN_SNAPSHOT_TOKEN"]),
        ("infra.yml", "apply", &["DIGITALOCEAN_ACCESS_TOKEN"]),
        ("deploy.yml", "image", &["DIGITALOCEAN_REGISTRY_TOKEN"]),
        (
            "deploy.yml",
            "release",
            &["DIGITALOCEAN_REGISTRY_TOKEN", "DIGITALOCEAN_SNAPSHOT_TOKEN"],
        ),
        (
            "deploy.yml",
            "verify",
            &["DROPLET_HOST", "DROPLET_HOST_KEY", "DROPLET_SSH_KEY"],
        ),
    ];
    for (file, name, tokens) in allowed {
        let workflow = workflow(file);
        let job = job(&workflow, name);
        let used = secrets(job);
        let expected: BTreeSet<String> = tokens.iter().map(|t| (*t).to_owned()).collect();
        assert_eq!(used, expected, "{file} job {name}: its secrets");
        let environment = job["environment"].as_str();
        for token in used.iter().filter(|t| t.starts_with("DIGITALOCEAN_")) {
            let holders = &documented[token];
            assert!(
                environment.is_some_and(|e| holders.contains(e)),
                "{file} job {name} reads {token}, which the docs put in {holders:?}, but runs in environment {environment:?}: it would be empty"
            );
        }
    }
}

#[test]
fn snapshots_are_taken_daily_with_the_snapshot_token() {
    let infra = workflow("infra.yml");
    let cron = infra["on"]["schedule"][0]["cron"].as_str();
    assert!(cron.is_some(), "infra.yml has no schedule");
    let snapshot = job(&infra, "snapshot");
    assert_eq!(
        snapshot["if"].as_str(),
        Some("github.event_name == 'schedule'")
    );
    let text = serde_yaml::to_string(snapshot).unwrap();
    assert!(text.contains("reconciler snapshot"), "{text}");
}

#[test]
fn a_pull_request_that_changes_the_droplets_user_data_is_planned() {
    // The manifest names the user_data template; every file it includes is rendered into the droplet's user_data
    // (a change there replaces the droplet), so each must trigger the plan job.
    let manifest: Value = serde_yaml::from_str(
        &std::fs::read_to_string(root().join("manifests/desired.yaml")).unwrap(),
    )
    .unwrap();
    let template = root()
        .join("manifests")
        .join(manifest["infra"]["droplet"]["user_data"].as_str().unwrap());
    let text = std::fs::read_to_string(&template).unwrap();
    let dir = template.parent().unwrap();
    let mut rendered: Vec<PathBuf> = text
        .split("{{include ")
        .skip(1)
        .map(|rest| dir.join(rest.split("}}").next().unwrap().trim()))
        .collect();
    rendered.push(template.clone());
    assert!(rendered.len() > 1, "the template includes files");
    let infra = workflow("infra.yml");
    let paths: Vec<&str> = infra["on"]["pull_request"]["paths"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let root = std::fs::canonicalize(root()).unwrap();
    for file in rendered {
        let file = std::fs::canonicalize(&file).unwrap();
        let relative = file
            .strip_prefix(&root)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let matched = paths
            .iter()
            .any(|pattern| match pattern.strip_suffix("/**") {
                Some(dir) => relative.starts_with(&format!("{dir}/")),
                None => relative == *pattern,
            });
        assert!(
            matched,
            "{relative} is rendered into user_data but infra.yml's paths {paths:?} do not plan it"
        );
    }
}

#[test]
fn deploys_wait_for_ci_never_roll_back_and_stop_on_quarantine() {
    let deploy = workflow("deploy.yml");
    let trigger = &deploy["on"]["workflow_run"];
    assert_eq!(trigger["workflows"][0].as_str(), Some("ci"));
    assert_eq!(trigger["types"][0].as_str(), Some("completed"));
    let on: Vec<&str> = deploy["on"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(on, ["workflow_run"], "deploys start only after CI");
    let changes = job(&deploy, "changes");
    assert!(
        changes["if"]
            .as_str()
            .unwrap()
            .contains("github.event.workflow_run.conclusion == 'success'"),
        "a red CI deploys nothing"
    );
    // The commit deployed is the one CI passed, and it must descend from the deployed one: in the check and again
    // right before the manifest commit.
    assert_eq!(
        deploy["env"]["SHA"].as_str(),
        Some("${{ github.event.workflow_run.head_sha }}")
    );
    for name in ["changes", "release"] {
        let text = serde_yaml::to_string(job(&deploy, name)).unwrap();
        assert!(
            text.contains("git merge-base --is-ancestor"),
            "deploy.yml job {name} has no ancestry check"
        );
    }
    let verify = serde_yaml::to_string(job(&deploy, "verify")).unwrap();
    assert!(
        verify.contains(".quarantined"),
        "verify must stop at once when the droplet quarantined the revision"
    );
}
