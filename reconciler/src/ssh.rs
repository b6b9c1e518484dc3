//! Reaching the droplet over SSH (the `openssh` crate, which drives the system's `ssh` through a control master).
//! The remote Docker socket is forwarded to a local Unix socket, so the same bollard client converges a remote
//! engine, and host-side commands run over the same connection. Host keys are always checked strictly: against a
//! known_hosts file or a key pinned in configuration, never accepted on first sight.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use openssh::{ForwardType, KnownHosts, Session, SessionBuilder, Stdio};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::oneshot;

/// Where and how to connect.
#[derive(Debug, Clone, Default)]
pub struct SshTarget {
    /// `user@host` (or a host alias from the SSH config).
    pub destination: String,
    /// Port, when not 22.
    pub port: Option<u16>,
    /// known_hosts file to verify the host key against (default: the user's).
    pub known_hosts: Option<PathBuf>,
    /// A pinned host key (`ssh-ed25519 AAAA...`), verified instead of a known_hosts file.
    pub host_key: Option<String>,
    /// Private key to log in with.
    pub identity: Option<PathBuf>,
}

/// Why the remote could not be reached or used.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// Connecting failed (unreachable, authentication, or a host key that does not match).
    #[error("ssh {destination}: {source}")]
    Connect {
        /// Where.
        destination: String,
        /// Why.
        source: openssh::Error,
    },
    /// Forwarding the Docker socket failed.
    #[error("ssh {destination}: forwarding {remote} failed: {source}")]
    Forward {
        /// Where.
        destination: String,
        /// Remote socket.
        remote: String,
        /// Why.
        source: openssh::Error,
    },
    /// Running a remote command failed.
    #[error("ssh {destination}: `{command}`: {message}")]
    Command {
        /// Where.
        destination: String,
        /// What.
        command: String,
        /// Why.
        message: String,
    },
    /// Local scratch files for the connection could not be made.
    #[error("ssh: local scratch directory: {0}")]
    Scratch(#[from] std::io::Error),
}

/// An open connection with the remote Docker socket forwarded locally.
#[derive(Debug)]
pub struct Remote {
    session: Session,
    destination: String,
    socket: PathBuf,
    _scratch: tempfile::TempDir,
}

impl Remote {
    /// Connects (strict host key checking) and forwards `remote_docker_socket` to a local socket.
    pub async fn connect(
        target: &SshTarget,
        remote_docker_socket: &Path,
    ) -> Result<Self, SshError> {
        let scratch = tempfile::Builder::new()
            .prefix("reconciler-ssh-")
            .tempdir()?;
        let mut builder = SessionBuilder::default();
        builder
            .known_hosts_check(KnownHosts::Strict)
            .control_directory(scratch.path())
            .connect_timeout(std::time::Duration::from_secs(15))
            .server_alive_interval(std::time::Duration::from_secs(10));
        if let Some(port) = target.port {
            builder.port(port);
        }
        if let Some(identity) = &target.identity {
            builder.keyfile(identity);
        }
        if let Some(key) = &target.host_key {
            let pinned = scratch.path().join("known_hosts");
            std::fs::write(&pinned, format!("{} {key}\n", known_hosts_name(target)))?;
            builder.user_known_hosts_file(pinned);
        } else if let Some(file) = &target.known_hosts {
            builder.user_known_hosts_file(file);
        }
        let destination = target.destination.clone();
        let session = builder
            .connect(&destination)
            .await
            .map_err(|source| SshError::Connect {
                destination: destination.clone(),
                source,
            })?;
        let socket = scratch.path().join("docker.sock");
        session
            .request_port_forward(ForwardType::Local, socket.as_path(), remote_docker_socket)
            .await
            .map_err(|source| SshError::Forward {
                destination: destination.clone(),
                remote: remote_docker_socket.display().to_string(),
                source,
            })?;
        Ok(Self {
            session,
            destination,
            socket,
            _scratch: scratch,
        })
    }

    /// Forwards a free local TCP port to `remote` as seen from the remote host (e.g. its `127.0.0.1:8080`) and
    /// returns the local address.
    pub async fn forward_tcp(&self, remote: SocketAddr) -> Result<SocketAddr, SshError> {
        let local = std::net::TcpListener::bind(("127.0.0.1", 0))?.local_addr()?;
        self.session
            .request_port_forward(ForwardType::Local, local, remote)
            .await
            .map_err(|source| SshError::Forward {
                destination: self.destination.clone(),
                remote: remote.to_string(),
                source,
            })?;
        Ok(local)
    }

    /// Takes an `flock` lease on `path` on the remote host without waiting (the same lease the droplet's periodic
    /// reconcile takes); `None` when another process holds it. The lease lasts until the returned value is dropped or
    /// the connection drops.
    pub async fn lock(self: &Arc<Self>, path: &str) -> Result<Option<RemoteLease>, SshError> {
        const SCRIPT: &str = r#"mkdir -p "$(dirname "$1")" && exec flock -n -E 75 "$1" sh -c 'echo held; exec cat >/dev/null'"#;
        let (ready, is_ready) = oneshot::channel::<Result<bool, String>>();
        let (release, released) = oneshot::channel::<()>();
        let remote = Arc::clone(self);
        let command = format!("flock {path}");
        let path = path.to_owned();
        tokio::spawn(async move {
            let spawned = remote
                .session
                .command("sh")
                .args(["-c", SCRIPT, "sh", &path])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .await;
            let mut child = match spawned {
                Ok(child) => child,
                Err(e) => {
                    let _ = ready.send(Err(e.to_string()));
                    return;
                }
            };
            let mut line = String::new();
            if let Some(stdout) = child.stdout().take() {
                let _ = BufReader::new(stdout).read_line(&mut line).await;
            }
            if line.trim() == "held" {
                let _ = ready.send(Ok(true));
                let _ = released.await; // The lease ends when its holder drops the sender.
                drop(child.stdin().take());
                let _ = child.wait().await;
                return;
            }
            let _ = ready.send(match child.wait().await {
                Ok(status) if status.code() == Some(75) => Ok(false),
                Ok(status) => Err(format!("flock exited {:?}", status.code())),
                Err(e) => Err(e.to_string()),
            });
        });
        let fail = |message: String| SshError::Command {
            destination: self.destination.clone(),
            command: command.clone(),
            message,
        };
        match is_ready.await {
            Ok(Ok(true)) => Ok(Some(RemoteLease { _release: release })),
            Ok(Ok(false)) => Ok(None),
            Ok(Err(message)) => Err(fail(message)),
            Err(_) => Err(fail("the lock task ended".to_owned())),
        }
    }

    /// The local end of the forwarded Docker socket.
    pub fn docker_socket(&self) -> &Path {
        &self.socket
    }

    /// Runs `program args...` on the remote host; fails unless it exits 0.
    pub async fn run(&self, program: &str, args: &[&str]) -> Result<Output, SshError> {
        let command = std::iter::once(program)
            .chain(args.iter().copied())
            .collect::<Vec<_>>()
            .join(" ");
        let fail = |message: String| SshError::Command {
            destination: self.destination.clone(),
            command: command.clone(),
            message,
        };
        let output = self
            .session
            .command(program)
            .args(args)
            .output()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !output.status.success() {
            return Err(fail(format!(
                "exit {}: {}",
                output.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        Ok(output)
    }

    /// Whether the connection is still up.
    pub async fn check(&self) -> Result<(), SshError> {
        self.session
            .check()
            .await
            .map_err(|source| SshError::Connect {
                destination: self.destination.clone(),
                source,
            })
    }

    /// Closes the connection.
    pub async fn close(self) -> Result<(), SshError> {
        let destination = self.destination.clone();
        self.session
            .close()
            .await
            .map_err(|source| SshError::Connect {
                destination,
                source,
            })
    }
}

/// An `flock` lease held on the remote host; released when dropped.
#[derive(Debug)]
pub struct RemoteLease {
    _release: oneshot::Sender<()>,
}

/// How known_hosts names the target: `host`, or `[host]:port` off port 22.
fn known_hosts_name(target: &SshTarget) -> String {
    let host = target
        .destination
        .rsplit('@')
        .next()
        .unwrap_or(&target.destination);
    match target.port {
        Some(port) if port != 22 => format!("[{host}]:{port}"),
        _ => host.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_hosts_names_follow_openssh() {
        let mut t = SshTarget {
            destination: "root@203.0.113.7".into(),
            ..SshTarget::default()
        };
        assert_eq!(known_hosts_name(&t), "203.0.113.7");
        t.port = Some(2222);
        assert_eq!(known_hosts_name(&t), "[203.0.113.7]:2222");
    }
}
