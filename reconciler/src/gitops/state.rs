//! What the periodic reconcile remembers between runs, for `status`: the revision it last saw in git and how the
//! last attempt ended (the last good and quarantined revisions live in [`crate::execute::state`]). Losing this file
//! loses history, never correctness: what runs is always read back from Docker's labels.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::journal::{Head, Outcome};

/// The revision at the tip of the deployment ref.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Desired {
    /// Manifest commit.
    pub commit: String,
    /// Container name.
    pub app: String,
    /// Image reference.
    pub image: String,
    /// Spec hash of the container.
    pub spec_hash: String,
}

/// The reconcile's memory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The revision at the tip of the ref when last fetched.
    pub desired: Option<Desired>,
    /// When a reconcile last ended converged.
    pub last_success: Option<DateTime<Utc>>,
    /// When a reconcile last ran.
    pub last_attempt: Option<DateTime<Utc>>,
    /// How it ended.
    pub last_outcome: Option<Outcome>,
    /// Its error, if it failed.
    pub last_error: Option<String>,
    /// Key of the last failure journaled, so a failure that repeats every minute is journaled once.
    pub last_journaled_failure: Option<String>,
    /// The commit of the last `applied` entry journaled, so a revision found running is journaled once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied: Option<String>,
    /// Copy of the journal's head after the last reconcile: `history` fails when the head file no longer matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_head: Option<Head>,
}

fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("status.json")
}

/// Why `status.json` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    /// Reading or writing it failed (the error names the file).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// It is not a reconcile state.
    #[error("{}: not a reconcile state", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
}

impl State {
    /// Reads the state; a missing file is an empty state.
    pub fn load(state_dir: &Path) -> Result<Self, StateFileError> {
        let path = path(state_dir);
        match fs_err::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|source| StateFileError::Corrupt { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes the state atomically (temp file, then rename).
    pub fn save(&self, state_dir: &Path) -> Result<(), StateFileError> {
        fs_err::create_dir_all(state_dir)?;
        let tmp = state_dir.join("status.json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        fs_err::write(&tmp, text)?;
        fs_err::rename(&tmp, path(state_dir))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_starts_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(State::load(dir.path()).unwrap(), State::default());
        let state = State {
            desired: Some(Desired {
                commit: "abc".into(),
                app: "schwad".into(),
                image: "schwad:v1".into(),
                spec_hash: "v1:00".into(),
            }),
            last_outcome: Some(Outcome::Applied),
            ..State::default()
        };
        state.save(dir.path()).unwrap();
        assert_eq!(State::load(dir.path()).unwrap(), state);
    }
}
