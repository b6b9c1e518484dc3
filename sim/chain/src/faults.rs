//! Faults switched on demand: dropped and stalled WebSockets, duplicate and lost notifications, rate limits,
//! `eth_getLogs` limits, and the backends of a load-balanced provider (lagging, erring, slow, late).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

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

/// A load-balanced provider's view: a share of requests is answered by a backend `blocks` behind the head. Its
/// `eth_blockNumber`, blocks, receipts and `eth_getLogs` are those of its own head: a log of a newer block is
/// simply absent from its answers, without an error, as providers behind a load balancer answer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Lagging {
    /// How far the lagging backend is behind.
    pub blocks: u64,
    /// Share of requests it answers, from 0 to 1.
    pub share: f64,
    /// Methods it answers (empty: all).
    #[serde(default)]
    pub methods: Vec<String>,
}

/// Random JSON-RPC errors, as an overloaded backend returns them (e.g. `-32603` "internal error", `-32000`
/// "header not found", `-32005` "project ID request rate exceeded").
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RandomErrors {
    /// Share of requests refused, from 0 to 1.
    pub share: f64,
    /// JSON-RPC error code of each refusal.
    pub code: i64,
    pub message: String,
    /// Methods refused (empty: all).
    #[serde(default)]
    pub methods: Vec<String>,
}

/// Slow and late answers: each `eth_getLogs` takes `get_logs_micros_per_block` per block of its range (a node
/// scanning its log index), and a share `late_share` of all answers is held `late_millis` longer, so later
/// messages (notifications, other answers) overtake it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Latency {
    /// Time per block of an `eth_getLogs` range, in microseconds.
    #[serde(default)]
    pub get_logs_micros_per_block: u64,
    /// Share of answers held back, in thousandths.
    #[serde(default)]
    pub late_per_mille: u32,
    /// How long a late answer is held back.
    #[serde(default)]
    pub late_millis: u64,
}

/// How an `eth_call` fails when told to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallFailure {
    /// Empty output (`0x`): what a backend that does not hold the contract's code yet answers.
    Empty,
    /// `execution reverted` (code 3), a spurious revert.
    Revert,
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
    notification_loss_share: f64,
    rate_limit: RateLimit,
    log_limits: LogLimits,
    lagging: Lagging,
    errors: RandomErrors,
    latency: Latency,
    removal_delay: Duration,
    call_failures: (u32, CallFailure),
    /// Requests received, by method (a provider's dashboard).
    requests: HashMap<String, u64>,
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
                notification_loss_share: 0.0,
                rate_limit: RateLimit::default(),
                log_limits,
                lagging: Lagging::default(),
                errors: RandomErrors::default(),
                latency: Latency::default(),
                removal_delay: Duration::ZERO,
                call_failures: (0, CallFailure::Empty),
                requests: HashMap::new(),
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

    /// Loses each WebSocket notification with probability `share` (0 to 1), as an overloaded provider does.
    pub fn set_notification_loss_share(&self, share: f64) {
        self.settings().notification_loss_share = share;
    }

    /// Answers a share of requests from a lagging backend.
    pub fn set_lagging(&self, lagging: Lagging) {
        self.settings().lagging = lagging;
    }

    /// Refuses a share of requests with a JSON-RPC error.
    pub fn set_random_errors(&self, errors: RandomErrors) {
        self.settings().errors = errors;
    }

    /// Slows `eth_getLogs` down and holds a share of answers back.
    pub fn set_latency(&self, latency: Latency) {
        self.settings().latency = latency;
    }

    /// Notifies a reorg's removed logs `delay` after its new blocks instead of before them, as a provider
    /// whose subscriptions are served by a backend that learns of the reorg later than the one answering
    /// `eth_getLogs` does. Zero (the default) sends them first, as geth does.
    pub fn set_removal_delay(&self, delay: Duration) {
        self.settings().removal_delay = delay;
    }

    /// How late a reorg's removed logs are notified.
    pub(crate) fn removal_delay(&self) -> Duration {
        self.settings().removal_delay
    }

    /// Makes the next `count` `eth_call`s fail as `failure` says.
    pub fn fail_next_calls(&self, count: u32, failure: CallFailure) {
        self.settings().call_failures = (count, failure);
    }

    /// Requests received so far for `method`.
    pub fn requests(&self, method: &str) -> u64 {
        self.settings().requests.get(method).copied().unwrap_or(0)
    }

    /// Requests received so far, by method.
    pub fn request_counts(&self) -> HashMap<String, u64> {
        self.settings().requests.clone()
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

    /// Whether to lose a notification.
    pub(crate) fn lose(&self, rng: &mut fastrand::Rng) -> bool {
        let share = self.settings().notification_loss_share;
        share > 0.0 && rng.f64() < share
    }

    /// Counts a request for `method` and draws the backend that answers it.
    pub(crate) fn backend(&self, method: &str) -> Backend {
        let mut guard = self.settings();
        let settings = &mut *guard;
        *settings.requests.entry(method.to_owned()).or_default() += 1;
        let applies =
            |methods: &[String]| methods.is_empty() || methods.iter().any(|m| m == method);
        let rng = &mut settings.rng;
        let errors = &settings.errors;
        let error = (errors.share > 0.0 && applies(&errors.methods) && rng.f64() < errors.share)
            .then(|| (errors.code, errors.message.clone()));
        let lagging = &settings.lagging;
        let lag = if lagging.share > 0.0 && applies(&lagging.methods) && rng.f64() < lagging.share {
            lagging.blocks
        } else {
            0
        };
        let latency = settings.latency;
        let late = latency.late_per_mille > 0 && rng.u32(..1000) < latency.late_per_mille;
        let call_failure = match &mut settings.call_failures {
            (count, failure) if method == "eth_call" && *count > 0 => {
                *count -= 1;
                Some(*failure)
            }
            _ => None,
        };
        Backend {
            error,
            lag,
            late: late.then(|| Duration::from_millis(latency.late_millis)),
            get_logs_per_block: Duration::from_micros(latency.get_logs_micros_per_block),
            call_failure,
        }
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

/// The backend drawn for one request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Backend {
    /// Refuse with this code and message.
    pub(crate) error: Option<(i64, String)>,
    /// Blocks this backend is behind the head.
    pub(crate) lag: u64,
    /// Hold the answer back this long.
    pub(crate) late: Option<Duration>,
    /// Time an `eth_getLogs` takes per block of its range.
    pub(crate) get_logs_per_block: Duration,
    /// Fail an `eth_call` this way.
    pub(crate) call_failure: Option<CallFailure>,
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
