//! The secrets env file (`NAME=value` lines, as `docker run --env-file` reads them): its names and values, kept
//! out of `Debug`, logs and errors, and a redactor for text that may contain them.

use std::fmt;

use reconciler_core::redact::Redactor;

/// Largest env file read (bytes): a secrets file is a few hundred bytes.
pub const MAX_BYTES: usize = 64 * 1024;
/// Most variables an env file may define.
pub const MAX_VARIABLES: usize = 256;

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
        if text.len() > MAX_BYTES {
            return Err(ParseError::TooLarge);
        }
        let mut pairs = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (name, value) = line.split_once('=').ok_or(ParseError::Line(i + 1))?;
            let name = name.trim();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(ParseError::Line(i + 1));
            }
            if pairs.len() == MAX_VARIABLES {
                return Err(ParseError::TooMany);
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

    /// The `(name, value)` pairs of the `declared` names only, to pass to the container: a variable the manifest
    /// does not list stays on the host.
    pub fn declared(&self, declared: &[String]) -> Vec<(String, String)> {
        self.pairs
            .iter()
            .filter(|(name, _)| declared.contains(name))
            .cloned()
            .collect()
    }

    /// `text` with every secret value, in every form a program prints it (JSON-escaped, base64, URL-encoded, hex, or
    /// any piece of 8 or more characters), replaced by `[redacted NAME]`, and control characters escaped.
    pub fn redact(&self, text: &str) -> String {
        Redactor::new(self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))).redact(text)
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

/// Why an env file was refused; never its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A line (1-based) that is not `NAME=value`.
    #[error("line {0} is not NAME=value")]
    Line(usize),
    /// Larger than [`MAX_BYTES`].
    #[error("larger than {MAX_BYTES} bytes")]
    TooLarge,
    /// More than [`MAX_VARIABLES`] variables.
    #[error("defines more than {MAX_VARIABLES} variables")]
    TooMany,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_values() {
        let env = SecretEnv::parse("# c\n\nexport A=1\nB=\"two words\"\nC='x=y'\n").unwrap();
        assert_eq!(env.names(), ["A", "B", "C"]);
        let all = env.declared(&env.names());
        assert_eq!(all[1], ("B".to_owned(), "two words".to_owned()));
        assert_eq!(all[2].1, "x=y");
    }

    #[test]
    fn bad_line_names_the_line_not_the_content() {
        let err = SecretEnv::parse("A=1\nhunter2\n").unwrap_err();
        assert_eq!(err, ParseError::Line(2));
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn redacts_values_and_hides_them_from_debug() {
        let env = SecretEnv::parse("TOKEN=abc123\nLONG=abc123456\nEMPTY=\n").unwrap();
        let out = env.redact("token abc123456 and abc123");
        assert_eq!(out, "token [redacted LONG] and [redacted TOKEN]");
        assert!(!format!("{env:?}").contains("abc123"));
    }

    /// Issue 16, case 7: what a failed container prints of a secret (JSON-escaped, base64, URL-encoded, cut short)
    /// is redacted, and its terminal escapes are shown escaped.
    #[test]
    fn redacts_every_form_a_container_prints() {
        use base64::Engine as _;
        let secret = "tok/en+with\"quotes\"-and-more";
        let env = SecretEnv::parse(&format!("API_TOKEN='{secret}'\n")).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        let json = serde_json::to_string(secret).unwrap();
        let lines = [
            format!("config {{\"token\":{json}}}"),
            format!("auth: Basic {b64}"),
            "GET /x?t=tok%2Fen%2Bwith%22quotes%22-and-more".to_owned(),
            format!("token prefix {}...", &secret[..12]),
        ];
        for line in lines {
            let out = env.redact(&line);
            assert!(out.contains("[redacted API_TOKEN]"), "{line} -> {out}");
            for piece in ["tok/en+w", "with\\\"quo", &b64[..10], "tok%2Fen%2Bwith"] {
                assert!(!out.contains(piece), "{piece} in {out}");
            }
        }
        assert_eq!(env.redact("\x1b[31mred"), "\\u{1b}[31mred");
    }

    /// Issue 16, case 7: only the names the manifest declares reach the container.
    #[test]
    fn only_declared_names_are_passed_on() {
        let env = SecretEnv::parse("A=1\nHOST_ONLY=root-password\nB=2\n").unwrap();
        let passed = env.declared(&["B".to_owned(), "A".to_owned()]);
        let names: Vec<&str> = passed.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["A", "B"]);
    }

    #[test]
    fn oversized_files_are_refused() {
        let big = format!("A={}\n", "x".repeat(MAX_BYTES));
        assert_eq!(SecretEnv::parse(&big), Err(ParseError::TooLarge));
        let many: String = (0..=MAX_VARIABLES).map(|i| format!("V{i}=x\n")).collect();
        assert_eq!(SecretEnv::parse(&many), Err(ParseError::TooMany));
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 2000,
            rng_seed: proptest::test_runner::RngSeed::Fixed(16),
            failure_persistence: None,
            ..Default::default()
        })]

        /// Fuzzing on stable: any text is a parsed env or an error, never a panic; names are always well formed.
        #[test]
        fn any_text_parses_or_fails_cleanly(text in "(?s)(export |#|[A-Z_]{0,4}=?[\"'a-z \t=]{0,6}\n?){0,12}|.{0,64}") {
            if let Ok(env) = SecretEnv::parse(&text) {
                for name in env.names() {
                    proptest::prop_assert!(!name.is_empty());
                    proptest::prop_assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
                }
                let _ = env.redact(&text);
            }
        }
    }
}
