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
    // The replacement `[redacted S]` and an escape `\u{..}` are text the redactor writes itself.
    let written = out.replace("[redacted S]", "\0");
    if secret.len() >= 8 && !secret.contains(['\\', '\0']) {
        assert!(!written.contains(secret), "{secret:?} survived in {out:?}");
    }
});
