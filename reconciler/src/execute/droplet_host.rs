//! The infra phase's steps on the droplet itself, around a volume's detach and attach: stop the app container and
//! unmount the volume before a detach, mount it after an attach. They run on the app's host (`--host`, or this
//! machine) and its Docker engine, and each is idempotent: a stopped container, an unmounted path or a mounted one
//! is left as it is.

use reconciler_core::plan::Operation;

use crate::docker::{DockerError, Engine};
use crate::host::{AppHost, HostError};

/// The droplet's Docker engine and host.
#[derive(Debug, Clone, Copy)]
pub struct DropletHost<'a> {
    /// Its Docker engine.
    pub engine: &'a Engine,
    pub host: &'a AppHost,
}

/// A droplet step failed.
#[derive(Debug, thiserror::Error)]
pub enum DropletStepError {
    /// The Docker engine refused.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// The host command failed.
    #[error(transparent)]
    Host(#[from] HostError),
    /// The operation does not run on the droplet.
    #[error("not a droplet step")]
    NotADropletStep,
}

/// Unmounts `$1` when something is mounted there; a busy mount fails with umount's message (nothing is forced).
const UNMOUNT: &str = r#"if mountpoint -q "$1"; then sync && umount "$1"; fi"#;

/// Mounts volume `$2` at `$1` through the fstab entry of `$1`, pointed at the volume's device first (a renamed or
/// replaced volume has a new device name), waiting up to a minute for the attached device to appear. Prints
/// [`NO_FSTAB_ENTRY`] when the host has no fstab entry for `$1` (cloud-init writes one on the droplet).
const MOUNT: &str = r#"mountpoint -q "$1" && exit 0
findmnt --fstab --target "$1" >/dev/null 2>&1 || { echo no-fstab-entry; exit 0; }
dev="/dev/disk/by-id/scsi-0DO_Volume_$2"
i=0
until [ -e "$dev" ]; do
  i=$((i + 1))
  if [ "$i" -ge 60 ]; then echo "$dev did not appear within 60 s of the attach" >&2; exit 1; fi
  sleep 1
done
awk -v dev="$dev" -v mp="$1" '$2 == mp && $1 != dev { $1 = dev } { print }' /etc/fstab > /etc/fstab.schwad
cat /etc/fstab.schwad > /etc/fstab && rm -f /etc/fstab.schwad
mount "$1""#;

/// What [`MOUNT`] prints when the host has no fstab entry for the path.
const NO_FSTAB_ENTRY: &str = "no-fstab-entry";

/// What a droplet step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// It took effect (or there was nothing to do).
    Ok,
    /// Skipped, with the reason (a host without the volume's fstab entry, such as a sandbox).
    Skipped(String),
}

impl DropletHost<'_> {
    /// Runs one droplet step.
    pub async fn run(&self, op: &Operation) -> Result<Done, DropletStepError> {
        match op {
            Operation::StopAppOnDroplet {
                container,
                grace_secs,
                ..
            } => {
                if self.engine.status(container).await?.is_some() {
                    self.engine.stop(container, *grace_secs).await?;
                }
                Ok(Done::Ok)
            }
            Operation::UnmountVolume { mount_path, .. } => {
                self.host.sh(UNMOUNT, &[mount_path]).await?;
                Ok(Done::Ok)
            }
            Operation::MountVolume {
                volume_name,
                mount_path,
                ..
            } => {
                let out = self.host.sh(MOUNT, &[mount_path, volume_name]).await?;
                if out.trim() == NO_FSTAB_ENTRY {
                    return Ok(Done::Skipped(format!(
                        "{mount_path} has no fstab entry on this host; the volume is not mounted"
                    )));
                }
                Ok(Done::Ok)
            }
            _ => Err(DropletStepError::NotADropletStep),
        }
    }
}
