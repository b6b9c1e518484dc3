//! The secrets env file (`NAME=value` lines, as `docker run --env-file` reads them): its names and values, kept
//! out of `Debug`, logs and errors, and a redactor for text that may contain them.

use std::fmt;

/// The variables of a secrets env file. `Debug` shows names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretEnv {
    pairs: Vec<(String, String)>,
}

impl fmt::Debug for SecretEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretEnv")
            .field("names", &self.names())
            .finish()
    }
}

impl SecretEnv {
    /// Parses env-file text: blank lines and `#` comments are skipped, an `export ` prefix and matching quotes
    /// around the value are removed. Lines without `=` are errors naming the line number, never its content.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let mut pairs = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (name, value) = line.split_once('=').ok_or(ParseError { line: i + 1 })?;
            let name = name.trim();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(ParseError { line: i + 1 });
            }
            let value = unquote(value.trim());
            pairs.push((name.to_owned(), value.to_owned()));
        }
        Ok(Self { pairs })
    }

    /// The names defined, sorted and unique.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.pairs.iter().map(|(n, _)| n.clone()).collect();
        names.sort();
        names.dedup();
        names
    }

    /// The `(name, value)` pairs, to pass to the container.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// `text` with every secret value replaced by `[redacted NAME]` (longest values first, empty values skipped).
    pub fn redact(&self, text: &str) -> String {
        let mut pairs: Vec<&(String, String)> =
            self.pairs.iter().filter(|(_, v)| !v.is_empty()).collect();
        pairs.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
        pairs.iter().fold(text.to_owned(), |out, (name, value)| {
            out.replace(value.as_str(), &format!("[redacted {name}]"))
        })
    }
}

fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

/// A line of the env file that is not `NAME=value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("line {line} is not NAME=value")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_values() {
        let env = SecretEnv::parse("# c\n\nexport A=1\nB=\"two words\"\nC='x=y'\n").unwrap();
        assert_eq!(env.names(), ["A", "B", "C"]);
        assert_eq!(env.pairs()[1], ("B".to_owned(), "two words".to_owned()));
        assert_eq!(env.pairs()[2].1, "x=y");
    }

    #[test]
    fn bad_line_names_the_line_not_the_content() {
        let err = SecretEnv::parse("A=1\nhunter2\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn redacts_values_and_hides_them_from_debug() {
        let env = SecretEnv::parse("TOKEN=abc123\nLONG=abc123456\nEMPTY=\n").unwrap();
        let out = env.redact("token abc123456 and abc123");
        assert_eq!(out, "token [redacted LONG] and [redacted TOKEN]");
        assert!(!format!("{env:?}").contains("abc123"));
    }
}
