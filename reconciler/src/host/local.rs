//! The host the reconciler runs on, through the local filesystem.

use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use reconciler_core::observed::{DirState, SecretsFileState};

use super::{Host, HostError, SecretEnv, parse_env, secrets_state};

/// The local machine.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalHost;

/// Refuses `path` when it or any directory above it is a symbolic link: the data directory is `chown`ed and
/// bind-mounted, and a link would move both to wherever it points.
fn refuse_links(path: &str) -> Result<(), HostError> {
    let mut prefix = PathBuf::new();
    for component in Path::new(path).components() {
        prefix.push(component);
        match std::fs::symlink_metadata(&prefix) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(HostError::Symlink(prefix.display().to_string()));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(HostError::Io(e)),
        }
    }
    Ok(())
}

impl Host for LocalHost {
    async fn data_dir(&self, path: &str) -> Result<Option<DirState>, HostError> {
        refuse_links(path)?;
        match fs_err::symlink_metadata(path) {
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
        refuse_links(path)?;
        fs_err::create_dir_all(path)?;
        refuse_links(path)?;
        // Owner and mode are set through a descriptor opened without following a link, so a link swapped in since
        // the check is refused by the kernel instead of followed.
        let dir = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_DIRECTORY)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => HostError::Symlink(path.to_owned()),
                _ => HostError::Io(e),
            })?;
        std::os::unix::fs::fchown(&dir, Some(uid), Some(gid))
            .map_err(|e| HostError::Chown(path.to_owned(), e))?;
        dir.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| HostError::Chown(path.to_owned(), e))?;
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

    /// Issue 16, case 1: a symbolic link anywhere in the data directory's path is refused, never followed by the
    /// `mkdir`, `chown` or `chmod`.
    #[tokio::test]
    async fn a_symlink_in_the_data_dir_path_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        fs_err::create_dir(&elsewhere).unwrap();
        fs_err::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink(&elsewhere, dir.path().join("mnt")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, dir.path().join("bot")).unwrap();
        for path in [dir.path().join("mnt/bot"), dir.path().join("bot")] {
            let path = path.to_str().unwrap();
            let host = LocalHost;
            assert!(
                matches!(
                    host.ensure_data_dir(path, 1001, 1001, 0o755).await,
                    Err(HostError::Symlink(_))
                ),
                "{path}"
            );
            assert!(matches!(
                host.data_dir(path).await,
                Err(HostError::Symlink(_))
            ));
        }
        assert!(!elsewhere.join("bot").exists());
        let meta = fs_err::metadata(&elsewhere).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o700);
        assert_ne!(meta.uid(), 1001);
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
