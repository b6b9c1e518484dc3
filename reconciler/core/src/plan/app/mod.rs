//! Planning the app: the data directory, the image and the bot container, with its health-gated replacement and
//! the revert path.
//!
//! Only one bot may run at a time (two would both hedge), so a replacement is: create the new container (image
//! pulled first) → stop the old one → rename old to `<name>-keep-<time>-<hash>` and new to `<name>` → start the new
//! one → wait until it passes the health gate. The old one stays, stopped, for a fast rollback (`keep_previous` of
//! them; older ones are removed). The revert path restores it. Going back to a kept revision restarts its container
//! instead of creating one.

mod diff;
mod images;
mod prerequisites;

use super::builder::{Builder, Change};
use super::model::*;
use crate::identity::{ContainerSpec, labels};
use crate::manifest::DesiredState;
use crate::observed::{ContainerState, ContainerStatus, Health, ObservedApp};
use diff::{Diff, compare, short};
use prerequisites::{before_deploy_snapshot, data_dir, image, secrets};

/// Plans the app scope. `volume` is the block-storage volume when the infra scope was observed too.
pub(super) fn plan(
    b: &mut Builder<'_>,
    d: &DesiredState,
    commit: Option<&str>,
    o: &ObservedApp,
    volume: Option<VolumeRef>,
    stopped_by_infra: bool,
) {
    let name = d.app.container_name.as_str();
    let spec = ContainerSpec::from_app(&d.app);
    let hash = spec.hash();
    let container_id = ResourceId::new(ResourceKind::Container, name);

    let Ok(secrets_fp) = secrets(b, d, o, &container_id) else {
        return;
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
    let history = History::of(name, o);
    let i = Inputs {
        d,
        o,
        spec: &spec,
        hash: &hash,
        secrets_fp: secrets_fp.as_deref(),
        commit,
    };
    let diff = current.map(|c| compare(c, &spec, &hash, i.secrets_fp, o));
    let needs_new = diff.as_ref().is_none_or(|diff| !diff.fields.is_empty());
    let quarantined = o.quarantined.contains(&hash);

    remove_leftovers(b, &history.leftovers);
    // Before any start: a container started on a missing directory (a volume just replaced or re-attached) fails.
    data_dir(b, d, o);
    if needs_new && quarantined {
        b.note(format!(
            "desired revision {hash} failed its health gate before and is quarantined; it is not retried until the \
             manifest changes"
        ));
    }
    match Case::of(current, needs_new, quarantined, o) {
        Case::Restore(failed) => {
            restore(b, name, failed, history.good.map(|k| i.restore_to(k)));
            prune_kept(b, d, &history.kept, history.good);
        }
        Case::Replace(c) => replace(b, &i, c, diff, &history, volume),
        Case::Verify(c) => {
            let gate = i.gate_of(c);
            let revert = revert_steps(
                name,
                &c.id,
                grace_of(c, spec.stop_grace_secs),
                history.good.map(|k| i.restore_to(k)),
            );
            verify(b, name, c, gate, stopped_by_infra, revert, o);
            prune_kept(b, d, &history.kept, None);
        }
        Case::Create => {
            create(b, &i, history.good.map(|k| i.restore_to(k)));
            prune_kept(b, d, &history.kept, None);
        }
    }
    images::prune(b, &spec.image, o, current);
}

/// What becomes of the container under the app's name, in the terms of the plan's causes.
enum Case<'a> {
    /// Nothing runs under the name: create it.
    Create,
    /// What is under the name (if anything) runs a revision known bad and is not being replaced: go back to the last
    /// container that passed its gate (a revert interrupted, or a gate failure not yet reverted).
    Restore(Option<&'a ContainerState>),
    /// It differs from the manifest: replace it, with a new container or by a fast rollback to a kept one.
    Replace(&'a ContainerState),
    /// It matches the manifest: start it or run its gate when its current run has not passed one.
    Verify(&'a ContainerState),
}

impl<'a> Case<'a> {
    fn of(
        current: Option<&'a ContainerState>,
        needs_new: bool,
        quarantined: bool,
        o: &ObservedApp,
    ) -> Self {
        match current {
            Some(c) if (!needs_new || quarantined) && is_bad(c, o) => Self::Restore(Some(c)),
            Some(c) if needs_new && !quarantined => Self::Replace(c),
            Some(c) => Self::Verify(c),
            None if quarantined => Self::Restore(None),
            None => Self::Create,
        }
    }
}

/// The app's other containers: leftovers of interrupted deploys, and the previous revisions kept for a rollback.
struct History<'a> {
    leftovers: Vec<&'a ContainerState>,
    /// Newest first (their names start with the time they were retired).
    kept: Vec<&'a ContainerState>,
    /// The container to go back to: the newest kept one whose last run passed its gate.
    good: Option<&'a ContainerState>,
}

impl<'a> History<'a> {
    fn of(name: &str, o: &'a ObservedApp) -> Self {
        let keep_prefix = keep_prefix(name);
        let (mut kept, leftovers): (Vec<&ContainerState>, Vec<&ContainerState>) = o
            .containers
            .iter()
            .filter(|c| {
                c.name != name && c.labels.get(labels::APP).map(String::as_str) == Some(name)
            })
            .partition(|c| c.name.starts_with(&keep_prefix));
        kept.sort_by(|a, b| b.name.cmp(&a.name));
        let good = kept.iter().copied().find(|k| o.passed_gate(k));
        Self {
            leftovers,
            kept,
            good,
        }
    }
}

fn keep_prefix(name: &str) -> String {
    format!("{name}-keep-")
}

fn remove_leftovers(b: &mut Builder<'_>, leftovers: &[&ContainerState]) {
    for leftover in leftovers {
        let mut c = Change::new(
            ResourceId::new(ResourceKind::Container, &leftover.name),
            Action::Delete,
        );
        let cause = format!(
            "leftover container {} from an interrupted or earlier deploy",
            leftover.name
        );
        c.cause(&cause).step(remove(&leftover.id), cause);
        b.add(c);
    }
}

/// The first container under the name: pull the image if needed, create, start, gate.
fn create(b: &mut Builder<'_>, i: &Inputs<'_>, good: Option<Restore>) {
    let (name, spec) = (i.d.app.container_name.as_str(), i.spec);
    image(b, spec, i.o);
    let labels = spec.labels(name, i.secrets_fp, i.commit);
    let cause = "container does not exist";
    let mut c = Change::new(
        ResourceId::new(ResourceKind::Container, name),
        Action::Create,
    );
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
        .step(wait(name, gate_of(spec)), cause);
    b.add(c);
    b.revert(revert_steps(name, name, spec.stop_grace_secs, good));
}

/// What the container under the name is planned from.
struct Inputs<'a> {
    d: &'a DesiredState,
    o: &'a ObservedApp,
    spec: &'a ContainerSpec,
    hash: &'a str,
    secrets_fp: Option<&'a str>,
    commit: Option<&'a str>,
}

impl Inputs<'_> {
    /// The gate `c` is checked with: its own revision's, or the desired one's when its spec label is unreadable.
    fn gate_of(&self, c: &ContainerState) -> HealthGate {
        stored_spec(c).map_or_else(|| gate_of(self.spec), |s| gate_of(&s))
    }

    /// Going back to kept container `k`.
    fn restore_to(&self, k: &ContainerState) -> Restore {
        Restore {
            id: k.id.clone(),
            name: k.name.clone(),
            gate: self.gate_of(k),
        }
    }
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

/// Replaces `current`, which differs from the manifest: a new container, or a fast rollback to a kept one; then
/// the revisions kept beyond `keep_previous` go.
fn replace(
    b: &mut Builder<'_>,
    i: &Inputs<'_>,
    current: &ContainerState,
    diff: Option<Diff>,
    history: &History<'_>,
    volume: Option<VolumeRef>,
) {
    let (d, o, spec) = (i.d, i.o, i.spec);
    let name = d.app.container_name.as_str();
    // Going back to a kept revision restarts its container, when it still runs the image the reference names now.
    let reuse = history.kept.iter().copied().find(|k| {
        k.labels.get(labels::SPEC_HASH).map(String::as_str) == Some(i.hash)
            && k.labels.get(labels::SECRETS).map(String::as_str) == i.secrets_fp
            && o.image.as_ref().is_some_and(|img| img.id == k.image_id)
    });
    if reuse.is_none() {
        image(b, spec, o);
    }
    let retired = format!(
        "{}{}-{}",
        keep_prefix(name),
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
    let cause = diff.causes.join("; ");
    let snapshot = if diff.image_changed {
        before_deploy_snapshot(b, d, volume)
    } else {
        None
    };
    // What the revert goes back to: the container being replaced when its run passed the gate, else the newest
    // kept one that did.
    let back = if o.passed_gate(current) {
        Some(Restore {
            id: retired.clone(),
            name: retired.clone(),
            gate: i.gate_of(current),
        })
    } else {
        history.good.map(|k| i.restore_to(k))
    };
    let revert = revert_steps(name, name, spec.stop_grace_secs, back);
    let swap = Swap {
        name,
        old: &current.id,
        grace: grace_of(current, spec.stop_grace_secs),
        retired: &retired,
        gate: gate_of(spec),
    };
    match reuse {
        Some(k) => fast_rollback(&mut c, &swap, k, &cause),
        None => new_container(&mut c, &swap, i, &cause),
    }
    // After the gate: keep the newest `keep_previous` stopped revisions, the one just retired first.
    let mut after: Vec<(String, String)> = vec![(retired.clone(), retired.clone())];
    after.extend(
        history
            .kept
            .iter()
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
    let gated = c
        .steps()
        .iter()
        .any(|s| matches!(s.op, Operation::WaitHealthy { .. }));
    if b.add(c)
        && gated
        && let Some(snapshot) = snapshot
    {
        b.set_deploy_snapshot(snapshot);
    }
    b.revert(revert);
}

/// The container under the name being swapped for another: only one bot may run, so the old one stops first.
struct Swap<'a> {
    name: &'a str,
    old: &'a str,
    grace: u64,
    /// The name the old one is kept under.
    retired: &'a str,
    gate: HealthGate,
}

/// Back to kept container `k`, which runs the desired revision: stop and retire the old one, restart `k`.
fn fast_rollback(c: &mut Change, swap: &Swap<'_>, k: &ContainerState, cause: &str) {
    let cause = format!(
        "{cause} (fast rollback: restarting kept container {})",
        k.name
    );
    c.step(stop(swap.old, swap.grace), &cause)
        .step(rename(swap.old, swap.retired), &cause)
        .step(rename(&k.id, swap.name), &cause)
        .step(start(swap.name), &cause)
        .step(wait(swap.name, swap.gate.clone()), &cause);
}

/// A new container: created beside the old one as `<name>-next`, swapped in once the old one stopped.
fn new_container(c: &mut Change, swap: &Swap<'_>, i: &Inputs<'_>, cause: &str) {
    let next = format!("{}-next", swap.name);
    let labels = i.spec.labels(swap.name, i.secrets_fp, i.commit);
    c.step(
        Operation::CreateContainer {
            name: next.clone(),
            spec: Box::new(i.spec.clone()),
            labels,
        },
        cause,
    )
    .step(stop(swap.old, swap.grace), cause)
    .step(rename(swap.old, swap.retired), cause)
    .step(rename(&next, swap.name), cause)
    .step(start(swap.name), cause)
    .step(wait(swap.name, swap.gate.clone()), cause);
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
