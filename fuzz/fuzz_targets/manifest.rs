//! The manifest, YAML text -> validated desired state, then its user_data rendering: an error value for every input,
//! never a panic, a hang or an unbounded allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reconciler_core::manifest;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(desired) = manifest::parse("fuzz.yaml", text) {
        let read = |path: &str| Ok(path.repeat(64));
        let _ = manifest::render_user_data(text, &desired, &read);
    }
});
