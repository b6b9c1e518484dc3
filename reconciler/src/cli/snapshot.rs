//! `reconciler snapshot`: snapshot the manifest's volume now. The snapshot carries the deployment's tags, so the
//! policy (`infra.snapshots`) counts it and later plans prune it like the periodic ones.

use anyhow::Context;
use chrono::Utc;
use reconciler_core::identity::{MANAGED_TAG, deployment_tag};

use super::apply::DigitalOceanArgs;
use crate::exit::Exit;

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

/// Takes the snapshot and prints its name and id.
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
    Ok(Exit::Ok)
}
