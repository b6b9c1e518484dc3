//! Exact amounts: raw onchain token amounts, and the share and dollar quantities they become.
//!
//! `Shares` and `Usdc` are distinct types so a share count can never be used where dollars are
//! expected (the earlier bot once swapped them: a 175x over-hedge). Both wrap an exact decimal.

use std::fmt;
use std::ops::{Add, Neg, Sub};
use std::str::FromStr;

use alloy_primitives::{Address, U256};
use rust_decimal::{Decimal, RoundingStrategy};

/// Largest scale (number of decimals) an exact decimal can hold.
const MAX_SCALE: u8 = 28;

/// Why a raw token amount cannot become an exact decimal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// The token declares more decimals than an exact decimal supports.
    #[error("token with {0} decimals exceeds the supported maximum of {MAX_SCALE}")]
    TooManyDecimals(u8),
    /// The raw amount is too large to represent exactly.
    #[error("raw amount {0} is too large to represent exactly")]
    TooLarge(U256),
}

/// An amount of one ERC-20 token as it appears onchain: an integer of base units plus the
/// decimals declared by the order's `IO` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenAmount {
    /// The token contract.
    pub token: Address,
    /// Decimals of the token, from the order's `IO` struct.
    pub decimals: u8,
    /// Amount in the token's base units.
    pub raw: U256,
}

impl TokenAmount {
    /// The amount in whole tokens, exactly (`raw / 10^decimals`).
    pub fn to_decimal(&self) -> Result<Decimal, AmountError> {
        if self.decimals > MAX_SCALE {
            return Err(AmountError::TooManyDecimals(self.decimals));
        }
        let raw = i128::try_from(self.raw).map_err(|_| AmountError::TooLarge(self.raw))?;
        Decimal::try_from_i128_with_scale(raw, u32::from(self.decimals))
            .map(|d| d.normalize())
            .map_err(|_| AmountError::TooLarge(self.raw))
    }
}

macro_rules! exact_quantity {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(Decimal);

        impl $name {
            /// Zero.
            pub const ZERO: Self = Self(Decimal::ZERO);

            /// Wraps an exact decimal.
            pub fn new(value: Decimal) -> Self {
                Self(value.normalize())
            }

            /// The exact decimal value.
            pub fn value(self) -> Decimal {
                self.0
            }
        }

        impl Add for $name {
            type Output = Self;
            fn add(self, rhs: Self) -> Self {
                Self::new(self.0 + rhs.0)
            }
        }

        impl Sub for $name {
            type Output = Self;
            fn sub(self, rhs: Self) -> Self {
                Self::new(self.0 - rhs.0)
            }
        }

        impl Neg for $name {
            type Output = Self;
            fn neg(self) -> Self {
                Self(-self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = rust_decimal::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Decimal::from_str_exact(s).map(Self::new)
            }
        }
    };
}

exact_quantity!(
    /// A number of shares of one equity: fractional onchain, signed when it is a net.
    Shares
);
exact_quantity!(
    /// An amount of US dollars held as USDC.
    Usdc
);
exact_quantity!(
    /// A price in USDC per share.
    Price
);

impl Price {
    /// The price of a trade: dollars paid per share, or `None` for zero shares.
    pub fn of(usdc: Usdc, shares: Shares) -> Option<Self> {
        usdc.0.checked_div(shares.0).map(Self::new)
    }

    /// For people: rounded to cents, e.g. `423.40` (the exact value stays in the database and JSON).
    pub fn shown(self) -> String {
        format!("{:.2}", rounded(self.0, 2))
    }
}

impl Shares {
    /// For people: rounded to 6 decimals, without trailing zeros.
    pub fn shown(self) -> String {
        rounded(self.0, 6).normalize().to_string()
    }
}

fn rounded(value: Decimal, decimals: u32) -> Decimal {
    value.round_dp_with_strategy(decimals, RoundingStrategy::MidpointAwayFromZero)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(raw: u128, decimals: u8) -> TokenAmount {
        TokenAmount {
            token: Address::ZERO,
            decimals,
            raw: U256::from(raw),
        }
    }

    #[test]
    fn six_decimals_scale_usdc_exactly() {
        let usdc = amount(150_250_001, 6).to_decimal().unwrap();
        assert_eq!(usdc.to_string(), "150.250001");
    }

    #[test]
    fn eighteen_decimals_scale_shares_exactly() {
        let shares = amount(1_234_567_890_123_456_789, 18).to_decimal().unwrap();
        assert_eq!(shares.to_string(), "1.234567890123456789");
    }

    #[test]
    fn too_many_decimals_is_an_error() {
        assert_eq!(
            amount(1, 30).to_decimal(),
            Err(AmountError::TooManyDecimals(30))
        );
    }

    #[test]
    fn amounts_beyond_exact_range_are_an_error() {
        let huge = TokenAmount {
            raw: U256::MAX,
            ..amount(0, 18)
        };
        assert!(matches!(huge.to_decimal(), Err(AmountError::TooLarge(_))));
    }

    #[test]
    fn price_is_usdc_per_share() {
        let price = Price::of("301.5".parse().unwrap(), "1.5".parse().unwrap()).unwrap();
        assert_eq!(price.to_string(), "201");
        assert_eq!(Price::of(Usdc::ZERO, Shares::ZERO), None);
    }

    #[test]
    fn shown_values_are_rounded_but_exact_ones_are_not() {
        let price: Price = "423.39782395100338806359134741".parse().unwrap();
        assert_eq!(price.shown(), "423.40");
        assert_eq!(price.to_string(), "423.39782395100338806359134741");
        assert_eq!("180".parse::<Price>().unwrap().shown(), "180.00");
        assert_eq!("0.125".parse::<Price>().unwrap().shown(), "0.13");
        let shares: Shares = "-1.2345675".parse().unwrap();
        assert_eq!(shares.shown(), "-1.234568");
        assert_eq!("2.50".parse::<Shares>().unwrap().shown(), "2.5");
    }

    #[test]
    fn arithmetic_is_exact() {
        let a: Shares = "0.1".parse().unwrap();
        let b: Shares = "0.2".parse().unwrap();
        assert_eq!((a + b).to_string(), "0.3");
        assert_eq!((a - b).to_string(), "-0.1");
    }
}
