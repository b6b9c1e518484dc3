//! `reconciler adopt KIND NAME`: make a droplet, volume or firewall that has the manifest's name but not the
//! deployment's tag this deployment's, by tagging it (a firewall: by applying it to the deployment's tag). Plans refuse
//! such a resource until it is adopted, so nothing is ever taken silently.

use anyhow::{Context, bail};
use clap::ValueEnum;
use digitalocean_api::Client;
use digitalocean_api::models::TaggedResource;
use reconciler_core::identity::{DEPLOYMENT_TAG_PREFIX, MANAGED_TAG, deployment_tag};
use reconciler_core::manifest::DesiredState;

use super::apply::DigitalOceanArgs;
use crate::exit::Exit;

/// What can be adopted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// The droplet `infra.droplet.name`.
    Droplet,
    /// The volume `infra.volume.name` in `infra.region`.
    Volume,
    /// The firewall `infra.firewall.name`.
    Firewall,
}

/// Arguments of `adopt`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The kind of resource.
    #[arg(value_enum)]
    pub kind: Kind,
    /// Its name (the manifest's name of that kind).
    pub name: String,
    /// The manifest.
    #[command(flatten)]
    pub manifest: super::ManifestArg,
    /// How to reach DigitalOcean.
    #[command(flatten)]
    pub digitalocean: DigitalOceanArgs,
}

/// Tags the resource and says what it did.
pub async fn run(args: &Args) -> anyhow::Result<Exit> {
    let loaded = crate::load::manifest(&args.manifest.file)?;
    let d = &loaded.manifest;
    let want = match args.kind {
        Kind::Droplet => &d.infra.droplet.name,
        Kind::Volume => &d.infra.volume.name,
        Kind::Firewall => &d.infra.firewall.name,
    };
    if &args.name != want {
        bail!(
            "the manifest names its {} {want}, not {}: only the manifest's resource can be adopted",
            kind_name(args.kind),
            args.name
        );
    }
    let client = args.digitalocean.client()?;
    let done = match args.kind {
        Kind::Droplet => adopt_droplet(&client, d).await?,
        Kind::Volume => adopt_volume(&client, d).await?,
        Kind::Firewall => adopt_firewall(&client, d).await?,
    };
    println!("{done}");
    Ok(Exit::Ok)
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Droplet => "droplet",
        Kind::Volume => "volume",
        Kind::Firewall => "firewall",
    }
}

/// Refuses a resource already tagged for another deployment (it is someone else's) or for this one (nothing to do).
fn check_tags(what: &str, tags: &[String], dep: &str) -> anyhow::Result<()> {
    if tags.iter().any(|t| t == dep) {
        bail!("{what} already carries {dep}: nothing to adopt");
    }
    if let Some(other) = tags.iter().find(|t| t.starts_with(DEPLOYMENT_TAG_PREFIX)) {
        bail!("{what} belongs to another deployment ({other}): it is not adopted");
    }
    Ok(())
}

async fn tag(client: &Client, resource: TaggedResource, dep: &str) -> anyhow::Result<()> {
    for tag in [MANAGED_TAG, dep] {
        client.create_tag(tag).await?;
        client
            .tag_resources(tag, std::slice::from_ref(&resource))
            .await?;
    }
    Ok(())
}

async fn adopt_droplet(client: &Client, d: &DesiredState) -> anyhow::Result<String> {
    let name = &d.infra.droplet.name;
    let dep = deployment_tag(&d.name);
    let found: Vec<_> = client
        .list_droplets_by_name(name)
        .await?
        .into_iter()
        .filter(|x| x.name.eq_ignore_ascii_case(name))
        .collect();
    let [droplet] = found.as_slice() else {
        bail!(
            "{} droplets are named {name}: adopt needs exactly one",
            found.len()
        );
    };
    let what = format!("droplet {name} (id {})", droplet.id);
    check_tags(&what, &droplet.tags, &dep)?;
    tag(client, TaggedResource::droplet(droplet.id), &dep).await?;
    Ok(format!("Adopted {what}: tagged {MANAGED_TAG} and {dep}."))
}

async fn adopt_volume(client: &Client, d: &DesiredState) -> anyhow::Result<String> {
    let name = &d.infra.volume.name;
    let region = d.infra.region.to_ascii_lowercase();
    let dep = deployment_tag(&d.name);
    let volume = client
        .find_volume(name, &region)
        .await?
        .with_context(|| format!("no volume {name} in {region}"))?;
    let what = format!("volume {name} (id {}) in {region}", volume.id);
    check_tags(&what, &volume.tags, &dep)?;
    tag(client, TaggedResource::volume(&volume.id), &dep).await?;
    Ok(format!("Adopted {what}: tagged {MANAGED_TAG} and {dep}."))
}

async fn adopt_firewall(client: &Client, d: &DesiredState) -> anyhow::Result<String> {
    let name = &d.infra.firewall.name;
    let dep = deployment_tag(&d.name);
    let found: Vec<_> = client
        .list_firewalls()
        .await?
        .into_iter()
        .filter(|f| &f.spec.name == name)
        .collect();
    let [firewall] = found.as_slice() else {
        bail!(
            "{} firewalls are named {name}: adopt needs exactly one",
            found.len()
        );
    };
    let what = format!("firewall {name} (id {})", firewall.id);
    check_tags(&what, &firewall.spec.tags, &dep)?;
    client.create_tag(&dep).await?;
    client
        .add_tags_to_firewall(&firewall.id, std::slice::from_ref(&dep))
        .await?;
    Ok(format!(
        "Adopted {what}: it applies to {dep} (the next apply replaces its rules with the manifest's)."
    ))
}
