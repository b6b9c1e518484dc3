//! Host-side facts and actions: the data directory and the secrets env file. Behind [`Host`]: [`LocalHost`] for the
//! machine the reconciler runs on, [`RemoteHost`] for a droplet over SSH, and [`AppHost`] for either.

mod env_file;
mod local;
mod remote;

use std::future::Future;

use reconciler_core::observed::{DirState, SecretsFileState};

pub use env_file::{ParseError, SecretEnv};
pub use local::LocalHost;
pub use remote::RemoteHost;

/// The machine the container runs on.
pub trait Host {
    /// Owner and mode of the directory at `path`, `None` when it does not exist.
    fn data_dir(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<Option<DirState>, HostError>> + Send;

    /// Creates the directory (and parents) if needed and sets its owner and mode.
    fn ensure_data_dir(
        &self,
        path: &str,
        uid: u32,
        gid: u32,
        mode: u32,
    ) -> impl Future<Output = Result<(), HostError>> + Send;

    /// Fingerprint, mode and names of the secrets env file, `None` when it does not exist. Never its values.
    fn secrets_file(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<Option<SecretsFileState>, HostError>> + Send;

    /// The secrets env file's variables, to pass to the container.
    fn secret_env(&self, path: &str) -> impl Future<Output = Result<SecretEnv, HostError>> + Send;
}

/// A host operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// Filesystem error (the path is in the message).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Changing the owner failed.
    #[error("chown {0}")]
    Chown(String, #[source] std::io::Error),
    /// The data directory's path goes through a symbolic link.
    #[error("{0} is a symbolic link; the data directory's path may hold none")]
    Symlink(String),
    /// The data directory path is something else.
    #[error("{0} exists but is not a directory")]
    NotADirectory(String),
    /// The env file is not text.
    #[error("{0}: secrets env file is not UTF-8")]
    NotUtf8(String),
    /// The env file has a bad line.
    #[error("{0}")]
    EnvFile(String, #[source] ParseError),
    /// The SSH connection to the host failed.
    #[error("over ssh")]
    Ssh(#[from] crate::ssh::SshError),
    /// A host command failed or answered something unexpected.
    #[error("{0}")]
    Remote(String),
}

/// What observation records of the secrets env file at `path`: its fingerprint, mode and the names it defines.
fn secrets_state(path: &str, mode: u32, bytes: &[u8]) -> Result<SecretsFileState, HostError> {
    Ok(SecretsFileState {
        fingerprint: reconciler_core::identity::secrets_fingerprint(bytes),
        mode,
        names: parse_env(path, bytes)?.names(),
    })
}

/// Parses the secrets env file at `path` from its bytes.
fn parse_env(path: &str, bytes: &[u8]) -> Result<SecretEnv, HostError> {
    let text = std::str::from_utf8(bytes).map_err(|_| HostError::NotUtf8(path.to_owned()))?;
    SecretEnv::parse(text).map_err(|e| HostError::EnvFile(path.to_owned(), e))
}

/// The host the app runs on: this machine, or a droplet over SSH (`--host`).
#[derive(Debug, Clone)]
pub enum AppHost {
    /// This machine.
    Local(LocalHost),
    /// A machine over SSH.
    Remote(RemoteHost),
}

impl AppHost {
    /// Runs `sh -c script sh args...` on the host (arguments are never spliced into the script) and returns its
    /// stdout; a non-zero exit is an error.
    pub async fn sh(&self, script: &str, args: &[&str]) -> Result<String, HostError> {
        let stdout = match self {
            Self::Remote(h) => h.sh(script, args).await?,
            Self::Local(_) => {
                let output = tokio::process::Command::new("sh")
                    .arg("-c")
                    .arg(script)
                    .arg("sh")
                    .args(args)
                    .output()
                    .await?;
                if !output.status.success() {
                    return Err(HostError::Remote(format!(
                        "sh exited {}: {}",
                        output.status.code().unwrap_or(-1),
                        String::from_utf8_lossy(&output.stderr).trim()
                    )));
                }
                output.stdout
            }
        };
        Ok(String::from_utf8_lossy(&stdout).into_owned())
    }
}

impl Host for AppHost {
    async fn data_dir(&self, path: &str) -> Result<Option<DirState>, HostError> {
        match self {
            Self::Local(h) => h.data_dir(path).await,
            Self::Remote(h) => h.data_dir(path).await,
        }
    }

    async fn ensure_data_dir(
        &self,
        path: &str,
        uid: u32,
        gid: u32,
        mode: u32,
    ) -> Result<(), HostError> {
        match self {
            Self::Local(h) => h.ensure_data_dir(path, uid, gid, mode).await,
            Self::Remote(h) => h.ensure_data_dir(path, uid, gid, mode).await,
        }
    }

    async fn secrets_file(&self, path: &str) -> Result<Option<SecretsFileState>, HostError> {
        match self {
            Self::Local(h) => h.secrets_file(path).await,
            Self::Remote(h) => h.secrets_file(path).await,
        }
    }

    async fn secret_env(&self, path: &str) -> Result<SecretEnv, HostError> {
        match self {
            Self::Local(h) => h.secret_env(path).await,
            Self::Remote(h) => h.secret_env(path).await,
        }
    }
}
