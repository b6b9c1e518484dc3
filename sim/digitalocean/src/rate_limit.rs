//! Sliding-window rate limiting with DigitalOcean's `ratelimit-*` headers.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::RateLimitConfig;

/// One sliding window: each request counts for `length` from when it was made.
#[derive(Debug)]
pub(crate) struct Window {
    limit: u32,
    length: Duration,
    times: VecDeque<SystemTime>,
}

impl Window {
    pub(crate) fn new(limit: u32, length: Duration) -> Self {
        Self {
            limit,
            length,
            times: VecDeque::new(),
        }
    }

    fn expire(&mut self, now: SystemTime) {
        while self.times.front().is_some_and(|t| *t + self.length <= now) {
            self.times.pop_front();
        }
    }

    fn full(&self) -> bool {
        self.times.len() >= self.limit as usize
    }

    fn remaining(&self) -> u32 {
        self.limit
            .saturating_sub(u32::try_from(self.times.len()).unwrap_or(u32::MAX))
    }

    /// When the oldest counted request expires (`now` when none is counted).
    fn reset(&self, now: SystemTime) -> SystemTime {
        self.times
            .front()
            .map_or(now, |oldest| *oldest + self.length)
    }

    /// Counts a request at `now`; when the window is full, the seconds to wait instead.
    pub(crate) fn take(&mut self, now: SystemTime) -> Result<(), u64> {
        self.expire(now);
        if self.full() {
            return Err(seconds_until(now, self.reset(now)));
        }
        self.times.push_back(now);
        Ok(())
    }
}

/// The limiter of one token: the long window and the burst window.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    window: Window,
    burst: Window,
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
            window: Window::new(config.limit, config.window),
            burst: Window::new(config.burst_limit, config.burst_window),
        }
    }

    /// Counts a request made at `now` unless it is refused.
    pub(crate) fn check(&mut self, now: SystemTime) -> Verdict {
        self.window.expire(now);
        self.burst.expire(now);
        let refused = if self.window.full() {
            Some(Refusal::Exhausted)
        } else if let Err(retry_after_secs) = self.burst.take(now) {
            Some(Refusal::Burst { retry_after_secs })
        } else {
            self.window.times.push_back(now);
            None
        };
        Verdict {
            refused,
            ..self.peek(now)
        }
    }

    /// The header values at `now`, counting nothing (for unauthenticated requests).
    pub(crate) fn peek(&mut self, now: SystemTime) -> Verdict {
        self.window.expire(now);
        Verdict {
            limit: self.window.limit,
            remaining: self.window.remaining(),
            reset: unix_seconds(self.window.reset(now)),
            refused: None,
        }
    }
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
            ..RateLimitConfig::default()
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

    #[test]
    fn peek_counts_nothing() {
        let mut limiter = limiter(5, 5);
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        limiter.check(now);
        assert_eq!(limiter.peek(now).remaining, 4);
        assert_eq!(limiter.peek(now).remaining, 4);
    }

    #[test]
    fn window_take_reports_the_wait() {
        let mut window = Window::new(1, Duration::from_secs(60));
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(window.take(now), Ok(()));
        assert_eq!(window.take(now + Duration::from_millis(30_500)), Err(30));
        assert_eq!(window.take(now + Duration::from_secs(60)), Ok(()));
    }
}
