//! The schwad reconciler: observes DigitalOcean and the droplet's Docker engine, plans with `reconciler-core`, and
//! converges. The binary in `main.rs` only parses arguments and calls [`cli::run`].

pub mod cli;
pub mod exit;
pub mod gitops;
pub mod ssh;
