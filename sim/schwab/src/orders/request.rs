//! Validation of a place-order body into the order the simulator can execute.

use serde::Deserialize;
use serde_json::Value;

use super::status::Instruction;

const SESSIONS: &[&str] = &["NORMAL", "AM", "PM", "SEAMLESS"];
const DURATIONS: &[&str] = &[
    "DAY",
    "GOOD_TILL_CANCEL",
    "FILL_OR_KILL",
    "IMMEDIATE_OR_CANCEL",
    "END_OF_WEEK",
    "END_OF_MONTH",
    "NEXT_END_OF_MONTH",
];
const ORDER_TYPES: &[&str] = &[
    "MARKET",
    "LIMIT",
    "STOP",
    "STOP_LIMIT",
    "TRAILING_STOP",
    "CABINET",
    "NON_MARKETABLE",
    "MARKET_ON_CLOSE",
    "EXERCISE",
    "TRAILING_STOP_LIMIT",
    "NET_DEBIT",
    "NET_CREDIT",
    "NET_ZERO",
    "LIMIT_ON_CLOSE",
];
const STRATEGIES: &[&str] = &[
    "SINGLE",
    "CANCEL",
    "RECALL",
    "PAIR",
    "FLATTEN",
    "TWO_DAY_SWAP",
    "BLAST_ALL",
    "OCO",
    "TRIGGER",
];
const COMPLEX_STRATEGIES: &[&str] = &[
    "NONE",
    "COVERED",
    "VERTICAL",
    "BACK_RATIO",
    "CALENDAR",
    "DIAGONAL",
    "STRADDLE",
    "STRANGLE",
    "COLLAR_SYNTHETIC",
    "BUTTERFLY",
    "CONDOR",
    "IRON_CONDOR",
    "VERTICAL_ROLL",
    "COLLAR_WITH_STOCK",
    "DOUBLE_DIAGONAL",
    "UNBALANCED_BUTTERFLY",
    "UNBALANCED_CONDOR",
    "UNBALANCED_IRON_CONDOR",
    "UNBALANCED_VERTICAL_ROLL",
    "MUTUAL_FUND_SWAP",
    "CUSTOM",
];
const ASSET_TYPES: &[&str] = &[
    "EQUITY",
    "MUTUAL_FUND",
    "OPTION",
    "FUTURE",
    "FOREX",
    "INDEX",
    "CASH_EQUIVALENT",
    "FIXED_INCOME",
    "PRODUCT",
    "CURRENCY",
    "COLLECTIVE_INVESTMENT",
];
const OPTION_INSTRUCTIONS: &[&str] = &[
    "BUY_TO_OPEN",
    "BUY_TO_CLOSE",
    "SELL_TO_OPEN",
    "SELL_TO_CLOSE",
    "EXCHANGE",
];

/// Order types the simulator executes (the others are valid but unsupported here).
const EXECUTABLE_TYPES: &[&str] = &["MARKET", "LIMIT"];

/// A validated single-leg equity order.
#[derive(Debug, Clone)]
pub(crate) struct OrderRequest {
    pub(crate) order_type: String,
    pub(crate) session: String,
    pub(crate) duration: String,
    pub(crate) strategy: String,
    pub(crate) complex_strategy: String,
    /// The limit price (LIMIT orders only).
    pub(crate) limit_price: Option<f64>,
    pub(crate) instruction: Instruction,
    pub(crate) quantity: u64,
    pub(crate) symbol: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawOrder {
    order_type: Option<String>,
    session: Option<String>,
    duration: Option<String>,
    order_strategy_type: Option<String>,
    complex_order_strategy_type: Option<String>,
    price: Option<Value>,
    requested_destination: Option<Value>,
    #[serde(default)]
    order_leg_collection: Vec<RawLeg>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLeg {
    instruction: Option<String>,
    quantity: Option<Value>,
    instrument: Option<RawInstrument>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawInstrument {
    symbol: Option<String>,
    asset_type: Option<String>,
}

/// Collects every problem of the body, like Schwab's validation errors.
#[derive(Debug, Default)]
struct Problems(Vec<String>);

impl Problems {
    fn enumerated<'a>(
        &mut self,
        field: &str,
        value: Option<&'a str>,
        allowed: &[&str],
    ) -> Option<&'a str> {
        match value {
            None => self.0.push(format!("{field} is required")),
            Some(value) if !allowed.contains(&value) => {
                self.0.push(format!(
                    "{field} '{value}' is not one of {}",
                    allowed.join(", ")
                ));
            }
            Some(value) => return Some(value),
        }
        None
    }
}

/// Parses and validates a place-order body, returning every error found.
pub(crate) fn parse(body: &[u8]) -> Result<OrderRequest, Vec<String>> {
    let raw: RawOrder = serde_json::from_slice(body)
        .map_err(|error| vec![format!("Invalid JSON body: {error}")])?;
    let mut problems = Problems::default();
    if raw.requested_destination.is_some() {
        problems
            .0
            .push("requestedDestination is not allowed".to_owned());
    }
    let order_type = problems.enumerated("orderType", raw.order_type.as_deref(), ORDER_TYPES);
    let session = problems.enumerated("session", raw.session.as_deref(), SESSIONS);
    let duration = problems.enumerated("duration", raw.duration.as_deref(), DURATIONS);
    let strategy = problems.enumerated(
        "orderStrategyType",
        raw.order_strategy_type.as_deref(),
        STRATEGIES,
    );
    let complex = raw.complex_order_strategy_type.as_deref().unwrap_or("NONE");
    let complex = problems.enumerated(
        "complexOrderStrategyType",
        Some(complex),
        COMPLEX_STRATEGIES,
    );
    if order_type.is_some_and(|kind| !EXECUTABLE_TYPES.contains(&kind)) {
        problems.0.push(format!(
            "orderType {} is not supported by the simulator",
            order_type.unwrap_or_default()
        ));
    }
    if strategy.is_some_and(|kind| kind != "SINGLE") {
        problems
            .0
            .push("only SINGLE orders are supported by the simulator".to_owned());
    }
    let limit_price = limit_price(order_type, raw.price.as_ref(), &mut problems);
    let leg = match raw.order_leg_collection.as_slice() {
        [leg] => parse_leg(leg, &mut problems),
        [] => {
            problems
                .0
                .push("orderLegCollection must hold one leg".to_owned());
            None
        }
        _ => {
            problems
                .0
                .push("multi-leg orders are not supported by the simulator".to_owned());
            None
        }
    };
    match (order_type, session, duration, strategy, complex, leg) {
        (
            Some(order_type),
            Some(session),
            Some(duration),
            Some(strategy),
            Some(complex),
            Some((instruction, quantity, symbol)),
        ) if problems.0.is_empty() => Ok(OrderRequest {
            order_type: order_type.to_owned(),
            session: session.to_owned(),
            duration: duration.to_owned(),
            strategy: strategy.to_owned(),
            complex_strategy: complex.to_owned(),
            limit_price,
            instruction,
            quantity,
            symbol,
        }),
        _ => Err(problems.0),
    }
}

fn limit_price(
    order_type: Option<&str>,
    price: Option<&Value>,
    problems: &mut Problems,
) -> Option<f64> {
    let parsed = price.map(|price| match price {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.parse::<f64>().ok(),
        _ => None,
    });
    match (order_type, parsed) {
        (Some("LIMIT"), Some(Some(price))) if price > 0.0 => Some(price),
        (Some("LIMIT"), None) => {
            problems
                .0
                .push("price is required for LIMIT orders".to_owned());
            None
        }
        (Some("LIMIT"), Some(_)) => {
            problems
                .0
                .push("price must be a positive number".to_owned());
            None
        }
        (Some("MARKET"), Some(_)) => {
            problems
                .0
                .push("price is not allowed on MARKET orders".to_owned());
            None
        }
        _ => None,
    }
}

fn parse_leg(leg: &RawLeg, problems: &mut Problems) -> Option<(Instruction, u64, String)> {
    let instrument = leg.instrument.as_ref();
    let asset_type = instrument.and_then(|instrument| instrument.asset_type.as_deref());
    let asset_type = problems.enumerated("instrument.assetType", asset_type, ASSET_TYPES);
    if asset_type.is_some_and(|asset| asset != "EQUITY") {
        problems.0.push(format!(
            "assetType {} is not supported by the simulator",
            asset_type.unwrap_or_default()
        ));
    }
    let symbol = instrument
        .and_then(|instrument| instrument.symbol.as_deref())
        .map(str::trim)
        .filter(|symbol| !symbol.is_empty());
    if symbol.is_none() {
        problems.0.push("instrument.symbol is required".to_owned());
    }
    let instruction = match leg.instruction.as_deref() {
        None => {
            problems.0.push("instruction is required".to_owned());
            None
        }
        Some(name) => match Instruction::from_wire(name) {
            Some(instruction) => Some(instruction),
            None if OPTION_INSTRUCTIONS.contains(&name) => {
                problems.0.push(format!(
                    "instruction {name} is not valid for an EQUITY instrument"
                ));
                None
            }
            None => {
                problems
                    .0
                    .push(format!("instruction '{name}' is not a valid instruction"));
                None
            }
        },
    };
    let quantity = whole_quantity(leg.quantity.as_ref());
    if quantity.is_none() {
        problems.0.push(
            "quantity must be a positive whole number: fractional orders are not supported"
                .to_owned(),
        );
    }
    Some((instruction?, quantity?, symbol?.to_uppercase()))
}

fn whole_quantity(quantity: Option<&Value>) -> Option<u64> {
    let number = quantity?.as_number()?;
    if let Some(whole) = number.as_u64() {
        return (whole > 0).then_some(whole);
    }
    let float = number.as_f64()?;
    // 10.0 is whole; 10.5 is a fractional order.
    (float >= 1.0 && float.fract() == 0.0 && float < 1e15).then_some(float as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = r#"{"orderType":"MARKET","session":"NORMAL","duration":"DAY","orderStrategyType":"SINGLE",
        "orderLegCollection":[{"instruction":"BUY","quantity":10,"instrument":{"symbol":"GOOG","assetType":"EQUITY"}}]}"#;

    fn with(edit: impl FnOnce(&mut Value)) -> Result<OrderRequest, Vec<String>> {
        let mut body: Value = serde_json::from_str(FIXTURE).unwrap();
        edit(&mut body);
        parse(body.to_string().as_bytes())
    }

    #[test]
    fn accepts_the_reference_market_order() {
        let order = parse(FIXTURE.as_bytes()).unwrap();
        assert_eq!(
            (order.instruction, order.quantity, order.symbol.as_str()),
            (Instruction::Buy, 10, "GOOG")
        );
        assert_eq!(order.complex_strategy, "NONE");
        assert_eq!(order.limit_price, None);
    }

    #[test]
    fn whole_float_quantity_is_accepted_fractional_is_not() {
        assert_eq!(
            with(|body| body["orderLegCollection"][0]["quantity"] = 3.0.into())
                .unwrap()
                .quantity,
            3
        );
        let errors =
            with(|body| body["orderLegCollection"][0]["quantity"] = 0.5.into()).unwrap_err();
        assert!(errors[0].contains("whole number"), "{errors:?}");
        assert!(with(|body| body["orderLegCollection"][0]["quantity"] = 0.into()).is_err());
        assert!(with(|body| body["orderLegCollection"][0]["quantity"] = "10".into()).is_err());
    }

    #[test]
    fn reports_every_bad_enum_and_requested_destination() {
        let errors = with(|body| {
            body["session"] = "EVENING".into();
            body["duration"] = "FOREVER".into();
            body["requestedDestination"] = "AUTO".into();
            body["orderLegCollection"][0]["instruction"] = "HODL".into();
        })
        .unwrap_err();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(
            errors
                .iter()
                .any(|error| error.contains("requestedDestination"))
        );
    }

    #[test]
    fn limit_orders_need_a_price_string_or_number() {
        let limit = with(|body| {
            body["orderType"] = "LIMIT".into();
            body["price"] = "199.99".into();
        })
        .unwrap();
        assert_eq!(limit.limit_price, Some(199.99));
        assert!(with(|body| body["orderType"] = "LIMIT".into()).is_err());
        assert!(with(|body| body["price"] = 1.into()).is_err());
    }

    #[test]
    fn rejects_malformed_json_and_missing_legs() {
        assert!(parse(b"{not json").unwrap_err()[0].starts_with("Invalid JSON"));
        assert!(with(|body| body["orderLegCollection"] = Value::Array(vec![])).is_err());
    }
}
