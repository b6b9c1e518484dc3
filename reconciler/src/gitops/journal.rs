//! The journal: an append-only JSON-lines file with one record per reconcile that did something or failed. Each
//! record carries the hash of the one before it, and a head file holds the hash of the last one, so an edited,
//! removed or truncated record shows when the chain is verified. Rotated by size; the chain continues across files.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Hash that precedes the first record.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How a reconcile ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Converged to the desired revision.
    Applied,
    /// The new revision failed its health gate; the previous one runs again.
    Reverted,
    /// A safety guard blocked the plan.
    Blocked,
    /// The manifest at the tip is invalid; nothing changed.
    Invalid,
    /// An error stopped the reconcile.
    Failed,
}

/// One executed step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    /// What the step did (`render::describe`).
    pub step: String,
    /// How long it took.
    pub duration_ms: u64,
    /// `ok`, or the error.
    pub result: String,
}

/// One reconcile, as written to the journal (without its chain fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// When it finished.
    pub time: DateTime<Utc>,
    /// The manifest commit reconciled.
    pub commit: String,
    /// `Plan: 1 to add, ...`.
    pub plan_summary: String,
    /// SHA-256 of the plan's JSON form.
    pub plan_hash: String,
    /// The steps run, in order.
    pub steps: Vec<StepRecord>,
    /// What the health gate saw.
    pub health: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// The revision reverted to, when the outcome is `reverted`.
    pub revert_target: Option<String>,
    /// Error or cause, for failures.
    pub message: Option<String>,
}

/// A journal record: an entry with its place in the hash chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The entry.
    #[serde(flatten)]
    pub entry: Entry,
    /// Hash of the previous record.
    pub prev_hash: String,
    /// SHA-256 of `prev_hash` followed by the entry's JSON.
    pub hash: String,
}

/// Why the journal could not be used or does not verify.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Reading or writing failed.
    #[error("journal {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A line is not a record.
    #[error("journal {path}:{line}: not a journal record ({message})")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The parse error.
        message: String,
    },
    /// The chain is broken: a record was edited, removed or the tail truncated.
    #[error("journal chain broken at {path}:{line}: {what}")]
    Tampered {
        /// The file.
        path: PathBuf,
        /// 1-based line (0: the head file).
        line: usize,
        /// What does not match.
        what: String,
    },
}

/// The journal in a state directory.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
    max_bytes: u64,
    keep: usize,
}

fn hash_of(prev: &str, entry: &Entry) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(serde_json::to_string(entry).unwrap_or_default().as_bytes());
    hex::encode(h.finalize())
}

impl Journal {
    /// The journal under `state_dir`, rotated past `max_bytes`, keeping `keep` rotated files.
    pub fn new(state_dir: &Path, max_bytes: u64, keep: usize) -> Self {
        Self {
            dir: state_dir.to_owned(),
            max_bytes,
            keep,
        }
    }

    fn current(&self) -> PathBuf {
        self.dir.join("journal.jsonl")
    }

    fn rotated(&self, n: usize) -> PathBuf {
        self.dir.join(format!("journal.{n}.jsonl"))
    }

    fn head(&self) -> PathBuf {
        self.dir.join("journal.head")
    }

    fn io(&self, path: &Path) -> impl Fn(std::io::Error) -> JournalError {
        let path = path.to_owned();
        move |source| JournalError::Io {
            path: path.clone(),
            source,
        }
    }

    /// Appends an entry, chaining it to the last record, and returns the record written.
    pub fn append(&self, entry: Entry) -> Result<Record, JournalError> {
        std::fs::create_dir_all(&self.dir).map_err(self.io(&self.dir))?;
        let prev = match std::fs::read_to_string(self.head()) {
            Ok(text) => text.trim().to_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => GENESIS.to_owned(),
            Err(e) => return Err(self.io(&self.head())(e)),
        };
        self.rotate_if_needed()?;
        let hash = hash_of(&prev, &entry);
        let record = Record {
            entry,
            prev_hash: prev,
            hash: hash.clone(),
        };
        let path = self.current();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(self.io(&path))?;
        let mut line = serde_json::to_string(&record).unwrap_or_default();
        line.push('\n');
        file.write_all(line.as_bytes()).map_err(self.io(&path))?;
        file.sync_data().map_err(self.io(&path))?;
        let tmp = self.dir.join("journal.head.tmp");
        std::fs::write(&tmp, &hash).map_err(self.io(&tmp))?;
        std::fs::rename(&tmp, self.head()).map_err(self.io(&self.head()))?;
        Ok(record)
    }

    fn rotate_if_needed(&self) -> Result<(), JournalError> {
        let size = std::fs::metadata(self.current())
            .map(|m| m.len())
            .unwrap_or(0);
        if size < self.max_bytes {
            return Ok(());
        }
        let _ = std::fs::remove_file(self.rotated(self.keep));
        for n in (1..self.keep).rev() {
            let from = self.rotated(n);
            if from.exists() {
                std::fs::rename(&from, self.rotated(n + 1)).map_err(self.io(&from))?;
            }
        }
        std::fs::rename(self.current(), self.rotated(1)).map_err(self.io(&self.current()))
    }

    /// Every record still on disk, oldest first.
    pub fn records(&self) -> Result<Vec<Record>, JournalError> {
        let mut files: Vec<PathBuf> = (1..=self.keep)
            .rev()
            .map(|n| self.rotated(n))
            .filter(|p| p.exists())
            .collect();
        files.push(self.current());
        let mut out = Vec::new();
        for path in files {
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(self.io(&path)(e)),
            };
            for (i, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                let record = serde_json::from_str(line).map_err(|e| JournalError::Corrupt {
                    path: path.clone(),
                    line: i + 1,
                    message: e.to_string(),
                })?;
                out.push(record);
            }
        }
        Ok(out)
    }

    /// Checks the chain: each record's hash, each link, and that the head names the last record. Records rotated
    /// away are fine: the chain may start at any record.
    pub fn verify(&self) -> Result<usize, JournalError> {
        let records = self.records()?;
        let tampered = |line: usize, what: String| JournalError::Tampered {
            path: self.current(),
            line,
            what,
        };
        for (i, r) in records.iter().enumerate() {
            if hash_of(&r.prev_hash, &r.entry) != r.hash {
                return Err(tampered(
                    i + 1,
                    format!("record {} does not match its hash", i + 1),
                ));
            }
            if i > 0 && records[i - 1].hash != r.prev_hash {
                return Err(tampered(
                    i + 1,
                    format!("record {} does not follow record {i}", i + 1),
                ));
            }
        }
        let head = std::fs::read_to_string(self.head()).unwrap_or_default();
        let last = records.last().map_or(GENESIS, |r| r.hash.as_str());
        if !head.trim().is_empty() && head.trim() != last {
            return Err(tampered(
                0,
                "the last record is not the one the head file names (truncated?)".to_owned(),
            ));
        }
        Ok(records.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(commit: &str) -> Entry {
        Entry {
            time: Utc::now(),
            commit: commit.to_owned(),
            plan_summary: "Plan: 0 to add, 1 to change, 0 to destroy.".to_owned(),
            plan_hash: "00".to_owned(),
            steps: vec![StepRecord {
                step: "start container schwad".to_owned(),
                duration_ms: 12,
                result: "ok".to_owned(),
            }],
            health: Some("healthy".to_owned()),
            outcome: Outcome::Applied,
            revert_target: None,
            message: None,
        }
    }

    #[test]
    fn records_chain_and_verify() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path(), 1 << 20, 3);
        let a = j.append(entry("a")).unwrap();
        let b = j.append(entry("b")).unwrap();
        assert_eq!(b.prev_hash, a.hash);
        assert_eq!(j.verify().unwrap(), 2);
    }

    #[test]
    fn an_edited_record_breaks_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path(), 1 << 20, 3);
        j.append(entry("a")).unwrap();
        j.append(entry("b")).unwrap();
        let path = dir.path().join("journal.jsonl");
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replacen("\"a\"", "\"x\"", 1);
        std::fs::write(&path, text).unwrap();
        assert!(matches!(
            j.verify(),
            Err(JournalError::Tampered { line: 1, .. })
        ));
    }

    #[test]
    fn a_truncated_tail_shows() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path(), 1 << 20, 3);
        j.append(entry("a")).unwrap();
        j.append(entry("b")).unwrap();
        let path = dir.path().join("journal.jsonl");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.lines().next().unwrap().to_owned() + "\n").unwrap();
        assert!(matches!(
            j.verify(),
            Err(JournalError::Tampered { line: 0, .. })
        ));
    }

    #[test]
    fn rotation_keeps_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path(), 300, 2);
        for i in 0..10 {
            j.append(entry(&i.to_string())).unwrap();
        }
        assert!(dir.path().join("journal.1.jsonl").exists());
        assert!(!dir.path().join("journal.3.jsonl").exists());
        let n = j.verify().unwrap();
        assert!(n < 10, "older files were rotated away");
        assert_eq!(j.records().unwrap().last().unwrap().entry.commit, "9");
    }
}
