//! The secrets env file: parsed or refused with a line number, and every value it defines redacted from any text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reconciler::host::SecretEnv;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(env) = SecretEnv::parse(text) else {
        return;
    };
    for name in env.names() {
        assert!(!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    }
    let _ = env.redact(text);
});
