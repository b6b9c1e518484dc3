#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

//! The Schwab broker as a library against the simulator: an order POST is sent exactly once even
//! when its response is lost (and found again by lookup), reads ride out 429s and 5xx, statuses map
//! to fills and failures, and the account is chosen by number or index.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use schwad::broker::schwab::api::RetryPolicy;
use schwad::broker::schwab::{AccountChoice, AppConfig, SchwabBroker, SchwabConfig};
use schwad::broker::{Broker, BrokerError, OrderRequest, OrderState};
use schwad::broker::{Lookup, OrderId};
use schwad::hedge::BrokerSide;
use schwad::ledger::Ledger;
use schwad::secret::Secret;
use schwad::trade::Ticker;
use sim_schwab::{Fault, LostResponse, Quirks};

const KEY: &str = "11223344556677881122334455667788112233445566778811223344556677ff";

async fn broker(
    schwab: &sim_schwab::Handle,
    account: AccountChoice,
) -> (SchwabBroker, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&format!("sqlite:{}", dir.path().join("b.db").display()))
        .await
        .unwrap();
    let app = AppConfig {
        base_url: schwab.base_url().parse().unwrap(),
        app_key: schwab.app_key().to_owned(),
        app_secret: Secret::new(schwab.app_secret()),
        callback_url: schwab.callback_url().to_owned(),
        request_timeout: Duration::from_secs(1),
    };
    let code = Secret::new(schwab.authorize(None).code);
    schwad::broker::schwab::log_in(&app, &Secret::new(KEY), &ledger, &code)
        .await
        .unwrap();
    let config = SchwabConfig {
        app,
        account,
        encryption_key: Secret::new(KEY),
        requests_per_minute: 10_000,
        orders_per_minute: 10_000,
        retry: RetryPolicy {
            max_retries: 4,
            min_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(100),
        },
        refresh_leeway: Duration::from_secs(1),
        market_recheck: Duration::from_millis(50),
    };
    (SchwabBroker::new(config, ledger).await.unwrap(), dir)
}

fn order(side: BrokerSide, shares: u64) -> OrderRequest {
    OrderRequest {
        ticker: Ticker::parse("AAPL").unwrap(),
        side,
        shares,
    }
}

async fn settle(broker: &SchwabBroker, id: schwad::broker::OrderId) -> OrderState {
    for _ in 0..200 {
        let state = broker.order_state(id).await.unwrap();
        if state != OrderState::Open {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("order {id} never settled");
}

async fn sim() -> sim_schwab::Handle {
    sim_schwab::start(sim_schwab::Config {
        activation_delay: Duration::from_millis(5),
        fill_delay: Duration::from_millis(20),
        accounts: vec!["11111111".to_owned(), "22222222".to_owned()],
        prices: [("AAPL".to_owned(), vec![227.5, 227.25])].into(),
        ..sim_schwab::Config::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_lost_order_response_is_never_retried_and_is_found_by_lookup() {
    let schwab = sim().await;
    let (broker, _dir) = broker(&schwab, AccountChoice::Index(0)).await;
    let since = Utc::now() - TimeDelta::seconds(1);
    for instead in [LostResponse::Status { status: 502 }, LostResponse::Drop] {
        schwab.inject(Fault::LoseOrderResponse { orders: 1, instead });
        let error = broker.place(&order(BrokerSide::Buy, 3)).await.unwrap_err();
        assert!(matches!(error, BrokerError::Unavailable(_)), "{error}");
    }
    let placed: Vec<i64> = schwab.ledger().orders.iter().map(|o| o.order_id).collect();
    assert_eq!(placed.len(), 2, "a POST was retried");
    // Both could be the order: neither is adopted.
    let both = broker
        .find_order(&order(BrokerSide::Buy, 3), since, &HashSet::new())
        .await
        .unwrap();
    assert_eq!(
        both,
        Lookup::Ambiguous(placed.iter().copied().map(OrderId).collect())
    );
    let second = broker
        .find_order(&order(BrokerSide::Buy, 3), since, &[placed[0]].into())
        .await
        .unwrap();
    assert_eq!(second, Lookup::Found(OrderId(placed[1])));
    let none = broker
        .find_order(&order(BrokerSide::Sell, 3), since, &HashSet::new())
        .await
        .unwrap();
    assert_eq!(none, Lookup::Absent, "another side must not match");
}

#[tokio::test]
async fn an_order_turned_away_at_the_door_is_sent_again_or_reported_not_placed() {
    let schwab = sim().await;
    let (broker, _dir) = broker(&schwab, AccountChoice::Index(0)).await;
    let placed = |schwab: &sim_schwab::Handle| schwab.ledger().orders.len();
    // A revoked access token: the 401 proves nothing was placed, so one refreshed retry places it.
    schwab.inject(Fault::Unauthorized { calls: 1 });
    broker.place(&order(BrokerSide::Buy, 3)).await.unwrap();
    assert_eq!(placed(&schwab), 1);
    assert!(schwab.faults().is_empty());
    // A login refused twice, and a rate limit: not placed, known for sure (no lookup needed).
    schwab.inject(Fault::Unauthorized { calls: 2 });
    let error = broker.place(&order(BrokerSide::Buy, 3)).await.unwrap_err();
    assert!(matches!(error, BrokerError::NotPlaced(_)), "{error}");
    schwab.inject(Fault::RateLimited {
        calls: 1,
        retry_after_secs: Some(0),
    });
    let error = broker.place(&order(BrokerSide::Buy, 3)).await.unwrap_err();
    assert!(matches!(error, BrokerError::NotPlaced(_)), "{error}");
    assert_eq!(placed(&schwab), 1, "an order turned away was placed");
    // A lost answer is not such a proof: the outcome stays unknown.
    schwab.inject(Fault::ServerError {
        calls: 1,
        status: 503,
    });
    let error = broker.place(&order(BrokerSide::Buy, 3)).await.unwrap_err();
    assert!(matches!(error, BrokerError::Unavailable(_)), "{error}");
}

/// A person's order: a limit order good till canceled, same symbol, side and quantity.
fn by_hand(order_type: &str, duration: &str) -> serde_json::Value {
    let mut body = serde_json::json!({
        "orderType": order_type,
        "session": "NORMAL",
        "duration": duration,
        "orderStrategyType": "SINGLE",
        "orderLegCollection": [{
            "instruction": "BUY",
            "quantity": 3,
            "instrument": { "symbol": "AAPL", "assetType": "EQUITY" }
        }]
    });
    if order_type == "LIMIT" {
        body["price"] = serde_json::json!("1.00");
    }
    body
}

#[tokio::test]
async fn recovery_finds_its_order_through_skew_and_missing_symbols_but_never_a_persons() {
    let schwab = sim().await;
    let (broker, _dir) = broker(&schwab, AccountChoice::Index(0)).await;
    // Schwab's clock runs 10 s behind the host's, and lists orders without their symbol.
    schwab.set_quirks(Quirks {
        omit_symbols: true,
        clock_offset_ms: -10_000,
        ..Quirks::default()
    });
    assert!(broker.market_open().await.unwrap()); // any answer measures the skew
    let since = Utc::now();
    let person = schwab
        .enter_order(&by_hand("LIMIT", "GOOD_TILL_CANCEL"), None)
        .unwrap();
    schwab.inject(Fault::LoseOrderResponse {
        orders: 1,
        instead: LostResponse::Status { status: 502 },
    });
    broker.place(&order(BrokerSide::Buy, 3)).await.unwrap_err();
    let ours = schwab.ledger().orders.last().unwrap().order_id;
    assert_ne!(ours, person);
    assert_eq!(
        broker
            .find_order(&order(BrokerSide::Buy, 3), since, &HashSet::new())
            .await
            .unwrap(),
        Lookup::Found(OrderId(ours)),
        "the bot's own order, entered 10 s 'before' it was sent by the host's clock"
    );
    // An order entered before the execution opened is not its order.
    assert_eq!(
        broker
            .find_order(
                &order(BrokerSide::Buy, 3),
                Utc::now() + TimeDelta::seconds(5),
                &HashSet::new()
            )
            .await
            .unwrap(),
        Lookup::Absent
    );
    // A person's market order is indistinguishable: two candidates, none adopted.
    let market = schwab.enter_order(&by_hand("MARKET", "DAY"), None).unwrap();
    let mut both = vec![OrderId(ours), OrderId(market)];
    both.sort_unstable_by_key(|id| id.0);
    assert_eq!(
        broker
            .find_order(&order(BrokerSide::Buy, 3), since, &HashSet::new())
            .await
            .unwrap(),
        Lookup::Ambiguous(both)
    );
}

#[tokio::test]
async fn broker_positions_are_read_per_symbol() {
    let schwab = sim().await;
    let (broker, _dir) = broker(&schwab, AccountChoice::Index(0)).await;
    let id = broker.place(&order(BrokerSide::Sell, 2)).await.unwrap();
    settle(&broker, id).await;
    let positions = broker.positions().await.unwrap().unwrap();
    assert_eq!(
        positions,
        [("AAPL".to_owned(), "-2".parse().unwrap())].into()
    );
}

#[tokio::test]
async fn a_replaced_order_is_followed_to_its_replacement() {
    let schwab = sim().await;
    let (broker, _dir) = broker(&schwab, AccountChoice::Index(0)).await;
    schwab.inject(Fault::StickOrders { orders: 1 });
    let id = broker.place(&order(BrokerSide::Buy, 3)).await.unwrap();
    let by = schwab
        .enter_order(&by_hand("MARKET", "DAY"), Some(id.0))
        .unwrap();
    assert_eq!(
        broker.order_state(id).await.unwrap(),
        OrderState::Replaced { by: OrderId(by) }
    );
}

#[tokio::test]
async fn reads_ride_out_rate_limits_server_errors_and_a_revoked_token() {
    let schwab = sim().await;
    let (broker, _dir) = broker(&schwab, AccountChoice::Index(0)).await;
    schwab.inject(Fault::RateLimited {
        calls: 2,
        retry_after_secs: Some(0),
    });
    schwab.inject(Fault::ServerError {
        calls: 2,
        status: 503,
    });
    schwab.inject(Fault::Unauthorized { calls: 1 });
    assert!(broker.market_open().await.unwrap());
    assert!(schwab.faults().is_empty());
    // Persistent 5xx: the read gives up after its retries with Schwab's status in the message.
    schwab.inject(Fault::ServerError {
        calls: 50,
        status: 500,
    });
    let error = broker
        .order_state(schwad::broker::OrderId(1))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, BrokerError::Unavailable(m) if m.contains("HTTP 500")),
        "{error}"
    );
    // One attempt and four retries, then no more.
    assert_eq!(
        schwab.faults(),
        vec![Fault::ServerError {
            calls: 45,
            status: 500
        }]
    );
}

#[tokio::test]
async fn fills_and_rejections_map_to_terminal_states() {
    let schwab = sim().await;
    let (broker, _dir) = broker(&schwab, AccountChoice::Number("22222222".to_owned())).await;
    let id = broker.place(&order(BrokerSide::Sell, 2)).await.unwrap();
    assert_eq!(
        settle(&broker, id).await,
        OrderState::Filled {
            average_price: "227.375".parse().unwrap()
        }
    );
    assert_eq!(schwab.ledger().orders[0].account_number, "22222222");
    schwab.inject(Fault::RejectOrders {
        orders: 1,
        reason: "Position_Sys_0001".to_owned(),
    });
    let id = broker.place(&order(BrokerSide::Buy, 1)).await.unwrap();
    match settle(&broker, id).await {
        OrderState::Failed {
            reason,
            filled_shares,
        } => {
            assert!(
                reason.contains("REJECTED") && reason.contains("Position_Sys_0001"),
                "{reason}"
            );
            assert_eq!(filled_shares, 0);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_unknown_account_is_refused_with_the_setting_named() {
    let schwab = sim().await;
    let (broker, _dir) = broker(&schwab, AccountChoice::Number("99999999".to_owned())).await;
    let error = broker.place(&order(BrokerSide::Buy, 1)).await.unwrap_err();
    assert!(
        matches!(&error, BrokerError::Refused(m) if m.contains("SCHWAB_ACCOUNT")),
        "{error}"
    );
    assert!(schwab.ledger().orders.is_empty());
}
