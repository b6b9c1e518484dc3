//! A loopback simulator of the DigitalOcean API v2.
//!
//! It serves droplets, droplet actions, volumes, volume actions and snapshots, snapshots,
//! firewalls, the container registry, actions, the account, tags and SSH keys with the shapes,
//! status codes and error bodies of the real API, plus its pagination, `ratelimit-*` headers and
//! sliding-window limits. Actions stay `in-progress` for a configurable delay. Faults (latency,
//! 429 storms, 500s, lost create responses) are switched through [`SimHandle::set_faults`] or
//! `POST /_sim/faults`; request counts per route are read through [`SimHandle::requests`] or
//! `GET /_sim/requests`.
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
mod state;

pub use cli::{Args, run};
pub use config::{Config, DEFAULT_TOKEN, RateLimitConfig};
pub use error::ApiError;
pub use faults::{Faults, LostResponse};
pub use handle::{SimHandle, Simulator, StartError, StartFromFileError};
pub use pagination::{DEFAULT_PER_PAGE, MAX_PER_PAGE};
pub use requests::RequestCounts;
pub use routes::registry::REGISTRY_HOST;
pub use routes::ssh_keys::fingerprint;
pub use state::StateFileError;
