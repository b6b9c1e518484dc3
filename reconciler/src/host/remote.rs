//! The droplet as a [`Host`], through the SSH connection that also forwards its Docker socket. Each fact or action is
//! one remote `sh` command with the path passed as an argument (never spliced into the script). The secrets file's
//! bytes come back over the encrypted channel only to be fingerprinted and parsed in memory; they are never logged.

use std::sync::Arc;

use reconciler_core::observed::{DirState, SecretsFileState};

use super::{Host, HostError, SecretEnv, parse_env, secrets_state};
use crate::ssh::{Remote, RemoteLease};

/// Exits 3 naming the first symbolic link in `$1` or a directory above it (the data directory is `chown`ed and
/// bind-mounted: a link would move both).
macro_rules! no_links {
    () => {
        r#"p=$1; while [ "$p" != / ] && [ "$p" != . ]; do
  if [ -L "$p" ]; then echo "$p is a symbolic link; the data directory's path may hold none" >&2; exit 3; fi
  p=$(dirname -- "$p")
done
"#
    };
}

/// Prints `absent`, or `<uid> <gid> <octal mode> <d|f>`.
const STAT: &str = concat!(
    no_links!(),
    r#"if [ -e "$1" ]; then
  kind=f; [ -d "$1" ] && kind=d
  printf '%s %s\n' "$(stat -c '%u %g %a' -- "$1")" "$kind"
else echo absent; fi"#
);

/// Creates the directory and sets its owner and mode, never through a link (checked again after the `mkdir`).
const ENSURE_DIR: &str = concat!(
    no_links!(),
    r#"mkdir -p -- "$1" || exit 1
"#,
    no_links!(),
    r#"chown -h -- "$2" "$1" && chmod -- "$3" "$1""#
);

/// Prints the file's octal mode on the first line, then its bytes; `absent` when it does not exist.
const READ: &str = r#"if [ -e "$1" ]; then stat -c '%a' "$1" && cat "$1"; else echo absent; fi"#;

/// A host reached over SSH.
#[derive(Debug, Clone)]
pub struct RemoteHost {
    remote: Arc<Remote>,
}

impl RemoteHost {
    /// The host at the other end of `remote`.
    pub fn new(remote: Arc<Remote>) -> Self {
        Self { remote }
    }

    /// Takes the reconcile lease at `path` on the host, `None` when another reconcile holds it.
    pub async fn lock(&self, path: &str) -> Result<Option<RemoteLease>, HostError> {
        Ok(self.remote.lock(path).await?)
    }

    /// The URL that reaches `url` as the remote host sees it: a loopback HTTP URL goes through a TCP port forwarded
    /// over the SSH session (the health gate probes the bot where it runs); any other URL is returned as is.
    pub async fn tunnel(&self, url: &str) -> Result<String, HostError> {
        let mut parsed = url::Url::parse(url)
            .map_err(|e| HostError::Remote(format!("health probe URL {url}: {e}")))?;
        let loopback = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(name)) => name == "localhost",
            None => false,
        };
        let Some(port) = parsed.port_or_known_default().filter(|_| loopback) else {
            return Ok(url.to_owned());
        };
        let local = self
            .remote
            .forward_tcp(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
            .await?;
        let unexpected = |()| HostError::Remote(format!("health probe URL {url}: cannot rewrite"));
        parsed.set_ip_host(local.ip()).map_err(unexpected)?;
        parsed.set_port(Some(local.port())).map_err(unexpected)?;
        Ok(parsed.into())
    }

    /// Runs `sh -c script sh args...` and returns its stdout; a non-zero exit is an error.
    pub(super) async fn sh(&self, script: &str, args: &[&str]) -> Result<Vec<u8>, HostError> {
        let mut all = vec!["-c", script, "sh"];
        all.extend_from_slice(args);
        let output = self.remote.run("sh", &all).await?;
        Ok(output.stdout)
    }

    /// The file's mode and bytes, `None` when it does not exist.
    async fn read(&self, path: &str) -> Result<Option<(u32, Vec<u8>)>, HostError> {
        let out = self.sh(READ, &[path]).await?;
        if out == b"absent\n" {
            return Ok(None);
        }
        let newline = out
            .iter()
            .position(|b| *b == b'\n')
            .ok_or_else(|| HostError::Remote(format!("{path}: unexpected stat output")))?;
        let mode = parse_mode(path, &String::from_utf8_lossy(&out[..newline]))?;
        Ok(Some((mode, out[newline + 1..].to_vec())))
    }
}

/// Turns the exit 3 of [`no_links!`] into [`HostError::Symlink`].
fn link_refused(path: &str, e: HostError) -> HostError {
    match &e {
        HostError::Ssh(crate::ssh::SshError::Command { message, .. })
            if message.contains("is a symbolic link") =>
        {
            HostError::Symlink(path.to_owned())
        }
        _ => e,
    }
}

fn parse_mode(path: &str, text: &str) -> Result<u32, HostError> {
    u32::from_str_radix(text.trim(), 8)
        .map_err(|_| HostError::Remote(format!("{path}: unexpected mode {:?}", text.trim())))
}

impl Host for RemoteHost {
    async fn data_dir(&self, path: &str) -> Result<Option<DirState>, HostError> {
        let stat = self
            .sh(STAT, &[path])
            .await
            .map_err(|e| link_refused(path, e))?;
        let out = String::from_utf8_lossy(&stat).into_owned();
        let fields: Vec<&str> = out.split_whitespace().collect();
        let unexpected = || HostError::Remote(format!("{path}: unexpected stat output {out:?}"));
        match fields.as_slice() {
            ["absent"] => Ok(None),
            [_, _, _, "f"] => Err(HostError::NotADirectory(path.to_owned())),
            [uid, gid, mode, "d"] => Ok(Some(DirState {
                uid: uid.parse().map_err(|_| unexpected())?,
                gid: gid.parse().map_err(|_| unexpected())?,
                mode: parse_mode(path, mode)?,
            })),
            _ => Err(unexpected()),
        }
    }

    async fn ensure_data_dir(
        &self,
        path: &str,
        uid: u32,
        gid: u32,
        mode: u32,
    ) -> Result<(), HostError> {
        let owner = format!("{uid}:{gid}");
        let mode = format!("{mode:o}");
        self.sh(ENSURE_DIR, &[path, &owner, &mode])
            .await
            .map_err(|e| link_refused(path, e))?;
        Ok(())
    }

    async fn secrets_file(&self, path: &str) -> Result<Option<SecretsFileState>, HostError> {
        let Some((mode, bytes)) = self.read(path).await? else {
            return Ok(None);
        };
        secrets_state(path, mode, &bytes).map(Some)
    }

    async fn secret_env(&self, path: &str) -> Result<SecretEnv, HostError> {
        match self.read(path).await? {
            Some((_, bytes)) => parse_env(path, &bytes),
            None => Err(HostError::Remote(format!(
                "{path}: secrets env file does not exist"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;

    /// The scripts run by `sh` here exactly as the droplet's `sh` runs them.
    fn sh(script: &str, args: &[&str]) -> std::process::Output {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("sh")
            .args(args)
            .output()
            .unwrap()
    }

    /// Issue 16, case 1, on the droplet: a symbolic link in the data directory's path is refused (exit 3), never
    /// followed by `mkdir`, `chown` or `chmod`; a plain path is created with its owner and mode.
    #[test]
    fn the_scripts_refuse_a_symlink_in_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink(&elsewhere, dir.path().join("mnt")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, dir.path().join("bot")).unwrap();
        for path in [dir.path().join("mnt/bot"), dir.path().join("bot")] {
            let path = path.to_str().unwrap();
            for out in [
                sh(ENSURE_DIR, &[path, "1001:1001", "755"]),
                sh(STAT, &[path]),
            ] {
                assert_eq!(out.status.code(), Some(3), "{path}");
                assert!(String::from_utf8_lossy(&out.stderr).contains("is a symbolic link"));
            }
        }
        assert!(!elsewhere.join("bot").exists());
        let meta = std::fs::metadata(&elsewhere).unwrap();
        assert_eq!((meta.mode() & 0o7777, meta.uid() == 1001), (0o700, false));

        let plain = dir.path().join("data/bot");
        let plain = plain.to_str().unwrap();
        assert!(
            sh(ENSURE_DIR, &[plain, "1001:1002", "750"])
                .status
                .success()
        );
        let stat = String::from_utf8(sh(STAT, &[plain]).stdout).unwrap();
        assert_eq!(stat, "1001 1002 750 d\n");
    }
}
