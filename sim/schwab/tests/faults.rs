#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

//! Injected faults, rate limits and the `/_sim` control API.

mod common;

use std::time::Duration;

use common::{Session, fast_config, market_order};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sim_schwab::{Config, Fault, Ledger, LostResponse, OrderStatus, Quirks};

const NUMBERS: &str = "/trader/v1/accounts/accountNumbers";

#[tokio::test]
async fn unauthorized_fault_fails_the_next_calls_then_clears() {
    let session = Session::start(fast_config()).await;
    session.sim.inject(Fault::Unauthorized { calls: 2 });
    for _ in 0..2 {
        let response = session.get(NUMBERS).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.json::<Value>().await.unwrap()["errors"][0]["status"],
            401
        );
    }
    assert_eq!(session.get(NUMBERS).await.status(), StatusCode::OK);
    assert!(session.sim.faults().is_empty());
}

#[tokio::test]
async fn rate_limit_storm_sends_retry_after() {
    let session = Session::start(fast_config()).await;
    session.sim.inject(Fault::RateLimited {
        calls: 3,
        retry_after_secs: Some(7),
    });
    for _ in 0..3 {
        let response = session.get(NUMBERS).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["retry-after"], "7");
    }
    session.sim.inject(Fault::RateLimited {
        calls: 1,
        retry_after_secs: None,
    });
    let response = session.get(NUMBERS).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(!response.headers().contains_key("retry-after"));
    assert_eq!(session.get(NUMBERS).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn server_errors_use_the_gateway_envelope() {
    let session = Session::start(fast_config()).await;
    session.sim.inject(Fault::ServerError {
        calls: 1,
        status: 503,
    });
    session.sim.inject(Fault::ServerError {
        calls: 1,
        status: 500,
    });
    let first = session.get(NUMBERS).await;
    assert_eq!(first.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        first.json::<Value>().await.unwrap()["errors"][0]["status"],
        "503"
    );
    assert_eq!(
        session.get(NUMBERS).await.status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(session.get(NUMBERS).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn dropped_connection_after_the_order_was_created() {
    let session = Session::start(fast_config()).await;
    session.sim.inject(Fault::LoseOrderResponse {
        orders: 1,
        instead: LostResponse::Drop,
    });
    let error = session
        .try_place(&market_order("BUY", "AAPL", 2))
        .await
        .unwrap_err();
    assert!(!error.is_timeout(), "{error:?}");
    let ledger = session.sim.ledger();
    assert_eq!(
        ledger.orders.len(),
        1,
        "the order exists although the client saw no response"
    );
    assert_eq!(ledger.orders[0].symbol, "AAPL");
    // Recovery path: the client finds the order by listing recent orders.
    let now = chrono::Utc::now();
    let query = format!(
        "fromEnteredTime={}&toEnteredTime={}",
        (now - chrono::TimeDelta::hours(1)).format("%Y-%m-%dT%H:%M:%S%.3fZ"),
        (now + chrono::TimeDelta::hours(1)).format("%Y-%m-%dT%H:%M:%S%.3fZ"),
    );
    let listed: Value = session
        .get(&format!("/trader/v1/orders?{query}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["orderId"], ledger.orders[0].order_id);
    session
        .wait_for_status(ledger.orders[0].order_id, "FILLED")
        .await;
}

#[tokio::test]
async fn lost_response_as_5xx_or_timeout() {
    let session = Session::start(fast_config()).await;
    session.sim.inject(Fault::LoseOrderResponse {
        orders: 1,
        instead: LostResponse::Status { status: 502 },
    });
    let response = session.place(&market_order("BUY", "AAPL", 1)).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(response.headers().get("location").is_none());

    session.sim.inject(Fault::LoseOrderResponse {
        orders: 1,
        instead: LostResponse::Timeout { after_ms: 50 },
    });
    let response = session.place(&market_order("BUY", "AAPL", 1)).await;
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);

    session.sim.inject(Fault::LoseOrderResponse {
        orders: 1,
        instead: LostResponse::Timeout { after_ms: 2000 },
    });
    let impatient = session
        .http
        .post(session.url(&format!("/trader/v1/accounts/{}/orders", session.hash)))
        .bearer_auth(&session.access_token)
        .timeout(Duration::from_millis(100))
        .json(&market_order("BUY", "AAPL", 1))
        .send()
        .await
        .unwrap_err();
    assert!(impatient.is_timeout());
    assert_eq!(
        session.sim.ledger().orders.len(),
        3,
        "every lost response still created its order"
    );
}

#[tokio::test]
async fn rejected_orders_carry_a_status_description() {
    let session = Session::start(fast_config()).await;
    session.sim.inject(Fault::RejectOrders {
        orders: 1,
        reason: "Position_Sys_0001: oversell".to_owned(),
    });
    let rejected = session.place_ok(&market_order("SELL", "AAPL", 5)).await;
    let order = session.order(rejected).await;
    assert_eq!(order["status"], "REJECTED");
    assert_eq!(order["statusDescription"], "Position_Sys_0001: oversell");
    assert_eq!(order["filledQuantity"], 0.0);
    let next = session.place_ok(&market_order("SELL", "AAPL", 5)).await;
    session.wait_for_status(next, "FILLED").await;
    assert_eq!(session.sim.ledger().positions["AAPL"], -5);
}

#[tokio::test]
async fn stuck_orders_stay_working_until_canceled() {
    let session = Session::start(fast_config()).await;
    session.sim.inject(Fault::StickOrders { orders: 1 });
    let id = session.place_ok(&market_order("BUY", "AAPL", 1)).await;
    session.wait_for_status(id, "WORKING").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        session.order(id).await["status"],
        "WORKING",
        "well past the fill delay"
    );
    assert_eq!(
        session
            .delete(&format!("/trader/v1/accounts/{}/orders/{id}", session.hash))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(session.sim.ledger().orders[0].status, OrderStatus::Canceled);
}

#[tokio::test]
async fn request_rate_limit_answers_429_until_the_window_slides() {
    let config = Config {
        requests_per_window: 3,
        rate_window: Duration::from_millis(300),
        ..fast_config()
    };
    let session = Session::start(config).await;
    for _ in 0..3 {
        assert_eq!(session.get(NUMBERS).await.status(), StatusCode::OK);
    }
    let throttled = session.get(NUMBERS).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.headers()["retry-after"], "1");
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(session.get(NUMBERS).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_default_limit_is_120_requests_per_minute() {
    let session = Session::start(fast_config()).await;
    for _ in 0..120 {
        assert_eq!(session.get(NUMBERS).await.status(), StatusCode::OK);
    }
    let throttled = session.get(NUMBERS).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((50..=60).contains(&retry_after), "{retry_after}");
}

#[tokio::test]
async fn order_limit_counts_placements_and_cancels() {
    let session = Session::start(Config {
        orders_per_window: 2,
        ..fast_config()
    })
    .await;
    let id = session.place_ok(&market_order("BUY", "AAPL", 1)).await;
    assert_eq!(
        session
            .delete(&format!("/trader/v1/accounts/{}/orders/{id}", session.hash))
            .await
            .status(),
        StatusCode::OK
    );
    let throttled = session.place(&market_order("BUY", "AAPL", 1)).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(throttled.headers().contains_key("retry-after"));
    assert_eq!(
        session.get(NUMBERS).await.status(),
        StatusCode::OK,
        "reads are not order-related"
    );
    assert_eq!(session.sim.ledger().orders.len(), 1);
}

#[tokio::test]
async fn control_api_drives_faults_prices_and_reads_the_ledger() {
    let session = Session::start(fast_config()).await;
    let control = |path: &str| session.url(&format!("/_sim{path}"));
    let info: Value = session
        .http
        .get(control("/info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["base_url"], session.sim.base_url());
    assert!(
        !info.to_string().contains(session.sim.app_secret()),
        "the secret is never served"
    );

    let fault = json!({"kind": "server_error", "calls": 1, "status": 500});
    assert_eq!(
        session
            .http
            .post(control("/faults"))
            .json(&fault)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    let armed: Vec<Fault> = session
        .http
        .get(control("/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        armed,
        vec![Fault::ServerError {
            calls: 1,
            status: 500
        }]
    );
    assert_eq!(
        session
            .http
            .delete(control("/faults"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(session.get(NUMBERS).await.status(), StatusCode::OK);

    let lose = json!({"kind": "lose_order_response", "orders": 1, "instead": {"mode": "status", "status": 503}});
    session
        .http
        .post(control("/faults"))
        .json(&lose)
        .send()
        .await
        .unwrap();
    assert_eq!(
        session.sim.faults(),
        vec![Fault::LoseOrderResponse {
            orders: 1,
            instead: LostResponse::Status { status: 503 }
        }]
    );
    session.sim.clear_faults();

    let prices = session
        .http
        .put(control("/prices/msft"))
        .json(&json!([410.5]))
        .send()
        .await
        .unwrap();
    assert_eq!(prices.status(), StatusCode::NO_CONTENT);
    let id = session.place_ok(&market_order("BUY", "MSFT", 2)).await;
    session.wait_for_status(id, "FILLED").await;
    let ledger: Ledger = session
        .http
        .get(control("/ledger"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ledger, session.sim.ledger());
    let order = &ledger.orders[0];
    assert_eq!(
        (
            order.order_id,
            order.symbol.as_str(),
            order.quantity,
            order.filled_quantity
        ),
        (id, "MSFT", 2, 2)
    );
    assert_eq!(order.fills[0].price, 410.5);
    assert_eq!(ledger.positions["MSFT"], 2);

    let market: Value = session
        .http
        .get(control("/market"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(market, json!({"open": true}));
}

#[tokio::test]
async fn correlation_ids_are_echoed_or_minted_on_every_response() {
    let session = Session::start(fast_config()).await;
    let echoed = session
        .http
        .get(session.url(NUMBERS))
        .bearer_auth(&session.access_token)
        .header("Schwab-Client-CorrelId", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["schwab-client-correlid"], "abc-123");
    let unauthorized = session.http.get(session.url(NUMBERS)).send().await.unwrap();
    assert_eq!(unauthorized.headers()["schwab-client-correlid"].len(), 36);
    let not_found = session.get("/trader/v1/nothing").await;
    assert_eq!(not_found.status(), StatusCode::NOT_FOUND);
    assert!(not_found.headers().contains_key("schwab-client-correlid"));
}

/// `GET .../orders` of the session's account over the last and next hour.
async fn listed(session: &Session) -> Value {
    let now = chrono::Utc::now();
    let query = format!(
        "fromEnteredTime={}&toEnteredTime={}",
        (now - chrono::TimeDelta::hours(1)).format("%Y-%m-%dT%H:%M:%S%.3fZ"),
        (now + chrono::TimeDelta::hours(1)).format("%Y-%m-%dT%H:%M:%S%.3fZ"),
    );
    session
        .get(&format!(
            "/trader/v1/accounts/{}/orders?{query}",
            session.hash
        ))
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn quirks_lag_the_list_hide_symbols_and_skew_the_clock() {
    let session = Session::start(fast_config()).await;
    session.sim.set_quirks(Quirks {
        list_lag_ms: 300,
        omit_symbols: true,
        clock_offset_ms: -10_000,
    });
    let before = chrono::Utc::now();
    let id = session.place_ok(&market_order("BUY", "AAPL", 1)).await;
    // The list shows the order only after its lag; the order itself at once, without symbol.
    assert_eq!(listed(&session).await, json!([]));
    let order = session.order(id).await;
    assert!(
        order["orderLegCollection"][0]["instrument"]
            .get("symbol")
            .is_none()
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(listed(&session).await[0]["orderId"], id);
    // Schwab's stamps and Date header run 10 s behind the host.
    let entered = chrono::DateTime::parse_from_str(
        order["enteredTime"].as_str().unwrap(),
        "%Y-%m-%dT%H:%M:%S%z",
    )
    .unwrap();
    let behind = before - entered.with_timezone(&chrono::Utc);
    assert!((9..=11).contains(&behind.num_seconds()), "{behind}");
    let date = session.get(NUMBERS).await.headers()["date"]
        .to_str()
        .unwrap()
        .to_owned();
    let date = chrono::DateTime::parse_from_rfc2822(&date).unwrap();
    let behind = chrono::Utc::now() - date.with_timezone(&chrono::Utc);
    assert!((9..=11).contains(&behind.num_seconds()), "{behind}");
}

#[tokio::test]
async fn a_late_order_is_created_even_when_the_client_gave_up() {
    let session = Session::start(fast_config()).await;
    session.sim.inject(Fault::DelayOrders {
        orders: 1,
        before_ms: 500,
        after_ms: 0,
    });
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let sent = quick
        .post(session.url(&format!("/trader/v1/accounts/{}/orders", session.hash)))
        .bearer_auth(&session.access_token)
        .json(&market_order("SELL", "AAPL", 1))
        .send()
        .await;
    assert!(sent.unwrap_err().is_timeout());
    assert!(session.sim.ledger().orders.is_empty());
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(session.sim.ledger().orders.len(), 1, "Schwab acted on it");
}

#[tokio::test]
async fn order_lookups_can_answer_404_or_hide_executions() {
    let session = Session::start(fast_config()).await;
    let id = session.place_ok(&market_order("BUY", "AAPL", 1)).await;
    session.wait_for_status(id, "FILLED").await;
    session.sim.inject(Fault::OrderNotFound { calls: 1 });
    session.sim.inject(Fault::HideExecutions { calls: 1 });
    let path = format!("/trader/v1/accounts/{}/orders/{id}", session.hash);
    assert_eq!(session.get(&path).await.status(), StatusCode::NOT_FOUND);
    let hidden: Value = session.get(&path).await.json().await.unwrap();
    assert_eq!(hidden["status"], "FILLED");
    assert!(hidden.get("orderActivityCollection").is_none());
    assert!(session.order(id).await["orderActivityCollection"].is_array());
}
