//! Schwab's amounts (JSON numbers) read exactly as written: never through a float, never rounded. A number an exact
//! decimal cannot hold (too many digits, too large, an exponent out of range) is a decoding error, never a panic.

use rust_decimal::Decimal;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// Largest scale, and largest power of ten, an exact decimal holds.
const MAX_DIGITS: u32 = 28;

/// Why a JSON value is not an exact decimal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// A string, object, ... where a number belongs.
    #[error("{0} is not a number")]
    NotANumber(String),
    /// The number needs more digits, or a larger magnitude, than an exact decimal has.
    #[error("{0} does not fit an exact decimal")]
    OutOfRange(String),
}

/// The exact value of the JSON text `text` (`-12.5`, `1E+3`, `2.5e-4`).
pub fn parse(text: &str) -> Result<Decimal, NumberError> {
    let text = text.trim();
    if !text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return Err(NumberError::NotANumber(shorten(text)));
    }
    let out_of_range = || NumberError::OutOfRange(shorten(text));
    let (mantissa, exponent) = text.split_once(['e', 'E']).unwrap_or((text, "0"));
    let mut value = Decimal::from_str_exact(mantissa).map_err(|_| out_of_range())?;
    if value.is_zero() {
        return Ok(Decimal::ZERO);
    }
    let exponent: i64 = exponent.parse().map_err(|_| out_of_range())?;
    let scale = i64::from(value.scale())
        .checked_sub(exponent)
        .ok_or_else(out_of_range)?;
    if scale >= 0 {
        let scale = u32::try_from(scale).map_err(|_| out_of_range())?;
        value.set_scale(scale).map_err(|_| out_of_range())?;
        return Ok(value);
    }
    // A positive exponent beyond the mantissa's decimals: multiply by the rest.
    let power = u32::try_from(-scale)
        .ok()
        .filter(|power| *power <= MAX_DIGITS)
        .ok_or_else(out_of_range)?;
    value.set_scale(0).map_err(|_| out_of_range())?;
    value
        .checked_mul(Decimal::from_i128_with_scale(10_i128.pow(power), 0))
        .ok_or_else(out_of_range)
}

/// Error messages quote at most this much of the number.
fn shorten(text: &str) -> String {
    text.chars().take(40).collect()
}

/// `#[serde(deserialize_with = "exact")]`: a JSON number, exactly, in its shortest form (`2.0` is 2, as the
/// ledger and `/health` write it).
pub fn exact<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    let raw = Box::<RawValue>::deserialize(deserializer)?;
    parse(raw.get())
        .map(|value| value.normalize())
        .map_err(D::Error::custom)
}

/// `#[serde(default, deserialize_with = "exact_option")]`: a JSON number exactly, or `null`.
pub fn exact_option<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Decimal>, D::Error> {
    Option::<Box<RawValue>>::deserialize(deserializer)?
        .map(|raw| parse(raw.get()).map(|value| value.normalize()))
        .transpose()
        .map_err(D::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_kept_in_their_shortest_form() {
        #[derive(Deserialize)]
        struct Amounts {
            #[serde(deserialize_with = "exact")]
            long: Decimal,
            #[serde(default, deserialize_with = "exact_option")]
            short: Option<Decimal>,
        }
        let amounts: Amounts = serde_json::from_str(r#"{"long": 2.0, "short": 1.50}"#).unwrap();
        assert_eq!(amounts.long.to_string(), "2");
        assert_eq!(
            amounts.short.map(|short| short.to_string()).as_deref(),
            Some("1.5")
        );
    }

    #[test]
    fn every_json_number_form_reads_exactly() {
        for (text, exact) in [
            ("0", "0"),
            ("-0.0", "0"),
            ("12", "12"),
            ("-12.50", "-12.50"),
            ("1E+3", "1000"),
            ("1.5e3", "1500"),
            ("2.5e-4", "0.00025"),
            ("123.456e2", "12345.6"),
            ("0e999999999999999999999", "0"),
            (
                "79228162514264337593543950335",
                "79228162514264337593543950335",
            ),
            (
                "0.0000000000000000000000000001",
                "0.0000000000000000000000000001",
            ),
            ("1e28", "10000000000000000000000000000"),
        ] {
            assert_eq!(parse(text), Ok(exact.parse().unwrap()), "{text}");
        }
    }

    #[test]
    fn what_a_decimal_cannot_hold_is_out_of_range() {
        for text in [
            "79228162514264337593543950336",
            "1e29",
            "8e28",
            "1e-29",
            "1e-99999999999999999999",
            "1e-9223372036854775808",
            "0.00000000000000000000000000001",
        ] {
            assert!(
                matches!(parse(text), Err(NumberError::OutOfRange(_))),
                "{text}"
            );
        }
        assert!(matches!(parse(r#""12""#), Err(NumberError::NotANumber(_))));
        assert!(matches!(parse("{}"), Err(NumberError::NotANumber(_))));
    }
}
