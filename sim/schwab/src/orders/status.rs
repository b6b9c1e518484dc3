//! Order statuses and equity instructions as Schwab spells them.

use serde::{Deserialize, Serialize};

/// Every order status of the Trader API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)] // the names are Schwab's own
pub enum OrderStatus {
    AwaitingParentOrder,
    AwaitingCondition,
    AwaitingStopCondition,
    AwaitingManualReview,
    Accepted,
    AwaitingUrOut,
    PendingActivation,
    Queued,
    Working,
    Rejected,
    PendingCancel,
    Canceled,
    PendingReplace,
    Replaced,
    Filled,
    Expired,
    New,
    AwaitingReleaseTime,
    PendingAcknowledgement,
    PendingRecall,
    Unknown,
}

impl OrderStatus {
    /// Whether the order can no longer change.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Filled | Self::Canceled | Self::Rejected | Self::Expired | Self::Replaced
        )
    }

    /// Parses the wire name, e.g. `WORKING`.
    pub(crate) fn from_wire(name: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
    }
}

/// The equity order instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Instruction {
    /// Open or add to a long position.
    Buy,
    /// Reduce a long position.
    Sell,
    /// Open or add to a short position.
    SellShort,
    /// Reduce a short position.
    BuyToCover,
}

impl Instruction {
    /// +1 when the instruction adds shares to the account, -1 when it removes them.
    pub fn sign(self) -> i64 {
        match self {
            Self::Buy | Self::BuyToCover => 1,
            Self::Sell | Self::SellShort => -1,
        }
    }

    /// `OPENING` or `CLOSING`, as shown in `orderLegCollection[].positionEffect`.
    pub(crate) fn position_effect(self) -> &'static str {
        match self {
            Self::Buy | Self::SellShort => "OPENING",
            Self::Sell | Self::BuyToCover => "CLOSING",
        }
    }

    /// Parses the wire name, e.g. `SELL_SHORT`.
    pub(crate) fn from_wire(name: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        assert_eq!(
            OrderStatus::from_wire("PENDING_ACTIVATION"),
            Some(OrderStatus::PendingActivation)
        );
        assert_eq!(OrderStatus::from_wire("working"), None);
        assert_eq!(
            Instruction::from_wire("BUY_TO_COVER"),
            Some(Instruction::BuyToCover)
        );
        assert!(OrderStatus::Rejected.is_terminal() && !OrderStatus::Queued.is_terminal());
    }
}
