//! Charles Schwab as a [`Broker`]: OAuth tokens ([`tokens`], [`oauth`], [`cipher`]), the HTTP
//! client with rate limits and retries ([`api`]), and Schwab's JSON ([`model`]).

pub mod api;
pub mod cipher;
pub mod envelope;
pub mod model;
pub mod number;
pub mod oauth;
pub mod rate_limit;
pub mod tokens;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use tokio::sync::{Mutex, OnceCell};
use url::Url;

pub use cipher::{CipherError, TokenCipher};
pub use tokens::{LoginError, TokenError};

use self::api::{Api, RetryPolicy};
use self::model::{AccountNumber, Order};
use self::oauth::OAuthClient;
use self::rate_limit::RateLimiter;
use self::tokens::TokenManager;
use super::{Broker, BrokerError, Lookup, OrderId, OrderRequest, OrderState};
use crate::ledger::Ledger;
use crate::secret::Secret;

/// Which linked account trades.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountChoice {
    /// The plain account number.
    Number(String),
    /// Position in `accountNumbers` (0 = first).
    Index(usize),
}

impl AccountChoice {
    /// Up to three digits is an index, anything longer an account number.
    pub fn parse(text: &str) -> Self {
        let text = text.trim();
        match text.parse() {
            Ok(index) if text.len() <= 3 => Self::Index(index),
            _ => Self::Number(text.to_owned()),
        }
    }
}

/// The app registration and where Schwab is.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// `https://api.schwabapi.com` (or a simulator).
    pub base_url: Url,
    /// The App Key (OAuth `client_id`).
    pub app_key: String,
    /// The App Secret (OAuth `client_secret`).
    pub app_secret: Secret,
    /// The registered callback URL, byte for byte.
    pub callback_url: String,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
}

impl AppConfig {
    /// The OAuth client of this app.
    pub fn oauth(&self) -> Result<OAuthClient, BrokerError> {
        Ok(OAuthClient::new(
            self.http()?,
            self.base_url.clone(),
            self.app_key.clone(),
            self.app_secret.clone(),
            self.callback_url.clone(),
        ))
    }

    fn http(&self) -> Result<reqwest::Client, BrokerError> {
        crate::tls::http_client()
            .timeout(self.request_timeout)
            .tcp_nodelay(true)
            .build()
            .map_err(|error| BrokerError::Unavailable(format!("HTTP client: {error}")))
    }
}

/// Everything the Schwab broker needs.
#[derive(Debug, Clone)]
pub struct SchwabConfig {
    pub app: AppConfig,
    /// The trading account.
    pub account: AccountChoice,
    /// Seals the tokens in the database.
    pub encryption_key: Secret,
    /// API requests per minute (Schwab: 120).
    pub requests_per_minute: u32,
    /// Order placements per minute (the app's order limit).
    pub orders_per_minute: u32,
    /// How reads are retried.
    pub retry: RetryPolicy,
    /// Refresh the access token this long before it expires.
    pub refresh_leeway: Duration,
    /// How often a closed market is checked again.
    pub market_recheck: Duration,
}

/// Hedges at Schwab.
#[derive(Debug)]
pub struct SchwabBroker {
    api: Api,
    account: AccountChoice,
    account_hash: OnceCell<String>,
    market: Mutex<MarketCache>,
    market_recheck: TimeDelta,
}

/// The last market-hours answer.
#[derive(Debug, Default)]
struct MarketCache {
    /// Open until then.
    open_until: Option<DateTime<Utc>>,
    /// Closed until at least then (checked again after).
    closed_until: Option<DateTime<Utc>>,
}

impl SchwabBroker {
    /// A broker over the tokens in `ledger`. Fails at once when the stored tokens do not
    /// decrypt with the key.
    pub async fn new(config: SchwabConfig, ledger: Ledger) -> Result<Self, BrokerError> {
        let cipher = TokenCipher::from_hex(&config.encryption_key).map_err(TokenError::from)?;
        let http = config.app.http()?;
        let tokens = TokenManager::new(config.app.oauth()?, ledger, cipher, config.refresh_leeway);
        if !tokens.check_stored().await? {
            tracing::warn!("no broker login stored: run `schwad auth`; orders wait until then");
        }
        let minute = Duration::from_secs(60);
        Ok(Self {
            api: Api::new(
                http,
                config.app.base_url.clone(),
                tokens,
                RateLimiter::new(config.requests_per_minute, minute),
                RateLimiter::new(config.orders_per_minute, minute),
                config.retry,
            ),
            account: config.account,
            account_hash: OnceCell::new(),
            market: Mutex::new(MarketCache::default()),
            market_recheck: TimeDelta::from_std(config.market_recheck).unwrap_or(TimeDelta::MAX),
        })
    }

    /// The chosen account's hash, looked up once.
    async fn account_hash(&self) -> Result<&str, BrokerError> {
        self.account_hash
            .get_or_try_init(|| async {
                let accounts: Vec<AccountNumber> = self
                    .api
                    .get("trader/v1/accounts/accountNumbers", &[])
                    .await?;
                let chosen = match &self.account {
                    AccountChoice::Index(index) => accounts.get(*index),
                    AccountChoice::Number(number) => accounts
                        .iter()
                        .find(|account| &account.account_number == number),
                };
                chosen
                    .map(|account| account.hash_value.clone())
                    .ok_or_else(|| {
                        BrokerError::Refused(format!(
                            "SCHWAB_ACCOUNT {:?} is not among the {} linked accounts",
                            self.account,
                            accounts.len()
                        ))
                    })
            })
            .await
            .map(String::as_str)
    }
}

impl Broker for SchwabBroker {
    fn name(&self) -> &'static str {
        "schwab"
    }

    async fn market_open(&self) -> Result<bool, BrokerError> {
        let mut cache = self.market.lock().await;
        let now = Utc::now();
        if cache.open_until.is_some_and(|until| now < until) {
            return Ok(true);
        }
        if cache.closed_until.is_some_and(|until| now < until) {
            return Ok(false);
        }
        let hours: Value = self
            .api
            .get("marketdata/v1/markets", &[("markets", "equity".to_owned())])
            .await?;
        let open_until = model::equity_open_until(&hours, now);
        *cache = MarketCache {
            open_until,
            closed_until: open_until.is_none().then(|| now + self.market_recheck),
        };
        Ok(open_until.is_some())
    }

    async fn place(&self, order: &OrderRequest) -> Result<OrderId, BrokerError> {
        let hash = self.account_hash().await?;
        let location = self
            .api
            .post_order(
                &format!("trader/v1/accounts/{hash}/orders"),
                &model::order_body(order),
            )
            .await?;
        model::order_id_from_location(&location)
            .map(OrderId)
            .ok_or_else(|| BrokerError::Unavailable(format!("unreadable Location {location:?}")))
    }

    async fn order_state(&self, id: OrderId) -> Result<OrderState, BrokerError> {
        let hash = self.account_hash().await?;
        let order: Order = self
            .api
            .get(&format!("trader/v1/accounts/{hash}/orders/{id}"), &[])
            .await?;
        order
            .state()
            .map_err(|problem| BrokerError::Unavailable(format!("order {id}: {problem}")))
    }

    async fn find_order(
        &self,
        order: &OrderRequest,
        since: DateTime<Utc>,
        known: &HashSet<i64>,
    ) -> Result<Lookup, BrokerError> {
        let hash = self.account_hash().await?;
        // `since` on Schwab's clock, less the measurement's error (`Date` has whole seconds).
        let since = since + self.api.clock_skew() - SKEW_MARGIN;
        let to = Utc::now() + self.api.clock_skew() + TimeDelta::minutes(1);
        let orders: Vec<Order> = self
            .api
            .get(
                &format!("trader/v1/accounts/{hash}/orders"),
                &[
                    (
                        "fromEnteredTime",
                        model::format_time(since - TimeDelta::minutes(1)),
                    ),
                    ("toEnteredTime", model::format_time(to)),
                ],
            )
            .await?;
        let mut found: Vec<OrderId> = orders
            .iter()
            .filter(|candidate| candidate.matches(order, since))
            .filter_map(|candidate| candidate.order_id)
            .filter(|id| !known.contains(id))
            .map(OrderId)
            .collect();
        found.sort_unstable_by_key(|id| id.0);
        found.dedup();
        Ok(match found.as_slice() {
            [] => Lookup::Absent,
            [one] => Lookup::Found(*one),
            _ => Lookup::Ambiguous(found),
        })
    }

    async fn positions(&self) -> Result<Option<BTreeMap<String, Decimal>>, BrokerError> {
        let hash = self.account_hash().await?;
        let account: model::Account = self
            .api
            .get(
                &format!("trader/v1/accounts/{hash}"),
                &[("fields", "positions".to_owned())],
            )
            .await?;
        account
            .net_positions()
            .map(Some)
            .map_err(|problem| BrokerError::Unavailable(format!("positions: {problem}")))
    }
}

/// Error allowed on the measured clock skew: `Date` has whole seconds, plus a round trip.
const SKEW_MARGIN: TimeDelta = TimeDelta::seconds(2);

/// `schwad auth`'s exchange: the code from the pasted redirect URL becomes the stored login.
pub async fn log_in(
    app: &AppConfig,
    encryption_key: &Secret,
    ledger: &Ledger,
    code: &Secret,
) -> Result<i64, LoginError> {
    let cipher = TokenCipher::from_hex(encryption_key).map_err(TokenError::from)?;
    let oauth = app
        .oauth()
        .map_err(|error| LoginError::OAuth(oauth::OAuthError::Unavailable(error.to_string())))?;
    tokens::log_in(&oauth, ledger, &cipher, code).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_numbers_are_indexes_and_long_ones_account_numbers() {
        assert_eq!(AccountChoice::parse("0"), AccountChoice::Index(0));
        assert_eq!(AccountChoice::parse("12"), AccountChoice::Index(12));
        assert_eq!(
            AccountChoice::parse("12345678"),
            AccountChoice::Number("12345678".to_owned())
        );
    }
}
