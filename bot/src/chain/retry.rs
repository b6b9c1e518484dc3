//! Retry delays: exponential from a first delay up to a cap, jittered below the step's delay, so a
//! delay never exceeds the cap.

use std::time::Duration;

/// The delays of successive attempts.
#[derive(Debug, Clone)]
pub struct Retry {
    first: Duration,
    cap: Duration,
    attempts: u32,
}

impl Retry {
    /// Delays from `first`, doubling up to `cap`.
    pub fn new(first: Duration, cap: Duration) -> Self {
        Self {
            first,
            cap: cap.max(first),
            attempts: 0,
        }
    }

    /// The delay before the next attempt: between half and all of `first · 2^attempts`, capped.
    pub fn next_delay(&mut self) -> Duration {
        let step = self
            .first
            .saturating_mul(1 << self.attempts.min(30))
            .min(self.cap);
        self.attempts = self.attempts.saturating_add(1);
        step.mul_f64(0.5 + 0.5 * fastrand::f64())
    }

    /// Delays handed out since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Starts over from the first delay (after a success).
    pub fn reset(&mut self) {
        self.attempts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_and_never_exceed_the_cap() {
        let cap = Duration::from_secs(30);
        let mut retry = Retry::new(Duration::from_millis(250), cap);
        let mut ceiling = Duration::from_millis(250);
        for _ in 0..40 {
            let delay = retry.next_delay();
            assert!(delay <= ceiling.min(cap), "{delay:?} above {ceiling:?}");
            assert!(
                delay >= ceiling.min(cap) / 2,
                "{delay:?} below half of {ceiling:?}"
            );
            ceiling *= 2;
        }
        retry.reset();
        assert!(retry.next_delay() <= Duration::from_millis(250));
    }
}
