//! Shared helpers: a fast simulator, an HTTP client that does not follow redirects, a login.

#![allow(
    dead_code,
    reason = "each test binary uses its own subset of the helpers"
)]

use std::time::{Duration, Instant};

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use sim_schwab::{Config, Handle};

/// A simulator tuned for tests: short delays, default credentials.
pub fn fast_config() -> Config {
    Config {
        activation_delay: Duration::from_millis(20),
        fill_delay: Duration::from_millis(60),
        ..Config::default()
    }
}

/// An HTTP client that shows redirects instead of following them.
pub fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Exchanges a fresh code for a token set.
pub async fn login(sim: &Handle, http: &Client) -> Value {
    let code = sim.authorize(None).code;
    let response = exchange_code(sim, http, &code).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// `POST /v1/oauth/token` with the authorization-code grant.
pub async fn exchange_code(sim: &Handle, http: &Client, code: &str) -> Response {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", sim.callback_url()),
    ];
    token_request(sim, http, &form).await
}

/// `POST /v1/oauth/token` with the refresh grant.
pub async fn refresh(sim: &Handle, http: &Client, refresh_token: &str) -> Response {
    token_request(
        sim,
        http,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

async fn token_request(sim: &Handle, http: &Client, form: &[(&str, &str)]) -> Response {
    http.post(format!("{}/v1/oauth/token", sim.base_url()))
        .basic_auth(sim.app_key(), Some(sim.app_secret()))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// A logged-in session against one simulator.
pub struct Session {
    pub sim: Handle,
    pub http: Client,
    pub access_token: String,
    pub refresh_token: String,
    pub hash: String,
}

impl Session {
    /// Starts a simulator and logs in.
    pub async fn start(config: Config) -> Self {
        let sim = sim_schwab::start(config).await.unwrap();
        let http = client();
        let tokens = login(&sim, &http).await;
        let hash = sim.accounts()[0].hash_value.clone();
        Self {
            access_token: tokens["access_token"].as_str().unwrap().to_owned(),
            refresh_token: tokens["refresh_token"].as_str().unwrap().to_owned(),
            sim,
            http,
            hash,
        }
    }

    /// An absolute URL on the simulator.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url())
    }

    /// Authenticated GET.
    pub async fn get(&self, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(&self.access_token)
            .send()
            .await
            .unwrap()
    }

    /// Authenticated DELETE.
    pub async fn delete(&self, path: &str) -> Response {
        self.http
            .delete(self.url(path))
            .bearer_auth(&self.access_token)
            .send()
            .await
            .unwrap()
    }

    /// Authenticated order placement, returning the raw response.
    pub async fn place(&self, order: &Value) -> Response {
        self.try_place(order).await.unwrap()
    }

    /// Authenticated order placement, surfacing transport errors.
    pub async fn try_place(&self, order: &Value) -> reqwest::Result<Response> {
        self.http
            .post(self.url(&format!("/trader/v1/accounts/{}/orders", self.hash)))
            .bearer_auth(&self.access_token)
            .json(order)
            .send()
            .await
    }

    /// Places an order that must be accepted and returns its id from the `Location` header.
    pub async fn place_ok(&self, order: &Value) -> i64 {
        let response = self.place(order).await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{:?}",
            response.text().await
        );
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        location.rsplit('/').next().unwrap().parse().unwrap()
    }

    /// The order's JSON.
    pub async fn order(&self, id: i64) -> Value {
        let response = self
            .get(&format!("/trader/v1/accounts/{}/orders/{id}", self.hash))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Polls the order until it has `status` (fails after two seconds).
    pub async fn wait_for_status(&self, id: i64, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let order = self.order(id).await;
            if order["status"] == status {
                return order;
            }
            assert!(
                Instant::now() < deadline,
                "order never reached {status}: {order}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A whole-share equity market order, as schwab-py's `equity_buy_market` builds it.
pub fn market_order(instruction: &str, symbol: &str, quantity: u64) -> Value {
    json!({
        "orderType": "MARKET",
        "session": "NORMAL",
        "duration": "DAY",
        "orderStrategyType": "SINGLE",
        "orderLegCollection": [
            {"instruction": instruction, "quantity": quantity, "instrument": {"symbol": symbol, "assetType": "EQUITY"}}
        ]
    })
}
