//! `reconciler schema`.

use crate::exit::Exit;

/// Prints the manifest's JSON schema.
pub fn run() -> anyhow::Result<Exit> {
    print!("{}", reconciler_core::manifest::schema_json());
    Ok(Exit::Ok)
}
