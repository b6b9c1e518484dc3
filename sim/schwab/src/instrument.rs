//! Stable fake identifiers (CUSIP, instrument id) for any symbol.

use serde_json::{Value, json};

/// The `instrument` object of an equity, as orders and positions show it.
pub(crate) fn equity(symbol: &str) -> Value {
    // FNV-1a: deterministic across runs, so a symbol keeps its ids.
    let hash = symbol
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
    json!({
        "assetType": "EQUITY",
        "cusip": format!("{:09}", hash % 1_000_000_000),
        "symbol": symbol,
        "instrumentId": hash % 10_000_000_000,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_stable_and_distinct() {
        let aapl = super::equity("AAPL");
        assert_eq!(aapl, super::equity("AAPL"));
        assert_ne!(aapl["cusip"], super::equity("NVDA")["cusip"]);
        assert_eq!(aapl["cusip"].as_str().unwrap().len(), 9);
    }
}
