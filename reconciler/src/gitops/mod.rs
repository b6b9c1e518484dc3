//! The GitOps loop on the droplet: the manifest comes from git, one reconcile at a time under a lock, every
//! reconcile that did something journaled.

pub mod git;
pub mod journal;
pub mod lock;
pub mod reconcile;
pub mod state;
