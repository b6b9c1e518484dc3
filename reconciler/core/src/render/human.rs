//! The human view of a plan: Terraform-like symbols (`+ ~ -/+ -`), the steps with their causes, the revert path,
//! what is blocked or unknown, and the summary line. Colours only when asked (on a TTY).

use std::fmt::Write as _;

use crate::identity::LAST_GOOD_TAG;
use crate::plan::{Action, DropletRef, Operation, Plan, SnapshotRef, Taggable, VolumeRef};
use crate::redact::escape_controls as e;

struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

fn symbol(action: Action) -> (&'static str, &'static str) {
    match action {
        Action::Create => ("  +", "32"),
        Action::Update => ("  ~", "33"),
        Action::Replace => ("-/+", "35"),
        Action::Delete => ("  -", "31"),
        Action::NoOp => ("   ", "0"),
    }
}

/// Renders the plan for people; `color` adds ANSI colours.
pub fn human(plan: &Plan, color: bool) -> String {
    let paint = Paint { on: color };
    let mut out = String::new();
    let changes: Vec<_> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .collect();
    if changes.is_empty() && plan.blocked.is_empty() && plan.unknown.is_empty() {
        out.push_str("No changes. The deployment matches the manifest.\n");
    } else if changes.is_empty() && plan.blocked.is_empty() {
        out.push_str(
            "Not converged: part of the deployment could not be observed (see below); no changes to the rest.\n",
        );
    } else {
        out.push_str("Changes:\n");
    }
    for change in &changes {
        let (sym, code) = symbol(change.action);
        let destructive = if change.data_destructive {
            paint.wrap("1;31", "  [data-destructive]")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{} {}{destructive}  ({})",
            paint.wrap(code, sym),
            paint.wrap("1", &e(&change.resource.to_string())),
            e(&change.causes.join("; "))
        );
        for f in &change.fields {
            let line = match (&f.before, &f.after) {
                (None, Some(after)) => format!("      + {}: {}", e(&f.field), e(after)),
                (Some(before), None) => format!("      - {}: {}", e(&f.field), e(before)),
                (Some(before), Some(after)) => {
                    format!("      ~ {}: {} → {}", e(&f.field), e(before), e(after))
                }
                (None, None) => continue,
            };
            out.push_str(&line);
            out.push('\n');
        }
    }
    if !plan.steps.is_empty() {
        out.push_str("\nSteps:\n");
        for (i, step) in plan.steps.iter().enumerate() {
            let _ = writeln!(
                out,
                "  {:>2}. {}  ({})",
                i + 1,
                e(&describe(&step.op)),
                e(&step.cause)
            );
        }
    }
    if !plan.revert.is_empty() {
        out.push_str("\nIf the new container fails its health gate, the reconciler reverts:\n");
        for (i, step) in plan.revert.iter().enumerate() {
            let _ = writeln!(out, "  {:>2}. {}", i + 1, e(&describe(&step.op)));
        }
    }
    if !plan.blocked.is_empty() {
        out.push_str("\nBlocked by a safety guard (apply exits 3 and changes nothing):\n");
        for blocked in &plan.blocked {
            let _ = writeln!(
                out,
                "  {} {}: {}",
                paint.wrap("1;31", "!"),
                e(&blocked.resource.to_string()),
                e(&blocked.reason)
            );
            for step in &blocked.steps {
                let _ = writeln!(out, "      would: {}", e(&describe(&step.op)));
            }
        }
    }
    if !plan.unknown.is_empty() {
        out.push_str("\nNot observed (nothing is created or deleted for these):\n");
        for unknown in &plan.unknown {
            let _ = writeln!(out, "  ? {}: {}", unknown.kind, e(&unknown.reason));
        }
    }
    if !plan.notes.is_empty() {
        out.push_str("\nNotes:\n");
        for note in &plan.notes {
            let _ = writeln!(out, "  - {}", e(note));
        }
    }
    let summary = format!("Plan: {}.", plan.summary());
    let _ = writeln!(out, "\n{}", paint.wrap("1", &summary));
    if !plan.unknown.is_empty() {
        let kinds: Vec<String> = plan
            .unknown_kinds()
            .iter()
            .map(ToString::to_string)
            .collect();
        let _ = writeln!(
            out,
            "{}",
            paint.wrap(
                "1;33",
                &format!("Incomplete: {} not observed.", kinds.join(", "))
            )
        );
    }
    out
}

fn droplet(d: &DropletRef) -> String {
    match d {
        DropletRef::Id(id) => format!("droplet {id}"),
        DropletRef::Planned(name) => format!("droplet {name} (new)"),
    }
}

fn volume(v: &VolumeRef) -> String {
    match v {
        VolumeRef::Id(id) => format!("volume {id}"),
        VolumeRef::Planned(name) => format!("volume {name} (new)"),
    }
}

fn snapshot(s: &SnapshotRef) -> String {
    match s {
        SnapshotRef::Id(id) => format!("snapshot {id}"),
        SnapshotRef::Planned(name) => format!("snapshot {name} (new)"),
    }
}

fn target(t: &Taggable) -> String {
    match t {
        Taggable::Droplet(id) => format!("droplet {id}"),
        Taggable::Volume(id) => format!("volume {id}"),
    }
}

/// One line saying what an operation does.
pub fn describe(op: &Operation) -> String {
    match op {
        Operation::CreateRegistry { name, tier, region } => {
            format!("create registry {name} ({tier}, {region})")
        }
        Operation::SetRegistryTier { tier } => format!("set registry tier to {tier}"),
        Operation::CreateVolume {
            name,
            region,
            size_gib,
            filesystem,
            from_snapshot,
            ..
        } => match from_snapshot {
            None => format!("create volume {name} ({size_gib} GiB {filesystem}, {region})"),
            Some(from) => format!(
                "create volume {name} ({size_gib} GiB, {region}) from {}",
                snapshot(from)
            ),
        },
        Operation::ResizeVolume {
            volume_id,
            size_gib,
            ..
        } => format!("resize volume {volume_id} to {size_gib} GiB"),
        Operation::DeleteVolume { volume_id } => format!("delete volume {volume_id}"),
        Operation::CreateDroplet {
            name,
            size,
            image,
            region,
            volumes,
            ..
        } => {
            let attached: String = volumes
                .iter()
                .map(|v| format!(" with {} attached", volume(v)))
                .collect();
            format!("create droplet {name} ({size}, {image}, {region}){attached}")
        }
        Operation::ShutdownDroplet { droplet_id } => format!("shut down droplet {droplet_id}"),
        Operation::ResizeDroplet { droplet_id, size } => {
            format!("resize droplet {droplet_id} to {size}")
        }
        Operation::PowerOnDroplet { droplet_id } => format!("power on droplet {droplet_id}"),
        Operation::DeleteDroplet { droplet_id } => format!("delete droplet {droplet_id}"),
        Operation::Tag { tag, target: t } => format!("tag {} with {tag}", target(t)),
        Operation::Untag { tag, target: t } => format!("remove tag {tag} from {}", target(t)),
        Operation::AttachVolume {
            volume: v,
            droplet: d,
            ..
        } => format!("attach {} to {}", volume(v), droplet(d)),
        Operation::DetachVolume {
            volume_id,
            droplet_id,
            ..
        } => {
            format!("detach volume {volume_id} from droplet {droplet_id}")
        }
        Operation::StopAppOnDroplet {
            droplet_id,
            container,
            grace_secs,
        } => format!("stop container {container} on droplet {droplet_id} (grace {grace_secs}s)"),
        Operation::UnmountVolume {
            droplet_id,
            mount_path,
        } => format!("unmount {mount_path} on droplet {droplet_id}"),
        Operation::MountVolume {
            droplet_id,
            volume_name,
            mount_path,
        } => format!("mount volume {volume_name} at {mount_path} on droplet {droplet_id}"),
        Operation::CreateFirewall {
            name,
            inbound,
            outbound,
            ..
        } => {
            format!(
                "create firewall {name} ({} inbound, {} outbound rules)",
                inbound.len(),
                outbound.len()
            )
        }
        Operation::UpdateFirewall {
            firewall_id,
            inbound,
            outbound,
            ..
        } => format!(
            "replace firewall {firewall_id} definition ({} inbound, {} outbound rules)",
            inbound.len(),
            outbound.len()
        ),
        Operation::DeleteFirewall { firewall_id } => format!("delete firewall {firewall_id}"),
        Operation::SnapshotVolume {
            volume: v, name, ..
        } => format!("snapshot {} as {name}", volume(v)),
        Operation::DeleteSnapshot { snapshot_id } => format!("delete snapshot {snapshot_id}"),
        Operation::MarkLastGood { snapshot: s, untag } => {
            let from = if untag.is_empty() {
                String::new()
            } else {
                format!(", remove it from snapshot {}", untag.join(", "))
            };
            format!(
                "after the health gate: tag {} with {LAST_GOOD_TAG}{from}",
                snapshot(s)
            )
        }
        Operation::DeleteSnapshotAfterGate { snapshot_id } => {
            format!("after the health gate: delete snapshot {snapshot_id}")
        }
        Operation::EnsureDataDir {
            path,
            uid,
            gid,
            mode,
        } => format!("ensure data directory {path} ({uid}:{gid} mode {mode:o})"),
        Operation::PullImage { reference } => format!("pull image {reference}"),
        Operation::RemoveImage { image_id } => format!("remove image {image_id}"),
        Operation::CreateContainer { name, spec, .. } => {
            format!("create container {name} from {}", spec.image)
        }
        Operation::StartContainer { container } => format!("start container {container}"),
        Operation::StopContainer {
            container,
            grace_secs,
        } => {
            format!("stop container {container} (SIGTERM, {grace_secs}s grace)")
        }
        Operation::RenameContainer { container, to } => {
            format!("rename container {container} to {to}")
        }
        Operation::WaitHealthy { container, gate } => format!(
            "wait until {container} is healthy{}, then stable for {}s",
            gate.http
                .as_ref()
                .map(|u| format!(" ({u})"))
                .unwrap_or_default(),
            gate.stability_ms / 1000
        ),
        Operation::RemoveContainer { container } => format!("remove container {container}"),
    }
}
