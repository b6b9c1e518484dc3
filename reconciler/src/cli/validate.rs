//! `reconciler validate`.

use std::path::PathBuf;

use crate::exit::Exit;

/// Arguments of `validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The manifest.
    #[arg(
        short,
        long,
        env = "RECONCILER_MANIFEST",
        default_value = "manifests/desired.yaml"
    )]
    pub file: PathBuf,
}

/// Validates the manifest and its user_data template; prints every problem; exit 1 if any.
pub fn run(args: &Args) -> anyhow::Result<Exit> {
    match crate::load::manifest(&args.file) {
        Ok(loaded) => {
            println!(
                "{}: valid (deployment {}, image {})",
                args.file.display(),
                loaded.manifest.name,
                loaded.manifest.app.image.reference()
            );
            Ok(Exit::Ok)
        }
        Err(e) => {
            eprintln!("{e:#}");
            Ok(Exit::Error)
        }
    }
}
