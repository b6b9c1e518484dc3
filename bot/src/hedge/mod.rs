//! Pure hedging decisions: a symbol's unhedged net becomes a whole-share broker order.
//!
//! The rule has hysteresis: an order is due only when the unhedged net (onchain bought − sold −
//! hedged) is at least one share either way, and it is for the whole shares of that net, so
//! after it fills less than one share is unhedged. While |unhedged| < 1 nothing is ordered,
//! however the onchain net moves around a whole number.

pub mod report;

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
    pub ticker: Ticker,
    /// Buy or sell at the broker.
    pub side: BrokerSide,
    /// Whole shares to order.
    pub shares: u64,
    /// The net left after the order fills.
    pub carried: Shares,
}

/// Decides the hedge for a position: the whole shares of its unhedged net, if that is at least
/// one share.
pub fn plan(position: &Position) -> Option<HedgeIntent> {
    let net = position.net().value();
    let shares = net.abs().trunc().to_u64().filter(|&n| n >= 1)?;
    let side = if net.is_sign_positive() {
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
        fn an_order_only_at_one_share_and_less_than_one_left_after_it(
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
            let unhedged = (Decimal::new(bought, 3) - Decimal::new(sold, 3)) - Decimal::from(hedged);
            match plan(&p) {
                None => proptest::prop_assert!(unhedged.abs() < Decimal::ONE),
                Some(intent) => {
                    proptest::prop_assert!(unhedged.abs() >= Decimal::ONE);
                    // A sell offsets shares bought, a buy shares sold: never the wrong way.
                    let signed = match intent.side {
                        BrokerSide::Sell => Decimal::from(intent.shares),
                        BrokerSide::Buy => -Decimal::from(intent.shares),
                    };
                    let left = unhedged - signed;
                    proptest::prop_assert!(left.abs() < Decimal::ONE);
                    // Never overshoots: what is left keeps the sign of what was unhedged.
                    proptest::prop_assert!(left * unhedged >= Decimal::ZERO);
                }
            }
        }
    }

    #[test]
    fn a_reversal_below_one_share_is_not_bought_back() {
        // +1.2 sold 1 at the broker; then -0.7 onchain: unhedged -0.5, nothing to do.
        let mut p = position("1.2", "0.7");
        p.hedged = BrokerSide::Sell.offset(1);
        assert_eq!(plan(&p), None);
    }

    #[test]
    fn a_net_oscillating_around_one_is_ordered_once() {
        let mut p = position("1.05", "0");
        let intent = plan(&p).unwrap();
        assert_eq!((intent.side, intent.shares), (BrokerSide::Sell, 1));
        p.hedged = BrokerSide::Sell.offset(1);
        for (bought, sold) in [("1.05", "0.1"), ("1.15", "0.1"), ("1.15", "0.2")] {
            p.bought = bought.parse().unwrap();
            p.sold = sold.parse().unwrap();
            assert_eq!(plan(&p), None, "{bought} - {sold}");
        }
    }

    #[test]
    fn already_hedged_shares_reduce_the_net() {
        let mut p = position("2.5", "0");
        p.hedged = BrokerSide::Sell.offset(2);
        assert_eq!(plan(&p), None);
        assert_eq!(p.net().to_string(), "0.5");
    }
}
