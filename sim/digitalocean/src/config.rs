//! Settings of one simulator instance.

use std::net::SocketAddr;
use std::time::Duration;

/// The token accepted when none is configured.
pub const DEFAULT_TOKEN: &str = "dop_v1_simulator";

/// How a simulator instance behaves.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// The only bearer token accepted.
    pub token: String,
    /// The token's custom scopes (e.g. `droplet:read`); `None` is a full-access token. A route
    /// needing a scope the token lacks answers 403 `forbidden`.
    pub scopes: Option<Vec<String>>,
    /// How long actions stay `in-progress`, droplets stay `new` and firewalls stay `waiting`.
    pub action_delay: Duration,
    /// Sliding-window rate limits.
    pub rate_limit: RateLimitConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: DEFAULT_TOKEN.to_owned(),
            scopes: None,
            action_delay: Duration::from_millis(200),
            rate_limit: RateLimitConfig::default(),
        }
    }
}

/// DigitalOcean's sliding windows: a long one (5,000 per hour), a burst one (250 per minute) and
/// the SSH key list's own (10 per minute).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Requests allowed in `window`; reported as `ratelimit-limit`.
    pub limit: u32,
    /// Length of the long window.
    pub window: Duration,
    /// Requests allowed in `burst_window`; over it, 429 with `retry-after`.
    pub burst_limit: u32,
    /// Length of the burst window.
    pub burst_window: Duration,
    /// `GET /v2/account/keys` allowed per `key_list_window` (DigitalOcean allows 10 per minute).
    pub key_list_limit: u32,
    /// Window of `key_list_limit`.
    pub key_list_window: Duration,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            limit: 5000,
            window: Duration::from_secs(3600),
            burst_limit: 250,
            burst_window: Duration::from_secs(60),
            key_list_limit: 10,
            key_list_window: Duration::from_secs(60),
        }
    }
}
