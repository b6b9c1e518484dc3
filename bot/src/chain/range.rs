//! The `eth_getLogs` block range: halved when the node refuses a range as too big or does not answer it
//! in time, doubled back (up to the configured maximum) after a few full pages go through.

/// Full pages read at one size before the range doubles.
const GROW_AFTER: u32 = 4;

/// The current range and what it learned.
#[derive(Debug, Clone)]
pub struct RangeControl {
    max: u64,
    current: u64,
    successes: u32,
}

impl RangeControl {
    /// Starts at `max` blocks (at least one).
    pub fn new(max: u64) -> Self {
        let max = max.max(1);
        Self {
            max,
            current: max,
            successes: 0,
        }
    }

    /// The blocks one request may span now.
    pub fn current(&self) -> u64 {
        self.current
    }

    /// The last block of a page starting at `from`, at most `head`.
    pub fn end(&self, from: u64, head: u64) -> u64 {
        head.min(from.saturating_add(self.current - 1))
    }

    /// `from..=to` was too big; false when it was a single block (nothing smaller to ask).
    pub fn shrink(&mut self, from: u64, to: u64) -> bool {
        let span = to.saturating_sub(from) + 1;
        if span <= 1 {
            return false;
        }
        self.current = (span / 2).max(1);
        self.successes = 0;
        true
    }

    /// `from..=to` was answered; pages of the full current size count towards growing back.
    pub fn succeeded(&mut self, from: u64, to: u64) {
        if to.saturating_sub(from) + 1 < self.current || self.current == self.max {
            return;
        }
        self.successes += 1;
        if self.successes >= GROW_AFTER {
            self.current = self.current.saturating_mul(2).min(self.max);
            self.successes = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrinks_to_half_of_the_refused_span_and_not_below_one_block() {
        let mut range = RangeControl::new(500);
        assert_eq!(range.end(100, 10_000), 599);
        assert!(range.shrink(100, 599));
        assert_eq!(range.current(), 250);
        assert_eq!(range.end(100, 120), 120, "never past the head");
        assert!(range.shrink(100, 101));
        assert_eq!(range.current(), 1);
        assert!(!range.shrink(100, 100));
    }

    #[test]
    fn grows_back_after_full_pages_up_to_the_maximum() {
        let mut range = RangeControl::new(8);
        range.shrink(0, 1);
        for _ in 0..100 {
            let to = range.end(0, u64::MAX);
            range.succeeded(0, to);
        }
        assert_eq!(range.current(), 8);
        range.shrink(0, 7);
        range.succeeded(0, 1); // a short page at the head proves nothing about a larger one
        range.succeeded(0, 1);
        range.succeeded(0, 1);
        range.succeeded(0, 1);
        assert_eq!(range.current(), 4);
    }
}
