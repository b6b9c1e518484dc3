//! Reading the manifest and what it references: from disk (the CLI) or from a git commit (the periodic reconcile).

use std::io::Read;
use std::path::{Path, PathBuf};

use reconciler_core::manifest::{self, DesiredState, SchemaCheck, UserDataError};
use reconciler_core::plan::Desired;

/// A validated manifest with its rendered user_data.
#[derive(Debug)]
pub struct Loaded {
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
pub fn app_manifest(
    name: &str,
    text: &str,
    memo: Option<&SchemaMemo>,
) -> Result<Loaded, manifest::ManifestError> {
    Ok(Loaded {
        manifest: parse(name, text, memo)?,
        user_data: None,
    })
}

/// Why a manifest could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The manifest (or the directory above it) could not be read.
    #[error(transparent)]
    Read(#[from] std::io::Error),
    /// The manifest is invalid.
    #[error(transparent)]
    Manifest(#[from] manifest::ManifestError),
    /// The user_data template is missing, outside the repository, not a regular file or too large.
    #[error("{}: infra.droplet.user_data names a template that cannot be read: {reason}", manifest.display())]
    Template {
        /// The manifest naming it.
        manifest: PathBuf,
        /// Why.
        reason: String,
    },
    /// The template does not render.
    #[error("{}", template.display())]
    UserData {
        template: PathBuf,
        /// Why.
        #[source]
        source: UserDataError,
    },
}

/// Largest user_data template or included file read (bytes).
const MAX_FILE: u64 = 64 * 1024;

/// Reads, parses and validates the manifest at `path`, and renders its user_data template.
///
/// The template and every file it includes must be regular files of at most 64 KiB inside the repository that holds
/// the manifest (the nearest directory above it with a `.git`, else the directory above the manifest's), after
/// resolving symbolic links.
pub fn manifest(path: &Path) -> Result<Loaded, LoadError> {
    manifest_with(path, None)
}

/// [`manifest`], skipping the schema check for a text `memo` saw pass it.
pub fn manifest_with(path: &Path, memo: Option<&SchemaMemo>) -> Result<Loaded, LoadError> {
    let text = fs_err::read_to_string(path)?;
    let manifest = parse(&path.display().to_string(), &text, memo)?;
    let user_data = match &manifest.infra.droplet.user_data {
        None => None,
        Some(relative) => {
            let root = repository_root(path)?;
            let template_path = path.parent().unwrap_or(Path::new(".")).join(relative);
            let template =
                read_confined(&root, &template_path).map_err(|reason| LoadError::Template {
                    manifest: path.to_owned(),
                    reason,
                })?;
            let dir = template_path.parent().unwrap_or(Path::new(".")).to_owned();
            let read = |include: &str| read_confined(&root, &dir.join(include));
            Some(
                manifest::render_user_data(&template, &manifest, &read).map_err(|source| {
                    LoadError::UserData {
                        template: template_path.clone(),
                        source,
                    }
                })?,
            )
        }
    };
    Ok(Loaded {
        manifest,
        user_data,
    })
}

fn parse(
    name: &str,
    text: &str,
    memo: Option<&SchemaMemo>,
) -> Result<DesiredState, manifest::ManifestError> {
    let Some(memo) = memo else {
        return manifest::parse(name, text);
    };
    let key = manifest::schema_key(text);
    if memo.passed(&key) {
        return manifest::parse_with(name, text, SchemaCheck::Passed);
    }
    let desired = manifest::parse(name, text)?;
    memo.record(&key);
    Ok(desired)
}

/// The [`manifest::schema_key`] of the last manifest text that passed the schema check, in the state directory: the
/// periodic reconcile and repeated applies of one manifest check its schema once. A memo: unreadable or unwritable,
/// the check simply runs.
#[derive(Debug)]
pub struct SchemaMemo {
    path: PathBuf,
}

impl SchemaMemo {
    /// The memo in state directory `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            path: dir.join("manifest-schema-passed"),
        }
    }

    fn passed(&self, key: &str) -> bool {
        std::fs::read_to_string(&self.path).is_ok_and(|recorded| recorded.trim() == key)
    }

    fn record(&self, key: &str) {
        let tmp = self
            .path
            .with_extension(format!("{}.tmp", std::process::id()));
        let written = std::fs::write(&tmp, format!("{key}\n"))
            .and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            tracing::debug!(error = %e, path = %self.path.display(), "schema memo not recorded");
        }
    }
}

/// The repository holding the manifest at `path`, resolved.
fn repository_root(path: &Path) -> Result<PathBuf, std::io::Error> {
    let dir = fs_err::canonicalize(path)?
        .parent()
        .map(Path::to_owned)
        .unwrap_or_default();
    Ok(dir
        .ancestors()
        .find(|d| d.join(".git").exists())
        .or_else(|| dir.parent())
        .unwrap_or(&dir)
        .to_owned())
}

/// The text of `path` if, after resolving links, it is a regular file of at most [`MAX_FILE`] bytes under `root`.
fn read_confined(root: &Path, path: &Path) -> Result<String, String> {
    let shown = path.display();
    let real = fs_err::canonicalize(path).map_err(|e| e.to_string())?;
    if !real.starts_with(root) {
        return Err(format!(
            "{shown} lies outside the repository {}",
            root.display()
        ));
    }
    let file = fs_err::File::open(&real).map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err(format!("{shown} is not a regular file"));
    }
    let mut text = String::new();
    file.take(MAX_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("{shown}: {e}"))?;
    if text.len() as u64 > MAX_FILE {
        return Err(format!("{shown} is larger than {MAX_FILE} bytes"));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository with the committed manifest, its template replaced by `template`.
    fn repo(template: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        fs_err::create_dir_all(root.join(".git")).unwrap();
        fs_err::create_dir_all(root.join("manifests")).unwrap();
        fs_err::create_dir_all(root.join("deploy")).unwrap();
        let manifest = include_str!("../../manifests/desired.yaml");
        fs_err::write(root.join("manifests/desired.yaml"), manifest).unwrap();
        fs_err::write(root.join("deploy/cloud-init.yaml"), template).unwrap();
        fs_err::write(root.join("deploy/unit"), "[Unit]\n").unwrap();
        fs_err::write(dir.path().join("outside"), "root:x:0:0\n").unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside"), root.join("deploy/link")).unwrap();
        dir
    }

    fn load(template: &str) -> Result<Loaded, String> {
        let dir = repo(template);
        manifest(&dir.path().join("repo/manifests/desired.yaml"))
            .map_err(|e| crate::execute::chain(&e))
    }

    /// The schema check runs once per manifest text: a text that passed records its key, and only that text's key
    /// skips the check (a log size only the schema's pattern refuses shows which ran).
    #[test]
    fn the_schema_memo_skips_the_check_only_for_the_text_recorded() {
        let dir = repo("a: 1\n");
        let path = dir.path().join("repo/manifests/desired.yaml");
        let state = tempfile::tempdir().unwrap();
        let memo = SchemaMemo::in_dir(state.path());
        let recorded =
            || fs_err::read_to_string(state.path().join("manifest-schema-passed")).unwrap();
        manifest_with(&path, Some(&memo)).unwrap();
        let valid = fs_err::read_to_string(&path).unwrap();
        assert_eq!(recorded().trim(), manifest::schema_key(&valid));

        let invalid = valid.replace("max_size: 10m", "max_size: 10mb");
        fs_err::write(&path, &invalid).unwrap();
        let err = crate::execute::chain(&manifest_with(&path, Some(&memo)).unwrap_err());
        assert!(err.contains("app.logs.max_size"), "{err}");
        assert_eq!(
            recorded().trim(),
            manifest::schema_key(&valid),
            "a refused text is not recorded"
        );

        // The key is what decides: planted for the invalid text (the state directory is trusted), its check is skipped.
        fs_err::write(
            state.path().join("manifest-schema-passed"),
            manifest::schema_key(&invalid),
        )
        .unwrap();
        let loaded = manifest_with(&path, Some(&memo)).unwrap();
        assert_eq!(loaded.manifest.app.logs.max_size, "10mb");
        assert!(
            manifest(&path).is_err(),
            "without the memo the schema check runs"
        );
    }

    /// Issue 16, case 2: includes stay inside the repository, are regular files and are bounded.
    #[test]
    fn includes_are_confined_regular_and_bounded() {
        assert!(
            load("a: {{include unit}}\n")
                .unwrap()
                .user_data
                .unwrap()
                .contains("[Unit]")
        );
        for (template, expect) in [
            ("{{include ../../outside}}", "outside the repository"),
            ("{{include link}}", "outside the repository"),
            ("{{include /etc/passwd}}", "outside the repository"),
            ("{{include .}}", "not a regular file"),
            ("{{include /dev/zero}}", "outside the repository"),
        ] {
            let err = load(template).map(|_| ()).unwrap_err();
            assert!(err.contains(expect), "{template}: {err}");
        }
        let many = "{{include unit}}\n".repeat(20_000);
        assert!(load(&many).map(|_| ()).unwrap_err().contains("larger than"));
    }
}
