//! Integration tests of the chain simulator over real HTTP and WebSocket connections.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod abi;
mod control;
mod faults;
mod ledger;
mod reorg;
mod rpc;
mod subscriptions;
mod support;
