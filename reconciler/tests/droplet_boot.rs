//! The droplet's first boot as DigitalOcean would run it: the rendered user_data against cloud-init's own schema
//! (Debian's `cloud-init`), and the systemd units it writes loaded by `systemd-analyze verify` in a root holding this
//! machine's systemd units and Docker's `docker.service`, with Docker ordered after the data volume's mount.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rendered() -> (reconciler::load::Loaded, serde_yaml::Value, String) {
    let loaded = reconciler::load::manifest(&root().join("manifests/desired.yaml")).unwrap();
    let text = loaded
        .user_data
        .clone()
        .expect("the manifest names a user_data template");
    let doc = serde_yaml::from_str(&text).unwrap();
    (loaded, doc, text)
}

fn written(doc: &serde_yaml::Value) -> Vec<(String, String)> {
    doc["write_files"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["content"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn cloud_init_schema(text: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("user-data");
    std::fs::write(&file, text).unwrap();
    Command::new("cloud-init")
        .args(["schema", "--config-file"])
        .arg(&file)
        .output()
        .expect("cloud-init is installed (apt-get install cloud-init)")
}

#[test]
fn rendered_user_data_passes_cloud_inits_schema() {
    let (_, _, text) = rendered();
    let out = cloud_init_schema(&text);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The checker rejects what cloud-init would: a package list that is not a list.
    let broken = text.replace("packages:\n  - docker.io", "packages: {docker.io: latest}");
    assert_ne!(broken, text);
    assert!(
        !cloud_init_schema(&broken).status.success(),
        "cloud-init schema accepted an invalid packages key"
    );
}

#[test]
fn the_secrets_skeleton_names_every_secret_of_the_manifest_and_sets_none() {
    let (loaded, doc, _) = rendered();
    let secrets = loaded.manifest.app.secrets.as_ref().unwrap();
    let (_, skeleton) = written(&doc)
        .into_iter()
        .find(|(p, _)| *p == secrets.env_file)
        .unwrap();
    for name in &secrets.names {
        assert!(
            skeleton.contains(name),
            "{name} missing from the skeleton:\n{skeleton}"
        );
    }
    // No `NAME=` line: an empty value would pass the reconciler's check and crash the bot at start.
    assert!(skeleton.lines().all(|l| l.starts_with('#')), "{skeleton}");
}

#[test]
fn units_load_and_docker_waits_for_the_data_mount() {
    let (loaded, doc, _) = rendered();
    let mount_path = &loaded.manifest.infra.volume.mount_path;
    let dir = tempfile::tempdir().unwrap();
    let os = dir.path();
    // The OS's units and Docker's own docker.service, as on the droplet.
    let lib = os.join("usr/lib/systemd");
    std::fs::create_dir_all(&lib).unwrap();
    let status = Command::new("cp")
        .arg("-a")
        .arg("/usr/lib/systemd/system")
        .arg(&lib)
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        lib.join("system/docker.service").exists(),
        "Docker's docker.service is not installed here"
    );
    // What user_data writes under /etc/systemd, and the reconciler it starts.
    let mut drop_in = None;
    for (path, content) in written(&doc)
        .into_iter()
        .filter(|(p, _)| p.starts_with("/etc/systemd/system/") || p.starts_with("/usr/local/bin/"))
    {
        let file = os.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, &content).unwrap();
        if path.starts_with("/usr/local/bin/") {
            std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
        }
        if path.starts_with("/etc/systemd/system/docker.service.d/") {
            drop_in = Some(content);
        }
    }
    // The programs the units start: the reconciler, and Docker's own (usr-merged, as on Ubuntu).
    std::os::unix::fs::symlink("usr/bin", os.join("bin")).unwrap();
    for (from, to) in [
        (env!("CARGO_BIN_EXE_reconciler"), "usr/local/bin/reconciler"),
        ("/usr/sbin/dockerd", "usr/sbin/dockerd"),
        ("/usr/bin/kill", "usr/bin/kill"),
    ] {
        let to = os.join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, &to).unwrap_or_else(|e| panic!("{from}: {e}"));
    }
    // The mount unit systemd's fstab generator makes of the line runcmd appends.
    let unit_name = format!("{}.mount", escape_path(mount_path));
    std::fs::write(
        os.join("etc/systemd/system").join(&unit_name),
        format!("[Mount]\nWhat=/dev/disk/by-id/scsi-0DO_Volume_{}\nWhere={mount_path}\nType=ext4\nOptions=nofail\n", loaded.manifest.infra.volume.name),
    )
    .unwrap();

    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no", "--generators=no"])
        .arg(format!("--root={}", os.display()))
        .args([
            "docker.service",
            "schwad-reconcile.service",
            "schwad-reconcile.timer",
            &unit_name,
        ])
        .output()
        .expect("systemd-analyze is installed");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let drop_in = drop_in.expect("user_data writes a docker.service drop-in");
    assert!(
        drop_in
            .lines()
            .any(|l| l.trim() == format!("RequiresMountsFor={mount_path}")),
        "docker.service does not wait for {mount_path}:\n{drop_in}"
    );
}

/// `systemd-escape --path`, by the tool itself.
fn escape_path(path: &str) -> String {
    let out = Command::new("systemd-escape")
        .args(["--path", path])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}
