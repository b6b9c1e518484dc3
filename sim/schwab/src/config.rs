//! Settings of one simulator instance.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// App key used when none is configured.
pub const DEFAULT_APP_KEY: &str = "sim-app-key";
/// App secret used when none is configured.
pub const DEFAULT_APP_SECRET: &str = "sim-app-secret";
/// Registered callback URL used when none is configured.
pub const DEFAULT_CALLBACK_URL: &str = "https://127.0.0.1";

/// Everything that shapes one simulator instance; [`Config::default`] mirrors Schwab's real numbers.
#[derive(Clone)]
pub struct Config {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// The registered app's key (OAuth `client_id`).
    pub app_key: String,
    /// The registered app's secret (OAuth `client_secret`).
    pub app_secret: String,
    /// The registered callback URL; `redirect_uri` must equal it byte for byte.
    pub callback_url: String,
    /// Approve logins without showing the consent page.
    pub auto_approve: bool,
    /// How long an authorization code can be exchanged (Schwab: about 30 s).
    pub code_ttl: Duration,
    /// Access token lifetime (Schwab: 1800 s).
    pub access_token_ttl: Duration,
    /// Refresh token lifetime, counted from the code exchange (Schwab: 7 days).
    pub refresh_token_ttl: Duration,
    /// Plain account numbers of the linked accounts.
    pub accounts: Vec<String>,
    /// Cash each account starts with.
    pub starting_cash: f64,
    /// Whether the equity market starts open.
    pub market_open: bool,
    /// Time from acceptance (or market open) until an order is `WORKING`.
    pub activation_delay: Duration,
    /// Time from `WORKING` until the last fill; fills are spread evenly over it.
    pub fill_delay: Duration,
    /// Execution prices per symbol: an order is split into one fill per price.
    pub prices: BTreeMap<String, Vec<f64>>,
    /// Execution price of symbols missing from `prices`.
    pub default_price: f64,
    /// API requests allowed per rate window (Schwab: 120 per minute).
    pub requests_per_window: u32,
    /// Order placements and cancellations allowed per rate window (the app's "order limit", 0–120).
    pub orders_per_window: u32,
    /// Length of the sliding rate-limit window (Schwab: one minute).
    pub rate_window: Duration,
}

/// Redacts the app secret.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("app_key", &self.app_key)
            .field("app_secret", &"<redacted>")
            .field("callback_url", &self.callback_url)
            .field("auto_approve", &self.auto_approve)
            .field("code_ttl", &self.code_ttl)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .field("accounts", &self.accounts)
            .field("market_open", &self.market_open)
            .field("activation_delay", &self.activation_delay)
            .field("fill_delay", &self.fill_delay)
            .field("prices", &self.prices)
            .field("requests_per_window", &self.requests_per_window)
            .field("orders_per_window", &self.orders_per_window)
            .field("rate_window", &self.rate_window)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            app_key: DEFAULT_APP_KEY.to_owned(),
            app_secret: DEFAULT_APP_SECRET.to_owned(),
            callback_url: DEFAULT_CALLBACK_URL.to_owned(),
            auto_approve: false,
            code_ttl: Duration::from_secs(30),
            access_token_ttl: Duration::from_secs(1800),
            refresh_token_ttl: Duration::from_secs(7 * 24 * 3600),
            accounts: vec!["12345678".to_owned()],
            starting_cash: 100_000.0,
            market_open: true,
            activation_delay: Duration::from_millis(100),
            fill_delay: Duration::from_millis(500),
            prices: BTreeMap::new(),
            default_price: 100.0,
            requests_per_window: 120,
            orders_per_window: 120,
            rate_window: Duration::from_secs(60),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_output_never_shows_the_secret() {
        let config = super::Config {
            app_secret: "hunter2".to_owned(),
            ..Default::default()
        };
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("hunter2") && debug.contains("<redacted>"),
            "{debug}"
        );
    }
}
