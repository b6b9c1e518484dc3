//! The host the reconciler runs on, through the local filesystem.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use reconciler_core::observed::{DirState, SecretsFileState};

use super::{Host, HostError, SecretEnv, parse_env, secrets_state};

/// The local machine.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalHost;

impl Host for LocalHost {
    async fn data_dir(&self, path: &str) -> Result<Option<DirState>, HostError> {
        match fs_err::metadata(path) {
            Ok(meta) if meta.is_dir() => Ok(Some(DirState {
                uid: meta.uid(),
                gid: meta.gid(),
                mode: meta.mode() & 0o7777,
            })),
            Ok(_) => Err(HostError::NotADirectory(path.to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(HostError::Io(e)),
        }
    }

    async fn ensure_data_dir(
        &self,
        path: &str,
        uid: u32,
        gid: u32,
        mode: u32,
    ) -> Result<(), HostError> {
        fs_err::create_dir_all(path)?;
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .map_err(|e| HostError::Chown(path.to_owned(), e))?;
        fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        Ok(())
    }

    async fn secrets_file(&self, path: &str) -> Result<Option<SecretsFileState>, HostError> {
        let bytes = match fs_err::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(HostError::Io(e)),
        };
        let mode = fs_err::metadata(path)?.mode() & 0o7777;
        secrets_state(path, mode, &bytes).map(Some)
    }

    async fn secret_env(&self, path: &str) -> Result<SecretEnv, HostError> {
        let bytes = fs_err::read(Path::new(path))?;
        parse_env(path, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn data_dir_is_created_with_owner_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/bot");
        let path = path.to_str().unwrap();
        let host = LocalHost;
        assert_eq!(host.data_dir(path).await.unwrap(), None);
        host.ensure_data_dir(path, 1001, 1002, 0o750).await.unwrap();
        let state = host.data_dir(path).await.unwrap().unwrap();
        assert_eq!((state.uid, state.gid, state.mode), (1001, 1002, 0o750));
    }

    #[tokio::test]
    async fn secrets_file_shows_names_and_fingerprint_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bot.env");
        fs_err::write(&path, "B=secret-b\nA=secret-a\n").unwrap();
        let path = path.to_str().unwrap();
        let state = LocalHost.secrets_file(path).await.unwrap().unwrap();
        assert_eq!(state.names, ["A", "B"]);
        assert_eq!(
            state.fingerprint,
            reconciler_core::identity::secrets_fingerprint(b"B=secret-b\nA=secret-a\n")
        );
        assert!(!format!("{state:?}").contains("secret-"));
        assert!(
            LocalHost
                .secrets_file("/nonexistent/x.env")
                .await
                .unwrap()
                .is_none()
        );
    }
}
