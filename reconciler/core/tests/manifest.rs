//! The manifest: every field round-trips, the committed schema is the generated one, and each invalid manifest in
//! `reconciler/tests/invalid/` is rejected with the message its `# expect:` line names.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::path::Path;

use reconciler_core::manifest::{self, Duration, Port, Protocol, RegistryTier};

const COMMITTED: &str = include_str!("../../../manifests/desired.yaml");

#[test]
fn the_committed_manifest_is_valid_and_points_editors_at_the_schema() {
    assert!(
        COMMITTED.starts_with("# yaml-language-server: $schema=../schema/desired.schema.json\n")
    );
    manifest::parse("manifests/desired.yaml", COMMITTED).unwrap();
}

#[test]
fn every_field_round_trips() {
    let mut d = manifest::parse("desired.yaml", COMMITTED).unwrap();
    // Set every optional field and vary every enum so nothing is left at a default.
    d.infra.registry.region = Some("sfo3".into());
    d.infra.registry.tier = RegistryTier::Professional;
    d.infra.volume.filesystem = manifest::Filesystem::Xfs;
    d.infra.snapshots.every = None;
    d.app.image.digest = Some(format!("sha256:{}", "ab".repeat(32)));
    d.app.ports.push(Port {
        host: 9000,
        container: 9001,
        protocol: Protocol::Udp,
        host_ip: Some("127.0.0.1".into()),
    });
    d.app.health_check.http = None;
    d.app.health_check.command = Some(vec!["schwad".into(), "healthcheck".into()]);
    d.app.health_check.stability_window = Duration::new(std::time::Duration::from_millis(1500));
    d.app.restart = manifest::RestartPolicy::OnFailure;
    d.app.hardening.read_only_root_fs = false;
    d.app.hardening.no_new_privileges = false;
    d.app.hardening.cap_drop = vec!["NET_RAW".into()];

    let yaml = manifest::to_yaml(&d).unwrap();
    let back = manifest::parse("round-trip.yaml", &yaml).unwrap();
    assert_eq!(back, d);
    let json = serde_json::to_string(&d).unwrap();
    assert_eq!(
        serde_json::from_str::<manifest::DesiredState>(&json).unwrap(),
        d
    );
}

#[test]
fn the_committed_schema_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/desired.schema.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == manifest::schema_json(),
        "schema/desired.schema.json is stale: run `cargo run -p reconciler -- schema > schema/desired.schema.json`"
    );
}

#[test]
fn every_field_has_a_description() {
    let schema: serde_json::Value = serde_json::from_str(&manifest::schema_json()).unwrap();
    let mut missing = Vec::new();
    for (name, def) in schema["definitions"].as_object().unwrap() {
        for (field, spec) in def["properties"].as_object().into_iter().flatten() {
            if spec.get("description").is_none() {
                missing.push(format!("{name}.{field}"));
            }
        }
    }
    for (field, spec) in schema["properties"].as_object().unwrap() {
        if spec.get("description").is_none() {
            missing.push(field.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "fields without a description: {missing:?}"
    );
}

#[test]
fn invalid_manifests_are_rejected_with_the_expected_message() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/invalid");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let expect = text
            .lines()
            .find_map(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} has no `# expect:` line", path.display()));
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let err = manifest::parse(&name, &text).expect_err(&name).to_string();
        assert!(
            err.contains(expect),
            "{name}: expected {expect:?} in:\n{err}"
        );
        seen += 1;
    }
    assert!(
        seen >= 10,
        "only {seen} invalid manifests found in {}",
        dir.display()
    );
}
