//! Bounds on a manifest, checked before and after its one parse so that no input costs more than a bounded amount
//! of time and memory: the text's size and nesting depth, every string's length, every list's and map's size, and
//! map keys given twice.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserializer;
use serde::de::{MapAccess, Visitor};

use super::Problem;

/// Largest manifest accepted (bytes).
pub const MAX_BYTES: usize = 1 << 20;
/// Deepest nesting of mappings and sequences (the manifest needs 5).
pub const MAX_DEPTH: usize = 16;
/// Longest string value (bytes), e.g. an env value.
pub const MAX_STRING: usize = 4096;
/// Most items in a list or a map.
pub const MAX_ITEMS: usize = 256;
/// Most plain env variables.
pub const MAX_ENV: usize = 128;

fn problem(path: &str, message: String) -> Problem {
    Problem {
        path: path.to_owned(),
        message,
    }
}

/// The size and nesting depth of the text, checked before parsing (deep nesting makes the YAML parser slow).
pub(super) fn check_text(text: &str) -> Option<Problem> {
    if text.len() > MAX_BYTES {
        return Some(problem(
            "(document)",
            format!(
                "{} bytes; a manifest may have at most {MAX_BYTES}",
                text.len()
            ),
        ));
    }
    let depth = depth(text);
    (depth > MAX_DEPTH).then(|| {
        problem(
            "(document)",
            format!("nested {depth} levels deep; at most {MAX_DEPTH} are allowed"),
        )
    })
}

/// An upper bound of the nesting depth: block indentation levels plus `- ` entries opened on one line plus open
/// flow brackets. Quoted text and comments are skipped; brackets inside plain scalars count, which only errs on the
/// side of refusing.
fn depth(text: &str) -> usize {
    let mut deepest = 0;
    let mut indents: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    let mut quote: Option<char> = None;
    for line in text.lines() {
        let body = line.trim_start_matches(' ');
        if quote.is_none() && flow == 0 && !body.is_empty() && !body.starts_with('#') {
            let indent = line.len() - body.len();
            while indents.last().is_some_and(|&i| i >= indent) {
                indents.pop();
            }
            indents.push(indent);
            let mut rest = body;
            let mut dashes = 0;
            while let Some(after) = rest.strip_prefix("- ") {
                dashes += 1;
                rest = after.trim_start_matches(' ');
            }
            deepest = deepest.max(indents.len() + dashes);
        }
        let mut previous = ' ';
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') if previous.is_whitespace() || "[{,:".contains(previous) => {
                    quote = Some(c)
                }
                (None, '#') if previous.is_whitespace() => break,
                (None, '[' | '{') => {
                    flow += 1;
                    deepest = deepest.max(indents.len() + flow);
                }
                (None, ']' | '}') => flow = flow.saturating_sub(1),
                _ => {}
            }
            previous = c;
        }
    }
    deepest
}

/// Every string longer than [`MAX_STRING`], list or map larger than [`MAX_ITEMS`], and more than [`MAX_ENV`] env
/// variables in the parsed document.
pub(super) fn check_value(value: &serde_json::Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    walk(value, "", &mut problems);
    let env = value
        .pointer("/app/env")
        .and_then(serde_json::Value::as_object)
        .map_or(0, serde_json::Map::len);
    if env > MAX_ENV {
        problems.push(problem(
            "app.env",
            format!("{env} variables; at most {MAX_ENV} are allowed"),
        ));
    }
    problems
}

fn walk(value: &serde_json::Value, path: &str, problems: &mut Vec<Problem>) {
    use serde_json::Value;
    let here = || if path.is_empty() { "(document)" } else { path };
    match value {
        Value::String(s) if s.len() > MAX_STRING => problems.push(problem(
            here(),
            format!("{} bytes long; at most {MAX_STRING} are allowed", s.len()),
        )),
        Value::Array(items) => {
            if items.len() > MAX_ITEMS {
                problems.push(problem(
                    here(),
                    format!("{} items; at most {MAX_ITEMS} are allowed", items.len()),
                ));
            }
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{path}[{i}]"), problems);
            }
        }
        Value::Object(map) => {
            if map.len() > MAX_ITEMS {
                problems.push(problem(
                    here(),
                    format!("{} entries; at most {MAX_ITEMS} are allowed", map.len()),
                ));
            }
            for (key, item) in map {
                let sub = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if key.len() > MAX_STRING {
                    problems.push(problem(here(), "a key is too long".to_owned()));
                }
                walk(item, &sub, problems);
            }
        }
        _ => {}
    }
}

/// Deserializes a string map, refusing a key given twice (YAML would let the last one silently win).
pub(super) fn unique_keys<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    struct Unique;
    impl<'de> Visitor<'de> for Unique {
        type Value = BTreeMap<String, String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of strings")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((key, value)) = map.next_entry::<String, String>()? {
                if out.contains_key(&key) {
                    return Err(serde::de::Error::custom(format!(
                        "{DUPLICATE}`{key}` is given twice"
                    )));
                }
                out.insert(key, value);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_map(Unique)
}

const DUPLICATE: &str = "duplicate key ";

/// The line of the second occurrence of a duplicate key (the parser reports where its map begins): the first line
/// from `from` on that gives the key a second time, or `None` for any other error.
pub(super) fn duplicate_line(text: &str, message: &str, from: usize) -> Option<usize> {
    let key = message
        .split(DUPLICATE)
        .nth(1)?
        .strip_prefix('`')?
        .split('`')
        .next()?;
    let forms = [
        format!("{key}:"),
        format!("\"{key}\":"),
        format!("'{key}':"),
    ];
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .filter(|(_, line)| {
            let line = line.trim_start().trim_start_matches("- ");
            forms.iter().any(|f| line.starts_with(f.as_str()))
        })
        .nth(1)
        .map(|(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::manifest::{ManifestError, parse};

    fn base() -> String {
        include_str!("../../../../manifests/desired.yaml").to_owned()
    }

    fn problems(text: &str) -> String {
        match parse("m.yaml", text) {
            Err(e) => e.to_string(),
            Ok(_) => "valid".to_owned(),
        }
    }

    /// Issue 16, case 4: deep nesting is refused quickly (it took seconds per reconcile with the lock held).
    #[test]
    fn deep_nesting_is_refused_fast() {
        for deep in [
            format!("{}{}", "[".repeat(8000), "]".repeat(8000)),
            format!("{}{}", "{a: ".repeat(8000), "}".repeat(8000)),
            (0..1000)
                .map(|i| format!("{}a:\n", " ".repeat(i)))
                .collect(),
            format!("{}1\n", "- ".repeat(5000)),
        ] {
            let started = Instant::now();
            let out = problems(&deep);
            assert!(out.contains("levels deep"), "{out:.200}");
            assert!(started.elapsed() < Duration::from_secs(1));
        }
    }

    #[test]
    fn size_string_and_count_limits() {
        let huge = format!("{}\n# {}\n", base(), "x".repeat(super::MAX_BYTES));
        assert!(problems(&huge).contains("a manifest may have at most"));
        let long = base().replace(
            "LOG_LEVEL: info",
            &format!("LOG_LEVEL: {}", "x".repeat(5000)),
        );
        assert!(problems(&long).contains("app.env.LOG_LEVEL: 5000 bytes long"));
        let many: String = (0..200).map(|i| format!("    V{i}: x\n")).collect();
        let many = base().replace("    LOG_LEVEL: info\n", &many);
        assert!(
            problems(&many).contains("variables; at most 128 are allowed"),
            "{}",
            problems(&many)
        );
    }

    /// Issue 16, case 4: a key given twice in `app.env` is refused with the line of the second one.
    #[test]
    fn a_duplicate_env_key_is_refused_with_its_line() {
        let text = base().replace(
            "    LOG_FORMAT: json\n",
            "    LOG_FORMAT: json\n    LOG_LEVEL: debug\n",
        );
        let line = text
            .lines()
            .position(|l| l == "    LOG_LEVEL: debug")
            .unwrap()
            + 1;
        match parse("m.yaml", &text) {
            Err(ManifestError::Syntax {
                line: at, message, ..
            }) => {
                assert_eq!(at, line, "{message}");
                assert!(message.contains("LOG_LEVEL"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_committed_manifest_is_within_the_limits() {
        assert_eq!(problems(&base()), "valid");
        assert!(super::depth(&base()) <= super::MAX_DEPTH);
    }
}
