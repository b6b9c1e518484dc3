//! Host-side facts and actions: the data directory and the secrets env file. Behind [`Host`] so an SSH
//! implementation can take the place of [`LocalHost`].

mod env_file;
mod local;

use std::future::Future;

use reconciler_core::observed::{DirState, SecretsFileState};

pub use env_file::{ParseError, SecretEnv};
pub use local::LocalHost;

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
    /// The data directory path is something else.
    #[error("{0} exists but is not a directory")]
    NotADirectory(String),
    /// The env file is not text.
    #[error("{0}: secrets env file is not UTF-8")]
    NotUtf8(String),
    /// The env file has a bad line.
    #[error("{0}")]
    EnvFile(String, #[source] ParseError),
}
