//! The redactor on arbitrary secrets and text (a failed container's logs are outside input), and URL redaction: the
//! secret never survives whole, and nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reconciler_core::redact::{Redactor, escape_controls, urls};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = urls(text);
    let _ = escape_controls(text);
    let (secret, log) = text.split_at(
        text.char_indices()
            .nth(text.len().min(24) / 2)
            .map_or(0, |(i, _)| i),
    );
    let out = Redactor::new([("S", secret)]).redact(log);
    // The replacement `[redacted S]` and the escapes `\u{..}` are text the redactor writes itself: a secret that
    // ends like an escape (`0}:/`) may appear across one without having been in the log. When the log itself holds
    // no `\u{`, every escape in the output is the redactor's and is masked before the check.
    if secret.len() >= 8 && !secret.contains(['\\', '\0']) && !log.contains("\\u{") {
        let written = mask_escapes(&out.replace("[redacted S]", "\0"));
        assert!(!written.contains(secret), "{secret:?} survived in {out:?}");
    }
});

/// `text` with every `\u{..}` replaced by a NUL.
fn mask_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("\\u{") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let end = after.find('}').map_or(after.len(), |close| close + 1);
        out.push('\0');
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}
