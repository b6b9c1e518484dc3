//! Keeping secrets out of what the reconciler prints or stores: credentials in URLs, and secret values in every form
//! they take in a container's output (as is, JSON-escaped, base64, URL-encoded, hex, or any piece of 8 or more
//! characters of those), plus the escaping of control characters in text shown to people.

use std::borrow::Cow;
use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What replaces a URL's userinfo or a query value.
const HIDDEN: &str = "***";

/// The shortest run of a secret's characters (in any of its forms) that is redacted on its own.
pub const FRAGMENT: usize = 8;

/// RFC 3986 leaves these unreserved: an encoder may leave them as they are.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `text` with the userinfo and the query values of every `scheme://` URL in it replaced by `***`.
///
/// `https://user:TOKEN@host/repo.git?access_token=T` becomes `https://***@host/repo.git?access_token=***`. Text
/// that contains no URL is returned unchanged.
pub fn urls(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let end = after
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .unwrap_or(after.len());
        // A URL inside this one (`?next=https://...`) ends this one where its scheme begins; it gets its own turn.
        let own = after[..end].find("://").map_or(end, |nested| {
            after[..nested]
                .char_indices()
                .rev()
                .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
                .map_or(0, |(p, c)| p + c.len_utf8())
        });
        out.push_str(&redact_one(&after[..own]));
        rest = &after[own..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// One URL after its `scheme://`: authority (with userinfo), path, query, fragment.
fn redact_one(url: &str) -> String {
    let authority_end = url.find(['/', '?', '#']).unwrap_or(url.len());
    let (authority, rest) = url.split_at(authority_end);
    let mut out = match authority.rfind('@') {
        Some(at) => format!("{HIDDEN}{}", &authority[at..]),
        None => authority.to_owned(),
    };
    let (before_fragment, fragment) = rest.split_at(rest.find('#').unwrap_or(rest.len()));
    match before_fragment.split_once('?') {
        None => out.push_str(before_fragment),
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) => format!("{key}={HIDDEN}"),
                    None if pair.is_empty() => String::new(),
                    None => HIDDEN.to_owned(),
                })
                .collect();
            out.push_str(&pairs.join("&"));
        }
    }
    out.push_str(fragment);
    out
}

/// `text` with every control character (and the bidirectional overrides that reorder what a terminal shows)
/// written as `\u{..}`, so a value can neither colour a terminal, move its cursor nor forge a line.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    let hostile =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(hostile) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hostile(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Redacts a set of named secret values from text, in every form listed in the module documentation.
#[derive(Default)]
pub struct Redactor {
    names: Vec<String>,
    /// Every [`FRAGMENT`]-byte window of every long form, with the index of its secret.
    windows: HashMap<Vec<u8>, usize>,
    /// Forms shorter than [`FRAGMENT`] bytes, matched whole, longest first.
    short: Vec<(String, usize)>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("names", &self.names)
            .finish()
    }
}

impl Redactor {
    /// A redactor for `(name, value)` pairs; empty values are skipped.
    pub fn new<'a>(secrets: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut r = Self::default();
        for (name, value) in secrets {
            if value.is_empty() {
                continue;
            }
            let index = r.names.len();
            r.names.push(name.to_owned());
            for form in forms(value) {
                if form.len() >= FRAGMENT {
                    for window in form.as_bytes().windows(FRAGMENT) {
                        r.windows.entry(window.to_vec()).or_insert(index);
                    }
                } else if !form.is_empty() {
                    r.short.push((form, index));
                }
            }
        }
        r.short
            .sort_by_key(|(form, _)| std::cmp::Reverse(form.len()));
        r.short.dedup();
        r
    }

    /// `text` with every run that holds a secret (or a form or piece of one) replaced by `[redacted NAME]`, and
    /// its control characters escaped.
    pub fn redact(&self, text: &str) -> String {
        let bytes = text.as_bytes();
        let mut owner: Vec<Option<usize>> = vec![None; bytes.len()];
        if !self.windows.is_empty() {
            for (start, window) in bytes.windows(FRAGMENT).enumerate() {
                if let Some(&index) = self.windows.get(window) {
                    owner[start..start + FRAGMENT].fill(Some(index));
                }
            }
        }
        for (form, index) in &self.short {
            for (start, _) in text.match_indices(form.as_str()) {
                let run = &mut owner[start..start + form.len()];
                run.iter_mut()
                    .filter(|o| o.is_none())
                    .for_each(|o| *o = Some(*index));
            }
        }
        let mut out = String::with_capacity(text.len());
        let mut current: Option<usize> = None;
        for (start, c) in text.char_indices() {
            let hit = owner[start..start + c.len_utf8()].iter().find_map(|o| *o);
            match hit {
                Some(index) => {
                    if current.is_none() {
                        out.push_str(&format!("[redacted {}]", self.names[index]));
                    }
                    current = Some(index);
                }
                None => {
                    current = None;
                    let mut buf = [0u8; 4];
                    out.push_str(&escape_controls(c.encode_utf8(&mut buf)));
                }
            }
        }
        out
    }
}

/// The forms a secret value takes when a program prints it: as is, JSON-escaped, URL-encoded (strict and RFC 3986),
/// hex, and base64 (standard and URL-safe) at each of the three byte alignments it can start at inside a longer
/// encoded text (only the characters that depend on the value alone).
fn forms(value: &str) -> Vec<String> {
    let mut out = vec![value.to_owned()];
    let json = serde_json::to_string(value).unwrap_or_default();
    out.push(json.trim_matches('"').to_owned());
    out.push(utf8_percent_encode(value, NON_ALPHANUMERIC).to_string());
    out.push(utf8_percent_encode(value, RFC3986).to_string());
    out.push(hex::encode(value));
    for engine in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
        for shift in 0..3usize {
            let mut bytes = vec![0u8; shift];
            bytes.extend_from_slice(value.as_bytes());
            let encoded = engine.encode(&bytes);
            let first = (shift * 8).div_ceil(6);
            let last = bytes.len() * 8 / 6;
            if first < last {
                out.push(encoded[first..last].to_owned());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENTINEL: &str = "s3ntinel-TOKEN-9f8e7d";

    #[test]
    fn userinfo_and_query_values_are_hidden() {
        let text = format!(
            "git fetch https://bot:{SENTINEL}@git.example.com/repo.git?private_token={SENTINEL}&x=1#top: failed"
        );
        let out = urls(&text);
        assert!(!out.contains(SENTINEL), "{out}");
        assert_eq!(
            out,
            "git fetch https://***@git.example.com/repo.git?private_token=***&x=***#top: failed"
        );
        assert_eq!(urls("no url here"), "no url here");
        assert_eq!(
            urls(&format!("'https://{SENTINEL}@h/r' and ssh://git@h:22/r")),
            "'https://***@h/r' and ssh://***@h:22/r"
        );
    }

    #[test]
    fn a_url_inside_a_query_is_redacted_too() {
        let text = format!("https://h/p?next=https://u:{SENTINEL}@i/x");
        let out = urls(&text);
        assert!(!out.contains(SENTINEL), "{out}");
    }

    /// Found by the `redact` fuzz target: a multi-byte character before a nested scheme cut a char in half.
    #[test]
    fn a_nested_url_after_a_multibyte_character() {
        assert!(urls("://\u{8b}://oA://pppP").ends_with("pppP"));
        let out = urls("https://h/?q=é://secret@y");
        assert!(!out.contains("secret"), "{out}");
    }

    #[test]
    fn controls_are_escaped() {
        assert_eq!(escape_controls("a\x1b[31mb\nc"), "a\\u{1b}[31mb\\u{a}c");
        assert_eq!(escape_controls("x\u{202e}y"), "x\\u{202e}y");
        assert!(matches!(escape_controls("plain"), Cow::Borrowed(_)));
    }

    /// The oracle: none of these encodings, written independently of [`forms`], survives.
    #[test]
    fn every_form_of_a_secret_is_redacted() {
        let secret = "p4ss\"word/with+odd=chars&more";
        let r = Redactor::new([("DB_PASSWORD", secret)]);
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("user:{secret}"));
        let shown = [
            secret.to_owned(),
            format!("{{\"password\":{}}}", serde_json::json!(secret)),
            format!("Authorization: Basic {b64}"),
            format!(
                "url?pw={}",
                url_encoded(secret, |c| c.is_ascii_alphanumeric())
            ),
            format!("half: {}", &secret[..10]),
            format!("tail: {}", &secret[secret.len() - 9..]),
            hex::encode(secret),
        ];
        for text in shown {
            let out = r.redact(&text);
            assert!(out.contains("[redacted DB_PASSWORD]"), "{text} -> {out}");
            for piece in text.as_bytes().windows(FRAGMENT) {
                let piece = String::from_utf8_lossy(piece);
                let is_secret = secret.contains(piece.as_ref())
                    || b64.contains(piece.as_ref())
                    || hex::encode(secret).contains(piece.as_ref());
                if is_secret {
                    assert!(!out.contains(piece.as_ref()), "{piece} left in {out}");
                }
            }
        }
    }

    fn url_encoded(text: &str, keep: impl Fn(char) -> bool) -> String {
        text.chars()
            .map(|c| {
                if keep(c) {
                    c.to_string()
                } else {
                    format!("%{:02X}", c as u32)
                }
            })
            .collect()
    }

    #[test]
    fn short_secrets_are_replaced_whole_and_other_text_stays() {
        let r = Redactor::new([("PIN", "4711"), ("EMPTY", "")]);
        assert_eq!(
            r.redact("pin 4711, code 47\x1b"),
            "pin [redacted PIN], code 47\\u{1b}"
        );
        assert!(!format!("{r:?}").contains("4711"));
    }
}
