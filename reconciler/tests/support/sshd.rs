//! A real OpenSSH server on 127.0.0.1 for tests (Debian's `openssh-server`, installed by `.ci/run`), with its own host
//! key, a client key authorized for the current user, and a known_hosts file that pins the host key.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reconciler::ssh::SshTarget;

/// A running sshd; stopped when dropped.
pub struct Sshd {
    child: Child,
    /// Port it listens on.
    pub port: u16,
    /// Scratch directory with keys and config.
    pub dir: tempfile::TempDir,
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen runs (openssh-client)");
    assert!(status.success());
}

impl Sshd {
    /// Starts sshd on a free loopback port and waits until it accepts connections.
    pub fn start() -> Self {
        let sshd = Path::new("/usr/sbin/sshd");
        assert!(
            sshd.exists(),
            "/usr/sbin/sshd missing: install Debian's openssh-server (.ci/run does)"
        );
        std::fs::create_dir_all("/run/sshd").expect("privilege separation directory");
        let dir = tempfile::tempdir().expect("scratch dir");
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("client_key"));
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys"))
            .expect("authorized_keys");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
             PidFile {d}/sshd.pid\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n\
             PermitRootLogin prohibit-password\nAllowStreamLocalForwarding yes\nAllowTcpForwarding yes\n\
             LogLevel ERROR\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).expect("sshd_config");
        let child = Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sshd starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port, dir }
    }

    /// The host's public key line (`ssh-ed25519 AAAA...`).
    pub fn host_key(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("host_key.pub")).expect("host key");
        text.split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A target that logs in as the current user and pins the host key.
    pub fn target(&self) -> SshTarget {
        let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        SshTarget {
            destination: format!("{user}@127.0.0.1"),
            port: Some(self.port),
            known_hosts: None,
            host_key: Some(self.host_key()),
            identity: Some(self.client_key()),
        }
    }

    /// The client's private key.
    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    /// Kills every session process sshd has forked (the listener keeps running): a dropped connection.
    pub fn drop_connections(&self) {
        let _ = Command::new("pkill")
            .args(["-KILL", "-P", &self.child.id().to_string()])
            .status();
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.drop_connections();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
