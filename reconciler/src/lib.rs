//! The schwad reconciler: observes DigitalOcean and the droplet's Docker engine, plans with `reconciler-core`, and
//! converges. The binary in `main.rs` only parses arguments and calls [`cli::run`].
//!
//! Embedding the app scope: [`docker::Engine::connect`], [`observe::observe_app`], `reconciler_core::plan::plan`,
//! then [`execute::Executor::apply`]; `reconciler apply` (`cli/apply.rs`) shows the whole sequence with the lock and
//! the quarantine.

pub mod cli;
pub mod converge;
pub mod docker;
pub mod execute;
pub mod exit;
pub mod gitops;
pub mod host;
pub mod load;
pub mod observe;
pub mod preflight;
pub mod ssh;
