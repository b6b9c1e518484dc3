//! A loopback EVM node for tests and the local sandbox: Ethereum JSON-RPC over HTTP and WebSocket,
//! serving a Rain orderbook (IOrderBookV4) whose trades are scripted or random, with an independent
//! ledger of every fill and faults on demand (dropped and stalled sockets, duplicate notifications,
//! reorgs, rate limits, `eth_getLogs` limits).
//!
//! Embed it with [`ChainSim::start`], or run it as `schwad-sim chain` ([`Args`], [`run`]) and drive it
//! over the HTTP control endpoints under `/control`.

pub mod abi;
mod chain;
mod cli;
mod control;
mod faults;
mod filter;
mod json;
mod ledger;
mod methods;
mod node;
mod random;
mod rpc;
mod server;
mod sim;
mod subscriptions;
mod tokens;
mod trade;
mod ws;

pub use chain::{ReorgError, ReorgReport};
pub use cli::{Args, run};
pub use faults::{Faults, LogLimits, RateLimit, RateLimitStyle};
pub use ledger::{Fill, TokenAmount};
pub use sim::{BASE_ORDERBOOK, ChainSim, Config, StartError};
pub use tokens::{Token, TokenError};
pub use trade::{FillSide, Leg, OrderFill, Trade, TradeError};
