//! The journal: an append-only JSON-lines file with one record per reconcile that did something or failed. Each
//! record carries the hash of the one before it, and a head file (`journal.head`, copied into `status.json` by the
//! periodic reconcile) names the first record kept and the last one written. Rotated by size; the chain continues
//! across files and the head's first record moves with the rotation.
//!
//! What verification proves: no record between the first and the last the head names was edited, removed or
//! inserted; none was dropped at either end; the head was not deleted or moved back (when its copy in
//! `status.json` is still the reconcile's). What it cannot prove: anyone who can write the state directory (root on
//! the droplet) can rewrite every record, the head and `status.json` consistently; only a head noted off the host
//! (`reconciler history` prints it) shows that.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use reconciler_core::redact;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::execute::StepOutcome;

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
    pub steps: Vec<StepOutcome>,
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
    #[serde(flatten)]
    pub entry: Entry,
    /// Hash of the previous record.
    pub prev_hash: String,
    /// SHA-256 of `prev_hash` followed by the entry's JSON.
    pub hash: String,
}

/// The anchor of the chain: the first record kept and the last written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// Hash of the oldest record still on disk.
    pub first: String,
    /// Hash of the newest record.
    pub last: String,
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

    /// The head, `None` when there is no head file.
    pub fn read_head(&self) -> Result<Option<Head>, JournalError> {
        let path = self.head();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(&path)(e)),
        };
        let legacy = text.trim();
        if legacy.len() == 64 && legacy.bytes().all(|b| b.is_ascii_hexdigit()) {
            // A head written before it named the first record: anchored at the first record on disk.
            let first = self.records()?.first().map(|r| r.hash.clone());
            return Ok(Some(Head {
                first: first.unwrap_or_else(|| legacy.to_owned()),
                last: legacy.to_owned(),
            }));
        }
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| JournalError::Corrupt {
                path,
                line: 1,
                message: e.to_string(),
            })
    }

    fn write_head(&self, head: &Head) -> Result<(), JournalError> {
        let tmp = self.dir.join("journal.head.tmp");
        let text = serde_json::to_string(head).unwrap_or_default();
        std::fs::write(&tmp, text).map_err(self.io(&tmp))?;
        std::fs::rename(&tmp, self.head()).map_err(self.io(&self.head()))
    }

    /// Appends an entry, chaining it to the last record, and returns the record written. Refused when records exist
    /// but the head does not: chaining on would hide a truncated tail.
    pub fn append(&self, mut entry: Entry) -> Result<Record, JournalError> {
        let hide = |text: &mut String| *text = redact::urls(text).into_owned();
        entry.message.iter_mut().for_each(hide);
        entry.health.iter_mut().for_each(hide);
        entry
            .steps
            .iter_mut()
            .filter_map(|s| s.end.text_mut())
            .for_each(hide);
        std::fs::create_dir_all(&self.dir).map_err(self.io(&self.dir))?;
        let head = match self.read_head()? {
            Some(head) => Some(head),
            None if self.files().iter().any(|p| p.exists()) => {
                return Err(self.tampered(0, "the head file is missing".to_owned()));
            }
            None => None,
        };
        let prev = head
            .as_ref()
            .map_or_else(|| GENESIS.to_owned(), |h| h.last.clone());
        let rotated = self.rotate_if_needed()?;
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
        let first = match head {
            Some(head) if !rotated => head.first,
            _ => self
                .records()?
                .first()
                .map_or_else(|| hash.clone(), |r| r.hash.clone()),
        };
        self.write_head(&Head { first, last: hash })?;
        Ok(record)
    }

    fn tampered(&self, line: usize, what: String) -> JournalError {
        JournalError::Tampered {
            path: self.current(),
            line,
            what,
        }
    }

    /// Rotates the current file when it is full; whether it did.
    fn rotate_if_needed(&self) -> Result<bool, JournalError> {
        let size = std::fs::metadata(self.current())
            .map(|m| m.len())
            .unwrap_or(0);
        if size < self.max_bytes {
            return Ok(false);
        }
        let _ = std::fs::remove_file(self.rotated(self.keep));
        for n in (1..self.keep).rev() {
            let from = self.rotated(n);
            if from.exists() {
                std::fs::rename(&from, self.rotated(n + 1)).map_err(self.io(&from))?;
            }
        }
        std::fs::rename(self.current(), self.rotated(1)).map_err(self.io(&self.current()))?;
        Ok(true)
    }

    /// The journal's files, oldest first (rotated ones, then the current one).
    fn files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = (1..=self.keep).rev().map(|n| self.rotated(n)).collect();
        files.push(self.current());
        files
    }

    /// Every record still on disk, oldest first.
    pub fn records(&self) -> Result<Vec<Record>, JournalError> {
        let mut out = Vec::new();
        for path in self.files() {
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(self.io(&path)(e)),
            };
            out.extend(parse(&path, &text)?);
        }
        Ok(out)
    }

    /// Checks the chain against the head (and against `anchor`, the head's copy kept elsewhere, when given): each
    /// record's hash, each link, the first record kept and the last written. Fails on a missing or moved head, a
    /// record dropped at either end or in between, and an edited one.
    pub fn verify(&self, anchor: Option<&Head>) -> Result<usize, JournalError> {
        let records = self.records()?;
        let tampered = |line: usize, what: String| self.tampered(line, what);
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
        let head = self.read_head()?;
        if let (Some(anchor), Some(head)) = (anchor, &head)
            && anchor != head
        {
            return Err(tampered(
                0,
                "the head file does not match its copy in status.json (moved?)".to_owned(),
            ));
        }
        let Some(head) = head.or_else(|| anchor.cloned()) else {
            return match records.is_empty() {
                true => Ok(0),
                false => Err(tampered(0, "the head file is missing".to_owned())),
            };
        };
        match (records.first(), records.last()) {
            (Some(first), _) if first.hash != head.first => Err(tampered(
                1,
                "the first record is not the one the head names (records dropped?)".to_owned(),
            )),
            (_, Some(last)) if last.hash != head.last => Err(tampered(
                records.len(),
                "the last record is not the one the head names (truncated?)".to_owned(),
            )),
            (None, _) => Err(tampered(
                0,
                "the head names records but the journal has none".to_owned(),
            )),
            _ => Ok(records.len()),
        }
    }
}

/// Parses journal text (one JSON record a line, blank lines skipped); `path` names it in errors.
pub fn parse(path: &Path, text: &str) -> Result<Vec<Record>, JournalError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| JournalError::Corrupt {
                path: path.to_owned(),
                line: i + 1,
                message: e.to_string(),
            })
        })
        .collect()
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
            steps: vec![StepOutcome {
                description: "start container schwad".to_owned(),
                duration_ms: 12,
                end: crate::execute::StepEnd::Ok,
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
        assert_eq!(j.verify(None).unwrap(), 2);
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
            j.verify(None),
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
            j.verify(None),
            Err(JournalError::Tampered { line: 1, .. })
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
        let n = j.verify(None).unwrap();
        assert!(n < 10, "older files were rotated away");
        assert_eq!(j.records().unwrap().last().unwrap().entry.commit, "9");
    }

    fn three(dir: &Path) -> (Journal, Head, Vec<String>) {
        let j = Journal::new(dir, 1 << 20, 3);
        for c in ["a", "b", "c"] {
            j.append(entry(c)).unwrap();
        }
        let head = j.read_head().unwrap().unwrap();
        let lines = std::fs::read_to_string(dir.join("journal.jsonl"))
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        (j, head, lines)
    }

    fn keep(dir: &Path, lines: &[String]) {
        std::fs::write(dir.join("journal.jsonl"), lines.join("\n") + "\n").unwrap();
    }

    /// Issue 16, case 5: every tampering that passed `history` before now fails it.
    #[test]
    fn tampering_at_either_end_or_with_the_head_shows() {
        let dropped_first = tempfile::tempdir().unwrap();
        let (j, _, lines) = three(dropped_first.path());
        keep(dropped_first.path(), &lines[1..]);
        assert!(j.verify(None).is_err(), "first record dropped");

        let gap = tempfile::tempdir().unwrap();
        let (j, _, lines) = three(gap.path());
        keep(gap.path(), &[lines[0].clone(), lines[2].clone()]);
        assert!(j.verify(None).is_err(), "record in the middle dropped");

        let truncated = tempfile::tempdir().unwrap();
        let (j, head, lines) = three(truncated.path());
        keep(truncated.path(), &lines[..2]);
        std::fs::remove_file(truncated.path().join("journal.head")).unwrap();
        assert!(j.verify(None).is_err(), "tail truncated, head deleted");
        assert!(
            j.verify(Some(&head)).is_err(),
            "... with the status.json copy"
        );
        assert!(
            j.append(entry("d")).is_err(),
            "no chaining on without a head"
        );

        let moved = tempfile::tempdir().unwrap();
        let (j, head, lines) = three(moved.path());
        keep(moved.path(), &lines[..2]);
        let earlier = j.records().unwrap()[1].hash.clone();
        j.write_head(&Head {
            first: head.first.clone(),
            last: earlier,
        })
        .unwrap();
        assert!(j.verify(None).is_ok(), "consistent without the anchor");
        assert!(
            j.verify(Some(&head)).is_err(),
            "moved head, caught by status.json"
        );

        let emptied = tempfile::tempdir().unwrap();
        let (j, head, _) = three(emptied.path());
        keep(emptied.path(), &[]);
        assert!(j.verify(Some(&head)).is_err(), "all records removed");
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 200,
            rng_seed: proptest::test_runner::RngSeed::Fixed(16),
            failure_persistence: None,
            ..Default::default()
        })]

        /// Fuzzing on stable: a record line cut or corrupted anywhere is an error naming a line of the text.
        #[test]
        fn corrupted_journal_text_is_an_error_not_a_panic(cut in 0usize..400, byte in 0u8..128, junk in ".{0,40}") {
            let dir = tempfile::tempdir().unwrap();
            let j = Journal::new(dir.path(), 1 << 20, 3);
            j.append(entry("a")).unwrap();
            let mut text = std::fs::read(dir.path().join("journal.jsonl")).unwrap();
            let at = cut.min(text.len() - 1);
            text[at] = byte;
            let text = format!("{}\n{junk}", String::from_utf8_lossy(&text));
            match parse(Path::new("j"), &text) {
                Ok(records) => proptest::prop_assert!(records.len() <= 2),
                Err(JournalError::Corrupt { line, .. }) => {
                    proptest::prop_assert!(line >= 1 && line <= text.lines().count())
                }
                Err(e) => proptest::prop_assert!(false, "{e}"),
            }
        }
    }
}
