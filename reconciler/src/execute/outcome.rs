//! How each step ended, as the executors report it and the journal records it (`{"step", "duration_ms",
//! "result"}`, the result spelled `ok`, `health gate failed: <cause>` or `failed: <error>`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How one step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepEnd {
    /// Done.
    Ok,
    /// A health gate that failed, and why.
    GateFailed(String),
    /// The step failed, and why.
    Failed(String),
}

const GATE_FAILED: &str = "health gate failed: ";
const FAILED: &str = "failed: ";

impl StepEnd {
    /// The cause or error, for redaction; `None` for a step that succeeded.
    pub fn text_mut(&mut self) -> Option<&mut String> {
        match self {
            Self::Ok => None,
            Self::GateFailed(text) | Self::Failed(text) => Some(text),
        }
    }
}

impl fmt::Display for StepEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ok => f.write_str("ok"),
            Self::GateFailed(cause) => write!(f, "{GATE_FAILED}{cause}"),
            Self::Failed(error) => write!(f, "{FAILED}{error}"),
        }
    }
}

impl Serialize for StepEnd {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StepEnd {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text == "ok" {
            return Ok(Self::Ok);
        }
        if let Some(cause) = text.strip_prefix(GATE_FAILED) {
            return Ok(Self::GateFailed(cause.to_owned()));
        }
        match text.strip_prefix(FAILED) {
            Some(error) => Ok(Self::Failed(error.to_owned())),
            None => Err(serde::de::Error::custom(format!(
                "step result {text:?} is none of `ok`, `{GATE_FAILED}…` or `{FAILED}…`"
            ))),
        }
    }
}

/// One step as it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepOutcome {
    /// What the step does (`render::describe`).
    #[serde(rename = "step")]
    pub description: String,
    /// How long it took.
    pub duration_ms: u64,
    /// How it ended.
    #[serde(rename = "result")]
    pub end: StepEnd,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_their_journal_spelling() {
        for (end, text) in [
            (StepEnd::Ok, "\"ok\""),
            (
                StepEnd::GateFailed("crash loop".to_owned()),
                "\"health gate failed: crash loop\"",
            ),
            (
                StepEnd::Failed("docker start: refused".to_owned()),
                "\"failed: docker start: refused\"",
            ),
        ] {
            assert_eq!(serde_json::to_string(&end).unwrap(), text);
            assert_eq!(serde_json::from_str::<StepEnd>(text).unwrap(), end);
        }
    }

    #[test]
    fn an_unknown_result_is_an_error_naming_it() {
        let err = serde_json::from_str::<StepEnd>("\"skipped\"").unwrap_err();
        assert!(err.to_string().contains("\"skipped\""), "{err}");
    }
}
