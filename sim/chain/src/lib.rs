//! A loopback EVM node for tests and the local sandbox: Ethereum JSON-RPC over HTTP and WebSocket,
//! serving a Rain orderbook (IOrderBookV4) whose trades are scripted or random, with an independent
//! ledger of every fill and faults on demand.
//!
//! Embed it with [`ChainSim::start`], or run it as `schwad-sim chain` ([`Args`], [`run`]), which prints
//! `{"http":"http://127.0.0.1:8545","ws":"ws://127.0.0.1:8545"}` on one stdout line.
//!
//! # JSON-RPC (`POST /` or WebSocket at `/`)
//! `eth_chainId`, `net_version`, `web3_clientVersion`, `eth_blockNumber`, `eth_getBlockByNumber`,
//! `eth_getBlockByHash`, `eth_getLogs`, `eth_getTransactionReceipt`, `eth_getTransactionByHash`,
//! `eth_call` (ERC-20 `symbol()` and `decimals()` on registered tokens), and over WebSocket
//! `eth_subscribe` / `eth_unsubscribe` for `newHeads` and `logs`. Batches, notifications and JSON-RPC
//! error objects as geth. Log indexes are block-wide.
//!
//! # Control (`/control/...`, JSON; amounts are decimal strings)
//! | request | body | effect |
//! |---|---|---|
//! | `GET status` | | `{head, head_hash, trades_per_block}` |
//! | `GET tokens`, `POST tokens` | `{symbol, decimals}` | list, deploy a token |
//! | `POST transactions` | `{trades: [Trade]}` | queue one transaction, returns `{tx_hash}` |
//! | `POST random-transactions` | `{count}` | queue random transactions, returns `{tx_hashes}` |
//! | `POST mine` | `{blocks}` (optional) | mine, returns `{head}` |
//! | `PUT stream` | `{trades_per_block}` | random transactions in every mined block (0 stops) |
//! | `PUT block-time` | `{millis}` (`null`: manual) | automatic mining interval |
//! | `GET ledger` | | every [`Fill`] |
//! | `POST faults/drop`, `faults/stall`, `faults/resume` | | see [`Faults`] |
//! | `PUT faults/duplicates` | `{share}` | send notifications twice |
//! | `PUT faults/notification-loss` | `{share}` | lose notifications |
//! | `PUT faults/lagging` | [`Lagging`] | answer a share of requests from a backend behind the head |
//! | `PUT faults/errors` | [`RandomErrors`] | refuse a share of requests with a JSON-RPC error |
//! | `PUT faults/latency` | [`Latency`] | slow `eth_getLogs`, late answers |
//! | `PUT faults/removal-delay` | `{millis}` | notify a reorg's removed logs that much after its new blocks |
//! | `POST faults/call-failures` | `{count, failure}` | the next `eth_call`s fail ([`CallFailure`]) |
//! | `GET requests` | | requests received, by method |
//! | `PUT faults/rate-limit` | [`RateLimit`] | refuse requests (429 or `-32005`) |
//! | `PUT faults/log-limits` | [`LogLimits`] | `eth_getLogs` block-range and result limits |
//! | `POST faults/reorg` | `{depth, drop_share, drop}` (`drop`: transaction hashes left out) | replace the last blocks, returns [`ReorgReport`] |
//!
//! A [`Trade`] in JSON: `{"kind":"take","taker":"0x..","order":{"owner":"0x..","nonce":"0x..",
//! "gave":{"token":"0x..","amount":"1500000000000000000"},"received":{...}}}` or
//! `{"kind":"clear","clearer":"0x..","alice":{...},"bob":{...}}`.

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
pub use faults::{
    CallFailure, Faults, Lagging, Latency, LogLimits, RandomErrors, RateLimit, RateLimitStyle,
};
pub use ledger::{Fill, TokenAmount};
pub use sim::{BASE_ORDERBOOK, ChainSim, Config, StartError};
pub use tokens::{Token, TokenError};
pub use trade::{FillSide, Leg, OrderFill, Trade, TradeError};
