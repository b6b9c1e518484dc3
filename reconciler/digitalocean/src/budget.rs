//! The rate-limit budget: reads `ratelimit-*` headers and slows down before the quota runs out.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use tokio::time::Instant;

/// DigitalOcean counts requests over an hour: no wait its headers ask for is longer, so a longer one is capped.
const WINDOW: Duration = Duration::from_secs(3600);

/// How the client spends its quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetPolicy {
    /// Below this many remaining requests, requests are spread evenly until `ratelimit-reset`.
    pub reserve: u32,
    /// Longest pause taken while pacing (a wait for an empty quota is not capped).
    pub max_pause: Duration,
}

impl Default for BudgetPolicy {
    fn default() -> Self {
        Self {
            reserve: 250,
            max_pause: Duration::from_secs(30),
        }
    }
}

/// What the last response said about the quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// `ratelimit-limit`.
    pub limit: u32,
    /// `ratelimit-remaining`.
    pub remaining: u32,
    /// `ratelimit-reset`: when the oldest counted request expires.
    pub reset: SystemTime,
}

impl RateLimit {
    /// Reads the three headers; `None` when any is missing or malformed (a reset past what time can hold, too).
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        Some(Self {
            limit: u32::try_from(number(headers, "ratelimit-limit")?).ok()?,
            remaining: u32::try_from(number(headers, "ratelimit-remaining")?).ok()?,
            reset: UNIX_EPOCH
                .checked_add(Duration::from_secs(number(headers, "ratelimit-reset")?))?,
        })
    }
}

/// A 429's `retry-after` (seconds), capped at the rate-limit window.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    number(headers, RETRY_AFTER.as_str()).map(|seconds| Duration::from_secs(seconds).min(WINDOW))
}

fn number(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// How long to wait before the next request, given the quota seen last (at most the rate-limit window).
pub fn pause(rate: RateLimit, now: SystemTime, policy: BudgetPolicy) -> Duration {
    let until_reset = rate
        .reset
        .duration_since(now)
        .unwrap_or_default()
        .min(WINDOW);
    if rate.remaining == 0 {
        return until_reset;
    }
    if rate.remaining > policy.reserve {
        return Duration::ZERO;
    }
    (until_reset / (rate.remaining + 1)).min(policy.max_pause)
}

/// Shared budget state of one client.
#[derive(Debug)]
pub(crate) struct Budget {
    policy: BudgetPolicy,
    state: Mutex<BudgetState>,
}

#[derive(Debug, Default)]
struct BudgetState {
    last: Option<RateLimit>,
    blocked_until: Option<Instant>,
}

impl Budget {
    pub(crate) fn new(policy: BudgetPolicy) -> Self {
        Self {
            policy,
            state: Mutex::new(BudgetState::default()),
        }
    }

    /// The quota seen last.
    pub(crate) fn last(&self) -> Option<RateLimit> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last
    }

    /// Waits as long as the budget requires before sending a request.
    pub(crate) async fn pace(&self) {
        let wait = {
            let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let blocked = state
                .blocked_until
                .map(|until| until.saturating_duration_since(Instant::now()));
            let paced = state
                .last
                .map(|rate| pause(rate, SystemTime::now(), self.policy));
            blocked.into_iter().chain(paced).max().unwrap_or_default()
        };
        if !wait.is_zero() {
            tracing::debug!(
                ?wait,
                "pacing DigitalOcean requests to stay within the rate limit"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// Records the headers of a response.
    pub(crate) fn observe(&self, headers: &HeaderMap) {
        if let Some(rate) = RateLimit::from_headers(headers) {
            self.state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .last = Some(rate);
        }
    }

    /// Blocks every request for `wait` (after a 429 with `retry-after`), at most the rate-limit window.
    pub(crate) fn block_for(&self, wait: Duration) {
        let until = Instant::now() + wait.min(WINDOW);
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.blocked_until = Some(
            state
                .blocked_until
                .map_or(until, |current| current.max(until)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(remaining: u32, reset_in: u64, now: SystemTime) -> RateLimit {
        RateLimit {
            limit: 5000,
            remaining,
            reset: now + Duration::from_secs(reset_in),
        }
    }

    #[test]
    fn plenty_left_means_no_pause() {
        let now = SystemTime::now();
        assert_eq!(
            pause(rate(4000, 60, now), now, BudgetPolicy::default()),
            Duration::ZERO
        );
    }

    #[test]
    fn low_quota_spreads_the_rest_until_reset() {
        let now = SystemTime::now();
        let policy = BudgetPolicy {
            reserve: 100,
            max_pause: Duration::from_secs(30),
        };
        assert_eq!(pause(rate(9, 60, now), now, policy), Duration::from_secs(6));
        assert_eq!(
            pause(rate(1, 600, now), now, policy),
            Duration::from_secs(30),
            "capped"
        );
    }

    #[test]
    fn empty_quota_waits_for_the_reset() {
        let now = SystemTime::now();
        assert_eq!(
            pause(rate(0, 90, now), now, BudgetPolicy::default()),
            Duration::from_secs(90)
        );
    }

    #[test]
    fn headers_parse() {
        let mut headers = HeaderMap::new();
        headers.insert("ratelimit-limit", "5000".parse().unwrap());
        headers.insert("ratelimit-remaining", "4816".parse().unwrap());
        headers.insert("ratelimit-reset", "1444931833".parse().unwrap());
        let rate = RateLimit::from_headers(&headers).unwrap();
        assert_eq!((rate.limit, rate.remaining), (5000, 4816));
        assert_eq!(rate.reset, UNIX_EPOCH + Duration::from_secs(1_444_931_833));
        headers.remove("ratelimit-reset");
        assert_eq!(RateLimit::from_headers(&headers), None);
    }

    #[test]
    fn a_reset_past_what_time_can_hold_is_malformed() {
        let mut headers = HeaderMap::new();
        headers.insert("ratelimit-limit", "5000".parse().unwrap());
        headers.insert("ratelimit-remaining", "0".parse().unwrap());
        headers.insert("ratelimit-reset", u64::MAX.to_string().parse().unwrap());
        assert_eq!(RateLimit::from_headers(&headers), None);
    }

    #[test]
    fn an_empty_quota_waits_at_most_an_hour() {
        let now = SystemTime::now();
        let ten_years = 10 * 365 * 24 * 3600;
        let wait = pause(rate(0, ten_years, now), now, BudgetPolicy::default());
        assert_eq!(wait, Duration::from_secs(3600));
    }

    #[test]
    fn a_huge_block_saturates_at_an_hour() {
        let budget = Budget::new(BudgetPolicy::default());
        budget.block_for(Duration::MAX);
        let until = budget.state.lock().unwrap().blocked_until.expect("blocked");
        assert!(until <= Instant::now() + Duration::from_secs(3600));
    }
}
