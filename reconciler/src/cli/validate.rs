//! `reconciler validate`.

use crate::exit::Exit;

/// Arguments of `validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The manifest.
    #[command(flatten)]
    pub manifest: super::ManifestArg,
}

/// Validates the manifest and its user_data template; prints every problem; exit 1 if any.
pub fn run(args: &Args) -> anyhow::Result<Exit> {
    match crate::load::manifest(&args.manifest.file) {
        Ok(loaded) => {
            println!(
                "{}: valid (deployment {}, image {})",
                args.manifest.file.display(),
                loaded.manifest.name,
                loaded.manifest.app.image.reference()
            );
            Ok(Exit::Ok)
        }
        Err(e) => {
            eprintln!("{:#}", anyhow::Error::from(e));
            Ok(Exit::Error)
        }
    }
}
