//! The journal (one JSON record a line): parsed or refused naming a line of the text; what parses writes back as
//! records that parse to the same.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use reconciler::gitops::journal::{self, JournalError};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match journal::parse(Path::new("journal.jsonl"), text) {
        Ok(records) => {
            let written: Vec<String> = records
                .iter()
                .map(|record| serde_json::to_string(record).expect("a record serializes"))
                .collect();
            let again = journal::parse(Path::new("again"), &written.join("\n"))
                .expect("written records parse");
            assert_eq!(again, records);
        }
        Err(JournalError::Corrupt { line, .. }) => {
            assert!(line >= 1 && line <= text.lines().count())
        }
        Err(error) => panic!("parsing reported {error}"),
    }
});
