//! A client-side sliding-window limit: at most `limit` requests in any `window`.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Waits before a request would exceed the limit (Schwab: 120 requests per minute, and the app's
/// order limit).
#[derive(Debug)]
pub struct RateLimiter {
    limit: usize,
    window: Duration,
    sent: Mutex<VecDeque<Instant>>,
}

impl RateLimiter {
    /// At most `limit` (at least one) requests per `window`.
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit: usize::try_from(limit.max(1)).unwrap_or(usize::MAX),
            window,
            sent: Mutex::new(VecDeque::new()),
        }
    }

    /// Takes a slot, waiting until one frees up.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
                let now = Instant::now();
                while sent.front().is_some_and(|&at| at + self.window <= now) {
                    sent.pop_front();
                }
                match sent.front() {
                    Some(&oldest) if sent.len() >= self.limit => oldest + self.window - now,
                    _ => {
                        sent.push_back(now);
                        return;
                    }
                }
            };
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_request_over_the_limit_waits_for_the_window() {
        let limiter = RateLimiter::new(2, Duration::from_secs(60));
        let start = Instant::now();
        limiter.acquire().await;
        limiter.acquire().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_secs(60));
    }
}
