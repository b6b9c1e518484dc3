//! schwad: records every fill of a Rain orderbook owner's orders from an EVM chain into SQLite and
//! hedges the net position with whole-share market orders at Charles Schwab.
//!
//! Embedding: [`config::Cli`] parses settings, [`service::run`] runs the service,
//! [`ledger::Ledger`] is the database (the only writer), [`executor::Executor`] drives any
//! [`broker::Broker`] (Schwab or the dry run) exactly once per hedge.

pub mod broker;
pub mod chain;
pub mod commands;
pub mod config;
pub mod executor;
pub mod healthcheck;
pub mod hedge;
pub mod http;
pub mod ledger;
pub mod lock;
pub mod secret;
pub mod service;
pub mod status;
pub mod tls;
pub mod trade;
