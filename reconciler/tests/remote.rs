//! `reconciler plan|apply --host` over a real SSH connection (a test sshd on 127.0.0.1 whose host key is pinned):
//! the Docker socket is forwarded and the host-side steps run over the same session; a connection dropped in the
//! middle of an apply leaves a state the next apply converges.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod deploy;
mod support;

use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use deploy::{Applied, Deployment, SECRET, Spec, wait_until};
use reconciler_core::manifest::Filesystem;
use support::sshd::Sshd;
use support::tmpfs::Tmpfs;

/// `reconciler <command>` on `d`, converging through `sshd`.
fn over_ssh(d: &Deployment, sshd: &Sshd, command: &str) -> Command {
    let target = sshd.target();
    let mut cmd = match command {
        "apply" => d.apply_json(),
        _ => d.reconciler(command),
    };
    cmd.args(["--host", &target.destination])
        .args(["--ssh-port", &sshd.port.to_string()])
        .arg("--ssh-identity")
        .arg(sshd.client_key())
        .args(["--host-key", &sshd.host_key()])
        .arg("--remote-state-dir")
        .arg(remote_state(d));
    cmd
}

/// The state directory "on the remote host" (this machine: each test has its own).
fn remote_state(d: &Deployment) -> std::path::PathBuf {
    d.dir.path().join("remote-state")
}

fn apply(d: &Deployment, sshd: &Sshd) -> Applied {
    Applied::from(over_ssh(d, sshd, "apply").output().unwrap())
}

#[test]
fn converges_the_engine_and_host_through_ssh_then_changes_nothing() {
    let d = Deployment::new("ssh");
    d.image("v1", &[]);
    d.write(&Spec::tag("v1"));
    let sshd = Sshd::start();

    let plan = over_ssh(&d, &sshd, "plan").output().unwrap();
    assert_eq!(
        plan.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );

    let first = apply(&d, &sshd);
    first.expect(0);
    assert_eq!(first.done()["outcome"], "converged");
    let c = d.only_container();
    assert_eq!(c["State"]["Status"], "running");
    assert!(
        c["Config"]["Env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == &format!("API_TOKEN={SECRET}")),
        "the secrets file was read over ssh"
    );
    let meta = std::fs::metadata(d.data()).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o7777),
        (1001, 1001, 0o750),
        "the data directory was made over ssh"
    );
    assert!(!first.stderr.contains(SECRET));

    let second = apply(&d, &sshd);
    second.expect(0);
    assert_eq!(second.mutations(), 0, "{second:#?}");
    let plan = over_ssh(&d, &sshd, "plan").output().unwrap();
    assert_eq!(plan.status.code(), Some(0));
}

#[test]
fn an_unknown_host_key_is_refused_before_anything_runs() {
    let d = Deployment::new("sshkey");
    d.image("v1", &[]);
    d.write(&Spec::tag("v1"));
    let sshd = Sshd::start();
    let other = Sshd::start();
    let target = sshd.target();
    let out = d
        .reconciler("apply")
        .args(["--host", &target.destination])
        .args(["--ssh-port", &sshd.port.to_string()])
        .arg("--ssh-identity")
        .arg(sshd.client_key())
        .args(["--host-key", &other.host_key()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(d.containers().is_empty());
}

#[test]
fn a_connection_dropped_mid_apply_is_followed_by_a_converging_rerun() {
    let d = Deployment::new("sshdrop");
    d.image("v1", &[]);
    d.image("slow", &["START_DELAY=3"]);
    d.write(&Spec::tag("v1"));
    let sshd = Sshd::start();
    apply(&d, &sshd).expect(0);
    std::fs::write(d.data().join("ledger.db"), "fills").unwrap();

    let mut spec = Spec::tag("slow");
    spec.stability = Duration::from_millis(200);
    d.write(&spec);
    let child = over_ssh(&d, &sshd, "apply")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Mid-replacement: the new container exists beside the old one.
    let mid = wait_until(Duration::from_secs(20), || d.containers().len() >= 2);
    sshd.drop_connections();
    let interrupted = Applied::from(child.wait_with_output().unwrap());
    assert!(mid, "the replacement created the new container");
    assert_ne!(
        interrupted.code,
        Some(0),
        "the apply noticed the dropped connection: {interrupted:#?}"
    );

    let rerun = apply(&d, &sshd);
    rerun.expect(0);
    let c = d.only_container();
    assert_eq!(c["State"]["Status"], "running");
    assert_eq!(c["Image"], d.image_id("slow"));
    assert_eq!(
        std::fs::read_to_string(d.data().join("ledger.db")).unwrap(),
        "fills"
    );
    assert_eq!(apply(&d, &sshd).expect(0).mutations(), 0);
}

#[tokio::test]
async fn health_probes_reach_the_remote_loopback_through_a_forwarded_port() {
    use std::io::{Read, Write};
    use std::sync::Arc;

    use reconciler::host::RemoteHost;
    use reconciler::ssh::Remote;

    // The bot's health endpoint, listening on the remote host's loopback.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(1) {
            let mut stream = stream.unwrap();
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request).unwrap();
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n")
                .unwrap();
        }
    });
    let sshd = Sshd::start();
    let remote = Remote::connect(&sshd.target(), std::path::Path::new("/var/run/docker.sock"))
        .await
        .unwrap();
    let host = RemoteHost::new(Arc::new(remote));
    let url = format!("http://127.0.0.1:{port}/health");
    let tunnelled = host.tunnel(&url).await.unwrap();
    assert_ne!(tunnelled, url, "the probe goes through a forwarded port");
    let body = digitalocean_api::http::client_builder()
        .build()
        .unwrap()
        .get(&tunnelled)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "ok\n");
    assert_eq!(
        host.tunnel("http://203.0.113.9:8080/health").await.unwrap(),
        "http://203.0.113.9:8080/health",
        "a non-loopback URL is probed directly"
    );
}

#[test]
fn an_apply_exits_locked_while_the_remote_reconcile_lease_is_held() {
    let d = Deployment::new("sshlock");
    d.image("v1", &[]);
    d.write(&Spec::tag("v1"));
    let sshd = Sshd::start();
    std::fs::create_dir_all(remote_state(&d)).unwrap();
    let lock = remote_state(&d).join("reconcile.lock");
    // The droplet's periodic reconcile, holding its flock lease.
    let mut holder = Command::new("flock")
        .arg("--close") // the lease dies with this process, not with its `sleep`
        .arg(&lock)
        .args(["sleep", "30"])
        .spawn()
        .expect("flock (util-linux) runs");
    assert!(wait_until(Duration::from_secs(5), || {
        Command::new("flock")
            .args(["-n"])
            .arg(&lock)
            .arg("true")
            .status()
            .is_ok_and(|s| !s.success())
    }));
    let locked = apply(&d, &sshd);
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(locked.code, Some(5), "{locked:#?}");
    assert!(
        locked.stderr.contains("holds the lock"),
        "{}",
        locked.stderr
    );
    assert!(d.containers().is_empty(), "nothing ran");
    apply(&d, &sshd).expect(0);
}

/// `reconciler apply --scope all` on `d` against the DigitalOcean simulator at `sim`, converging the app through
/// `sshd`, with `extra` arguments.
fn apply_all_over_ssh(
    d: &Deployment,
    sshd: &Sshd,
    sim: &sim_digitalocean::SimHandle,
    extra: &[&str],
) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_reconciler"))
        .args(["apply", "-f"])
        .arg(d.manifest_path())
        .args(["--scope", "all", "--progress", "json", "--state-dir"])
        .arg(d.state_dir())
        .args(["--host", &sshd.target().destination])
        .args(["--ssh-port", &sshd.port.to_string()])
        .arg("--ssh-identity")
        .arg(sshd.client_key())
        .args(["--host-key", &sshd.host_key()])
        .arg("--remote-state-dir")
        .arg(remote_state(d))
        .args(extra)
        .env("DIGITALOCEAN_API_URL", sim.base_url())
        .env("DIGITALOCEAN_ACCESS_TOKEN", sim.token())
        .env("RECONCILER_DO_POLL_INTERVAL", "10ms")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_replacement_stops_the_app_and_unmounts_over_ssh_before_the_detach() {
    let d = Deployment::new("sshrelease");
    d.image("v1", &[]);
    d.write(&Spec::tag("v1"));
    // The volume's filesystem on "the droplet" (this machine, through sshd) is a tmpfs at the manifest's mount path.
    let mount = d.dir.path().join("data");
    let mounted = Tmpfs::mount(&mount);
    let sim = sim_digitalocean::Simulator::start(sim_digitalocean::Config {
        action_delay: Duration::from_millis(20),
        ..sim_digitalocean::Config::default()
    })
    .await
    .unwrap();
    let sshd = Sshd::start();

    let run = |extra: &'static [&'static str]| {
        let (d, sshd, sim) = (&d, &sshd, &sim);
        tokio::task::block_in_place(move || apply_all_over_ssh(d, sshd, sim, extra))
    };
    let first = run(&[]);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(d.only_container()["State"]["Status"], "running");
    assert!(mounted.is_mounted());
    std::fs::write(d.data().join("ledger.db"), "fills").unwrap();

    let mut xfs = d.desired(&Spec::tag("v1"));
    xfs.infra.volume.filesystem = Filesystem::Xfs;
    d.write_desired(&xfs);
    let replaced = run(&["--allow-data-loss", "it-data"]);
    let stdout = String::from_utf8_lossy(&replaced.stdout).into_owned();
    assert_eq!(
        replaced.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&replaced.stderr)
    );
    let started: Vec<String> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "step_started")
        .map(|e| e["description"].as_str().unwrap_or_default().to_owned())
        .collect();
    let at = |prefix: &str| {
        started
            .iter()
            .position(|s| s.starts_with(prefix))
            .unwrap_or_else(|| panic!("no step {prefix:?} in {started:#?}"))
    };
    let order = [
        at("stop container"),
        at("unmount"),
        at("detach volume"),
        at("snapshot volume"),
        at("delete volume"),
        at("create volume"),
        at("attach volume"),
        at("mount volume"),
    ];
    assert!(order.is_sorted(), "{started:#?}");
    // Unmounted over ssh before the detach; the app scope then made the data directory again and restarted the bot.
    assert!(!mounted.is_mounted());
    assert!(!d.data().join("ledger.db").exists());
    let c = d.only_container();
    assert_eq!(c["State"]["Status"], "running");
    assert!(!stdout.contains(SECRET));
    let again = run(&[]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
