//! Sliding-window rate limiting with DigitalOcean's `ratelimit-*` headers.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::RateLimitConfig;

/// The limiter of one token: timestamps of the requests still inside each window.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    config: RateLimitConfig,
    window: VecDeque<SystemTime>,
    burst: VecDeque<SystemTime>,
}

/// The verdict on one request and the header values to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// `ratelimit-limit`.
    pub limit: u32,
    /// `ratelimit-remaining`.
    pub remaining: u32,
    /// `ratelimit-reset` (Unix seconds when the oldest counted request expires).
    pub reset: u64,
    /// Why the request is refused, if it is.
    pub refused: Option<Refusal>,
}

/// Why a request is refused with 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The long window is used up (no `retry-after`).
    Exhausted,
    /// The burst window is used up; retry after this many seconds.
    Burst { retry_after_secs: u64 },
}

impl RateLimiter {
    pub(crate) fn new(config: RateLimitConfig) -> Self {
        Self {
            config,
            window: VecDeque::new(),
            burst: VecDeque::new(),
        }
    }

    /// Counts a request made at `now` unless it is refused.
    pub(crate) fn check(&mut self, now: SystemTime) -> Verdict {
        expire(&mut self.window, now, self.config.window);
        expire(&mut self.burst, now, self.config.burst_window);
        let refused = if self.window.len() >= self.config.limit as usize {
            Some(Refusal::Exhausted)
        } else if self.burst.len() >= self.config.burst_limit as usize {
            let oldest = self.burst.front().copied().unwrap_or(now);
            Some(Refusal::Burst {
                retry_after_secs: seconds_until(now, oldest + self.config.burst_window),
            })
        } else {
            self.window.push_back(now);
            self.burst.push_back(now);
            None
        };
        let remaining = self.config.limit.saturating_sub(len_u32(&self.window));
        let reset = self
            .window
            .front()
            .map_or(now, |oldest| *oldest + self.config.window);
        Verdict {
            limit: self.config.limit,
            remaining,
            reset: unix_seconds(reset),
            refused,
        }
    }
}

fn expire(times: &mut VecDeque<SystemTime>, now: SystemTime, length: Duration) {
    while times.front().is_some_and(|t| *t + length <= now) {
        times.pop_front();
    }
}

fn len_u32(times: &VecDeque<SystemTime>) -> u32 {
    u32::try_from(times.len()).unwrap_or(u32::MAX)
}

/// Whole seconds from `now` until `then`, rounded up, at least 1.
fn seconds_until(now: SystemTime, then: SystemTime) -> u64 {
    let wait = then.duration_since(now).unwrap_or_default();
    (wait.as_millis().div_ceil(1000) as u64).max(1)
}

/// Unix seconds, rounded up so that waiting until then always frees a request.
fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis().div_ceil(1000) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(limit: u32, burst_limit: u32) -> RateLimiter {
        RateLimiter::new(RateLimitConfig {
            limit,
            window: Duration::from_secs(3600),
            burst_limit,
            burst_window: Duration::from_secs(60),
        })
    }

    #[test]
    fn remaining_counts_down_and_burst_refuses_with_retry_after() {
        let mut limiter = limiter(10, 2);
        let start = UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(limiter.check(start).remaining, 9);
        assert_eq!(limiter.check(start + Duration::from_secs(10)).remaining, 8);
        let refused = limiter.check(start + Duration::from_secs(20));
        assert_eq!(
            refused.refused,
            Some(Refusal::Burst {
                retry_after_secs: 40
            })
        );
        assert_eq!(refused.remaining, 8);
        assert_eq!(refused.reset, 1_000_000 + 3600);
        assert_eq!(limiter.check(start + Duration::from_secs(61)).refused, None);
    }

    #[test]
    fn exhausted_window_refuses_until_the_oldest_expires() {
        let mut limiter = limiter(2, 100);
        let start = UNIX_EPOCH + Duration::from_secs(1_000_000);
        limiter.check(start);
        limiter.check(start + Duration::from_secs(1));
        let refused = limiter.check(start + Duration::from_secs(2));
        assert_eq!(refused.refused, Some(Refusal::Exhausted));
        assert_eq!(refused.remaining, 0);
        let later = limiter.check(start + Duration::from_secs(3600));
        assert_eq!(later.refused, None);
        assert_eq!(later.remaining, 0);
    }
}
