//! Schwab's JSON, as data: the order body sent, and the orders, account numbers and market hours
//! read back, with the pure rules over them (status mapping, fill price, recovery match).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use super::number;
use crate::broker::{OrderId, OrderRequest, OrderState};
use crate::hedge::BrokerSide;

/// One entry of `GET /trader/v1/accounts/accountNumbers`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountNumber {
    /// The plain account number.
    pub account_number: String,
    /// The encrypted id every per-account endpoint takes.
    pub hash_value: String,
}

/// An order as `GET .../orders[/{id}]` returns it; every field Schwab may omit is optional.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// Schwab's order id.
    pub order_id: Option<i64>,
    /// `FILLED`, `WORKING`, `REJECTED`, ...
    pub status: String,
    /// `MARKET`, `LIMIT`, ...
    pub order_type: Option<String>,
    /// `NORMAL`, `AM`, `PM`, `SEAMLESS`.
    pub session: Option<String>,
    /// `DAY`, `GOOD_TILL_CANCEL`, ...
    pub duration: Option<String>,
    /// `SINGLE`, `OCO`, `TRIGGER`, ...
    pub order_strategy_type: Option<String>,
    /// The orders that replaced this one (status `REPLACED`).
    #[serde(default)]
    pub replacing_order_collection: Vec<ReplacingOrder>,
    /// Why it was rejected or canceled, if Schwab says.
    pub status_description: Option<String>,
    /// When it was entered, e.g. `2025-09-02T15:31:07+0000`.
    pub entered_time: Option<String>,
    /// Shares executed so far.
    #[serde(default, deserialize_with = "number::exact_option")]
    pub filled_quantity: Option<Decimal>,
    /// The legs; a single equity order has one.
    #[serde(default)]
    pub order_leg_collection: Vec<OrderLeg>,
    /// Executions, each with its legs and prices.
    #[serde(default)]
    pub order_activity_collection: Vec<Activity>,
}

/// An order that replaced another (only its id is read).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplacingOrder {
    pub order_id: Option<i64>,
}

/// One leg of an order.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderLeg {
    /// `EQUITY`, `OPTION`, ...
    pub order_leg_type: Option<String>,
    /// `BUY`, `SELL`, ...
    pub instruction: Option<String>,
    /// Shares of the leg.
    #[serde(default, deserialize_with = "number::exact_option")]
    pub quantity: Option<Decimal>,
    /// The instrument (some ETF responses lack its symbol).
    pub instrument: Option<Instrument>,
}

/// The traded instrument.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Instrument {
    /// The ticker.
    pub symbol: Option<String>,
    /// `EQUITY`, `OPTION`, ...
    pub asset_type: Option<String>,
}

/// An order activity; executions carry legs.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    /// The execution legs (none for `ORDER_ACTION` activities).
    #[serde(default)]
    pub execution_legs: Vec<ExecutionLeg>,
}

/// One execution: shares at a price.
#[derive(Debug, Clone, Deserialize)]
pub struct ExecutionLeg {
    /// Price per share (a JSON number, read exactly as written).
    #[serde(deserialize_with = "number::exact")]
    pub price: Decimal,
    /// Shares executed.
    #[serde(deserialize_with = "number::exact")]
    pub quantity: Decimal,
}

/// `GET /trader/v1/accounts/{hash}?fields=positions`, as far as the positions go.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub securities_account: SecuritiesAccount,
}

/// The account's holdings.
#[derive(Debug, Clone, Deserialize)]
pub struct SecuritiesAccount {
    /// Every position (absent when there is none).
    #[serde(default)]
    pub positions: Vec<Holding>,
}

/// One position.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Holding {
    /// Shares held long.
    #[serde(default, deserialize_with = "number::exact_option")]
    pub long_quantity: Option<Decimal>,
    /// Shares held short.
    #[serde(default, deserialize_with = "number::exact_option")]
    pub short_quantity: Option<Decimal>,
    /// What is held.
    pub instrument: Option<Instrument>,
}

impl Account {
    /// Net shares per equity symbol (long − short); holdings without a symbol are left out. `Err` names a symbol
    /// whose net an exact decimal cannot hold.
    pub fn net_positions(&self) -> Result<BTreeMap<String, Decimal>, String> {
        let mut net = BTreeMap::new();
        for holding in &self.securities_account.positions {
            let Some(instrument) = &holding.instrument else {
                continue;
            };
            let (Some(symbol), None | Some("EQUITY")) =
                (&instrument.symbol, instrument.asset_type.as_deref())
            else {
                continue;
            };
            let total: &mut Decimal = net.entry(symbol.clone()).or_default();
            *total = holding
                .long_quantity
                .unwrap_or_default()
                .checked_sub(holding.short_quantity.unwrap_or_default())
                .and_then(|held| total.checked_add(held))
                .ok_or_else(|| format!("the position in {symbol} is too large"))?;
        }
        Ok(net)
    }
}

/// Statuses after which an order never changes again.
const TERMINAL: [&str; 5] = ["FILLED", "CANCELED", "REJECTED", "EXPIRED", "REPLACED"];

/// The JSON body of a whole-share market order for the regular session.
pub fn order_body(order: &OrderRequest) -> Value {
    json!({
        "orderType": "MARKET",
        "session": "NORMAL",
        "duration": "DAY",
        "orderStrategyType": "SINGLE",
        "orderLegCollection": [{
            "instruction": instruction(order.side),
            "quantity": order.shares,
            "instrument": { "symbol": order.ticker.as_str(), "assetType": "EQUITY" },
        }],
    })
}

fn instruction(side: BrokerSide) -> &'static str {
    match side {
        BrokerSide::Buy => "BUY",
        BrokerSide::Sell => "SELL",
    }
}

/// The order id at the end of a `Location` header, absolute URL or path alike.
pub fn order_id_from_location(location: &str) -> Option<i64> {
    let path = location.split(['?', '#']).next()?.trim_end_matches('/');
    let (rest, id) = path.rsplit_once('/')?;
    rest.ends_with("/orders").then(|| id.parse().ok())?
}

/// Schwab's times: `2025-09-02T15:31:07+0000` or RFC 3339 (`...Z`, `...+00:00`).
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

/// The time format of the order-list query parameters.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

impl Order {
    /// Maps Schwab's status: terminal statuses end the execution, every other one is open.
    pub fn state(&self) -> Result<OrderState, String> {
        if !TERMINAL.contains(&self.status.as_str()) {
            return Ok(OrderState::Open);
        }
        let filled = self.executed_shares();
        if self.status == "REPLACED" {
            return self
                .replacing_order_collection
                .iter()
                .find_map(|replacing| replacing.order_id)
                .map(|by| OrderState::Replaced { by: OrderId(by) })
                .ok_or_else(|| "REPLACED order without its replacing order".to_owned());
        }
        if self.status == "FILLED" {
            return self
                .average_price()?
                .map(|average_price| OrderState::Filled { average_price })
                .ok_or_else(|| "FILLED order without execution legs".to_owned());
        }
        let reason = match &self.status_description {
            Some(description) => format!("{}: {description}", self.status),
            None => self.status.clone(),
        };
        Ok(OrderState::Failed {
            reason,
            filled_shares: filled,
        })
    }

    /// Quantity-weighted average price over every execution leg; `None` without executed shares, `Err` when the
    /// sums exceed an exact decimal.
    pub fn average_price(&self) -> Result<Option<Decimal>, String> {
        let legs = self
            .order_activity_collection
            .iter()
            .flat_map(|activity| &activity.execution_legs);
        let (mut shares, mut notional) = (Decimal::ZERO, Decimal::ZERO);
        let too_large = || "execution legs too large to average".to_owned();
        for leg in legs {
            shares = shares.checked_add(leg.quantity).ok_or_else(too_large)?;
            notional = leg
                .price
                .checked_mul(leg.quantity)
                .and_then(|leg_notional| notional.checked_add(leg_notional))
                .ok_or_else(too_large)?;
        }
        if shares.is_zero() {
            return Ok(None);
        }
        notional
            .checked_div(shares)
            .map(|average| Some(average.normalize()))
            .ok_or_else(too_large)
    }

    /// Whole shares executed so far.
    fn executed_shares(&self) -> u64 {
        let shares = self.filled_quantity.unwrap_or_default().trunc();
        u64::try_from(shares).unwrap_or(0)
    }

    /// Whether this is an order the bot could have placed for `request`, entered at or after
    /// `since` (the broker's clock): a market day order of the regular session, single, equity,
    /// with the request's instruction and quantity. The symbol is compared when shown (Schwab
    /// omits it for some instruments), never required.
    pub fn matches(&self, request: &OrderRequest, since: DateTime<Utc>) -> bool {
        let entered = self.entered_time.as_deref().and_then(parse_time);
        let [leg] = self.order_leg_collection.as_slice() else {
            return false;
        };
        let instrument = leg.instrument.as_ref();
        let symbol = instrument.and_then(|instrument| instrument.symbol.as_deref());
        let asset_type = instrument.and_then(|instrument| instrument.asset_type.as_deref());
        let equity = [leg.order_leg_type.as_deref(), asset_type];
        entered.is_some_and(|entered| entered >= since)
            && self.order_type.as_deref() == Some("MARKET")
            && self.duration.as_deref() == Some("DAY")
            && self.session.as_deref() == Some("NORMAL")
            && self.order_strategy_type.as_deref() == Some("SINGLE")
            && equity.iter().any(Option::is_some)
            && equity.iter().flatten().all(|kind| *kind == "EQUITY")
            && leg.instruction.as_deref() == Some(instruction(request.side))
            && leg.quantity == Some(Decimal::from(request.shares))
            && symbol.is_none_or(|symbol| symbol == request.ticker.as_str())
    }
}

/// `GET /marketdata/v1/markets?markets=equity`: until when the regular session is open, if it
/// is open at `now`.
pub fn equity_open_until(hours: &Value, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let product = hours.get("equity")?.as_object()?.values().next()?;
    if product.get("isOpen")?.as_bool() != Some(true) {
        return None;
    }
    product
        .get("sessionHours")?
        .get("regularMarket")?
        .as_array()?
        .iter()
        .find_map(|session| {
            let start = parse_time(session.get("start")?.as_str()?)?;
            let end = parse_time(session.get("end")?.as_str()?)?;
            (start <= now && now < end).then_some(end)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trade::Ticker;

    fn request(side: BrokerSide, shares: u64) -> OrderRequest {
        OrderRequest {
            ticker: Ticker::parse("FAKE").unwrap(),
            side,
            shares,
        }
    }

    fn fixture() -> Order {
        serde_json::from_str(include_str!(
            "fixtures/order_market_equity_filled_FAKE.json"
        ))
        .unwrap()
    }

    #[test]
    fn the_body_is_schwab_py_equity_buy_market() {
        let expected: Value =
            serde_json::from_str(include_str!("fixtures/request_place_order_market_buy.json"))
                .unwrap();
        let ours = order_body(&OrderRequest {
            ticker: Ticker::parse("GOOG").unwrap(),
            side: BrokerSide::Buy,
            shares: 10,
        });
        assert_eq!(ours, expected);
    }

    #[test]
    fn a_filled_order_maps_to_its_exact_average_price() {
        let order = fixture();
        assert_eq!(order.order_id, Some(987_654_321));
        assert_eq!(
            order.state().unwrap(),
            OrderState::Filled {
                average_price: "999.99".parse().unwrap()
            }
        );
    }

    #[test]
    fn the_average_is_weighted_by_quantity() {
        let order: Order = serde_json::from_value(json!({
            "status": "FILLED",
            "orderActivityCollection": [
                {"executionLegs": [{"price": 100.1, "quantity": 1.0}]},
                {"executionLegs": [{"price": 100.4, "quantity": 2.0}]},
                {"activityType": "ORDER_ACTION"}
            ]
        }))
        .unwrap();
        assert_eq!(order.average_price().unwrap().unwrap().to_string(), "100.3");
    }

    #[test]
    fn amounts_are_read_exactly_as_written() {
        let order: Order = serde_json::from_str(
            r#"{"status": "FILLED", "filledQuantity": 3,
                "orderActivityCollection": [{"executionLegs": [
                    {"price": 0.1234567890123456789, "quantity": 3}
                ]}]}"#,
        )
        .unwrap();
        assert_eq!(
            order.state().unwrap(),
            OrderState::Filled {
                average_price: "0.1234567890123456789".parse().unwrap()
            }
        );
    }

    #[test]
    fn an_amount_a_decimal_cannot_hold_exactly_is_refused() {
        for price in [
            "1e400",
            "1e30",
            "8e28",
            "1e-29",
            "0.12345678901234567890123456789",
            "123456789012345678901234567890",
            "1e99999999999999999999",
        ] {
            let text = format!(
                r#"{{"status": "FILLED", "orderActivityCollection":
                    [{{"executionLegs": [{{"price": {price}, "quantity": 1}}]}}]}}"#
            );
            assert!(serde_json::from_str::<Order>(&text).is_err(), "{price}");
        }
    }

    #[test]
    fn executions_too_large_to_average_are_an_error() {
        let order: Order = serde_json::from_str(
            r#"{"status": "FILLED", "orderActivityCollection": [{"executionLegs": [
                {"price": 50000000000000000000000000000, "quantity": 2},
                {"price": 1, "quantity": 70000000000000000000000000000},
                {"price": 1, "quantity": 70000000000000000000000000000}
            ]}]}"#,
        )
        .unwrap();
        assert!(order.state().is_err());
    }

    #[test]
    fn positions_too_large_to_net_are_an_error() {
        let account: Account = serde_json::from_str(
            r#"{"securitiesAccount": {"positions": [
                {"longQuantity": 70000000000000000000000000000, "instrument": {"symbol": "FAKE"}},
                {"longQuantity": 70000000000000000000000000000, "instrument": {"symbol": "FAKE"}}
            ]}}"#,
        )
        .unwrap();
        assert!(account.net_positions().is_err());
    }

    #[test]
    fn statuses_map_to_open_or_terminal() {
        for open in [
            "WORKING",
            "QUEUED",
            "PENDING_ACTIVATION",
            "ACCEPTED",
            "NEW",
            "UNKNOWN",
        ] {
            let order: Order = serde_json::from_value(json!({ "status": open })).unwrap();
            assert_eq!(order.state().unwrap(), OrderState::Open, "{open}");
        }
        let rejected: Order = serde_json::from_value(json!({
            "status": "REJECTED", "statusDescription": "Position_Sys_0001", "filledQuantity": 0.0
        }))
        .unwrap();
        assert_eq!(
            rejected.state().unwrap(),
            OrderState::Failed {
                reason: "REJECTED: Position_Sys_0001".to_owned(),
                filled_shares: 0
            }
        );
        let canceled: Order =
            serde_json::from_value(json!({ "status": "CANCELED", "filledQuantity": 2.0 })).unwrap();
        assert!(matches!(
            canceled.state().unwrap(),
            OrderState::Failed {
                filled_shares: 2,
                ..
            }
        ));
        let empty: Order = serde_json::from_value(json!({ "status": "FILLED" })).unwrap();
        assert!(empty.state().is_err());
    }

    #[test]
    fn order_ids_come_from_absolute_and_relative_locations() {
        let absolute = "https://api.schwabapi.com/trader/v1/accounts/123ABC/orders/1001234567";
        assert_eq!(order_id_from_location(absolute), Some(1_001_234_567));
        assert_eq!(
            order_id_from_location("/trader/v1/accounts/H/orders/42/"),
            Some(42)
        );
        assert_eq!(order_id_from_location("/trader/v1/accounts/H"), None);
        assert_eq!(
            order_id_from_location("/trader/v1/accounts/H/orders/x"),
            None
        );
    }

    #[test]
    fn both_time_formats_parse() {
        let a = parse_time("2025-09-02T15:31:07+0000").unwrap();
        let b = parse_time("2025-09-02T15:31:07.000Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(format_time(a), "2025-09-02T15:31:07.000Z");
    }

    fn listed(overrides: Value) -> Order {
        let mut order = json!({
            "status": "WORKING",
            "orderType": "MARKET",
            "session": "NORMAL",
            "duration": "DAY",
            "orderStrategyType": "SINGLE",
            "enteredTime": "2025-09-02T15:31:07+0000",
            "orderId": 7,
            "orderLegCollection": [{
                "orderLegType": "EQUITY",
                "instruction": "SELL",
                "quantity": 3.0,
                "instrument": { "assetType": "EQUITY", "symbol": "FAKE" }
            }]
        });
        for (path, value) in overrides.as_object().unwrap() {
            let mut target = &mut order;
            for key in path.split('.') {
                target = match key.parse::<usize>() {
                    Ok(index) => &mut target[index],
                    Err(_) => &mut target[key],
                };
            }
            *target = value.clone();
        }
        serde_json::from_value(order).unwrap()
    }

    #[test]
    fn recovery_adopts_only_what_the_bot_could_have_placed() {
        let since = parse_time("2025-09-02T15:31:00Z").unwrap();
        let sell3 = request(BrokerSide::Sell, 3);
        assert!(listed(json!({})).matches(&sell3, since));
        // The symbol is compared when shown, never required.
        let no_symbol = listed(json!({"orderLegCollection.0.instrument.symbol": null}));
        assert!(no_symbol.matches(&sell3, since));
        let no_instrument = listed(json!({"orderLegCollection.0.instrument": null}));
        assert!(no_instrument.matches(&sell3, since));
        for foreign in [
            json!({"orderType": "LIMIT"}),
            json!({"duration": "GOOD_TILL_CANCEL"}),
            json!({"session": "SEAMLESS"}),
            json!({"orderStrategyType": "OCO"}),
            json!({"orderType": null}),
            json!({"orderLegCollection.0.orderLegType": "OPTION"}),
            json!({"orderLegCollection.0.instrument.assetType": "OPTION"}),
            json!({"orderLegCollection.0.orderLegType": null, "orderLegCollection.0.instrument.assetType": null}),
            json!({"orderLegCollection.0.instrument.symbol": "OTHER"}),
            json!({"orderLegCollection.0.instruction": "SELL_SHORT"}),
            json!({"orderLegCollection.0.quantity": 2.0}),
            json!({"enteredTime": "2025-09-02T15:30:59+0000"}),
            json!({"enteredTime": null}),
        ] {
            assert!(!listed(foreign.clone()).matches(&sell3, since), "{foreign}");
        }
    }

    #[test]
    fn a_replaced_order_points_to_its_replacement() {
        let replaced =
            listed(json!({"status": "REPLACED", "replacingOrderCollection": [{"orderId": 8}]}));
        assert_eq!(
            replaced.state().unwrap(),
            OrderState::Replaced { by: OrderId(8) }
        );
        assert!(listed(json!({"status": "REPLACED"})).state().is_err());
    }

    #[test]
    fn recovery_matches_symbol_side_quantity_and_time() {
        let order = fixture();
        let since = parse_time("2021-01-01T12:00:00Z").unwrap();
        assert!(order.matches(&request(BrokerSide::Buy, 1), since));
        assert!(!order.matches(&request(BrokerSide::Sell, 1), since));
        assert!(!order.matches(&request(BrokerSide::Buy, 2), since));
        let later = parse_time("2021-01-01T12:02:00Z").unwrap();
        assert!(!order.matches(&request(BrokerSide::Buy, 1), later));
    }

    #[test]
    fn market_hours_say_until_when_the_session_is_open() {
        let hours = json!({"equity": {"EQ": {
            "isOpen": true,
            "sessionHours": {"regularMarket": [
                {"start": "2025-09-02T09:30:00-04:00", "end": "2025-09-02T16:00:00-04:00"}
            ]}
        }}});
        let noon = parse_time("2025-09-02T16:00:00Z").unwrap();
        assert_eq!(
            equity_open_until(&hours, noon),
            parse_time("2025-09-02T20:00:00Z")
        );
        let evening = parse_time("2025-09-02T21:00:00Z").unwrap();
        assert_eq!(equity_open_until(&hours, evening), None);
        let closed = json!({"equity": {"EQ": {"isOpen": false}}});
        assert_eq!(equity_open_until(&closed, noon), None);
    }
}
