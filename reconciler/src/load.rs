//! Reading the manifest and what it references: from disk (the CLI) or from a git commit (the periodic reconcile).

use std::path::Path;

use anyhow::Context;
use reconciler_core::manifest::{self, DesiredState};
use reconciler_core::plan::Desired;

/// A validated manifest with its rendered user_data.
#[derive(Debug)]
pub struct Loaded {
    /// The manifest.
    pub manifest: DesiredState,
    /// The rendered user_data, when the manifest names a template.
    pub user_data: Option<String>,
}

impl Loaded {
    /// The planner's view of it.
    pub fn desired<'a>(&'a self, commit: Option<&'a str>) -> Desired<'a> {
        Desired {
            manifest: &self.manifest,
            user_data: self.user_data.as_deref(),
            commit,
        }
    }
}

/// Parses and validates manifest `text` for the app scope (user_data is not rendered: only the infra scope needs it).
pub fn app_manifest(name: &str, text: &str) -> Result<Loaded, manifest::ManifestError> {
    Ok(Loaded {
        manifest: manifest::parse(name, text)?,
        user_data: None,
    })
}

/// Reads, parses and validates the manifest at `path`, and renders its user_data template.
pub fn manifest(path: &Path) -> anyhow::Result<Loaded> {
    let text = fs_err::read_to_string(path)?;
    let manifest = manifest::parse(&path.display().to_string(), &text)?;
    let user_data = match &manifest.infra.droplet.user_data {
        None => None,
        Some(relative) => {
            let template_path = path.parent().unwrap_or(Path::new(".")).join(relative);
            let template = fs_err::read_to_string(&template_path).with_context(|| {
                format!(
                    "{}: infra.droplet.user_data names a template that cannot be read",
                    path.display()
                )
            })?;
            let dir = template_path.parent().unwrap_or(Path::new(".")).to_owned();
            let read = |include: &str| {
                fs_err::read_to_string(dir.join(include)).map_err(|e| e.to_string())
            };
            let rendered = manifest::render_user_data(&template, &manifest, &read)
                .with_context(|| format!("{}", template_path.display()))?;
            if rendered.len() > 64 * 1024 {
                anyhow::bail!(
                    "{}: rendered user_data is {} bytes; DigitalOcean takes at most 64 KiB",
                    template_path.display(),
                    rendered.len()
                );
            }
            Some(rendered)
        }
    };
    Ok(Loaded {
        manifest,
        user_data,
    })
}
