//! What the container needs before it starts: the secrets env file, the data directory, the image, and a volume
//! snapshot before a deploy that changes the image.

use crate::identity::{ContainerSpec, MANAGED_TAG, deployment_tag};
use crate::manifest::DesiredState;
use crate::observed::ObservedApp;
use crate::plan::builder::{Builder, Change};
use crate::plan::{Action, Operation, ResourceId, ResourceKind, VolumeRef};

/// Checks the secrets env file; `Err` when it blocks the deploy, else its fingerprint.
pub(super) fn secrets(
    b: &mut Builder<'_>,
    d: &DesiredState,
    o: &ObservedApp,
    id: &ResourceId,
) -> Result<Option<String>, ()> {
    let Some(want) = &d.app.secrets else {
        return Ok(None);
    };
    let Some(file) = &o.secrets_file else {
        b.conflict(
            id.clone(),
            format!(
                "secrets env file {} does not exist on the host; create it (mode 0600) with NAME=value lines for {}",
                want.env_file,
                want.names.join(", ")
            ),
        );
        return Err(());
    };
    let missing: Vec<&str> = want
        .names
        .iter()
        .filter(|n| !file.names.contains(n))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        b.conflict(
            id.clone(),
            format!(
                "secrets env file {} does not define {}",
                want.env_file,
                missing.join(", ")
            ),
        );
        return Err(());
    }
    if file.mode & 0o077 != 0 {
        b.note(format!(
            "secrets env file {} has mode {:o}; run chmod 600 on it",
            want.env_file, file.mode
        ));
    }
    Ok(Some(file.fingerprint.clone()))
}

pub(super) fn data_dir(b: &mut Builder<'_>, d: &DesiredState, o: &ObservedApp) {
    let path = &d.app.volume_mount.host_path;
    let (uid, gid) = owner(&d.app.user);
    let mode = u32::from_str_radix(d.infra.volume.mode.trim_start_matches('0'), 8).unwrap_or(0o750);
    let id = ResourceId::new(ResourceKind::DataDir, path);
    let op = Operation::EnsureDataDir {
        path: path.clone(),
        uid,
        gid,
        mode,
    };
    let want = format!("{uid}:{gid} mode {mode:o}");
    let mut c = match &o.data_dir {
        None => {
            let mut c = Change::new(id, Action::Create);
            c.field("owner", None, Some(want))
                .cause("data directory does not exist");
            c
        }
        Some(dir) if (dir.uid, dir.gid, dir.mode & 0o7777) != (uid, gid, mode) => {
            let have = format!("{}:{} mode {:o}", dir.uid, dir.gid, dir.mode & 0o7777);
            let mut c = Change::new(id, Action::Update);
            c.field("owner", Some(have.clone()), Some(want.clone()))
                .cause(format!(
                    "data directory is {have}, the container runs as {uid}:{gid} and needs {want}"
                ));
            c
        }
        Some(_) => return b.no_op(id),
    };
    let cause = "SQLite needs its directory writable by the container user".to_owned();
    c.step(op, cause);
    b.add(c);
}

pub(super) fn image(b: &mut Builder<'_>, spec: &ContainerSpec, o: &ObservedApp) {
    let id = ResourceId::new(ResourceKind::Image, &spec.image);
    if o.image.is_some() {
        return b.no_op(id);
    }
    let cause = "image not present on the host";
    let mut c = Change::new(id, Action::Create);
    c.cause(cause).step(
        Operation::PullImage {
            reference: spec.image.clone(),
        },
        cause,
    );
    b.add(c);
}

/// Plans the snapshot taken before a deploy that changes the image; returns its name (or that of the snapshot of the
/// volume an earlier step already takes), `None` when there is none.
pub(super) fn before_deploy_snapshot(
    b: &mut Builder<'_>,
    d: &DesiredState,
    volume: Option<VolumeRef>,
) -> Option<String> {
    if !d.infra.snapshots.before_deploy {
        return None;
    }
    let Some(volume) = volume else {
        b.note("snapshot before deploy skipped: the infra scope was not observed");
        return None;
    };
    let dep = deployment_tag(&d.name);
    if let Some((_, name, _)) = b
        .planned_snapshots()
        .find(|(v, _, tags)| **v == volume && tags.contains(&dep))
    {
        return Some(name.to_owned()); // An earlier step of this plan already snapshots the volume.
    }
    let cause = "snapshot before a deploy that changes the image";
    let name = format!(
        "{}-predeploy-{}",
        d.infra.volume.name,
        b.now.format("%Y%m%d-%H%M%S")
    );
    let mut c = Change::new(
        ResourceId::new(ResourceKind::Snapshot, &name),
        Action::Create,
    );
    c.cause(cause).step(
        Operation::SnapshotVolume {
            volume,
            name: name.clone(),
            tags: vec![MANAGED_TAG.to_owned(), dep],
        },
        cause,
    );
    b.add(c).then_some(name)
}

fn owner(user: &str) -> (u32, u32) {
    let (u, g) = user.split_once(':').unwrap_or((user, user));
    (u.parse().unwrap_or(0), g.parse().unwrap_or(0))
}
