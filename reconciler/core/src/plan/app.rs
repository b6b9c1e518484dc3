//! Planning the app: the data directory, the image and the bot container, with its health-gated replacement and
//! the revert path.
//!
//! Only one bot may run at a time (two would both hedge), so a replacement is: create the new container (image
//! pulled first) → stop the old one → rename old to `<name>-keep-<time>-<hash>` and new to `<name>` → start the new
//! one → wait until it passes the health gate. The old one stays, stopped, for a fast rollback (`keep_previous` of
//! them; older ones are removed). The revert path restores it. Going back to a kept revision restarts its container
//! instead of creating one.

use super::builder::{Builder, Change};
use super::model::*;
use crate::identity::{ContainerSpec, MANAGED_TAG, deployment_tag, labels};
use crate::manifest::DesiredState;
use crate::observed::{ContainerState, ObservedApp};

/// Plans the app scope. `volume` is the block-storage volume when the infra scope was observed too.
pub(super) fn plan(
    b: &mut Builder<'_>,
    d: &DesiredState,
    commit: Option<&str>,
    o: &ObservedApp,
    volume: Option<VolumeRef>,
    stopped_by_infra: bool,
) {
    let app = &d.app;
    let name = app.container_name.as_str();
    let spec = ContainerSpec::from_app(app);
    let hash = spec.hash();
    let container_id = ResourceId::new(ResourceKind::Container, name);

    let secrets_fp = match secrets(b, d, o, &container_id) {
        Ok(fp) => fp,
        Err(()) => return,
    };

    let current = o.containers.iter().find(|c| c.name == name);
    if let Some(c) = current
        && c.labels.get(labels::MANAGED_BY).map(String::as_str) != Some(labels::MANAGER)
    {
        return b.conflict(
            container_id,
            format!("container {name} exists but was not created by the reconciler; remove or rename it by hand"),
        );
    }
    let keep_prefix = format!("{name}-keep-");
    let ours = |c: &&ContainerState| {
        c.name != name && c.labels.get(labels::APP).map(String::as_str) == Some(name)
    };
    let leftovers: Vec<&ContainerState> = o
        .containers
        .iter()
        .filter(ours)
        .filter(|c| !c.name.starts_with(&keep_prefix))
        .collect();
    // Kept previous revisions, newest first (their names start with the time they were retired).
    let mut kept: Vec<&ContainerState> = o
        .containers
        .iter()
        .filter(ours)
        .filter(|c| c.name.starts_with(&keep_prefix))
        .collect();
    kept.sort_by(|a, b| b.name.cmp(&a.name));

    let diff = current.map(|c| compare(c, &spec, &hash, secrets_fp.as_deref(), o));
    let needs_new = match &diff {
        None => true,
        Some(diff) => !diff.fields.is_empty(),
    };
    if needs_new && o.quarantined.contains(&hash) {
        b.note(format!(
            "desired revision {hash} failed its health gate before and is quarantined; it is not retried until the \
             manifest changes"
        ));
        return;
    }

    for leftover in &leftovers {
        let mut c = Change::new(
            ResourceId::new(ResourceKind::Container, &leftover.name),
            Action::Delete,
        );
        let cause = format!(
            "leftover container {} from an interrupted or earlier deploy",
            leftover.name
        );
        c.cause(&cause).step(
            Operation::RemoveContainer {
                container: leftover.id.clone(),
            },
            cause,
        );
        b.add(c);
    }

    // Before any start: a container started on a missing directory (a volume just replaced or re-attached) fails.
    data_dir(b, d, o);
    if needs_new {
        image(b, &spec, o);
    }
    let gate = gate(d);
    let labels = spec.labels(name, secrets_fp.as_deref(), commit);
    match (current, diff) {
        (None, _) => {
            let cause = "container does not exist";
            let mut c = Change::new(container_id, Action::Create);
            c.field("image", None, Some(spec.image.clone()))
                .field("user", None, Some(spec.user.clone()))
                .field("restart", None, Some(spec.restart.clone()))
                .cause(cause)
                .step(
                    Operation::CreateContainer {
                        name: name.to_owned(),
                        spec: Box::new(spec.clone()),
                        labels,
                    },
                    cause,
                )
                .step(start(name), cause)
                .step(wait(name, gate), cause);
            let revert = vec![step(
                &c,
                stop(name, spec.stop_grace_secs),
                "the new container failed its health gate",
            )];
            b.add(c);
            b.revert(revert);
        }
        (Some(current), Some(diff)) if needs_new => {
            let old = current.id.clone();
            let next = format!("{name}-next");
            let retired = format!(
                "{keep_prefix}{}-{}",
                b.now.format("%Y%m%d%H%M%S"),
                short(
                    current
                        .labels
                        .get(labels::SPEC_HASH)
                        .and_then(|h| h.split(':').next_back())
                        .unwrap_or("none")
                )
            );
            let reuse = kept.iter().copied().find(|k| {
                k.labels.get(labels::SPEC_HASH) == Some(&hash)
                    && k.labels.get(labels::SECRETS).map(String::as_str) == secrets_fp.as_deref()
                    && o.image.as_ref().is_none_or(|i| i.id == k.image_id)
            });
            let mut c = Change::new(container_id, Action::Replace);
            for field in diff.fields {
                c.field(&field.field, field.before, field.after);
            }
            for cause in &diff.causes {
                c.cause(cause);
            }
            let mut cause = diff.causes.join("; ");
            if diff.image_changed {
                before_deploy_snapshot(b, d, volume);
            }
            let why = "the new container failed its health gate";
            let revert = match reuse {
                Some(k) => {
                    cause = format!(
                        "{cause} (fast rollback: restarting kept container {})",
                        k.name
                    );
                    c.step(stop(&old, grace_of(current, spec.stop_grace_secs)), &cause)
                        .step(rename(&old, &retired), &cause)
                        .step(rename(&k.id, name), &cause)
                        .step(start(name), &cause)
                        .step(wait(name, gate.clone()), &cause);
                    vec![
                        step(&c, stop(name, spec.stop_grace_secs), why),
                        step(&c, rename(name, &k.name), why),
                        step(&c, rename(&retired, name), why),
                        step(&c, start(name), why),
                        step(&c, wait(name, gate), why),
                    ]
                }
                None => {
                    c.step(
                        Operation::CreateContainer {
                            name: next.clone(),
                            spec: Box::new(spec.clone()),
                            labels,
                        },
                        &cause,
                    )
                    .step(stop(&old, grace_of(current, spec.stop_grace_secs)), &cause)
                    .step(rename(&old, &retired), &cause)
                    .step(rename(&next, name), &cause)
                    .step(start(name), &cause)
                    .step(wait(name, gate.clone()), &cause);
                    vec![
                        step(&c, stop(name, spec.stop_grace_secs), why),
                        step(
                            &c,
                            Operation::RemoveContainer {
                                container: name.to_owned(),
                            },
                            why,
                        ),
                        step(&c, rename(&retired, name), why),
                        step(&c, start(name), why),
                        step(&c, wait(name, gate), why),
                    ]
                }
            };
            // After the gate: keep the newest `keep_previous` stopped revisions, the one just retired first.
            let mut after: Vec<(String, String)> = vec![(retired.clone(), retired.clone())];
            after.extend(
                kept.iter()
                    .filter(|k| reuse.is_none_or(|r| r.id != k.id))
                    .map(|k| (k.id.clone(), k.name.clone())),
            );
            for (id, kept_name) in after.iter().skip(keep_previous(d)) {
                c.step(
                    Operation::RemoveContainer {
                        container: id.clone(),
                    },
                    format!(
                        "keeps the newest {} previous containers; {kept_name} is older",
                        keep_previous(d)
                    ),
                );
            }
            b.add(c);
            b.revert(revert);
            return;
        }
        (Some(current), _) if !current.is_running() && o.quarantined.contains(&hash) => {
            // A first deploy that failed its gate leaves its container stopped; starting it would retry it.
            b.note(format!(
                "container {name} is {} and its revision {hash} is quarantined after failing its health gate; \
                 it is not started until the manifest changes",
                current.state
            ));
            b.no_op(container_id);
        }
        (Some(current), _) if !current.is_running() => {
            let cause = format!(
                "drift: container is {} (stopped outside the manifest)",
                current.state
            );
            let mut c = Change::new(container_id, Action::Update);
            c.field(
                "state",
                Some(current.state.clone()),
                Some("running".to_owned()),
            )
            .cause(&cause)
            .step(start(&current.id), &cause)
            .step(wait(&current.id, gate), &cause);
            b.add(c);
        }
        (Some(current), _) if stopped_by_infra => {
            let cause = "the infra steps stop the container to release its volume";
            let mut c = Change::new(container_id, Action::Update);
            c.field(
                "state",
                Some(current.state.clone()),
                Some("running".to_owned()),
            )
            .cause(cause)
            .step(start(&current.id), cause)
            .step(wait(&current.id, gate), cause);
            b.add(c);
        }
        (Some(current), _) => {
            if current.health.as_deref() == Some("unhealthy") || current.state == "restarting" {
                b.note(format!(
                    "container {name} matches the manifest but is {} (restarts: {}); see its logs",
                    current.health.as_deref().unwrap_or(&current.state),
                    current.restart_count
                ));
            }
            b.no_op(container_id);
        }
    }
    prune_kept(b, d, &kept);
}

/// Kept containers beyond `keep_previous` (when no replacement retires another one).
fn prune_kept(b: &mut Builder<'_>, d: &DesiredState, kept: &[&ContainerState]) {
    for k in kept.iter().skip(keep_previous(d)) {
        let cause = format!("keeps the newest {} previous containers", keep_previous(d));
        let mut c = Change::new(
            ResourceId::new(ResourceKind::Container, &k.name),
            Action::Delete,
        );
        c.cause(&cause).step(
            Operation::RemoveContainer {
                container: k.id.clone(),
            },
            cause,
        );
        b.add(c);
    }
}

fn keep_previous(d: &DesiredState) -> usize {
    usize::try_from(d.app.keep_previous).unwrap_or(usize::MAX)
}

/// How the running container differs from the desired one.
struct Diff {
    fields: Vec<FieldDiff>,
    causes: Vec<String>,
    image_changed: bool,
}

fn compare(
    c: &ContainerState,
    spec: &ContainerSpec,
    hash: &str,
    secrets_fp: Option<&str>,
    o: &ObservedApp,
) -> Diff {
    let mut diff = Diff {
        fields: Vec::new(),
        causes: Vec::new(),
        image_changed: false,
    };
    let stored_hash = c.labels.get(labels::SPEC_HASH).map(String::as_str);
    if stored_hash != Some(hash) {
        let stored = c
            .labels
            .get(labels::SPEC)
            .and_then(|json| serde_json::from_str::<ContainerSpec>(json).ok());
        match stored {
            Some(stored) => {
                for (field, before, after) in spec_fields(&stored, spec) {
                    if field == "image" {
                        diff.image_changed = true;
                    }
                    diff.causes.push(format!("{field} changed"));
                    diff.fields.push(FieldDiff {
                        field,
                        before: Some(before),
                        after: Some(after),
                    });
                }
            }
            None => {
                diff.image_changed = true;
                diff.causes
                    .push("container spec changed (no readable spec label)".to_owned());
                diff.fields.push(FieldDiff {
                    field: "spec_hash".to_owned(),
                    before: stored_hash.map(str::to_owned),
                    after: Some(hash.to_owned()),
                });
            }
        }
    }
    if c.labels.get(labels::SECRETS).map(String::as_str) != secrets_fp {
        diff.causes.push("secrets env file changed".to_owned());
        diff.fields.push(FieldDiff {
            field: "secrets".to_owned(),
            before: Some("(sensitive)".to_owned()),
            after: Some("(sensitive, changed)".to_owned()),
        });
    }
    if let Some(image) = &o.image
        && image.id != c.image_id
        && !diff.image_changed
    {
        diff.image_changed = true;
        diff.causes.push(format!(
            "image digest changed: {} now points to {}",
            spec.image,
            short(&image.id)
        ));
        diff.fields.push(FieldDiff {
            field: "image_id".to_owned(),
            before: Some(short(&c.image_id)),
            after: Some(short(&image.id)),
        });
    }
    diff
}

/// Field-level differences of two specs, as `(dotted field, before, after)` in display form.
fn spec_fields(before: &ContainerSpec, after: &ContainerSpec) -> Vec<(String, String, String)> {
    let (Ok(a), Ok(b)) = (serde_json::to_value(before), serde_json::to_value(after)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    flatten_diff("", &a, &b, &mut out);
    out
}

fn flatten_diff(
    prefix: &str,
    a: &serde_json::Value,
    b: &serde_json::Value,
    out: &mut Vec<(String, String, String)>,
) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for key in keys {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten_diff(
                    &path,
                    x.get(key).unwrap_or(&Value::Null),
                    y.get(key).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        _ if a != b => out.push((prefix.to_owned(), display(a), display(b))),
        _ => {}
    }
}

fn display(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "(none)".to_owned(),
        other => other.to_string(),
    }
}

fn short(id: &str) -> String {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.chars().take(12).collect()
}

/// Checks the secrets env file; `Err` when it blocks the deploy, else its fingerprint.
fn secrets(
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

fn data_dir(b: &mut Builder<'_>, d: &DesiredState, o: &ObservedApp) {
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

fn image(b: &mut Builder<'_>, spec: &ContainerSpec, o: &ObservedApp) {
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

fn before_deploy_snapshot(b: &mut Builder<'_>, d: &DesiredState, volume: Option<VolumeRef>) {
    if !d.infra.snapshots.before_deploy {
        return;
    }
    let Some(volume) = volume else {
        b.note("snapshot before deploy skipped: the infra scope was not observed");
        return;
    };
    let dep = deployment_tag(&d.name);
    if b.planned_snapshots()
        .any(|(v, tags)| *v == volume && tags.contains(&dep))
    {
        return; // An earlier step of this plan already snapshots the volume.
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
            name,
            tags: vec![MANAGED_TAG.to_owned(), dep],
        },
        cause,
    );
    b.add(c);
}

fn gate(d: &DesiredState) -> HealthGate {
    let h = &d.app.health_check;
    let ms = |x: crate::manifest::Duration| u64::try_from(x.get().as_millis()).unwrap_or(u64::MAX);
    HealthGate {
        http: h.http.clone(),
        deadline_ms: ms(h.start_period)
            + (u64::from(h.retries) + 1) * (ms(h.interval) + ms(h.timeout)),
        interval_ms: ms(h.interval),
        timeout_ms: ms(h.timeout),
        stability_ms: ms(h.stability_window),
    }
}

fn owner(user: &str) -> (u32, u32) {
    let (u, g) = user.split_once(':').unwrap_or((user, user));
    (u.parse().unwrap_or(0), g.parse().unwrap_or(0))
}

fn grace_of(c: &ContainerState, default: u64) -> u64 {
    c.labels
        .get(labels::SPEC)
        .and_then(|json| serde_json::from_str::<ContainerSpec>(json).ok())
        .map_or(default, |s| s.stop_grace_secs)
}

fn start(container: &str) -> Operation {
    Operation::StartContainer {
        container: container.to_owned(),
    }
}

fn stop(container: &str, grace_secs: u64) -> Operation {
    Operation::StopContainer {
        container: container.to_owned(),
        grace_secs,
    }
}

fn rename(container: &str, to: &str) -> Operation {
    Operation::RenameContainer {
        container: container.to_owned(),
        to: to.to_owned(),
    }
}

fn wait(container: &str, gate: HealthGate) -> Operation {
    Operation::WaitHealthy {
        container: container.to_owned(),
        gate,
    }
}

fn step(c: &Change, op: Operation, cause: &str) -> Step {
    Step {
        resource: c.resource().clone(),
        action: Action::Replace,
        op,
        cause: cause.to_owned(),
    }
}
