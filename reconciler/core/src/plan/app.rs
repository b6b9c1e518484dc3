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
use crate::identity::{ContainerSpec, MANAGED_TAG, deployment_tag, env_value_fingerprint, labels};
use crate::manifest::{DesiredState, Protocol};
use crate::observed::{
    ContainerRuntime, ContainerState, ContainerStatus, Health, ObservedApp, published_port,
};

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
    let quarantined = o.quarantined.contains(&hash);
    // The container to go back to: the newest kept one whose last run passed its gate.
    let good = kept.iter().copied().find(|k| o.passed_gate(k));

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
    if needs_new && quarantined {
        b.note(format!(
            "desired revision {hash} failed its health gate before and is quarantined; it is not retried until the \
             manifest changes"
        ));
    }
    let fallback = gate_of(&spec);
    let restore_to = |k: &ContainerState| Restore {
        id: k.id.clone(),
        name: k.name.clone(),
        gate: stored_spec(k).map_or_else(|| fallback.clone(), |s| gate_of(&s)),
    };
    match current {
        // A revision known bad (it failed its gate, and has not passed one since) under the name, which is not being
        // replaced: go back to the last good container (a revert interrupted, or a gate failure not yet reverted).
        Some(c) if (!needs_new || quarantined) && is_bad(c, o) => {
            restore(b, name, Some(c), good.map(restore_to));
            return prune_kept(b, d, &kept, good);
        }
        Some(c) if needs_new && !quarantined => {
            let inputs = Inputs {
                d,
                o,
                spec: &spec,
                hash: &hash,
                secrets_fp: secrets_fp.as_deref(),
                commit,
            };
            return replace(b, &inputs, c, diff, &kept, good, volume);
        }
        Some(c) => {
            let gate = stored_spec(c).map_or_else(|| fallback.clone(), |s| gate_of(&s));
            let revert = revert_steps(
                name,
                &c.id,
                grace_of(c, spec.stop_grace_secs),
                good.map(restore_to),
            );
            verify(b, name, c, gate, stopped_by_infra, revert, o);
        }
        None if quarantined => {
            restore(b, name, None, good.map(restore_to));
            return prune_kept(b, d, &kept, good);
        }
        None => {
            image(b, &spec, o);
            let labels = spec.labels(name, secrets_fp.as_deref(), commit);
            let cause = "container does not exist";
            let mut c = Change::new(container_id, Action::Create);
            c.field("image", None, Some(spec.image.clone()))
                .field("user", None, Some(spec.user.clone()))
                .field("restart", None, Some(spec.restart.to_string()))
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
                .step(wait(name, fallback.clone()), cause);
            let revert = revert_steps(name, name, spec.stop_grace_secs, good.map(restore_to));
            b.add(c);
            b.revert(revert);
        }
    }
    prune_kept(b, d, &kept, None);
}

/// What a replacement is planned from.
struct Inputs<'a> {
    d: &'a DesiredState,
    o: &'a ObservedApp,
    spec: &'a ContainerSpec,
    hash: &'a str,
    secrets_fp: Option<&'a str>,
    commit: Option<&'a str>,
}

/// Whether `c` runs (or ran) a quarantined revision and has not passed its gate since.
fn is_bad(c: &ContainerState, o: &ObservedApp) -> bool {
    !o.passed_gate(c)
        && c.labels
            .get(labels::SPEC_HASH)
            .is_some_and(|h| o.quarantined.contains(h))
}

/// A kept container to restore, with the gate of its own revision.
struct Restore {
    id: String,
    name: String,
    gate: HealthGate,
}

/// Makes sure `c`, which matches what should run, runs and has passed its gate since it last started: a start and a
/// gate, or only the gate (a run that was never verified: a deploy killed during its gate, a restart, an upgrade).
fn verify(
    b: &mut Builder<'_>,
    name: &str,
    c: &ContainerState,
    gate: HealthGate,
    stopped_by_infra: bool,
    revert: Vec<Step>,
    o: &ObservedApp,
) {
    let id = ResourceId::new(ResourceKind::Container, name);
    let passed = o.passed_gate(c);
    let cause = if stopped_by_infra && c.is_running() {
        "the infra steps stop the container to release its volume".to_owned()
    } else if !c.is_running() && passed {
        format!(
            "drift: container is {} (stopped outside the manifest)",
            c.state
        )
    } else if !c.is_running() {
        format!(
            "container is {} and has not passed its health gate since it was created or last started",
            c.state
        )
    } else if !passed {
        "the container's current run has not passed its health gate (a deploy interrupted during the gate, a \
         restart, or no verdict recorded)"
            .to_owned()
    } else {
        if c.health == Some(Health::Unhealthy) || c.state == ContainerStatus::Restarting {
            b.note(format!(
                "container {name} matches the manifest but is {} (restarts: {}); see its logs",
                c.health.map_or(c.state.as_str(), Health::as_str),
                c.restart_count
            ));
        }
        return b.no_op(id);
    };
    let mut change = Change::new(id, Action::Update);
    if !c.is_running() || stopped_by_infra {
        change
            .field(
                "state",
                Some(c.state.to_string()),
                Some(ContainerStatus::Running.to_string()),
            )
            .cause(&cause)
            .step(start(&c.id), &cause);
    } else {
        change
            .field(
                "health_gate",
                Some("not passed".to_owned()),
                Some("passed".to_owned()),
            )
            .cause(&cause);
    }
    change.step(wait(&c.id, gate), &cause);
    b.add(change);
    b.revert(revert);
}

/// Goes back from `failed` (which failed its gate, or runs a quarantined revision) to the kept container `good`:
/// stop and remove the failed one, rename the good one to `name`, start it and check it with its own gate. Without
/// a good container the failed one is stopped and the plan says, loudly, that nothing runs.
fn restore(
    b: &mut Builder<'_>,
    name: &str,
    failed: Option<&ContainerState>,
    good: Option<Restore>,
) {
    let id = ResourceId::new(ResourceKind::Container, name);
    let Some(good) = good else {
        b.note(format!(
            "NOTHING RUNS: {name} runs a revision that failed its health gate and no earlier container passed one; \
             fix the manifest"
        ));
        match failed {
            Some(f) if f.is_running() => {
                let cause = "its revision failed its health gate and nothing earlier passed one";
                let mut c = Change::new(id, Action::Update);
                c.field(
                    "state",
                    Some(f.state.to_string()),
                    Some(ContainerStatus::Exited.to_string()),
                )
                .cause(cause)
                .step(stop(&f.id, grace_of(f, 10)), cause);
                b.add(c);
            }
            _ => b.no_op(id),
        }
        return;
    };
    let cause = format!(
        "restores {} (the last container that passed its health gate): {}",
        good.name,
        match failed {
            Some(_) => "the one under the name failed its gate",
            None => "no container runs under the name",
        }
    );
    let mut c = Change::new(id, Action::Replace);
    c.cause(&cause);
    if let Some(f) = failed {
        c.field("container", Some(f.name.clone()), Some(good.name.clone()))
            .step(stop(&f.id, grace_of(f, 10)), &cause)
            .step(remove(&f.id), &cause);
    }
    c.step(rename(&good.id, name), &cause)
        .step(start(name), &cause)
        .step(wait(name, good.gate), &cause);
    b.add(c);
}

/// The revert shown with a plan that starts `failed` (by name or id): what the executor plans again, from what it
/// then observes, when the gate fails.
fn revert_steps(name: &str, failed: &str, grace: u64, good: Option<Restore>) -> Vec<Step> {
    let resource = ResourceId::new(ResourceKind::Container, name);
    let why = "the new container failed its health gate";
    let step = |op| Step {
        resource: resource.clone(),
        action: Action::Replace,
        op,
        cause: why.to_owned(),
    };
    let mut out = vec![step(stop(failed, grace))];
    if let Some(good) = good {
        out.push(step(remove(failed)));
        out.push(step(rename(&good.id, name)));
        out.push(step(start(name)));
        out.push(step(wait(name, good.gate)));
    }
    out
}

fn replace(
    b: &mut Builder<'_>,
    i: &Inputs<'_>,
    current: &ContainerState,
    diff: Option<Diff>,
    kept: &[&ContainerState],
    good: Option<&ContainerState>,
    volume: Option<VolumeRef>,
) {
    let (d, o, spec) = (i.d, i.o, i.spec);
    let name = d.app.container_name.as_str();
    let keep_prefix = format!("{name}-keep-");
    // Going back to a kept revision restarts its container, when it still runs the image the reference names now.
    let reuse = kept.iter().copied().find(|k| {
        k.labels.get(labels::SPEC_HASH).map(String::as_str) == Some(i.hash)
            && k.labels.get(labels::SECRETS).map(String::as_str) == i.secrets_fp
            && o.image.as_ref().is_some_and(|img| img.id == k.image_id)
    });
    if reuse.is_none() {
        image(b, spec, o);
    }
    let gate = gate_of(spec);
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
    let mut c = Change::new(
        ResourceId::new(ResourceKind::Container, name),
        Action::Replace,
    );
    let diff = diff.unwrap_or(Diff {
        fields: Vec::new(),
        causes: Vec::new(),
        image_changed: false,
    });
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
    // What the revert goes back to: the container being replaced when its run passed the gate, else the newest
    // kept one that did.
    let back = if o.passed_gate(current) {
        Some(Restore {
            id: retired.clone(),
            name: retired.clone(),
            gate: stored_spec(current).map_or_else(|| gate.clone(), |s| gate_of(&s)),
        })
    } else {
        good.map(|k| Restore {
            id: k.id.clone(),
            name: k.name.clone(),
            gate: stored_spec(k).map_or_else(|| gate.clone(), |s| gate_of(&s)),
        })
    };
    let revert = revert_steps(name, name, spec.stop_grace_secs, back);
    match reuse {
        Some(k) => {
            cause = format!(
                "{cause} (fast rollback: restarting kept container {})",
                k.name
            );
            c.step(stop(&old, grace_of(current, spec.stop_grace_secs)), &cause)
                .step(rename(&old, &retired), &cause)
                .step(rename(&k.id, name), &cause)
                .step(start(name), &cause)
                .step(wait(name, gate), &cause);
        }
        None => {
            let labels = spec.labels(name, i.secrets_fp, i.commit);
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
            .step(wait(name, gate), &cause);
        }
    }
    // After the gate: keep the newest `keep_previous` stopped revisions, the one just retired first.
    let mut after: Vec<(String, String)> = vec![(retired.clone(), retired.clone())];
    after.extend(
        kept.iter()
            .filter(|k| reuse.is_none_or(|r| r.id != k.id))
            .map(|k| (k.id.clone(), k.name.clone())),
    );
    for (id, kept_name) in after.iter().skip(keep_previous(d)) {
        c.step(
            remove(id),
            format!(
                "keeps the newest {} previous containers; {kept_name} is older",
                keep_previous(d)
            ),
        );
    }
    b.add(c);
    b.revert(revert);
}

/// Kept containers beyond `keep_previous` (when no replacement retires another one).
fn prune_kept(
    b: &mut Builder<'_>,
    d: &DesiredState,
    kept: &[&ContainerState],
    restored: Option<&ContainerState>,
) {
    let left = kept
        .iter()
        .filter(|k| restored.is_none_or(|r| r.id != k.id));
    for k in left.skip(keep_previous(d)) {
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
    if let Some(runtime) = &c.runtime {
        for (field, before, after) in runtime_drift(runtime, spec) {
            diff.causes.push(format!(
                "drift: {field} is {before}, the manifest says {after} (changed outside the manifest)"
            ));
            diff.fields.push(FieldDiff {
                field: format!("runtime.{field}"),
                before: Some(before),
                after: Some(after),
            });
        }
    }
    diff
}

/// Where what the container runs with differs from what `spec` creates, as `(field, observed, desired)`. Variables
/// the image sets are not compared; a value shows only as changed, never itself.
fn runtime_drift(r: &ContainerRuntime, spec: &ContainerSpec) -> Vec<(String, String, String)> {
    let h = &spec.hardening;
    let mut cap_drop = h.cap_drop.clone();
    cap_drop.sort();
    let security_opt: Vec<String> = if h.no_new_privileges {
        vec!["no-new-privileges:true".to_owned()]
    } else {
        Vec::new()
    };
    let mounts = vec![format!(
        "{}:{}:rw",
        spec.mount_host_path, spec.mount_container_path
    )];
    let mut ports: Vec<String> = spec
        .ports
        .iter()
        .map(|p| {
            published_port(
                p.host_ip.as_deref(),
                &p.host.to_string(),
                &format!("{}/{}", p.container, protocol(p.protocol)),
            )
        })
        .collect();
    ports.sort();
    let log = vec![
        "driver=json-file".to_owned(),
        format!("max-file={}", spec.log_max_files),
        format!("max-size={}", spec.log_max_size),
    ];
    let list = |v: &[String]| format!("[{}]", v.join(", "));
    let mut out = Vec::new();
    let mut check = |field: &str, before: String, after: String| {
        if before != after {
            out.push((field.to_owned(), before, after));
        }
    };
    check("user", r.user.clone(), spec.user.clone());
    check(
        "read_only_root_fs",
        r.read_only_root_fs.to_string(),
        h.read_only_root_fs.to_string(),
    );
    check("cap_drop", list(&r.cap_drop), list(&cap_drop));
    check("cap_add", list(&r.cap_add), list(&[]));
    check("privileged", r.privileged.to_string(), false.to_string());
    check("security_opt", list(&r.security_opt), list(&security_opt));
    check("restart", r.restart.to_string(), spec.restart.to_string());
    check("mounts", list(&r.mounts), list(&mounts));
    check("ports", list(&r.ports), list(&ports));
    check("log", list(&r.log), list(&log));
    for (key, value) in &spec.env {
        match r.env.get(key) {
            None => check(
                &format!("env.{key}"),
                "(unset)".to_owned(),
                "(set)".to_owned(),
            ),
            Some(fp) if *fp != env_value_fingerprint(value) => {
                check(
                    &format!("env.{key}"),
                    "(other value)".to_owned(),
                    "(manifest value)".to_owned(),
                );
            }
            Some(_) => {}
        }
    }
    for key in &spec.secret_names {
        if !r.env.contains_key(key) {
            check(
                &format!("env.{key}"),
                "(unset)".to_owned(),
                "(sensitive)".to_owned(),
            );
        }
    }
    out
}

fn protocol(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Icmp => "icmp",
    }
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

/// The health gate of a revision, from its spec (so an old container is checked with its own gate).
fn gate_of(spec: &ContainerSpec) -> HealthGate {
    let t = &spec.health_timing;
    HealthGate {
        http: spec.health_http.clone(),
        deadline_ms: t.start_period_ms
            + (u64::from(t.retries) + 1) * (t.interval_ms + t.timeout_ms),
        interval_ms: t.interval_ms,
        timeout_ms: t.timeout_ms,
        stability_ms: spec.stability_window_ms,
    }
}

/// The spec a managed container was created from, read from its label.
fn stored_spec(c: &ContainerState) -> Option<ContainerSpec> {
    c.labels
        .get(labels::SPEC)
        .and_then(|json| serde_json::from_str(json).ok())
}

fn owner(user: &str) -> (u32, u32) {
    let (u, g) = user.split_once(':').unwrap_or((user, user));
    (u.parse().unwrap_or(0), g.parse().unwrap_or(0))
}

fn grace_of(c: &ContainerState, default: u64) -> u64 {
    stored_spec(c).map_or(default, |s| s.stop_grace_secs)
}

fn remove(container: &str) -> Operation {
    Operation::RemoveContainer {
        container: container.to_owned(),
    }
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
