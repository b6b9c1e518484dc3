//! Schwab's answers (orders, accounts and positions, account numbers, market hours, token responses, `Location`
//! headers) and the OAuth redirect URL pasted back: an error value for every input, never a panic.
#![no_main]

use std::time::Duration;

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use schwad::broker::schwab::model::{self, Account, AccountNumber, Order};
use schwad::broker::schwab::oauth::{Grant, code_from_redirect};
use schwad::broker::{OrderRequest, OrderState};
use schwad::hedge::BrokerSide;
use schwad::trade::Ticker;

fuzz_target!(|data: &[u8]| {
    if let Ok(order) = serde_json::from_slice::<Order>(data) {
        check_order(&order);
    }
    if let Ok(orders) = serde_json::from_slice::<Vec<Order>>(data) {
        orders.iter().for_each(check_order);
    }
    if let Ok(account) = serde_json::from_slice::<Account>(data) {
        let _ = account.net_positions();
    }
    let _ = serde_json::from_slice::<Vec<AccountNumber>>(data);
    if let Ok(grant) = serde_json::from_slice::<Grant>(data) {
        assert!(grant.lifetime() <= Duration::from_secs(24 * 3600));
    }
    if let Ok(hours) = serde_json::from_slice(data) {
        let _ = model::equity_open_until(&hours, DateTime::<Utc>::UNIX_EPOCH);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = model::order_id_from_location(text);
        let _ = model::parse_time(text);
        let _ = code_from_redirect(text, Some("state"));
    }
});

/// The state never panics; a fill's average lies between the lowest and highest execution price.
fn check_order(order: &Order) {
    let Some(ticker) = Ticker::parse("FAKE") else {
        return;
    };
    let request = OrderRequest {
        ticker,
        side: BrokerSide::Buy,
        shares: 1,
    };
    let _ = order.matches(&request, DateTime::<Utc>::UNIX_EPOCH);
    let Ok(OrderState::Filled { average_price }) = order.state() else {
        return;
    };
    let legs: Vec<_> = order
        .order_activity_collection
        .iter()
        .flat_map(|activity| &activity.execution_legs)
        .collect();
    if legs
        .iter()
        .all(|leg| leg.quantity.is_sign_positive() && !leg.quantity.is_zero())
    {
        let lowest = legs.iter().map(|leg| leg.price).min();
        let highest = legs.iter().map(|leg| leg.price).max();
        assert!(
            lowest.is_some_and(|low| low <= average_price),
            "{average_price} below every price"
        );
        assert!(
            highest.is_some_and(|high| average_price <= high),
            "{average_price} above every price"
        );
    }
}
