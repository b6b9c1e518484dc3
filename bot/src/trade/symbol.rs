//! Token symbols: which onchain symbols are USDC, which are tokenized equities, and the
//! brokerage ticker behind each equity. Every marker is listed here and nowhere else.

use std::fmt;

/// The symbol of the dollar leg every hedged trade must have.
pub const USDC_SYMBOL: &str = "USDC";

/// How a tokenized equity's symbol marks the underlying ticker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EquityMarker {
    /// Suffix `0x`, as in `AAPL0x`.
    SuffixZeroX,
    /// Suffix `s1`, as in `NVDAs1`.
    SuffixS1,
    /// Prefix `t`, as in `tAAPL`.
    PrefixT,
}

/// A brokerage ticker (`AAPL`): uppercase letters, digits and `.`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ticker(String);

impl Ticker {
    /// Validates a brokerage ticker.
    pub fn parse(s: &str) -> Option<Self> {
        let mut chars = s.chars();
        let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_uppercase());
        let rest_valid = chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '.');
        (starts_with_letter && rest_valid && s.len() <= 10).then(|| Self(s.to_owned()))
    }

    /// The ticker as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ticker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a token is, judged from its ERC-20 symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenClass {
    /// USDC, the dollar leg.
    Usdc,
    /// A tokenized equity of the given brokerage ticker.
    Equity {
        /// The underlying stock's ticker at the broker.
        ticker: Ticker,
        /// The marker the symbol carries.
        marker: EquityMarker,
    },
    /// Anything else: not hedgeable.
    Other,
}

/// Classifies a token by its symbol.
pub fn classify(symbol: &str) -> TokenClass {
    if symbol == USDC_SYMBOL {
        return TokenClass::Usdc;
    }
    let candidates = [
        (symbol.strip_suffix("0x"), EquityMarker::SuffixZeroX),
        (symbol.strip_suffix("s1"), EquityMarker::SuffixS1),
        (symbol.strip_prefix('t'), EquityMarker::PrefixT),
    ];
    candidates
        .into_iter()
        .find_map(|(base, marker)| {
            let ticker = Ticker::parse(base?)?;
            Some(TokenClass::Equity { ticker, marker })
        })
        .unwrap_or(TokenClass::Other)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn equity(ticker: &str, marker: EquityMarker) -> TokenClass {
        TokenClass::Equity {
            ticker: Ticker::parse(ticker).unwrap(),
            marker,
        }
    }

    #[test]
    fn suffix_zero_x_marks_an_equity() {
        assert_eq!(
            classify("AAPL0x"),
            equity("AAPL", EquityMarker::SuffixZeroX)
        );
    }

    #[test]
    fn suffix_s1_marks_an_equity() {
        assert_eq!(classify("NVDAs1"), equity("NVDA", EquityMarker::SuffixS1));
    }

    #[test]
    fn prefix_t_marks_an_equity() {
        assert_eq!(classify("tAAPL"), equity("AAPL", EquityMarker::PrefixT));
    }

    #[test]
    fn usdc_is_the_dollar_leg() {
        assert_eq!(classify("USDC"), TokenClass::Usdc);
    }

    #[test]
    fn unmarked_or_malformed_symbols_are_other() {
        for symbol in [
            "AAPL", "WETH", "usdc", "USDC.e", "0x", "s1", "t", "tsla0x", "t0x", "",
        ] {
            assert_eq!(classify(symbol), TokenClass::Other, "{symbol}");
        }
    }
}
