//! The JSON schema of the manifest, generated from the structs, and validation of a document against it.

use std::sync::LazyLock;

use super::{DesiredState, Problem};

static SCHEMA: LazyLock<serde_json::Value> = LazyLock::new(|| {
    let schema = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<DesiredState>();
    let mut value = schema.to_value();
    drop_null_alternatives(&mut value);
    value
});

/// `schema/desired.schema.json`, which a test keeps equal to [`schema_json`]: the schema's identity in
/// [`super::schema_key`] without generating it.
pub(super) const COMMITTED: &str = include_str!("../../../../schema/desired.schema.json");

/// Optional fields may be left out but not written as `null`: `anyOf: [X, {type: null}]` becomes X, which keeps
/// validation errors pointing at the offending field instead of "not valid under any of the schemas".
fn drop_null_alternatives(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let replacement = match map.get("anyOf") {
                Some(Value::Array(options)) if options.len() == 2 => {
                    let is_null = |v: &Value| v.get("type").and_then(Value::as_str) == Some("null");
                    options
                        .iter()
                        .find(|v| !is_null(v))
                        .filter(|_| options.iter().any(is_null))
                        .cloned()
                }
                _ => None,
            };
            if let Some(Value::Object(inner)) = replacement {
                map.remove("anyOf");
                for (k, v) in inner {
                    map.entry(k).or_insert(v);
                }
            }
            if let Some(Value::Array(types)) = map.get("type") {
                let non_null: Vec<Value> = types
                    .iter()
                    .filter(|t| t.as_str() != Some("null"))
                    .cloned()
                    .collect();
                if non_null.len() == 1 {
                    map.insert("type".to_owned(), non_null[0].clone());
                }
            }
            map.values_mut().for_each(drop_null_alternatives);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null_alternatives),
        _ => {}
    }
}

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
    if out.is_empty() {
        "(document)".to_owned()
    } else {
        out
    }
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
