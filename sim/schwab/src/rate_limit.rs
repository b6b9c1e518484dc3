//! Sliding-window request counting, as Schwab's gateway throttles per app.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::time;

/// At most `limit` hits in any `window`.
#[derive(Debug)]
pub(crate) struct SlidingWindow {
    limit: u32,
    window: Duration,
    hits: VecDeque<DateTime<Utc>>,
}

impl SlidingWindow {
    /// A window allowing `limit` hits per `window`.
    pub(crate) fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            hits: VecDeque::new(),
        }
    }

    /// Records a hit, or refuses it with the whole seconds until a slot frees up.
    pub(crate) fn try_hit(&mut self, now: DateTime<Utc>) -> Result<(), u64> {
        while self
            .hits
            .front()
            .is_some_and(|hit| time::after(*hit, self.window) <= now)
        {
            self.hits.pop_front();
        }
        if self.hits.len() < self.limit as usize {
            self.hits.push_back(now);
            return Ok(());
        }
        let frees_at = self
            .hits
            .front()
            .map_or(now, |oldest| time::after(*oldest, self.window));
        let wait_ms = (frees_at - now).num_milliseconds().max(0);
        // Round up: a client that waits the advertised seconds must get through.
        Err(u64::try_from(wait_ms).unwrap_or(0).div_ceil(1000).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_over_the_limit_until_the_window_slides() {
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let mut window = SlidingWindow::new(2, Duration::from_secs(60));
        assert_eq!(window.try_hit(start), Ok(()));
        assert_eq!(
            window.try_hit(time::after(start, Duration::from_secs(10))),
            Ok(())
        );
        assert_eq!(
            window.try_hit(time::after(start, Duration::from_millis(20_500))),
            Err(40)
        );
        assert_eq!(
            window.try_hit(time::after(start, Duration::from_secs(60))),
            Ok(())
        );
    }

    #[test]
    fn zero_limit_refuses_everything() {
        let mut window = SlidingWindow::new(0, Duration::from_secs(60));
        assert!(window.try_hit(Utc::now()).is_err());
    }
}
