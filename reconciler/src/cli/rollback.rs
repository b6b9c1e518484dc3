//! `reconciler rollback`: the `git revert` of the last manifest change, so git stays the source of truth.

use std::path::PathBuf;

use crate::exit::Exit;
use crate::gitops::git;

/// Arguments of `rollback`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Work tree of the deployment repository.
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// Manifest path inside the repository.
    #[arg(long, default_value = "manifests/desired.yaml")]
    pub path: String,
    /// Make the revert commit (otherwise only print the command).
    #[arg(long)]
    pub commit: bool,
}

/// Prints, or makes, the revert of the last commit that changed the manifest.
pub async fn run(args: &Args) -> anyhow::Result<Exit> {
    let (commit, subject) = git::last_change(&args.repo, &args.path).await?;
    if args.commit {
        let revert = git::revert(&args.repo, &commit).await?;
        println!(
            "reverted {commit:.12} ({subject}) in {revert:.12}; push it and the periodic reconcile deploys it"
        );
    } else {
        println!("# last change to {}: {commit:.12} {subject}", args.path);
        println!("git -C {} revert --no-edit {commit}", args.repo.display());
        println!("# then push; or run `reconciler rollback --commit` to make the commit");
    }
    Ok(Exit::Ok)
}
