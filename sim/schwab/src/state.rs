//! The simulator's shared state and the operations both HTTP handlers and [`crate::Handle`] use.

use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::faults::{Fault, Faults};
use crate::ledger::Ledger;
use crate::market::MarketClock;
use crate::oauth::tokens::{Lifetimes, TokenStore};
use crate::orders::{OrderBook, Pricing, Timing};
use crate::quirks::Quirks;
use crate::rate_limit::SlidingWindow;

/// A linked account: its plain number and the hash every per-account endpoint takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountNumber {
    /// The plain account number.
    pub account_number: String,
    /// The encrypted id used in URLs.
    pub hash_value: String,
}

/// A fresh authorization code, as a login + "Allow" would produce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorization {
    /// The decoded code (`C0....@`), ready for the token exchange.
    pub code: String,
    /// The full callback URL the browser would be sent to (code URL-encoded, ending `%40`).
    pub redirect_url: String,
}

/// Everything that changes while the simulator runs.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) tokens: TokenStore,
    pub(crate) orders: OrderBook,
    pub(crate) market: MarketClock,
    pub(crate) faults: Faults,
    pub(crate) requests: SlidingWindow,
    pub(crate) order_requests: SlidingWindow,
    pub(crate) pricing: Pricing,
    pub(crate) quirks: Quirks,
}

/// One simulator instance.
#[derive(Debug)]
pub(crate) struct Sim {
    pub(crate) config: Config,
    pub(crate) base_url: String,
    pub(crate) accounts: Vec<AccountNumber>,
    world: Mutex<World>,
}

impl Sim {
    /// A fresh simulator serving at `base_url`.
    pub(crate) fn new(config: Config, base_url: String) -> Self {
        let accounts = config
            .accounts
            .iter()
            .map(|number| AccountNumber {
                account_number: number.clone(),
                hash_value: random_hash(),
            })
            .collect();
        let world = World {
            tokens: TokenStore::default(),
            orders: OrderBook::new(),
            market: MarketClock {
                open: config.market_open,
                opened_at: Utc::now(),
            },
            faults: Faults::default(),
            requests: SlidingWindow::new(config.requests_per_window, config.rate_window),
            order_requests: SlidingWindow::new(config.orders_per_window, config.rate_window),
            pricing: Pricing {
                prices: config.prices.clone(),
                default_price: config.default_price,
            },
            quirks: Quirks::default(),
        };
        Self {
            config,
            base_url,
            accounts,
            world: Mutex::new(world),
        }
    }

    /// Locks the world; a panic elsewhere never wedges the simulator.
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks the world after applying every order transition due by `now`.
    pub(crate) fn world_at(&self, now: DateTime<Utc>) -> MutexGuard<'_, World> {
        let mut world = self.world();
        let World {
            orders, pricing, ..
        } = &mut *world;
        orders.advance(now, self.timing(), pricing);
        world
    }

    /// Schwab's clock: the host's shifted by the configured offset.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        let offset = self.world().quirks.clock_offset_ms;
        Utc::now() + chrono::TimeDelta::milliseconds(offset)
    }

    /// The lasting deviations in force.
    pub(crate) fn quirks(&self) -> Quirks {
        self.world().quirks
    }

    /// Switches the lasting deviations.
    pub(crate) fn set_quirks(&self, quirks: Quirks) {
        tracing::info!(?quirks, "quirks set");
        self.world().quirks = quirks;
    }

    /// Order stage durations.
    pub(crate) fn timing(&self) -> Timing {
        Timing {
            activation_delay: self.config.activation_delay,
            fill_delay: self.config.fill_delay,
        }
    }

    /// Token lifetimes of this app.
    pub(crate) fn lifetimes(&self) -> Lifetimes<'_> {
        Lifetimes {
            client_id: &self.config.app_key,
            access: self.config.access_token_ttl,
            refresh: self.config.refresh_token_ttl,
        }
    }

    /// The account behind a hash.
    pub(crate) fn account(&self, hash: &str) -> Option<&AccountNumber> {
        self.accounts
            .iter()
            .find(|account| account.hash_value == hash)
    }

    /// Issues a code for the registered callback, as if the user logged in and allowed access.
    pub(crate) fn authorize(&self, state: Option<&str>) -> Authorization {
        let callback = &self.config.callback_url;
        let code = self
            .world()
            .tokens
            .issue_code(callback, Utc::now(), self.config.code_ttl);
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("code", &code)
            .append_pair("session", &uuid::Uuid::new_v4().to_string());
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        let separator = if callback.contains('?') { '&' } else { '?' };
        Authorization {
            redirect_url: format!("{callback}{separator}{}", query.finish()),
            code,
        }
    }

    /// The market switch.
    pub(crate) fn market_clock(&self) -> MarketClock {
        self.world().market
    }

    /// Opens or closes the market; queued orders start executing when it opens.
    pub(crate) fn set_market_open(&self, open: bool) {
        let now = self.now();
        let mut world = self.world_at(now);
        if open && !world.market.open {
            world.market.opened_at = now;
        }
        world.market.open = open;
        world.orders.market_changed(open, now, self.timing());
    }

    /// Sets the execution prices of a symbol (one fill per price).
    pub(crate) fn set_prices(&self, symbol: &str, prices: Vec<f64>) {
        self.world()
            .pricing
            .prices
            .insert(symbol.to_uppercase(), prices);
    }

    /// Arms a fault.
    pub(crate) fn inject(&self, fault: Fault) {
        tracing::info!(?fault, "fault armed");
        self.world().faults.inject(fault);
    }

    /// Disarms every fault.
    pub(crate) fn clear_faults(&self) {
        self.world().faults.clear();
    }

    /// The armed faults.
    pub(crate) fn faults(&self) -> Vec<Fault> {
        self.world().faults.armed()
    }

    /// Expires every access token now; with `refresh`, the refresh token too (forcing a new login).
    pub(crate) fn expire_tokens(&self, refresh: bool) {
        self.world().tokens.expire_all(refresh);
    }

    /// Every order and position.
    pub(crate) fn ledger(&self) -> Ledger {
        Ledger::of(self.world_at(self.now()).orders.orders())
    }
}

/// A 64-character uppercase hex id, like Schwab's account hashes.
fn random_hash() -> String {
    (0..32)
        .map(|_| format!("{:02X}", fastrand::u8(..)))
        .collect()
}
