//! `reconciler snapshot`: snapshot the manifest's volume now, then prune the deployment's snapshots down to the
//! policy's `keep` (`infra.snapshots`), as the infra plan does. The snapshot carries the deployment's tags, so the
//! policy counts it. Only the deployment's tagged snapshots are ever deleted, never the newest nor the last good
//! deploy's.

use anyhow::Context;
use chrono::Utc;
use reconciler_core::identity::{MANAGED_TAG, deployment_tag};
use reconciler_core::plan::prune_snapshots;

use super::apply::DigitalOceanArgs;
use crate::exit::Exit;
use crate::observe::digitalocean::snapshot_state;

/// Arguments of `snapshot`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The manifest.
    #[command(flatten)]
    pub manifest: super::ManifestArg,
    /// How to reach DigitalOcean.
    #[command(flatten)]
    pub digitalocean: DigitalOceanArgs,
}

/// Takes the snapshot, prints its name and id, then deletes (and prints) what the policy no longer keeps.
pub async fn run(args: &Args) -> anyhow::Result<Exit> {
    let loaded = crate::load::manifest(&args.manifest.file)?;
    let infra = &loaded.manifest.infra;
    let region = infra.region.to_ascii_lowercase();
    let client = args.digitalocean.client()?;
    let volume = client
        .find_volume(&infra.volume.name, &region)
        .await?
        .with_context(|| format!("volume {} does not exist in {region}", infra.volume.name))?;
    let name = format!(
        "{}-manual-{}",
        volume.name,
        Utc::now().format("%Y%m%d-%H%M%S")
    );
    let tags = [
        MANAGED_TAG.to_owned(),
        deployment_tag(&loaded.manifest.name),
    ];
    let snapshot = client
        .create_volume_snapshot(&volume.id, &name, &tags)
        .await
        .with_context(|| format!("snapshotting volume {}", volume.name))?;
    println!(
        "Snapshot {} ({}) of volume {} taken.",
        snapshot.name, snapshot.id, volume.name
    );

    let mut observed: Vec<_> = client
        .list_snapshots(Some("volume"))
        .await
        .context("listing the snapshots to prune (the new snapshot was taken)")?
        .iter()
        .map(snapshot_state)
        .collect();
    // A listing may lag behind the create: the new snapshot counts (and stays, as the newest) either way.
    if !observed.iter().any(|s| s.id == snapshot.id) {
        observed.push(snapshot_state(&snapshot));
    }
    for prune in prune_snapshots(&infra.snapshots, &loaded.manifest.name, &observed, 0) {
        client
            .delete_snapshot(&prune.snapshot_id)
            .await
            .with_context(|| format!("pruning snapshot {} ({})", prune.name, prune.snapshot_id))?;
        tracing::info!(snapshot = %prune.snapshot_id, cause = %prune.cause, "snapshot pruned");
        println!(
            "Snapshot {} ({}) deleted: {}.",
            prune.name, prune.snapshot_id, prune.cause
        );
    }
    Ok(Exit::Ok)
}
