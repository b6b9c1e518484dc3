//! A loopback simulator of the DigitalOcean API v2.
//!
//! It serves droplets, droplet actions, volumes, volume actions and snapshots, snapshots,
//! firewalls, the container registry, actions, the account, tags and SSH keys with the shapes,
//! status codes and error bodies of the real API (checked against DigitalOcean's OpenAPI spec by
//! `tests/conformance.rs`), plus its pagination, `ratelimit-*` headers and sliding-window limits.
//! Actions stay `in-progress` for a configurable delay, new droplets stay `new` and firewalls
//! `waiting` as long.
//!
//! Steering, from Rust through [`SimHandle`] or over HTTP (outside `/v2`, no token needed):
//! * `GET /_sim/requests` (counts per `"METHOD /template"`, `total`, `mutating`),
//!   `DELETE /_sim/requests` (reset);
//! * `GET|POST|PUT /_sim/faults` with a [`Faults`] body: latency, 429 storms, 500s, lost
//!   responses of successful POSTs (504, 500, cut connection, stall), errored actions;
//! * `GET|PUT /_sim/state` (the whole account as JSON), `POST /_sim/reset`.
//!
//! Drift is made "by hand" through the API itself (PUT a firewall, untag a droplet, detach a
//! volume). The binary is `schwad-sim digitalocean --listen 127.0.0.1:3001 --state FILE
//! --token TOKEN --action-delay 2s`; it prints `{"simulator":"digitalocean","base_url":...}`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = sim_digitalocean::Simulator::start(sim_digitalocean::Config::default()).await?;
//! println!("{} accepts {}", sim.base_url(), sim.token());
//! # Ok(()) }
//! ```

mod app;
pub mod catalog;
mod cli;
mod config;
mod error;
mod faults;
mod handle;
mod middleware;
mod pagination;
mod rate_limit;
mod requests;
mod routes;
mod scopes;
mod state;

pub use cli::{Args, run};
pub use config::{Config, DEFAULT_TOKEN, RateLimitConfig};
pub use error::ApiError;
pub use faults::{Faults, LostResponse};
pub use handle::{SimHandle, Simulator, StartError, StartFromFileError};
pub use pagination::{DEFAULT_PER_PAGE, MAX_PER_PAGE};
pub use requests::RequestCounts;
pub use routes::registry::{PushError, PushedTag, REGISTRY_HOST};
pub use routes::ssh_keys::fingerprint;
pub use state::StateFileError;
