//! The endpoints, one module per resource kind, as methods of [`crate::Client`].

mod account;
mod actions;
mod droplets;
mod firewalls;
mod registry;
mod snapshots;
mod ssh_keys;
mod tags;
mod volumes;

use std::time::Duration;

use chrono::{DateTime, Utc};

pub use droplets::CreatedDroplet;

/// Clock difference tolerated between this host and DigitalOcean when a lookup after a lost
/// response decides whether a resource or action is the one just requested.
const CLOCK_SKEW: Duration = Duration::from_secs(120);

/// Whether `time` is late enough to belong to a request sent at `sent_at`.
fn made_since(time: DateTime<Utc>, sent_at: DateTime<Utc>) -> bool {
    let skew = chrono::Duration::from_std(CLOCK_SKEW).unwrap_or_default();
    time >= sent_at - skew
}
