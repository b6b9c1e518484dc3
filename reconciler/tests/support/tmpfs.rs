//! A tmpfs mounted at a test's path: the stand-in for the volume's filesystem on the droplet. Mounting needs root
//! (CI runs as root); it is unmounted on drop if a test left it mounted.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A mounted tmpfs.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs at `path` (created if missing).
    pub fn mount(path: &Path) -> Self {
        std::fs::create_dir_all(path).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "tmpfs"])
            .arg(path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mounting a tmpfs needs root (CI runs as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self(path.to_owned())
    }

    /// Whether something is still mounted at its path.
    pub fn is_mounted(&self) -> bool {
        Command::new("mountpoint")
            .arg("-q")
            .arg(&self.0)
            .status()
            .unwrap()
            .success()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        if self.is_mounted() {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
}
