//! Pure trade rules: what one of our orders gave and received onchain becomes a trade of shares
//! against USDC, in the owner's direction, or a skip with its reason.

mod amount;
mod event;
mod symbol;

use alloy_primitives::{Address, B256};

pub use amount::{AmountError, Price, Shares, TokenAmount, Usdc};
pub use event::{EventKind, LogKey};
pub use symbol::{EquityMarker, Ticker, TokenClass, USDC_SYMBOL, classify};

/// Which order of an orderbook event is ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderSide {
    /// The order taken by a `TakeOrderV2`.
    Taken,
    /// The alice order of a `ClearV2`.
    Alice,
    /// The bob order of a `ClearV2`.
    Bob,
}

impl OrderSide {
    /// Stable name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Taken => "taken",
            Self::Alice => "alice",
            Self::Bob => "bob",
        }
    }
}

/// One fill of one of our orders, from the order's perspective, as decoded from the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fill {
    /// Which order of the event this is.
    pub side: OrderSide,
    /// `keccak256(abi.encode(order))`.
    pub order_hash: B256,
    /// The order's owner.
    pub owner: Address,
    /// What the order gave away (the counterparty received it).
    pub gave: TokenAmount,
    /// What the order received.
    pub received: TokenAmount,
}

/// The order owner's direction onchain. The hedge direction is derived from it, never stored
/// in its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The owner gave USDC for shares.
    Buy,
    /// The owner gave shares for USDC.
    Sell,
}

impl Direction {
    /// Stable name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buy => "buy",
            Self::Sell => "sell",
        }
    }

    /// The shares' effect on the owner's net position: positive when bought.
    pub fn signed(self, shares: Shares) -> Shares {
        match self {
            Self::Buy => shares,
            Self::Sell => -shares,
        }
    }
}

/// A fill of ours classified as an equity/USDC trade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trade {
    /// The underlying stock's brokerage ticker.
    pub ticker: Ticker,
    /// The owner's direction onchain.
    pub direction: Direction,
    /// Shares traded.
    pub shares: Shares,
    /// Dollars traded.
    pub usdc: Usdc,
    /// USDC per share.
    pub price: Price,
    /// The tokenized equity's contract.
    pub equity_token: Address,
    /// The USDC contract.
    pub usdc_token: Address,
}

/// Why a fill of ours is recorded but not counted towards a position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    /// Neither leg is USDC, or both are.
    #[error("not an equity/USDC pair: {gave} / {received}")]
    NotUsdcPair {
        /// Symbol of the token the order gave.
        gave: String,
        /// Symbol of the token the order received.
        received: String,
    },
    /// The non-USDC leg is not a known tokenized equity.
    #[error("unknown equity symbol {0:?}")]
    UnknownEquity(String),
    /// An amount cannot be represented exactly.
    #[error("amount: {0}")]
    Amount(#[from] AmountError),
    /// The fill moved zero shares.
    #[error("zero shares traded")]
    ZeroShares,
}

impl Fill {
    /// Classifies the fill given the symbols of the tokens it gave and received.
    pub fn classify(&self, gave_symbol: &str, received_symbol: &str) -> Result<Trade, SkipReason> {
        let (direction, equity, equity_symbol, usdc) =
            match (classify(gave_symbol), classify(received_symbol)) {
                (TokenClass::Usdc, TokenClass::Usdc) => {
                    return Err(self.not_pair(gave_symbol, received_symbol));
                }
                (TokenClass::Usdc, equity) => (Direction::Buy, equity, received_symbol, &self.gave),
                (equity, TokenClass::Usdc) => {
                    (Direction::Sell, equity, gave_symbol, &self.received)
                }
                _ => return Err(self.not_pair(gave_symbol, received_symbol)),
            };
        let TokenClass::Equity { ticker, .. } = equity else {
            return Err(SkipReason::UnknownEquity(equity_symbol.to_owned()));
        };
        let equity_leg = match direction {
            Direction::Buy => &self.received,
            Direction::Sell => &self.gave,
        };
        let shares = Shares::new(equity_leg.to_decimal()?);
        let dollars = Usdc::new(usdc.to_decimal()?);
        let price = Price::of(dollars, shares).ok_or(SkipReason::ZeroShares)?;
        Ok(Trade {
            ticker,
            direction,
            shares,
            usdc: dollars,
            price,
            equity_token: equity_leg.token,
            usdc_token: usdc.token,
        })
    }

    fn not_pair(&self, gave: &str, received: &str) -> SkipReason {
        SkipReason::NotUsdcPair {
            gave: gave.to_owned(),
            received: received.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::U256;

    use super::*;

    const USDC: Address = Address::repeat_byte(0xaa);
    const EQUITY: Address = Address::repeat_byte(0xee);

    fn leg(token: Address, decimals: u8, raw: u128) -> TokenAmount {
        TokenAmount {
            token,
            decimals,
            raw: U256::from(raw),
        }
    }

    fn fill(gave: TokenAmount, received: TokenAmount) -> Fill {
        Fill {
            side: OrderSide::Taken,
            order_hash: B256::ZERO,
            owner: Address::ZERO,
            gave,
            received,
        }
    }

    const SHARE: u128 = 1_000_000_000_000_000_000;

    #[test]
    fn giving_equity_for_usdc_is_a_sell() {
        let f = fill(leg(EQUITY, 18, 2 * SHARE), leg(USDC, 6, 401_000_000));
        let trade = f.classify("AAPL0x", "USDC").unwrap();
        assert_eq!(trade.direction, Direction::Sell);
        assert_eq!(trade.ticker.as_str(), "AAPL");
        assert_eq!(trade.shares.to_string(), "2");
        assert_eq!(trade.usdc.to_string(), "401");
        assert_eq!(trade.price.to_string(), "200.5");
        assert_eq!((trade.equity_token, trade.usdc_token), (EQUITY, USDC));
    }

    #[test]
    fn giving_usdc_for_equity_is_a_buy() {
        let f = fill(leg(USDC, 6, 90_000_000), leg(EQUITY, 18, SHARE / 2));
        let trade = f.classify("USDC", "NVDAs1").unwrap();
        assert_eq!(trade.direction, Direction::Buy);
        assert_eq!(trade.ticker.as_str(), "NVDA");
        assert_eq!(trade.shares.to_string(), "0.5");
        assert_eq!(trade.usdc.to_string(), "90");
        assert_eq!(trade.price.to_string(), "180");
    }

    #[test]
    fn s1_equity_amounts_are_never_swapped_with_usdc() {
        // Lesson 1: an `s1` token read as USDC gave a 175x over-hedge.
        let f = fill(leg(EQUITY, 18, 3 * SHARE), leg(USDC, 6, 525_000_000));
        let trade = f.classify("NVDAs1", "USDC").unwrap();
        assert_eq!(trade.shares.to_string(), "3");
        assert_eq!(trade.usdc.to_string(), "525");
    }

    #[test]
    fn prefix_t_equity_trades() {
        let f = fill(leg(USDC, 6, 200_000_000), leg(EQUITY, 18, SHARE));
        let trade = f.classify("USDC", "tAAPL").unwrap();
        assert_eq!(
            (trade.ticker.as_str(), trade.direction),
            ("AAPL", Direction::Buy)
        );
    }

    #[test]
    fn equity_with_six_decimals_scales_by_its_own_io() {
        let f = fill(leg(EQUITY, 6, 1_500_000), leg(USDC, 6, 300_000_000));
        let trade = f.classify("AAPL0x", "USDC").unwrap();
        assert_eq!(trade.shares.to_string(), "1.5");
        assert_eq!(trade.price.to_string(), "200");
    }

    #[test]
    fn non_usdc_pairs_are_skipped_with_a_reason() {
        let f = fill(leg(EQUITY, 18, SHARE), leg(EQUITY, 18, SHARE));
        let err = f.classify("AAPL0x", "WETH").unwrap_err();
        assert!(matches!(err, SkipReason::NotUsdcPair { .. }));
        assert!(matches!(
            f.classify("USDC", "USDC"),
            Err(SkipReason::NotUsdcPair { .. })
        ));
    }

    #[test]
    fn unknown_equity_symbols_are_skipped_with_a_reason() {
        let f = fill(leg(USDC, 6, 1), leg(EQUITY, 18, SHARE));
        assert_eq!(
            f.classify("USDC", "WETH"),
            Err(SkipReason::UnknownEquity("WETH".into()))
        );
    }

    #[test]
    fn zero_share_fills_are_skipped() {
        let f = fill(leg(USDC, 6, 1), leg(EQUITY, 18, 0));
        assert_eq!(f.classify("USDC", "AAPL0x"), Err(SkipReason::ZeroShares));
    }

    #[test]
    fn direction_signs_the_net() {
        let one: Shares = "1".parse().unwrap();
        assert_eq!(Direction::Buy.signed(one), one);
        assert_eq!(Direction::Sell.signed(one), -one);
    }
}
