//! The desired-state manifest: YAML text → validated [`DesiredState`]. Nothing downstream reads YAML.
//!
//! Validation runs in three layers, each reporting where the problem is: YAML syntax and types (file, line, column),
//! the JSON schema generated from the structs (field path), and checks across fields (field path).

mod duration;
mod limits;
mod model;
mod schema;
mod user_data;
mod validate;

pub(crate) use validate::parse_port_range;

use std::fmt;

pub use duration::Duration;
pub use limits::{MAX_BYTES, MAX_DEPTH, MAX_ENV, MAX_ITEMS, MAX_STRING};
pub use model::*;
pub use schema::schema_json;
pub use user_data::{UserDataError, render_user_data};

/// The manifest format version this reconciler reads.
pub const FORMAT_VERSION: u32 = 1;

/// Why a manifest was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Not YAML, a wrong type, a missing or unknown field.
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        /// File name as given.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What was found and what was expected.
        message: String,
    },
    /// Well-formed, but breaks the schema or a rule across fields.
    #[error("{file}: invalid manifest:\n{}", list(.problems))]
    Invalid {
        /// File name as given.
        file: String,
        /// Every problem found, each with its field path.
        problems: Vec<Problem>,
    },
}

/// One validation problem at a field path such as `infra.volume.name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted path of the field (`app.ports[0].host`).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parses and validates manifest `text`; `file` names it in errors.
///
/// The text is parsed once, after its size and nesting depth are checked (see [`limits`]); the schema is checked on
/// the parsed document's JSON form.
pub fn parse(file: &str, text: &str) -> Result<DesiredState, ManifestError> {
    parse_with(file, text, SchemaCheck::Run)
}

/// Whether [`parse_with`] checks the JSON schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaCheck {
    /// Check it.
    Run,
    /// This exact text passed it before: its [`schema_key`] was recorded when it did.
    Passed,
}

/// Identifies one schema check's input: this build's schema and `text`. Checking the schema compiles it (about
/// 1.5 ms and 4 MB per process, most of a no-op apply's own work), so callers that see the same manifest again and
/// again (the periodic reconcile) record the key of a text that passed and skip the check for it.
pub fn schema_key(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for part in [env!("CARGO_PKG_VERSION"), schema::COMMITTED, text] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part);
    }
    hex::encode(hash.finalize())
}

/// [`parse`], with the schema check skipped for a text that passed it before.
pub fn parse_with(
    file: &str,
    text: &str,
    check: SchemaCheck,
) -> Result<DesiredState, ManifestError> {
    let invalid = |problems| ManifestError::Invalid {
        file: file.to_owned(),
        problems,
    };
    if let Some(problem) = limits::check_text(text) {
        return Err(invalid(vec![problem]));
    }
    let syntax = |e: serde_yaml::Error| {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        let message = strip_location(&e.to_string());
        let line = limits::duplicate_line(text, &message, line).unwrap_or(line);
        ManifestError::Syntax {
            file: file.to_owned(),
            line,
            column,
            message,
        }
    };
    let desired: DesiredState = serde_yaml::from_str(text).map_err(syntax)?;
    let value = serde_json::to_value(&desired).map_err(|e| {
        invalid(vec![Problem {
            path: "(document)".to_owned(),
            message: e.to_string(),
        }])
    })?;
    let mut problems = limits::check_value(&value);
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    if check == SchemaCheck::Run {
        problems = schema::check(&value);
    }
    for problem in validate::check(&desired) {
        if !problems.iter().any(|p| p.path == problem.path) {
            problems.push(problem);
        }
    }
    if problems.is_empty() {
        Ok(desired)
    } else {
        Err(ManifestError::Invalid {
            file: file.to_owned(),
            problems,
        })
    }
}

/// serde_yaml appends " at line L column C"; the error already leads with `file:line:column`.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// Serializes a manifest back to YAML, with the modeline that points editors at the schema.
pub fn to_yaml(desired: &DesiredState) -> Result<String, serde_yaml::Error> {
    Ok(format!(
        "# yaml-language-server: $schema=../schema/desired.schema.json\n{}",
        serde_yaml::to_string(desired)?
    ))
}
