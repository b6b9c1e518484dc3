//! When to retry, and how long to wait (exponential backoff with jitter, `retry-after` honoured).

use std::time::Duration;

use backoff::ExponentialBackoff;
use backoff::backoff::Backoff as _;
use reqwest::StatusCode;

use crate::error::Error;

/// Retry settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// First backoff interval.
    pub initial_interval: Duration,
    /// Longest backoff interval.
    pub max_interval: Duration,
    /// Growth of the interval per attempt.
    pub multiplier: f64,
    /// Jitter: each interval is drawn in `[i·(1-r), i·(1+r)]`.
    pub randomization_factor: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            initial_interval: Duration::from_secs(1),
            max_interval: Duration::from_secs(30),
            multiplier: 2.0,
            randomization_factor: 0.5,
        }
    }
}

/// How safe a request is to repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Safety {
    /// GET, PUT and set-like POSTs: repeat on 429, 5xx and network errors.
    Idempotent,
    /// DELETE: like idempotent; a 404 on a repeat means the first attempt did it.
    Delete,
    /// Creates and actions: repeat only when the request surely was not carried out (429,
    /// connection refused); other failures go back to the caller, which looks the result up.
    Unsafe,
}

/// Whether `error` from an attempt of a request of `safety` may be retried as is.
pub(crate) fn retryable(error: &Error, safety: Safety) -> bool {
    let refused = match error {
        Error::Api(api) => api.status == StatusCode::TOO_MANY_REQUESTS,
        Error::Transport { source, .. } => source.is_connect(),
        _ => false,
    };
    let unknown_outcome = match error {
        Error::Api(api) => {
            api.status.is_server_error() && api.status != StatusCode::NOT_IMPLEMENTED
        }
        Error::Transport { .. } => true,
        _ => false,
    };
    refused || (safety != Safety::Unsafe && unknown_outcome)
}

/// The backoff schedule of one request.
#[derive(Debug)]
pub(crate) struct Schedule {
    backoff: ExponentialBackoff,
    attempts_left: u32,
}

impl Schedule {
    pub(crate) fn new(policy: &RetryPolicy) -> Self {
        let backoff = backoff::ExponentialBackoffBuilder::new()
            .with_initial_interval(policy.initial_interval)
            .with_max_interval(policy.max_interval)
            .with_multiplier(policy.multiplier)
            .with_randomization_factor(policy.randomization_factor)
            .with_max_elapsed_time(None)
            .build();
        Self {
            backoff,
            attempts_left: policy.max_attempts.saturating_sub(1),
        }
    }

    /// The wait before the next attempt, or `None` when attempts are used up. A `retry-after`
    /// longer than the backoff wins.
    pub(crate) fn next_wait(&mut self, retry_after: Option<Duration>) -> Option<Duration> {
        if self.attempts_left == 0 {
            return None;
        }
        self.attempts_left -= 1;
        let wait = self
            .backoff
            .next_backoff()
            .unwrap_or(self.backoff.max_interval);
        Some(retry_after.map_or(wait, |after| after.max(wait)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;

    fn api(status: u16) -> Error {
        Error::from(ApiError {
            method: "GET".into(),
            path: "/v2/droplets".into(),
            status: StatusCode::from_u16(status).unwrap(),
            id: String::new(),
            message: String::new(),
            request_id: None,
            retry_after: None,
        })
    }

    #[test]
    fn creates_are_repeated_only_when_refused() {
        assert!(retryable(&api(429), Safety::Unsafe));
        assert!(!retryable(&api(500), Safety::Unsafe));
        assert!(!retryable(&api(504), Safety::Unsafe));
        assert!(retryable(&api(503), Safety::Idempotent));
        assert!(retryable(&api(500), Safety::Delete));
        assert!(!retryable(&api(501), Safety::Idempotent));
        assert!(!retryable(&api(422), Safety::Idempotent));
    }

    #[test]
    fn schedule_grows_with_jitter_and_honours_retry_after() {
        let policy = RetryPolicy {
            max_attempts: 4,
            initial_interval: Duration::from_millis(100),
            max_interval: Duration::from_millis(250),
            multiplier: 2.0,
            randomization_factor: 0.5,
        };
        let mut schedule = Schedule::new(&policy);
        let first = schedule.next_wait(None).unwrap();
        assert!(
            (Duration::from_millis(50)..=Duration::from_millis(150)).contains(&first),
            "{first:?}"
        );
        assert_eq!(
            schedule.next_wait(Some(Duration::from_secs(7))),
            Some(Duration::from_secs(7))
        );
        let third = schedule.next_wait(None).unwrap();
        assert!(third <= Duration::from_millis(375), "{third:?}");
        assert_eq!(
            schedule.next_wait(None),
            None,
            "four attempts means three waits"
        );
    }
}
