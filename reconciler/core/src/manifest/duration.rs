//! Human-readable durations in the manifest (`30s`, `1m30s`, `24h`).

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written like `500ms`, `30s`, `1m30s` or `24h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(std::time::Duration);

impl Duration {
    /// Wraps a standard duration.
    pub const fn new(inner: std::time::Duration) -> Self {
        Self(inner)
    }

    /// Whole seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }

    /// The standard duration.
    pub const fn get(self) -> std::time::Duration {
        self.0
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total_ms = self.0.as_millis();
        if total_ms == 0 {
            return f.write_str("0s");
        }
        let units = [(3_600_000, "h"), (60_000, "m"), (1_000, "s"), (1, "ms")];
        let mut rest = total_ms;
        for (size, unit) in units {
            if rest >= size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for Duration {
    type Err = humantime::DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        humantime::parse_duration(s).map(Self)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(|e| {
            serde::de::Error::custom(format!(
                "invalid duration {text:?} ({e}); write e.g. 30s, 1m30s or 24h"
            ))
        })
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A duration such as 500ms, 30s, 1m30s or 24h.",
            "pattern": "^([0-9]+(ms|s|m|h|d))+$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_compact_forms() {
        let d: Duration = "1m30s".parse().unwrap();
        assert_eq!(d.get(), std::time::Duration::from_secs(90));
        assert_eq!(d.to_string(), "1m30s");
        assert_eq!("24h".parse::<Duration>().unwrap().to_string(), "24h");
        assert_eq!("1d".parse::<Duration>().unwrap().to_string(), "24h");
        assert_eq!("1500ms".parse::<Duration>().unwrap().to_string(), "1s500ms");
        assert!("ten seconds".parse::<Duration>().is_err());
    }
}
