//! The broker side of hedging: the [`Broker`] trait the executor drives, Charles Schwab's
//! implementation ([`schwab`]) and a dry run ([`dry_run`]) for a first run without credentials.

pub mod dry_run;
pub mod schwab;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::future::Future;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::hedge::BrokerSide;
use crate::trade::Ticker;

/// A whole-share market order for one symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    pub ticker: Ticker,
    /// Buy or sell.
    pub side: BrokerSide,
    /// Whole shares.
    pub shares: u64,
}

/// The broker's id of a placed order (Schwab: an int64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrderId(pub i64);

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a placed order stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderState {
    /// Not terminal yet (queued, working, partially filled).
    Open,
    /// Completely filled.
    Filled {
        /// Quantity-weighted average execution price.
        average_price: Decimal,
    },
    /// Ended without filling completely (canceled, rejected, expired).
    Failed {
        /// The broker's status and reason.
        reason: String,
        /// Shares executed before it ended.
        filled_shares: u64,
    },
    /// Replaced by another order, which can still fill: the execution follows it.
    Replaced {
        /// The replacing order.
        by: OrderId,
    },
}

/// What a search for an order the bot may have placed found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// No order the bot could have placed matches.
    Absent,
    /// Exactly one matches.
    Found(OrderId),
    /// Several match: which one is the bot's cannot be told; a person decides.
    Ambiguous(Vec<OrderId>),
}

/// Why a broker call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// No usable login: the refresh token expired or was never stored.
    #[error("re-authentication needed: run `schwad auth`")]
    ReauthNeeded,
    /// The broker refused the request for good (e.g. an order failing validation).
    #[error("refused by the broker: {0}")]
    Refused(String),
    /// The broker could not be reached or answered with an error worth retrying later; for an
    /// order placement the outcome is unknown.
    #[error("broker unavailable: {0}")]
    Unavailable(String),
    /// An order placement turned away before the broker could act on it (never connected, a
    /// rejected login, a rate limit): nothing was placed, and sending it again later is safe.
    #[error("order not placed: {0}")]
    NotPlaced(String),
    /// The stored tokens could not be read or written.
    #[error(transparent)]
    Tokens(#[from] schwab::TokenError),
}

/// What the executor needs from a broker. Placement is never retried inside an implementation:
/// Schwab has no client order id, so after an unknown outcome the executor looks the order up
/// with [`Broker::find_order`] before placing again.
pub trait Broker: Send + Sync + 'static {
    /// Short name for logs and `/health` (`schwab`, `dry-run`).
    fn name(&self) -> &'static str;

    /// Whether the regular equity session is open now.
    fn market_open(&self) -> impl Future<Output = Result<bool, BrokerError>> + Send;

    /// Places a market order once; `Ok` carries the broker's order id.
    fn place(
        &self,
        order: &OrderRequest,
    ) -> impl Future<Output = Result<OrderId, BrokerError>> + Send;

    /// The current state of a placed order.
    fn order_state(
        &self,
        id: OrderId,
    ) -> impl Future<Output = Result<OrderState, BrokerError>> + Send;

    /// The orders the bot could have placed for `order` (a market day order of the regular
    /// session, single, equity, with its instruction and quantity; its symbol when the broker
    /// shows one) entered since `since` (the host's clock; the broker's skew is allowed for)
    /// whose ids are not in `known`: how a placement with an unknown outcome is recovered.
    fn find_order(
        &self,
        order: &OrderRequest,
        since: DateTime<Utc>,
        known: &HashSet<i64>,
    ) -> impl Future<Output = Result<Lookup, BrokerError>> + Send;

    /// Net shares held per symbol (negative when short), or `None` when the broker holds
    /// nothing real to compare (the dry run).
    fn positions(
        &self,
    ) -> impl Future<Output = Result<Option<BTreeMap<String, Decimal>>, BrokerError>> + Send;
}
