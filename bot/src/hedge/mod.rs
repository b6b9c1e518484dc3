//! Pure hedging decisions: a symbol's unhedged net position becomes a whole-share broker order.
//!
//! The threshold is on |net| (never on one side's bucket): when |net| >= 1 share, hedge
//! floor(|net|) shares in the opposite direction and carry the fractional rest with its sign.

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
    /// Unhedged net: positive when the owner holds more shares than hedged.
    pub fn net(&self) -> Shares {
        self.bought - self.sold - self.hedged
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

/// Decides the hedge for a position, if |net| reaches one share.
pub fn plan(position: &Position) -> Option<HedgeIntent> {
    let net = position.net();
    let whole = net.value().abs().trunc();
    let shares = whole.to_u64().filter(|&n| n >= 1)?;
    let side = if net.value().is_sign_positive() {
        BrokerSide::Sell
    } else {
        BrokerSide::Buy
    };
    Some(HedgeIntent {
        ticker: position.ticker.clone(),
        side,
        shares,
        carried: net - side.offset(shares),
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
        fn hedge_plus_carry_is_the_net_and_the_carry_is_under_one_share(
            bought in 0i64..10_000_000,
            sold in 0i64..10_000_000,
        ) {
            let p = Position {
                ticker: Ticker::parse("AAPL").unwrap(),
                bought: Shares::new(Decimal::new(bought, 3)),
                sold: Shares::new(Decimal::new(sold, 3)),
                hedged: Shares::ZERO,
            };
            let net = p.net();
            match plan(&p) {
                None => proptest::prop_assert!(net.value().abs() < Decimal::ONE),
                Some(intent) => {
                    proptest::prop_assert_eq!(intent.side.offset(intent.shares) + intent.carried, net);
                    proptest::prop_assert!(intent.carried.value().abs() < Decimal::ONE);
                    // The carry keeps the net's sign (or is zero): never an over-hedge.
                    proptest::prop_assert!(intent.carried.value() * net.value() >= Decimal::ZERO);
                }
            }
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
