//! Pre-flight checks shown with a full `plan`: is the DigitalOcean token valid, may it read every resource kind the
//! reconciler observes (its custom scopes), how much of the rate limit is left, does the registry exist and hold the image's tag (and pinned digest), and on the app's host: is the volume
//! mounted, is the data directory writable by the container's UID, and how much disk is free. They report; they
//! change nothing and decide nothing.

use std::fmt;

use digitalocean_api::Client;
use digitalocean_api::models::{Registry, RepositoryTag};
use reconciler_core::manifest::{DesiredState, Image};

use crate::host::{AppHost, HostError};

/// Host of DigitalOcean's container registry in image repositories.
const REGISTRY_HOST: &str = "registry.digitalocean.com";
/// Requests left in the rate-limit window below which a check warns.
const RATE_LIMIT_WARN: u32 = 250;
/// Free space below which a check warns, in KiB (1 GiB).
const FREE_DISK_WARN_KIB: u64 = 1 << 20;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Fine.
    Pass,
    /// Works, but close to a limit.
    Warn,
    /// Will make an apply fail or lose data.
    Fail,
}

/// One check and what it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// How it came out.
    pub status: Status,
    /// What was found (never a secret).
    pub detail: String,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = match self.status {
            Status::Pass => "ok  ",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        };
        write!(f, "  [{mark}] {}: {}", self.name, self.detail)
    }
}

fn check(name: &'static str, status: Status, detail: impl Into<String>) -> Check {
    Check {
        name,
        status,
        detail: detail.into(),
    }
}

/// The token check every command that reads DigitalOcean runs first: is the token valid and its account active (one
/// read of the account).
pub async fn token(client: &Client) -> Check {
    match client.account().await {
        Ok(account) if account.status == "active" => {
            check("token", Status::Pass, "valid; account active")
        }
        Ok(account) => check(
            "token",
            Status::Fail,
            format!("valid, but the account is {}", account.status),
        ),
        Err(e) => check("token", Status::Fail, e.to_string()),
    }
}

/// DigitalOcean checks: the token (by reading the account), the rate limit it leaves, and the registry.
pub async fn digitalocean(client: &Client, desired: &DesiredState) -> Vec<Check> {
    let mut out = vec![token(client).await];
    out.push(scopes(client, desired).await);
    if let Some(rate) = client.rate_limit() {
        let status = if rate.remaining < RATE_LIMIT_WARN {
            Status::Warn
        } else {
            Status::Pass
        };
        out.push(check(
            "rate limit",
            status,
            format!("{} of {} requests left", rate.remaining, rate.limit),
        ));
    }
    let want = &desired.infra.registry.name;
    let registry = client.get_registry().await;
    out.push(match &registry {
        Ok(Some(r)) if &r.name == want => check("registry", Status::Pass, format!("{want} exists")),
        Ok(Some(r)) => check(
            "registry",
            Status::Fail,
            format!("the account's registry is {}, not {want}", r.name),
        ),
        Ok(None) => check(
            "registry",
            Status::Fail,
            format!("{want} does not exist yet (apply --scope infra creates it)"),
        ),
        Err(e) => check("registry", Status::Fail, e.to_string()),
    });
    if let Ok(registry) = &registry {
        out.extend(image(client, registry.as_ref(), &desired.app.image).await);
    }
    out
}

/// Whether the token may read what the reconciler observes: one cheap read per scope, a 403 names the scope.
/// Write scopes (`droplet:create`, `block_storage_action:create`, ...) cannot be checked without writing, and the
/// API has no endpoint listing a token's scopes.
async fn scopes(client: &Client, desired: &DesiredState) -> Check {
    let infra = &desired.infra;
    let (droplets, volumes, firewalls, snapshots, registry) = tokio::join!(
        client.list_droplets_by_name(&infra.droplet.name),
        client.list_volumes(Some(&infra.volume.name), Some(&infra.region)),
        client.list_firewalls(),
        client.list_snapshots(Some("volume")),
        client.get_registry(),
    );
    let missing: Vec<&str> = [
        ("droplet:read", refused(&droplets)),
        ("block_storage:read", refused(&volumes)),
        ("firewall:read", refused(&firewalls)),
        ("snapshot:read", refused(&snapshots)),
        ("registry:read", refused(&registry)),
    ]
    .into_iter()
    .filter_map(|(scope, refused)| refused.then_some(scope))
    .collect();
    if missing.is_empty() {
        check(
            "token scopes",
            Status::Pass,
            "reads allowed (write scopes cannot be checked without writing)",
        )
    } else {
        check(
            "token scopes",
            Status::Fail,
            format!("403 without {}", missing.join(", ")),
        )
    }
}

/// Whether a read answered 403.
fn refused<T>(read: &Result<T, digitalocean_api::Error>) -> bool {
    read.as_ref()
        .is_err_and(digitalocean_api::Error::is_forbidden)
}

/// Whether the image's tag (and pinned digest) is in the account's registry; `None` when the image lives in
/// another registry, which the DigitalOcean API cannot see.
async fn image(client: &Client, registry: Option<&Registry>, image: &Image) -> Option<Check> {
    let (name, repository) = image
        .repository
        .strip_prefix(REGISTRY_HOST)?
        .strip_prefix('/')?
        .split_once('/')?;
    let at = format!("{REGISTRY_HOST}/{name}/{repository}");
    if registry.is_none_or(|r| r.name != name) {
        return Some(check(
            "image",
            Status::Fail,
            format!("{at}: the account has no registry {name}"),
        ));
    }
    Some(match client.list_repository_tags(name, repository).await {
        Ok(Some(tags)) => image_in(&tags, image, &at),
        Ok(None) => check(
            "image",
            Status::Fail,
            format!("{at}: no such repository (nothing was pushed)"),
        ),
        Err(e) => check("image", Status::Fail, e.to_string()),
    })
}

/// Judges the repository's tags against the image: the tag must exist and, with a pinned digest, point at it.
fn image_in(tags: &[RepositoryTag], image: &Image, at: &str) -> Check {
    let tagged = tags.iter().find(|t| t.tag == image.tag);
    match (&image.digest, tagged) {
        (None, Some(_)) => check("image", Status::Pass, format!("{at}:{} present", image.tag)),
        (Some(digest), Some(t)) if &t.manifest_digest == digest => check(
            "image",
            Status::Pass,
            format!("{at}:{} present at the pinned {digest}", image.tag),
        ),
        (Some(digest), _) if tags.iter().any(|t| &t.manifest_digest == digest) => check(
            "image",
            Status::Warn,
            format!(
                "{at}@{digest} present, but tag {} does not point at it",
                image.tag
            ),
        ),
        (Some(digest), _) => check(
            "image",
            Status::Fail,
            format!(
                "{at}@{digest} is under no tag (missing, or untagged and due for garbage collection)"
            ),
        ),
        (None, None) => check(
            "image",
            Status::Fail,
            format!("{at}:{} not found ({} tags)", image.tag, tags.len()),
        ),
    }
}

/// Host checks: the volume's mount, the data directory's writability by the container's user, and free disk.
pub async fn host(host: &AppHost, desired: &DesiredState) -> Vec<Check> {
    let mount = desired.infra.volume.mount_path.as_str();
    let data = desired.app.volume_mount.host_path.as_str();
    let user = desired.app.user.as_str();
    let (uid, gid) = user.split_once(':').unwrap_or((user, user));
    let mut out = Vec::new();
    out.push(
        match host
            .sh(r#"mountpoint -q "$1" && echo yes || echo no"#, &[mount])
            .await
        {
            Ok(answer) if answer.trim() == "yes" => {
                check("volume", Status::Pass, format!("mounted at {mount}"))
            }
            Ok(_) => check(
                "volume",
                Status::Fail,
                format!("nothing is mounted at {mount}"),
            ),
            Err(e) => failed("volume", &e),
        },
    );
    let writable = r#"[ -d "$1" ] || { echo missing; exit 0; }
setpriv --reuid "$2" --regid "$3" --clear-groups sh -c 'f="$1/.reconciler-preflight"; : > "$f" && rm -f "$f"' sh "$1" \
  && echo yes || echo no"#;
    out.push(match host.sh(writable, &[data, uid, gid]).await {
        Ok(answer) => match answer.trim() {
            "yes" => check(
                "data directory",
                Status::Pass,
                format!("{data} writable by {user}"),
            ),
            "missing" => check(
                "data directory",
                Status::Warn,
                format!("{data} does not exist yet (apply creates it)"),
            ),
            _ => check(
                "data directory",
                Status::Fail,
                format!("{data} is not writable by {user}"),
            ),
        },
        Err(e) => failed("data directory", &e),
    });
    let free = r#"p="$1"; while [ ! -e "$p" ]; do p=$(dirname "$p"); done; df -Pk "$p" | awk 'NR==2 {print $4}'"#;
    out.push(match host.sh(free, &[data]).await {
        Ok(answer) => match answer.trim().parse::<u64>() {
            Ok(kib) => check(
                "free disk",
                if kib < FREE_DISK_WARN_KIB {
                    Status::Warn
                } else {
                    Status::Pass
                },
                format!(
                    "{:.1} GiB free under {data}",
                    kib as f64 / f64::from(1 << 20)
                ),
            ),
            Err(_) => check(
                "free disk",
                Status::Fail,
                format!("unexpected df output {:?}", answer.trim()),
            ),
        },
        Err(e) => failed("free disk", &e),
    });
    out
}

fn failed(name: &'static str, e: &HostError) -> Check {
    check(name, Status::Fail, format!("{e}"))
}
