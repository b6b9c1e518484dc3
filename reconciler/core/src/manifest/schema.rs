//! The JSON schema of the manifest, generated from the structs, and validation of a document against it.

use std::sync::LazyLock;

use super::{DesiredState, Problem};

static SCHEMA: LazyLock<serde_json::Value> = LazyLock::new(|| {
    let schema = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<DesiredState>();
    schema.to_value()
});

/// The schema as pretty JSON with a trailing newline: what `schema/desired.schema.json` must hold.
pub fn schema_json() -> String {
    let mut text = serde_json::to_string_pretty(&*SCHEMA).unwrap_or_default();
    text.push('\n');
    text
}

/// Checks a parsed document against the schema; one problem per violation, with its field path.
pub(super) fn check(document: &serde_json::Value) -> Vec<Problem> {
    let validator = match jsonschema::validator_for(&SCHEMA) {
        Ok(validator) => validator,
        Err(e) => {
            return vec![Problem {
                path: "(schema)".to_owned(),
                message: format!("the generated schema does not compile: {e}"),
            }];
        }
    };
    let mut problems: Vec<Problem> = validator
        .iter_errors(document)
        .map(|e| Problem {
            path: dotted(e.instance_path().as_str()),
            message: e.to_string(),
        })
        .collect();
    problems.sort_by(|a, b| a.path.cmp(&b.path));
    problems
}

/// `/app/ports/0/host` → `app.ports[0].host`.
fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for part in pointer.split('/').skip(1) {
        if part.parse::<usize>().is_ok() {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&part.replace("~1", "/").replace("~0", "~"));
        }
    }
    if out.is_empty() { "(document)".to_owned() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_become_field_paths() {
        assert_eq!(dotted("/app/ports/0/host"), "app.ports[0].host");
        assert_eq!(dotted(""), "(document)");
    }
}
