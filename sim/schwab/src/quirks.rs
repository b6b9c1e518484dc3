//! Lasting deviations of the real API, switched on and off (unlike faults, which are counted):
//! a lagging order list, instruments without a symbol, and a clock that differs from the host's.

use serde::{Deserialize, Serialize};

/// How the simulated API deviates from an ideal one until switched again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quirks {
    /// A new order shows in `GET .../orders` (the lists) only this many milliseconds after it
    /// was entered; `GET .../orders/{id}` shows it at once.
    #[serde(default)]
    pub list_lag_ms: u64,
    /// Orders are shown without `orderLegCollection[].instrument.symbol` (as Schwab does for
    /// some instruments).
    #[serde(default)]
    pub omit_symbols: bool,
    /// Schwab's clock minus the host's, in milliseconds: every time Schwab stamps
    /// (`enteredTime`, executions, the `Date` header) is shifted by it.
    #[serde(default)]
    pub clock_offset_ms: i64,
}
