//! One `schwad run` per database: an exclusive lock on `<database>.lock`, taken before anything
//! else and released by the operating system when the process ends (also on SIGKILL). The file
//! names its holder, so a second bot that finds it taken says who has it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::str::FromStr;

use sqlx::sqlite::SqliteConnectOptions;

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error("another `schwad run` uses this database ({path}): {holder}")]
    Held {
        /// The lock file.
        path: PathBuf,
        /// What the holder wrote: its process id, host and start time.
        holder: String,
    },
    /// The lock file could not be opened, locked or written.
    #[error("lock file {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The held lock; dropping it releases it.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
}

impl InstanceLock {
    /// Takes the lock of the SQLite database at `database_url`; `None` for an in-memory
    /// database (nothing to share) or a URL the ledger will refuse anyway.
    pub fn acquire(database_url: &str) -> Result<Option<Self>, LockError> {
        let in_memory = database_url.contains(":memory:") || database_url.contains("mode=memory");
        let Ok(options) = SqliteConnectOptions::from_str(database_url) else {
            return Ok(None);
        };
        let database = options.get_filename();
        if in_memory || database.as_os_str().is_empty() {
            return Ok(None);
        }
        let mut path = database.as_os_str().to_owned();
        path.push(".lock");
        let path = PathBuf::from(path);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
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
                let mut holder = String::new();
                file.read_to_string(&mut holder).map_err(io)?;
                return Err(LockError::Held {
                    path: path.clone(),
                    holder: holder.trim().to_owned(),
                });
            }
            Err(TryLockError::Error(source)) => return Err(io(source)),
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(
            file,
            "pid {} on host {} since {}",
            std::process::id(),
            host.trim(),
            chrono::Utc::now().to_rfc3339()
        )
        .map_err(io)?;
        file.flush().map_err(io)?;
        Ok(Some(Self { _file: file }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_named_until_it_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("bot.db").display());
        let first = InstanceLock::acquire(&url).unwrap().unwrap();
        let error = InstanceLock::acquire(&url).unwrap_err();
        let pid = format!("pid {}", std::process::id());
        assert!(error.to_string().contains(&pid), "{error}");
        drop(first);
        assert!(InstanceLock::acquire(&url).unwrap().is_some());
        assert!(InstanceLock::acquire("sqlite::memory:").unwrap().is_none());
    }
}
