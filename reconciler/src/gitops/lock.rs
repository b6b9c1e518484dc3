//! The reconcile lock: an `flock` lease on a file in the state directory, so two reconciles never run at once and a
//! killed one never leaves a stale lock (the kernel drops the lease with the process). The holder writes who it is
//! into the file, so anyone can read it. A maintenance hold (`reconciler lock hold`) is a separate marker file that
//! makes every reconcile stop at once, as if the lock were held, until `lock release`.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who holds (or last held) the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Process id.
    pub pid: u32,
    /// Commit being reconciled, when known.
    pub commit: Option<String>,
    /// When the lease was taken.
    pub since: DateTime<Utc>,
}

/// A maintenance hold placed by a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// Why.
    pub reason: String,
    /// When.
    pub since: DateTime<Utc>,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another reconcile holds the lease.
    #[error("another reconcile holds the lock (pid {}, since {})", .0.pid, .0.since)]
    Held(Holder),
    /// The lease is free but a person suspended reconciles.
    #[error("reconciles are suspended since {}: {} (run `reconciler lock release` to resume)", .0.since, .0.reason)]
    Suspended(Hold),
    /// The lock or hold file could not be used.
    #[error("lock file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// A held lease; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct Lease {
    file: File,
}

impl Lease {
    /// Records the commit being reconciled in the holder record.
    pub fn set_commit(&mut self, commit: &str) -> Result<(), std::io::Error> {
        let mut holder = read_holder(&mut self.file).unwrap_or_else(|| me(None));
        holder.commit = Some(commit.to_owned());
        write_holder(&mut self.file, &holder)
    }
}

fn lock_path(state_dir: &Path) -> PathBuf {
    state_dir.join("reconcile.lock")
}

fn hold_path(state_dir: &Path) -> PathBuf {
    state_dir.join("reconcile.hold")
}

fn me(commit: Option<String>) -> Holder {
    Holder {
        pid: std::process::id(),
        commit,
        since: Utc::now(),
    }
}

fn read_holder(file: &mut File) -> Option<Holder> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

fn write_holder(file: &mut File, holder: &Holder) -> Result<(), std::io::Error> {
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(serde_json::to_string(holder).unwrap_or_default().as_bytes())?;
    file.sync_data()
}

/// Takes the lease without waiting; fails with [`LockError::Held`] or [`LockError::Suspended`].
pub fn acquire(state_dir: &Path) -> Result<Lease, LockError> {
    let path = lock_path(state_dir);
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    fs_err::create_dir_all(state_dir).map_err(|e| io(std::io::Error::other(e)))?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let holder = read_holder(&mut file).unwrap_or(Holder {
                pid: 0,
                commit: None,
                since: Utc::now(),
            });
            return Err(LockError::Held(holder));
        }
        Err(TryLockError::Error(e)) => return Err(io(e)),
    }
    if let Some(hold) = hold(state_dir) {
        return Err(LockError::Suspended(hold));
    }
    write_holder(&mut file, &me(None)).map_err(io)?;
    Ok(Lease { file })
}

/// The current holder, if a reconcile holds the lease right now.
pub fn holder(state_dir: &Path) -> Option<Holder> {
    let mut file = File::open(lock_path(state_dir)).ok()?;
    match file.try_lock_shared() {
        Ok(()) => None, // Free: whatever the file says is history.
        Err(_) => read_holder(&mut file),
    }
}

/// The maintenance hold, if any.
pub fn hold(state_dir: &Path) -> Option<Hold> {
    let text = fs_err::read_to_string(hold_path(state_dir)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Suspends reconciles with a reason.
pub fn place_hold(state_dir: &Path, reason: &str) -> Result<Hold, LockError> {
    let path = hold_path(state_dir);
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(state_dir).map_err(io)?;
    let hold = Hold {
        reason: reason.to_owned(),
        since: Utc::now(),
    };
    let text = serde_json::to_string(&hold).map_err(|e| io(e.into()))?;
    std::fs::write(&path, text).map_err(io)?;
    Ok(hold)
}

/// Resumes reconciles; returns the hold that was lifted.
pub fn release_hold(state_dir: &Path) -> Result<Option<Hold>, LockError> {
    let existing = hold(state_dir);
    let path = hold_path(state_dir);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(existing),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(LockError::Io { path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lease_is_refused_with_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let mut lease = acquire(dir.path()).unwrap();
        lease.set_commit("abc").unwrap();
        match acquire(dir.path()) {
            Err(LockError::Held(h)) => {
                assert_eq!(h.pid, std::process::id());
                assert_eq!(h.commit.as_deref(), Some("abc"));
            }
            other => panic!("expected Held, got {other:?}"),
        }
        assert_eq!(holder(dir.path()).unwrap().commit.as_deref(), Some("abc"));
        drop(lease);
        assert!(holder(dir.path()).is_none());
        acquire(dir.path()).unwrap();
    }

    #[test]
    fn a_hold_suspends_until_released() {
        let dir = tempfile::tempdir().unwrap();
        place_hold(dir.path(), "disk maintenance").unwrap();
        assert!(
            matches!(acquire(dir.path()), Err(LockError::Suspended(h)) if h.reason == "disk maintenance")
        );
        assert!(release_hold(dir.path()).unwrap().is_some());
        acquire(dir.path()).unwrap();
    }
}
