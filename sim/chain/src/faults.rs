//! Faults switched on demand: dropped and stalled WebSockets, duplicate notifications, rate limits and
//! `eth_getLogs` limits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// How rate-limited requests are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateLimitStyle {
    /// HTTP status 429 (with a JSON-RPC error body and `Retry-After`); over WebSocket, as `JsonRpc`.
    #[default]
    Http429,
    /// JSON-RPC error `-32005` "limit exceeded" for the refused call.
    JsonRpc,
}

/// Refuse a share of requests, as providers do under load.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RateLimit {
    /// Share of requests refused, from 0 (none) to 1 (all).
    pub share: f64,
    /// How they are refused.
    #[serde(default)]
    pub style: RateLimitStyle,
}

/// Limits on one `eth_getLogs` request, like real providers'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLimits {
    /// Most blocks one request may span (`-32602` "block range is too large" beyond).
    pub max_block_range: Option<u64>,
    /// Most logs one request may return (`-32005` "query returned more than N results" beyond).
    pub max_results: Option<usize>,
}

impl Default for LogLimits {
    /// No block range limit; at most 10,000 results, as Infura and Alchemy.
    fn default() -> Self {
        Self {
            max_block_range: None,
            max_results: Some(10_000),
        }
    }
}

/// The fault switches of one simulator, shared by all its connections.
#[derive(Debug)]
pub struct Faults {
    drops: watch::Sender<u64>,
    /// While a stall lasts: the first connection number it spares (those opened since).
    stalled: watch::Sender<Option<u64>>,
    connections: AtomicU64,
    settings: Mutex<Settings>,
}

#[derive(Debug)]
struct Settings {
    duplicate_share: f64,
    rate_limit: RateLimit,
    log_limits: LogLimits,
    rng: fastrand::Rng,
}

impl Faults {
    /// No faults on; random choices seeded with `seed`.
    pub(crate) fn new(seed: u64, log_limits: LogLimits) -> Self {
        Self {
            drops: watch::Sender::new(0),
            stalled: watch::Sender::new(None),
            connections: AtomicU64::new(0),
            settings: Mutex::new(Settings {
                duplicate_share: 0.0,
                rate_limit: RateLimit::default(),
                log_limits,
                rng: fastrand::Rng::with_seed(seed),
            }),
        }
    }

    /// Closes every open WebSocket connection abruptly (no close frame), as a load balancer restart does.
    pub fn drop_connections(&self) {
        self.drops.send_modify(|generation| *generation += 1);
    }

    /// Keeps the open WebSocket connections open but silent (no notifications, no answers) until
    /// [`Faults::resume`], like a hung load-balancer backend: notifications of the stalled time are lost,
    /// requests wait. Connections opened during the stall work, so replacing a stalled one helps. HTTP is
    /// unaffected.
    pub fn stall(&self) {
        self.stalled
            .send_replace(Some(self.connections.load(Ordering::SeqCst)));
    }

    /// Ends a stall.
    pub fn resume(&self) {
        self.stalled.send_replace(None);
    }

    /// Sends each WebSocket notification twice with probability `share` (0 to 1).
    pub fn set_duplicate_share(&self, share: f64) {
        self.settings().duplicate_share = share;
    }

    /// Refuses a share of requests.
    pub fn set_rate_limit(&self, rate_limit: RateLimit) {
        self.settings().rate_limit = rate_limit;
    }

    /// Sets the limits of `eth_getLogs`.
    pub fn set_log_limits(&self, limits: LogLimits) {
        self.settings().log_limits = limits;
    }

    /// Current limits of `eth_getLogs`.
    pub fn log_limits(&self) -> LogLimits {
        self.settings().log_limits
    }

    /// Watches the drop generation: each change means "close now".
    pub(crate) fn watch_drops(&self) -> watch::Receiver<u64> {
        self.drops.subscribe()
    }

    /// Registers a new connection and watches whether stalls hold it.
    pub(crate) fn watch_stall(&self) -> StallWatch {
        let connection = self.connections.fetch_add(1, Ordering::SeqCst);
        StallWatch {
            connection,
            stalled: self.stalled.subscribe(),
        }
    }

    /// Whether to send a notification twice.
    pub(crate) fn duplicate(&self, rng: &mut fastrand::Rng) -> bool {
        let share = self.settings().duplicate_share;
        share > 0.0 && rng.f64() < share
    }

    /// How to refuse this request, if it is one of the rate-limited share.
    pub(crate) fn rate_limited(&self) -> Option<RateLimitStyle> {
        let mut settings = self.settings();
        let RateLimit { share, style } = settings.rate_limit;
        (share > 0.0 && settings.rng.f64() < share).then_some(style)
    }

    /// A seed for a connection's own random choices.
    pub(crate) fn seed(&self) -> u64 {
        self.settings().rng.u64(..)
    }

    fn settings(&self) -> std::sync::MutexGuard<'_, Settings> {
        self.settings.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One connection's view of the stall switch.
#[derive(Debug)]
pub(crate) struct StallWatch {
    connection: u64,
    stalled: watch::Receiver<Option<u64>>,
}

impl StallWatch {
    /// Whether a stall holds this connection now.
    pub(crate) fn stalled(&mut self) -> bool {
        matches!(*self.stalled.borrow_and_update(), Some(spared) if self.connection < spared)
    }

    /// Waits for the switch to change; an error when the simulator is gone.
    pub(crate) async fn changed(&mut self) -> Result<(), watch::error::RecvError> {
        self.stalled.changed().await
    }
}
