#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

//! Accounts, orders, their state machine, list filters and Schwab's JSON shapes.

mod common;

use std::collections::BTreeMap;

use common::{Session, fast_config, market_order};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sim_schwab::{Config, OrderStatus};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The JSON type of every key path in `value` (arrays described by their first element).
fn shape(value: &Value, path: &str, out: &mut BTreeMap<String, &'static str>) {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(items) => {
            if let Some(first) = items.first() {
                shape(first, &format!("{path}[]"), out);
            }
            "array"
        }
        Value::Object(map) => {
            for (key, item) in map {
                shape(item, &format!("{path}.{key}"), out);
            }
            "object"
        }
    };
    out.insert(path.to_owned(), kind);
}

fn today_window() -> String {
    let now = chrono::Utc::now();
    let from = (now - chrono::TimeDelta::days(1)).format("%Y-%m-%dT%H:%M:%S%.3fZ");
    let to = (now + chrono::TimeDelta::days(1)).format("%Y-%m-%dT%H:%M:%S%.3fZ");
    format!("fromEnteredTime={from}&toEnteredTime={to}")
}

#[tokio::test]
async fn account_numbers_and_accounts_are_shaped_like_schwab() {
    let session = Session::start(fast_config()).await;
    let numbers: Value = session
        .get("/trader/v1/accounts/accountNumbers")
        .await
        .json()
        .await
        .unwrap();
    let (mut ours, mut theirs) = (BTreeMap::new(), BTreeMap::new());
    shape(&numbers, "", &mut ours);
    shape(&fixture("account_numbers.json"), "", &mut theirs);
    assert_eq!(ours, theirs);
    assert_eq!(numbers[0]["hashValue"], session.hash.as_str());
    assert_eq!(session.hash.len(), 64);

    let account: Value = session
        .get(&format!("/trader/v1/accounts/{}", session.hash))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(account["securitiesAccount"]["accountNumber"], "12345678");
    assert!(
        account["securitiesAccount"].get("positions").is_none(),
        "positions only with fields=positions"
    );
    assert!(account["aggregatedBalance"]["liquidationValue"].is_number());
    let all: Value = session
        .get("/trader/v1/accounts")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all.as_array().unwrap().len(), 1);

    let unknown = session.get("/trader/v1/accounts/NOTAHASH").await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    let body: Value = unknown.json().await.unwrap();
    assert!(body["message"].is_string() && body["errors"].is_array());
}

#[tokio::test]
async fn placed_order_returns_201_with_location_and_fills_at_the_weighted_price() {
    let session = Session::start(fast_config()).await;
    session.sim.set_prices("AAPL", vec![190.0, 191.0, 192.5]);
    let response = session.place(&market_order("BUY", "AAPL", 10)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let prefix = format!(
        "{}/trader/v1/accounts/{}/orders/",
        session.sim.base_url(),
        session.hash
    );
    assert!(location.starts_with(&prefix), "{location}");
    assert!(response.headers().contains_key("schwab-client-correlid"));
    assert!(
        response.text().await.unwrap().is_empty(),
        "the place-order body is empty"
    );
    let id: i64 = location[prefix.len()..].parse().unwrap();

    let fresh = session.order(id).await;
    assert!(
        ["PENDING_ACTIVATION", "WORKING"].contains(&fresh["status"].as_str().unwrap()),
        "{fresh}"
    );
    assert_eq!(fresh["orderId"], id);
    assert_eq!(fresh["cancelable"], true);

    let filled = session.wait_for_status(id, "FILLED").await;
    assert_eq!(filled["filledQuantity"], 10.0);
    assert_eq!(filled["remainingQuantity"], 0.0);
    assert!(filled["closeTime"].as_str().unwrap().ends_with("+0000"));
    let legs: Vec<&Value> = filled["orderActivityCollection"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|activity| activity["executionLegs"].as_array().unwrap())
        .collect();
    assert_eq!(legs.len(), 3);
    let (quantity, notional) = legs.iter().fold((0.0, 0.0), |(q, n), leg| {
        let (lq, lp) = (
            leg["quantity"].as_f64().unwrap(),
            leg["price"].as_f64().unwrap(),
        );
        (q + lq, n + lq * lp)
    });
    assert_eq!(quantity, 10.0);
    let expected = (4.0 * 190.0 + 3.0 * 191.0 + 3.0 * 192.5) / 10.0;
    assert!((notional / quantity - expected).abs() < 1e-9);

    let ledger = session.sim.ledger();
    assert_eq!(ledger.orders[0].status, OrderStatus::Filled);
    assert!((ledger.orders[0].average_price.unwrap() - expected).abs() < 1e-9);
    assert_eq!(ledger.positions["AAPL"], 10);

    let account: Value = session
        .get(&format!(
            "/trader/v1/accounts/{}?fields=positions",
            session.hash
        ))
        .await
        .json()
        .await
        .unwrap();
    let position = &account["securitiesAccount"]["positions"][0];
    assert_eq!(position["instrument"]["symbol"], "AAPL");
    assert_eq!(position["longQuantity"], 10.0);
    assert!((position["averagePrice"].as_f64().unwrap() - expected).abs() < 1e-9);
}

#[tokio::test]
async fn partial_fills_show_as_working_with_remaining_quantity() {
    let config = Config {
        fill_delay: std::time::Duration::from_millis(400),
        ..fast_config()
    };
    let session = Session::start(config).await;
    session.sim.set_prices("NVDA", vec![100.0, 101.0]);
    let id = session.place_ok(&market_order("SELL", "NVDA", 4)).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let partial = loop {
        let order = session.order(id).await;
        if order["filledQuantity"] == 2.0 {
            break order;
        }
        assert!(std::time::Instant::now() < deadline, "{order}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert_eq!(partial["status"], "WORKING");
    assert_eq!(partial["remainingQuantity"], 2.0);
    assert_eq!(
        partial["orderActivityCollection"][0]["orderRemainingQuantity"],
        2.0
    );
    session.wait_for_status(id, "FILLED").await;
    assert_eq!(session.sim.ledger().positions["NVDA"], -4);
}

#[tokio::test]
async fn order_json_has_the_fixture_keys_and_types() {
    let session = Session::start(fast_config()).await;
    let id = session.place_ok(&market_order("BUY", "FAKE", 1)).await;
    let ours = session.wait_for_status(id, "FILLED").await;
    let mut theirs = fixture("order_market_equity_filled_FAKE.json");
    // The TDA-era fixture says accountId; Schwab's spec (and the simulator) says accountNumber.
    let account_id = theirs.as_object_mut().unwrap().remove("accountId").unwrap();
    theirs["accountNumber"] = account_id;
    let (mut our_shape, mut their_shape) = (BTreeMap::new(), BTreeMap::new());
    shape(&ours, "", &mut our_shape);
    shape(&theirs, "", &mut their_shape);
    for (path, kind) in &their_shape {
        assert_eq!(our_shape.get(path), Some(kind), "{path} in {ours}");
    }
    let documented = [
        "requestedDestination",
        "destinationLinkName",
        "instrumentId",
        "activityId",
        "statusDescription",
        "price",
    ];
    for path in our_shape
        .keys()
        .filter(|path| !their_shape.contains_key(*path))
    {
        assert!(
            documented.iter().any(|field| path.ends_with(field)),
            "undocumented field {path}"
        );
    }
}

#[tokio::test]
async fn invalid_orders_get_400_with_message_and_errors() {
    let session = Session::start(fast_config()).await;
    let mut fractional = market_order("BUY", "AAPL", 1);
    fractional["orderLegCollection"][0]["quantity"] = json!(1.5);
    let mut destination = market_order("BUY", "AAPL", 1);
    destination["requestedDestination"] = json!("AUTO");
    let mut bad_enum = market_order("BUY", "AAPL", 1);
    bad_enum["duration"] = json!("FOREVER");
    for body in [
        fractional,
        destination,
        bad_enum,
        market_order("HOLD", "AAPL", 1),
    ] {
        let response = session.place(&body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let error: Value = response.json().await.unwrap();
        assert!(error["message"].is_string(), "{error}");
        assert!(!error["errors"].as_array().unwrap().is_empty(), "{error}");
    }
    assert!(
        session.sim.ledger().orders.is_empty(),
        "invalid orders are not placed"
    );
}

#[tokio::test]
async fn unknown_orders_and_cancels() {
    let session = Session::start(Config {
        fill_delay: std::time::Duration::from_secs(30),
        ..fast_config()
    })
    .await;
    let path = |id: i64| format!("/trader/v1/accounts/{}/orders/{id}", session.hash);
    assert_eq!(session.get(&path(42)).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        session
            .get(&format!("/trader/v1/accounts/{}/orders/abc", session.hash))
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );

    let id = session.place_ok(&market_order("BUY", "AAPL", 5)).await;
    let cancel = session.delete(&path(id)).await;
    assert_eq!(cancel.status(), StatusCode::OK);
    assert!(cancel.text().await.unwrap().is_empty());
    let canceled = session.order(id).await;
    assert_eq!(canceled["status"], "CANCELED");
    assert_eq!(canceled["cancelable"], false);
    assert!(canceled["closeTime"].is_string());

    let again = session.delete(&path(id)).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let body: Value = again.json().await.unwrap();
    assert!(
        body["message"].is_string() && body["errors"][0].as_str().unwrap().contains("Canceled")
    );
    assert_eq!(
        session.delete(&path(42)).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn replacing_an_order_answers_201_with_the_new_location() {
    let session = Session::start(fast_config()).await;
    session.sim.set_prices("AAPL", vec![200.0]);
    let mut limit = market_order("BUY", "AAPL", 5);
    limit["orderType"] = json!("LIMIT");
    limit["price"] = json!("150.00");
    let old = session.place_ok(&limit).await;
    let working = session.wait_for_status(old, "WORKING").await;
    assert_eq!(working["price"], 150.0);
    assert_eq!(working["editable"], true);

    let path = format!("/trader/v1/accounts/{}/orders/{old}", session.hash);
    let replace = |body: Value| {
        session
            .http
            .put(session.url(&path))
            .bearer_auth(&session.access_token)
            .json(&body)
            .send()
    };
    let response = replace(market_order("BUY", "AAPL", 5)).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap();
    let new: i64 = location.rsplit('/').next().unwrap().parse().unwrap();
    assert_ne!(new, old);
    assert_eq!(session.order(old).await["status"], "REPLACED");
    session.wait_for_status(new, "FILLED").await;

    let again = replace(market_order("BUY", "AAPL", 1)).await.unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(session.sim.ledger().orders.len(), 2);
}

#[tokio::test]
async fn order_lists_require_both_times_and_filter() {
    let session = Session::start(Config {
        fill_delay: std::time::Duration::from_secs(30),
        ..fast_config()
    })
    .await;
    let first = session.place_ok(&market_order("BUY", "AAPL", 1)).await;
    let second = session.place_ok(&market_order("SELL", "MSFT", 2)).await;
    session
        .delete(&format!(
            "/trader/v1/accounts/{}/orders/{second}",
            session.hash
        ))
        .await;
    let base = format!("/trader/v1/accounts/{}/orders", session.hash);

    for query in [
        "",
        "?fromEnteredTime=2024-01-01T00:00:00.000Z",
        "?toEnteredTime=2024-01-01T00:00:00.000Z",
    ] {
        let response = session.get(&format!("{base}{query}")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        assert!(
            response.json::<Value>().await.unwrap()["errors"][0]
                .as_str()
                .unwrap()
                .contains("required")
        );
    }
    let too_long =
        "fromEnteredTime=2020-01-01T00:00:00.000Z&toEnteredTime=2024-01-01T00:00:00.000Z";
    assert_eq!(
        session.get(&format!("{base}?{too_long}")).await.status(),
        StatusCode::BAD_REQUEST
    );
    let bad_status = format!("{base}?{}&status=DONE", today_window());
    assert_eq!(
        session.get(&bad_status).await.status(),
        StatusCode::BAD_REQUEST
    );

    let all: Value = session
        .get(&format!("{base}?{}", today_window()))
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<i64> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|order| order["orderId"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![second, first], "newest first");
    let canceled: Value = session
        .get(&format!("{base}?{}&status=CANCELED", today_window()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(canceled.as_array().unwrap().len(), 1);
    assert_eq!(canceled[0]["orderId"], second);
    let limited: Value = session
        .get(&format!("{base}?{}&maxResults=1", today_window()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(limited.as_array().unwrap().len(), 1);
    let past = "fromEnteredTime=2024-01-01T00:00:00.000Z&toEnteredTime=2024-06-01T00:00:00%2B0000";
    let none: Value = session
        .get(&format!("{base}?{past}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none, json!([]));

    let everywhere: Value = session
        .get(&format!("/trader/v1/orders?{}", today_window()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(everywhere.as_array().unwrap().len(), 2);
    assert_eq!(
        session.get("/trader/v1/orders").await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn closed_market_queues_orders_until_it_opens() {
    let session = Session::start(Config {
        market_open: false,
        ..fast_config()
    })
    .await;
    let hours: Value = session
        .get("/marketdata/v1/markets?markets=equity")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hours["equity"]["EQ"]["isOpen"], false);
    assert_eq!(hours["equity"]["EQ"]["marketType"], "EQUITY");

    let id = session.place_ok(&market_order("BUY", "AAPL", 3)).await;
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    assert_eq!(session.order(id).await["status"], "QUEUED");

    let open = session
        .http
        .put(session.url("/_sim/market"))
        .json(&json!({"open": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), StatusCode::NO_CONTENT);
    let filled = session.wait_for_status(id, "FILLED").await;
    assert_eq!(filled["filledQuantity"], 3.0);

    let hours: Value = session
        .get("/marketdata/v1/markets/equity")
        .await
        .json()
        .await
        .unwrap();
    let eq = &hours["equity"]["EQ"];
    assert_eq!(eq["isOpen"], true);
    assert_eq!(eq["product"], "EQ");
    let regular = &eq["sessionHours"]["regularMarket"][0];
    let start = chrono::DateTime::parse_from_rfc3339(regular["start"].as_str().unwrap()).unwrap();
    let end = chrono::DateTime::parse_from_rfc3339(regular["end"].as_str().unwrap()).unwrap();
    let now = chrono::Utc::now();
    assert!(
        start <= now && now < end,
        "a switched-open market is open now: {regular}"
    );
}

#[tokio::test]
async fn unfilled_day_orders_expire_when_the_market_closes() {
    let session = Session::start(fast_config()).await;
    session.sim.set_prices("AAPL", vec![200.0]);
    let mut limit = market_order("BUY", "AAPL", 1);
    limit["orderType"] = json!("LIMIT");
    limit["price"] = json!(150);
    let id = session.place_ok(&limit).await;
    session.wait_for_status(id, "WORKING").await;
    session.sim.set_market_open(false);
    let expired = session.order(id).await;
    assert_eq!(expired["status"], "EXPIRED");
    assert_eq!(expired["filledQuantity"], 0.0);
    assert!(expired["closeTime"].is_string());
}

#[tokio::test]
async fn market_hours_parameters_are_validated() {
    let session = Session::start(fast_config()).await;
    let missing = session.get("/marketdata/v1/markets").await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["errors"][0]["status"], "400");
    assert_eq!(body["errors"][0]["source"]["parameter"], "markets");
    assert_eq!(
        session
            .get("/marketdata/v1/markets?markets=crypto")
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        session
            .get("/marketdata/v1/markets?markets=equity&date=tomorrow")
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    let sunday: Value = session
        .get("/marketdata/v1/markets?markets=equity&date=2025-09-07")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sunday["equity"]["EQ"]["isOpen"], false);
    assert_eq!(sunday["equity"]["EQ"]["date"], "2025-09-07");
}
