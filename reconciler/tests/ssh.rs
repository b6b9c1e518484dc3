//! Reaching a Docker engine over a real SSH connection: the socket forward, remote commands, and strict host keys.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod support;

use std::path::Path;

use reconciler::ssh::{Remote, SshError};
use support::sshd::Sshd;

#[tokio::test]
async fn the_docker_socket_is_forwarded_and_commands_run() {
    let sshd = Sshd::start();
    let remote = Remote::connect(&sshd.target(), Path::new("/var/run/docker.sock"))
        .await
        .unwrap();
    let docker = bollard::Docker::connect_with_unix(
        &remote.docker_socket().to_string_lossy(),
        30,
        bollard::API_DEFAULT_VERSION,
    )
    .unwrap();
    let version = docker.version().await.unwrap();
    assert!(
        version.api_version.is_some(),
        "the engine answered through the tunnel"
    );
    let out = remote.run("id", &["-u"]).await.unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), nix_uid());
    let err = remote.run("false", &[]).await.unwrap_err();
    assert!(err.to_string().contains("`false`: exit 1"), "{err}");
    remote.close().await.unwrap();
}

#[tokio::test]
async fn a_host_key_that_does_not_match_is_refused() {
    let sshd = Sshd::start();
    let other = Sshd::start();
    let mut target = sshd.target();
    target.host_key = Some(other.host_key());
    let err = Remote::connect(&target, Path::new("/var/run/docker.sock"))
        .await
        .unwrap_err();
    assert!(matches!(err, SshError::Connect { .. }), "{err}");

    // And with no pinned key and an empty known_hosts file, an unknown host is not accepted on first sight.
    let empty = sshd.dir.path().join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    target.host_key = None;
    target.known_hosts = Some(empty);
    assert!(
        Remote::connect(&target, Path::new("/var/run/docker.sock"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_dropped_connection_is_noticed() {
    let sshd = Sshd::start();
    let remote = Remote::connect(&sshd.target(), Path::new("/var/run/docker.sock"))
        .await
        .unwrap();
    remote.check().await.unwrap();
    sshd.drop_connections();
    let mut noticed = false;
    for _ in 0..50 {
        if remote.check().await.is_err() || remote.run("true", &[]).await.is_err() {
            noticed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(noticed, "the client saw the connection drop");
}

fn nix_uid() -> String {
    String::from_utf8_lossy(
        &std::process::Command::new("id")
            .arg("-u")
            .output()
            .unwrap()
            .stdout,
    )
    .trim()
    .to_owned()
}
