//! Pure hedging decisions: a symbol's net position becomes a whole-share broker order.
//!
//! The threshold is on the onchain net = bought − sold (never on one side's bucket): the broker
//! position must offset its whole part, truncated toward zero. When the shares hedged so far differ
//! from that by at least one share, the difference is ordered; the fractional rest carries over
//! with the net's sign. Targeting the whole part (rather than re-hedging the unhedged remainder)
//! keeps the broker from overshooting when the net crosses zero.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::trade::{Shares, Ticker};

/// Side of a broker order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerSide {
    /// Buy shares at the broker.
    Buy,
    /// Sell shares at the broker.
    Sell,
}

impl BrokerSide {
    /// Stable name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buy => "buy",
            Self::Sell => "sell",
        }
    }

    /// The order's effect on the unhedged net: selling at the broker offsets shares bought onchain.
    pub fn offset(self, shares: u64) -> Shares {
        let shares = Shares::new(Decimal::from(shares));
        match self {
            Self::Sell => shares,
            Self::Buy => -shares,
        }
    }
}

/// One symbol's position: shares bought and sold onchain and already hedged at the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The brokerage ticker.
    pub ticker: Ticker,
    /// Shares the owner bought onchain.
    pub bought: Shares,
    /// Shares the owner sold onchain.
    pub sold: Shares,
    /// Net shares offset at the broker (positive when the broker sold).
    pub hedged: Shares,
}

impl Position {
    /// Onchain net: positive when the owner bought more than sold.
    pub fn onchain_net(&self) -> Shares {
        self.bought - self.sold
    }

    /// Unhedged net: positive when the owner holds more shares than hedged.
    pub fn net(&self) -> Shares {
        self.onchain_net() - self.hedged
    }
}

/// A whole-share broker order that brings a symbol's net back within one share of flat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HedgeIntent {
    /// The brokerage ticker.
    pub ticker: Ticker,
    /// Buy or sell at the broker.
    pub side: BrokerSide,
    /// Whole shares to order.
    pub shares: u64,
    /// The net left after the order fills.
    pub carried: Shares,
}

/// Decides the hedge for a position: the whole shares between what is hedged and the whole part
/// of the onchain net, if that is at least one share.
pub fn plan(position: &Position) -> Option<HedgeIntent> {
    let target = position.onchain_net().value().trunc();
    let delta = target - position.hedged.value();
    let shares = delta.abs().trunc().to_u64().filter(|&n| n >= 1)?;
    let side = if delta.is_sign_positive() {
        BrokerSide::Sell
    } else {
        BrokerSide::Buy
    };
    Some(HedgeIntent {
        ticker: position.ticker.clone(),
        side,
        shares,
        carried: position.net() - side.offset(shares),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(bought: &str, sold: &str) -> Position {
        Position {
            ticker: Ticker::parse("AAPL").unwrap(),
            bought: bought.parse().unwrap(),
            sold: sold.parse().unwrap(),
            hedged: Shares::ZERO,
        }
    }

    #[test]
    fn below_one_share_nothing_is_hedged() {
        assert_eq!(plan(&position("0.7", "0")), None);
        assert_eq!(plan(&position("0", "0.7")), None);
        assert_eq!(plan(&position("0", "0")), None);
    }

    #[test]
    fn exactly_one_share_bought_is_sold_at_the_broker() {
        let intent = plan(&position("1.0", "0")).unwrap();
        assert_eq!((intent.side, intent.shares), (BrokerSide::Sell, 1));
        assert_eq!(intent.carried, Shares::ZERO);
    }

    #[test]
    fn net_sold_is_bought_back_and_the_fraction_carried_with_its_sign() {
        let intent = plan(&position("0", "1.2")).unwrap();
        assert_eq!((intent.side, intent.shares), (BrokerSide::Buy, 1));
        assert_eq!(intent.carried.to_string(), "-0.2");
    }

    #[test]
    fn threshold_is_on_the_net_not_one_side() {
        // 5 bought and 4.5 sold: each bucket is large, the net 0.5 is not.
        assert_eq!(plan(&position("5", "4.5")), None);
    }

    proptest::proptest! {
        #[test]
        fn after_the_hedge_the_broker_offsets_the_whole_part_of_the_net(
            bought in 0i64..10_000_000,
            sold in 0i64..10_000_000,
            hedged in -10_000i64..10_000,
        ) {
            let p = Position {
                ticker: Ticker::parse("AAPL").unwrap(),
                bought: Shares::new(Decimal::new(bought, 3)),
                sold: Shares::new(Decimal::new(sold, 3)),
                hedged: Shares::new(Decimal::from(hedged)),
            };
            let onchain = p.onchain_net().value();
            let hedged_after = match plan(&p) {
                None => p.hedged,
                Some(intent) => {
                    proptest::prop_assert_eq!(intent.side.offset(intent.shares) + intent.carried, p.net());
                    p.hedged + intent.side.offset(intent.shares)
                }
            };
            proptest::prop_assert_eq!(hedged_after.value(), onchain.trunc());
            let carried = onchain - hedged_after.value();
            proptest::prop_assert!(carried.abs() < Decimal::ONE);
            // The carry keeps the onchain net's sign (or is zero): never an over-hedge.
            proptest::prop_assert!(carried * onchain >= Decimal::ZERO);
        }
    }

    #[test]
    fn a_net_crossing_zero_is_not_overshot() {
        // Bought back 19 when the net was -19.5; now the net is -2.1: sell 17, not 16.
        let mut p = position("132.4", "134.5");
        p.hedged = BrokerSide::Buy.offset(19);
        let intent = plan(&p).unwrap();
        assert_eq!((intent.side, intent.shares), (BrokerSide::Sell, 17));
        assert_eq!(intent.carried.to_string(), "-0.1");
    }

    #[test]
    fn already_hedged_shares_reduce_the_net() {
        let mut p = position("2.5", "0");
        p.hedged = BrokerSide::Sell.offset(2);
        assert_eq!(plan(&p), None);
        assert_eq!(p.net().to_string(), "0.5");
    }
}
