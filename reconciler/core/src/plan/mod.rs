//! The planner: a pure function of (desired, observed) → [`Plan`]. No I/O, no clock (time comes from the
//! observation), no randomness.

mod app;
mod builder;
mod firewall_rules;
mod infra;
mod model;
mod snapshots;

pub use model::*;
pub use snapshots::{Prune, prune_snapshots};

use crate::manifest::DesiredState;
use crate::observed::ObservedState;

/// The desired state with what the manifest only references.
#[derive(Debug, Clone, Copy)]
pub struct Desired<'a> {
    /// The validated manifest.
    pub manifest: &'a DesiredState,
    /// The rendered cloud-init user_data, when the manifest names a template.
    pub user_data: Option<&'a str>,
    /// The manifest's git commit, recorded on the container (not part of its identity).
    pub commit: Option<&'a str>,
}

/// Choices of the person running the plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Volumes whose data may be destroyed (`--allow-data-loss=<volume>`).
    pub allow_data_loss: Vec<String>,
    /// Images of the app's repository older than the one that runs that are kept for a rollback
    /// (`--keep-images`); `None` plans no image removal.
    pub keep_images: Option<usize>,
}

/// Plans the steps that take `observed` to `desired`.
pub fn plan(desired: &Desired<'_>, observed: &ObservedState, options: &PlanOptions) -> Plan {
    let mut b = builder::Builder::new(options, observed.observed_at);
    let d = desired.manifest;
    let infra = observed
        .infra
        .as_ref()
        .map(|infra| infra::plan(&mut b, d, desired.user_data, infra));
    if let Some(app) = &observed.app {
        app::plan(
            &mut b,
            d,
            desired.commit,
            app,
            infra.as_ref().and_then(|i| i.volume.reference()),
            infra.as_ref().is_some_and(|i| i.app_stopped),
        );
    } else if infra.is_some() {
        b.note("app scope not observed: the container is not planned");
        if infra.as_ref().is_some_and(|i| i.app_stopped) {
            b.note(
                "the app container stays stopped until the app scope converges (the droplet's periodic reconcile)",
            );
        }
    }
    if let (Some(observed), Some(infra)) = (&observed.infra, &infra) {
        snapshots::plan(&mut b, d, observed, &infra.volume);
    }
    b.finish()
}
