//! Helpers shared by the workspace's tests and benchmarks (a dev-dependency only): the bot's
//! oracle, which the bot's tests and the reconciler's end-to-end tests both check, a `git` driver
//! for the GitOps tests, the infra part of the test manifests, and the figures the benchmarks print.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers fail loudly

pub mod bench;
pub mod git;
pub mod manifest;
pub mod oracle;
