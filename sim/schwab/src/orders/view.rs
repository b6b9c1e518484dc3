//! The Schwab JSON shape of an order.

use serde_json::{Value, json};

use super::book::Order;
use crate::{instrument, time};

/// What a response leaves out of an order, as the real API sometimes does.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Omit {
    /// `orderLegCollection[].instrument.symbol`.
    pub(crate) symbol: bool,
    /// `orderActivityCollection`.
    pub(crate) executions: bool,
}

/// Renders an order like `GET /trader/v1/accounts/{hash}/orders/{id}` does.
pub(crate) fn order_json(order: &Order, omit: Omit) -> Value {
    let request = &order.request;
    let filled = order.filled_quantity();
    let mut json = json!({
        "session": request.session,
        "duration": request.duration,
        "orderType": request.order_type,
        "complexOrderStrategyType": request.complex_strategy,
        "quantity": request.quantity as f64,
        "filledQuantity": filled as f64,
        "remainingQuantity": remaining(order, filled),
        "requestedDestination": "AUTO",
        "destinationLinkName": "AutoRoute",
        "orderLegCollection": [{
            "orderLegType": "EQUITY",
            "legId": 1,
            "instrument": instrument::equity(&request.symbol),
            "instruction": request.instruction,
            "positionEffect": request.instruction.position_effect(),
            "quantity": request.quantity as f64,
        }],
        "orderStrategyType": request.strategy,
        "orderId": order.id,
        "cancelable": !order.status.is_terminal(),
        "editable": !order.status.is_terminal(),
        "status": order.status,
        "enteredTime": time::format(order.entered),
        "tag": "API_SCHWAD_SIM",
        "accountNumber": order.account_number.parse::<i64>().unwrap_or_default(),
    });
    if let Some(price) = request.limit_price {
        json["price"] = json!(price);
    }
    if let Some(closed) = order.closed {
        json["closeTime"] = json!(time::format(closed));
    }
    if let Some(description) = &order.status_description {
        json["statusDescription"] = json!(description);
    }
    if !order.executions.is_empty() && !omit.executions {
        json["orderActivityCollection"] = activities(order);
    }
    if let Some(replacement) = order.replaced_by {
        json["replacingOrderCollection"] = json!([{ "orderId": replacement }]);
    }
    if omit.symbol
        && let Some(instrument) = json["orderLegCollection"][0]["instrument"].as_object_mut()
    {
        instrument.remove("symbol");
    }
    json
}

/// Open orders still expect their unfilled shares; terminal ones expect none.
fn remaining(order: &Order, filled: u64) -> f64 {
    if order.status.is_terminal() {
        0.0
    } else {
        (order.request.quantity - filled) as f64
    }
}

fn activities(order: &Order) -> Value {
    let mut left = order.request.quantity;
    let activities: Vec<Value> = order
        .executions
        .iter()
        .zip(1_i64..)
        .map(|(execution, number)| {
            left -= execution.quantity;
            json!({
                "activityType": "EXECUTION",
                "activityId": order.id * 100 + number,
                "executionType": "FILL",
                "quantity": execution.quantity as f64,
                "orderRemainingQuantity": left as f64,
                "executionLegs": [{
                    "legId": 1,
                    "quantity": execution.quantity as f64,
                    "mismarkedQuantity": 0.0,
                    "price": execution.price,
                    "time": time::format(execution.time),
                    "instrumentId": instrument::equity(&order.request.symbol)["instrumentId"],
                }],
            })
        })
        .collect();
    Value::Array(activities)
}
