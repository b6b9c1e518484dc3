//! The source of truth: a git repository fetched with the `git` CLI into a bare cache in the state directory. Only
//! the tip of one ref is fetched (`--depth 1`); files are read at a commit with `git show`, never from a work tree.
//! A private repository is reached with a deploy key through `GIT_SSH_COMMAND` (see `deploy/`), or with a token in
//! the URL, which never appears in an error (and so never in the journal, `status.json` or stderr).
//!
//! Every value that comes from outside (the URL, the ref, a path) follows `--` or `--end-of-options`, and a URL or
//! ref that starts with `-` is refused, so none of them can become a git option such as `--upload-pack=<command>`.

use std::fmt;
use std::path::{Path, PathBuf};

use reconciler_core::redact;
use tokio::process::Command;

/// A git command that failed. Credentials in URLs are already hidden in both fields.
#[derive(Debug, thiserror::Error)]
#[error("git {args}: {message}")]
pub struct GitError {
    args: String,
    message: String,
}

impl GitError {
    fn new(args: &str, message: &str) -> Self {
        Self {
            args: redact::urls(args).into_owned(),
            message: redact::urls(message).into_owned(),
        }
    }
}

async fn git(dir: Option<&Path>, args: &[&str]) -> Result<String, GitError> {
    let mut cmd = Command::new("git");
    if let Some(dir) = dir {
        cmd.arg("-C").arg(dir);
    }
    cmd.args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .kill_on_drop(true);
    let fail = |message: String| GitError::new(&args.join(" "), &message);
    let out = cmd
        .output()
        .await
        .map_err(|e| fail(format!("cannot run git: {e}")))?;
    if !out.status.success() {
        return Err(fail(String::from_utf8_lossy(&out.stderr).trim().to_owned()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A bare cache of the deployment repository.
#[derive(Clone)]
pub struct Source {
    cache: PathBuf,
    url: String,
    git_ref: String,
}

impl Source {
    /// The repository at `url` (a URL or a path), ref `git_ref`, cached under `state_dir`.
    pub fn new(state_dir: &Path, url: &str, git_ref: &str) -> Self {
        Self {
            cache: state_dir.join("repo.git"),
            url: url.to_owned(),
            git_ref: git_ref.to_owned(),
        }
    }

    /// Fetches the tip of the ref; returns its commit.
    pub async fn fetch(&self) -> Result<String, GitError> {
        for (what, value) in [("repository", &self.url), ("ref", &self.git_ref)] {
            if value.starts_with('-') || value.is_empty() {
                return Err(GitError::new(
                    "fetch",
                    &format!("the {what} {value:?} is empty or starts with '-'; refused"),
                ));
            }
        }
        if !self.cache.join("HEAD").exists() {
            let cache = self.cache.to_string_lossy().into_owned();
            git(None, &["init", "--quiet", "--bare", "--", &cache]).await?;
        }
        git(
            Some(&self.cache),
            &[
                "fetch",
                "--quiet",
                "--no-tags",
                "--depth=1",
                "--force",
                "--",
                &self.url,
                &self.git_ref,
            ],
        )
        .await?;
        Ok(git(Some(&self.cache), &["rev-parse", "FETCH_HEAD"])
            .await?
            .trim()
            .to_owned())
    }

    /// The contents of `path` at `commit`.
    pub async fn read(&self, commit: &str, path: &str) -> Result<String, GitError> {
        git(
            Some(&self.cache),
            &["show", "--end-of-options", &format!("{commit}:{path}")],
        )
        .await
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("cache", &self.cache)
            .field("url", &redact::urls(&self.url))
            .field("git_ref", &self.git_ref)
            .finish()
    }
}

/// The last commit in the work tree at `repo` that changed `path`, with its subject line.
pub async fn last_change(repo: &Path, path: &str) -> Result<(String, String), GitError> {
    let out = git(
        Some(repo),
        &["log", "-n", "1", "--format=%H %s", "--", path],
    )
    .await?;
    let line = out.trim();
    let (commit, subject) = line.split_once(' ').unwrap_or((line, ""));
    if commit.is_empty() {
        return Err(GitError::new(
            &format!("log -- {path}"),
            "no commit changed the manifest",
        ));
    }
    Ok((commit.to_owned(), subject.to_owned()))
}

/// Makes the revert commit of `commit` in the work tree at `repo`.
pub async fn revert(repo: &Path, commit: &str) -> Result<String, GitError> {
    git(
        Some(repo),
        &["revert", "--no-edit", "--end-of-options", commit],
    )
    .await?;
    Ok(git(Some(repo), &["rev-parse", "HEAD"])
        .await?
        .trim()
        .to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn commit_file(repo: &Path, path: &str, body: &str, message: &str) -> String {
        std::fs::create_dir_all(repo.join(path).parent().unwrap()).unwrap();
        std::fs::write(repo.join(path), body).unwrap();
        git(Some(repo), &["add", path]).await.unwrap();
        git(
            Some(repo),
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-q",
                "-m",
                message,
            ],
        )
        .await
        .unwrap();
        git(Some(repo), &["rev-parse", "HEAD"])
            .await
            .unwrap()
            .trim()
            .to_owned()
    }

    #[tokio::test]
    async fn fetches_the_tip_and_reads_files_at_a_commit() {
        let work = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        git(Some(work.path()), &["init", "-q", "-b", "main"])
            .await
            .unwrap();
        let a = commit_file(
            work.path(),
            "manifests/desired.yaml",
            "tag: a\n",
            "deploy a",
        )
        .await;
        let source = Source::new(state.path(), &work.path().to_string_lossy(), "main");
        assert_eq!(source.fetch().await.unwrap(), a);
        let b = commit_file(
            work.path(),
            "manifests/desired.yaml",
            "tag: b\n",
            "deploy b",
        )
        .await;
        assert_eq!(source.fetch().await.unwrap(), b);
        assert_eq!(
            source.read(&b, "manifests/desired.yaml").await.unwrap(),
            "tag: b\n"
        );
        assert_eq!(
            last_change(work.path(), "manifests/desired.yaml")
                .await
                .unwrap(),
            (b.clone(), "deploy b".to_owned())
        );
        revert(work.path(), &b).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(work.path().join("manifests/desired.yaml")).unwrap(),
            "tag: a\n"
        );
        let err = Source::new(state.path(), "/nonexistent/repo", "main")
            .fetch()
            .await
            .unwrap_err();
        assert!(err.to_string().contains("fetch"));
    }

    /// A ref or URL that git would read as `--upload-pack=<command>` runs nothing: it is refused, and what follows
    /// `--` is never an option anyway.
    #[tokio::test]
    async fn a_ref_or_url_that_looks_like_an_option_runs_nothing() {
        let work = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        git(Some(work.path()), &["init", "-q", "-b", "main"])
            .await
            .unwrap();
        commit_file(work.path(), "m.yaml", "a\n", "a").await;
        let marker = state.path().join("pwned");
        let inject = format!("--upload-pack=touch {}; git-upload-pack", marker.display());
        let repo = work.path().to_string_lossy().into_owned();
        for (url, git_ref) in [(repo.as_str(), inject.as_str()), (inject.as_str(), "main")] {
            let source = Source::new(state.path(), url, git_ref);
            assert!(source.fetch().await.is_err(), "{url} {git_ref}");
            assert!(!marker.exists(), "git ran the injected command");
        }
        // Without the refusal, `--` still keeps them from being options.
        let err = git(
            Some(work.path()),
            &["fetch", "--quiet", "--", &repo, &inject],
        )
        .await
        .unwrap_err();
        assert!(!marker.exists(), "git ran the injected command: {err}");
    }

    /// A token in the URL's userinfo or query never appears in the error of a failed fetch nor in `Debug`.
    #[tokio::test]
    async fn credentials_in_the_url_never_reach_an_error() {
        let state = tempfile::tempdir().unwrap();
        let sentinel = "sentinel-9d1f2c3b";
        let url = format!("https://ci:{sentinel}@127.0.0.1:9/deploy.git?private_token={sentinel}");
        let source = Source::new(state.path(), &url, "main");
        let err = source.fetch().await.unwrap_err().to_string();
        assert!(err.contains("127.0.0.1:9/deploy.git"), "{err}");
        assert!(!err.contains(sentinel), "{err}");
        assert!(!format!("{source:?}").contains(sentinel));
    }
}
