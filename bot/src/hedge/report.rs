//! What the executor tells `/health` and `/metrics` after each pass: executions whose order's
//! outcome is unknown for longer than the settle period, symbols blocked by ambiguous orders at
//! the broker or backing off after an error, and broker positions that differ from the ledger.

use rust_decimal::Decimal;
use serde::Serialize;

/// The hedging problems in force.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HedgingReport {
    /// Executions whose order may be at the broker, unknown for longer than the settle period.
    pub unknown_outcomes: Vec<UnknownOutcome>,
    /// Executions for which several broker orders could be the bot's: a person decides.
    pub ambiguous: Vec<AmbiguousOrders>,
    /// Symbols backing off after an error of their execution.
    pub backing_off: Vec<SymbolTrouble>,
    /// Symbols whose broker position differs from what the ledger says was hedged.
    pub mismatches: Vec<PositionMismatch>,
}

/// An execution whose order's outcome is still unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnknownOutcome {
    /// The execution's id, as `schwad resolve --execution` takes it.
    pub execution: i64,
    pub symbol: String,
    /// Seconds since its order was sent.
    pub unknown_for_secs: i64,
}

/// Several broker orders match one execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AmbiguousOrders {
    /// The execution's id, as `schwad resolve --execution` takes it.
    pub execution: i64,
    /// Its symbol (blocked).
    pub symbol: String,
    /// The broker orders that could each be its order.
    pub orders: Vec<i64>,
}

/// A symbol whose execution failed on the broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SymbolTrouble {
    pub symbol: String,
    /// The last error.
    pub reason: String,
    /// Consecutive errors.
    pub errors: u32,
}

/// A broker position that is not what the ledger hedged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PositionMismatch {
    pub symbol: String,
    /// Shares the broker holds (negative when short).
    pub broker: Decimal,
    /// Shares the ledger's executed hedges add up to.
    pub ledger: Decimal,
    /// Broker minus ledger.
    pub difference: Decimal,
}

impl HedgingReport {
    /// The `/health` reasons these problems add.
    pub fn reasons(&self) -> Vec<&'static str> {
        let mut reasons = Vec::new();
        if !self.unknown_outcomes.is_empty() {
            reasons.push("hedge order outcome unknown");
        }
        if !self.ambiguous.is_empty() {
            reasons.push("ambiguous orders at the broker");
        }
        if !self.backing_off.is_empty() {
            reasons.push("hedging backing off");
        }
        if !self.mismatches.is_empty() {
            reasons.push("broker position mismatch");
        }
        reasons
    }
}
