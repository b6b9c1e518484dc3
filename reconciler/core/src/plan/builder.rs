//! Collects changes and steps while the planner walks the resources, and applies the data-loss guard.

use chrono::{DateTime, Utc};

use super::PlanOptions;
use super::model::*;

/// Accumulates one plan.
pub(super) struct Builder<'a> {
    plan: Plan,
    options: &'a PlanOptions,
    /// Time of the observation, for snapshot ages and names.
    pub(super) now: DateTime<Utc>,
    /// The snapshot taken for a health-gated deploy of this plan, which becomes the last good one after the gate.
    deploy_snapshot: Option<String>,
}

/// A change under construction: its steps are kept together so a guard can hold them back as one.
pub(super) struct Change {
    resource: ResourceId,
    action: Action,
    fields: Vec<FieldDiff>,
    causes: Vec<String>,
    steps: Vec<Step>,
    destroys_volume: Option<String>,
    /// The volume `destroys_volume`'s data moves to before it goes.
    moved_to: Option<String>,
}

impl Change {
    /// A change of `action` to `resource`.
    pub(super) fn new(resource: ResourceId, action: Action) -> Self {
        Self {
            resource,
            action,
            fields: Vec::new(),
            causes: Vec::new(),
            steps: Vec::new(),
            destroys_volume: None,
            moved_to: None,
        }
    }

    /// Records a field that differs.
    pub(super) fn field(
        &mut self,
        field: &str,
        before: Option<String>,
        after: Option<String>,
    ) -> &mut Self {
        self.fields.push(FieldDiff {
            field: field.to_owned(),
            before,
            after,
        });
        self
    }

    /// Records why.
    pub(super) fn cause(&mut self, cause: impl Into<String>) -> &mut Self {
        let cause = cause.into();
        if !self.causes.contains(&cause) {
            self.causes.push(cause);
        }
        self
    }

    /// Adds a step, its cause being the change's first cause unless given.
    pub(super) fn step(&mut self, op: Operation, cause: impl Into<String>) -> &mut Self {
        self.steps.push(Step {
            resource: self.resource.clone(),
            action: self.action,
            op,
            cause: cause.into(),
        });
        self
    }

    /// Marks the change as destroying the data of `volume`.
    pub(super) fn destroys(&mut self, volume: &str) -> &mut Self {
        self.destroys_volume = Some(volume.to_owned());
        self
    }

    /// Marks the change as deleting `volume` once its data is on `to`: held back like a destruction.
    pub(super) fn moves(&mut self, volume: &str, to: &str) -> &mut Self {
        self.moved_to = Some(to.to_owned());
        self.destroys(volume)
    }

    /// The resource it changes.
    pub(super) fn resource(&self) -> &ResourceId {
        &self.resource
    }

    /// The steps so far.
    pub(super) fn steps(&self) -> &[Step] {
        &self.steps
    }
}

impl<'a> Builder<'a> {
    pub(super) fn new(options: &'a PlanOptions, now: DateTime<Utc>) -> Self {
        Self {
            plan: Plan {
                format_version: PLAN_FORMAT_VERSION,
                changes: Vec::new(),
                steps: Vec::new(),
                revert: Vec::new(),
                blocked: Vec::new(),
                unknown: Vec::new(),
                notes: Vec::new(),
            },
            options,
            now,
            deploy_snapshot: None,
        }
    }

    /// Adds a change; returns whether its steps will run (false when a guard holds it back).
    pub(super) fn add(&mut self, change: Change) -> bool {
        let Change {
            resource,
            action,
            fields,
            causes,
            steps,
            destroys_volume,
            moved_to,
        } = change;
        let mut runs = true;
        if let Some(volume) = &destroys_volume
            && !self.options.allow_data_loss.iter().any(|v| v == volume)
        {
            self.plan.blocked.push(Blocked {
                resource: resource.clone(),
                reason: match &moved_to {
                    None => format!(
                        "data-destructive: destroys the data on volume {volume}; re-run with \
                         --allow-data-loss={volume} (a fresh snapshot is taken first)"
                    ),
                    Some(to) => format!(
                        "deletes volume {volume} once its data is on {to} (made from a fresh snapshot of it); re-run \
                         with --allow-data-loss={volume}"
                    ),
                },
                steps,
            });
            runs = false;
        } else {
            self.plan.steps.extend(steps);
        }
        self.plan.changes.push(ResourceChange {
            resource,
            action,
            fields,
            causes,
            data_destructive: destroys_volume.is_some(),
        });
        runs
    }

    /// Records a resource that matches.
    pub(super) fn no_op(&mut self, resource: ResourceId) {
        self.add(Change::new(resource, Action::NoOp));
    }

    /// Holds back a change for a reason other than data loss (a conflict a person must resolve).
    pub(super) fn conflict(&mut self, resource: ResourceId, reason: impl Into<String>) {
        self.plan.blocked.push(Blocked {
            resource,
            reason: reason.into(),
            steps: Vec::new(),
        });
    }

    /// Records a part of the world that could not be read.
    pub(super) fn unknown(&mut self, kind: ResourceKind, reason: &str) {
        self.plan.unknown.push(Unknown {
            kind,
            reason: reason.to_owned(),
        });
    }

    /// Adds a remark.
    pub(super) fn note(&mut self, note: impl Into<String>) {
        self.plan.notes.push(note.into());
    }

    /// Sets the revert path.
    pub(super) fn revert(&mut self, steps: Vec<Step>) {
        self.plan.revert = steps;
    }

    /// The volume, name and tags of each snapshot the plan takes so far.
    pub(super) fn planned_snapshots(&self) -> impl Iterator<Item = (&VolumeRef, &str, &[String])> {
        self.plan.steps.iter().filter_map(|s| match &s.op {
            Operation::SnapshotVolume { volume, name, tags } => {
                Some((volume, name.as_str(), tags.as_slice()))
            }
            _ => None,
        })
    }

    /// Records `name`, a snapshot planned earlier, as the one taken for the health-gated deploy of this plan.
    pub(super) fn set_deploy_snapshot(&mut self, name: String) {
        self.deploy_snapshot = Some(name);
    }

    /// The snapshot taken for the health-gated deploy of this plan, if any.
    pub(super) fn deploy_snapshot(&self) -> Option<&str> {
        self.deploy_snapshot.as_deref()
    }

    /// The operations planned so far, in order.
    pub(super) fn planned_ops(&self) -> impl Iterator<Item = &Operation> {
        self.plan.steps.iter().map(|s| &s.op)
    }

    /// Images older than the one that runs that are kept (`None`: no image removal is planned).
    pub(super) fn keep_images(&self) -> Option<usize> {
        self.options.keep_images
    }

    pub(super) fn finish(self) -> Plan {
        self.plan
    }
}
