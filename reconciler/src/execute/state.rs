//! The reconciler's small state under `--state-dir`: per app, the last revision that passed its health gate and
//! the revisions quarantined after failing it (the lock is [`crate::gitops::lock`]).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use reconciler_core::identity::{ContainerSpec, labels};
use reconciler_core::observed::GateVerdict;
use serde::{Deserialize, Serialize};

use crate::docker::Status;

/// Default state directory.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/schwad-reconciler";

/// One deployed or attempted revision of the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    /// Spec hash (`v1:<sha256>`).
    pub spec_hash: String,
    /// Fingerprint of the secrets env file it ran with.
    pub secrets_fingerprint: Option<String>,
    /// Manifest commit.
    pub commit: Option<String>,
    /// Image reference from the manifest.
    pub image: String,
    /// Image id that ran (what the container was pinned to).
    pub image_id: String,
    /// Registry digests of that image.
    pub repo_digests: Vec<String>,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// For a quarantined revision: why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

impl Revision {
    /// The revision a container runs, read from its labels (`cause` for a quarantined one).
    pub fn of(container: &Status, cause: Option<String>) -> Self {
        let label = |key: &str| container.labels.get(key).cloned();
        Self {
            spec_hash: label(labels::SPEC_HASH).unwrap_or_default(),
            secrets_fingerprint: label(labels::SECRETS),
            commit: label(labels::COMMIT),
            image: label(labels::SPEC)
                .and_then(|json| serde_json::from_str::<ContainerSpec>(&json).ok())
                .map(|s| s.image)
                .unwrap_or_default(),
            image_id: container.image_id.clone(),
            repo_digests: Vec::new(),
            at: Utc::now(),
            cause,
        }
    }
}

/// Everything recorded about one app.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRecord {
    /// The last revision that passed its health gate.
    pub last_good: Option<Revision>,
    /// Revisions that failed their health gate, oldest first.
    pub quarantined: Vec<Revision>,
    /// Containers whose current run passed the gate, oldest first (the planner trusts no label for this).
    #[serde(default)]
    pub verified: Vec<GateVerdict>,
}

/// Keeps at most this many quarantined revisions, and this many gate verdicts.
const MAX_QUARANTINED: usize = 20;

impl AppRecord {
    /// Records that `container`'s current run passed its gate: it becomes the last good revision.
    pub fn gate_passed(&mut self, container: &Status) {
        self.verified.retain(|v| v.container != container.id);
        self.verified.push(GateVerdict {
            container: container.id.clone(),
            started_at: container.started_at.clone(),
        });
        let excess = self.verified.len().saturating_sub(MAX_QUARANTINED);
        self.verified.drain(..excess);
        self.last_good = Some(Revision::of(container, None));
    }

    /// Records that `container` failed its gate: its verdict goes, its revision is quarantined.
    pub fn gate_failed(&mut self, container: &str, revision: Revision) {
        self.verified.retain(|v| v.container != container);
        self.quarantine(revision);
    }

    /// Records a failed revision (replacing an earlier record of the same one).
    pub fn quarantine(&mut self, revision: Revision) {
        self.quarantined.retain(|r| {
            (&r.spec_hash, &r.secrets_fingerprint)
                != (&revision.spec_hash, &revision.secrets_fingerprint)
        });
        self.quarantined.push(revision);
        let excess = self.quarantined.len().saturating_sub(MAX_QUARANTINED);
        self.quarantined.drain(..excess);
    }

    /// Spec hashes quarantined with this secrets fingerprint (a rotated secret gives the revision a new chance).
    pub fn quarantined_hashes(&self, secrets_fingerprint: Option<&str>) -> Vec<String> {
        self.quarantined
            .iter()
            .filter(|r| r.secrets_fingerprint.as_deref() == secrets_fingerprint)
            .map(|r| r.spec_hash.clone())
            .collect()
    }
}

/// The state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// The state directory at `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn record_path(&self, app: &str) -> PathBuf {
        self.dir.join(format!("app-{app}.json"))
    }

    /// Reads the record of `app` (empty when none was written yet).
    pub fn load(&self, app: &str) -> Result<AppRecord, StateError> {
        let path = self.record_path(app);
        match fs_err::read_to_string(&path) {
            Ok(text) => {
                serde_json::from_str(&text).map_err(|source| StateError::Parse { path, source })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AppRecord::default()),
            Err(e) => Err(StateError::Io(e)),
        }
    }

    /// Loads the record of `app`, changes it with `change` and writes it back.
    pub fn update(
        &self,
        app: &str,
        change: impl FnOnce(&mut AppRecord),
    ) -> Result<AppRecord, StateError> {
        let mut record = self.load(app)?;
        change(&mut record);
        self.save(app, &record)?;
        Ok(record)
    }

    /// Writes the record of `app` atomically (temp file, then rename).
    pub fn save(&self, app: &str, record: &AppRecord) -> Result<(), StateError> {
        fs_err::create_dir_all(&self.dir)?;
        let path = self.record_path(app);
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(record).map_err(|source| StateError::Parse {
            path: path.clone(),
            source,
        })?;
        fs_err::write(&tmp, text)?;
        fs_err::rename(&tmp, &path)?;
        Ok(())
    }
}

/// The state directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Filesystem error (the path is in the message).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A record file is not valid.
    #[error("{path}: not a reconciler state file", path = path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revision(hash: &str, fp: Option<&str>) -> Revision {
        Revision {
            spec_hash: hash.to_owned(),
            secrets_fingerprint: fp.map(str::to_owned),
            commit: None,
            image: "img:v1".to_owned(),
            image_id: "sha256:1".to_owned(),
            repo_digests: Vec::new(),
            at: Utc::now(),
            cause: Some("exited".to_owned()),
        }
    }

    #[test]
    fn record_round_trips_and_quarantine_is_per_secrets_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path().join("state"));
        assert_eq!(state.load("bot").unwrap(), AppRecord::default());
        let mut record = AppRecord::default();
        record.quarantine(revision("v1:a", Some("fp1")));
        record.quarantine(revision("v1:a", Some("fp1")));
        state.save("bot", &record).unwrap();
        let loaded = state.load("bot").unwrap();
        assert_eq!(loaded.quarantined.len(), 1);
        assert_eq!(loaded.quarantined_hashes(Some("fp1")), ["v1:a"]);
        assert!(loaded.quarantined_hashes(Some("fp2")).is_empty());
    }
}
