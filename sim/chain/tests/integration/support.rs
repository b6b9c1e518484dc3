//! Helpers: a simulator per test, JSON-RPC over HTTP and WebSocket clients, scripted trades.

use std::collections::VecDeque;
use std::time::Duration;

use alloy_primitives::{Address, B256, U256, address, keccak256};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sim_chain::{ChainSim, Config, Leg, OrderFill, Token, Trade};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Our order owner in every test.
pub const OWNER: Address = address!("0x00000000000000000000000000000000000000aa");
/// Someone else.
pub const STRANGER: Address = address!("0x00000000000000000000000000000000000000bb");
/// Another one.
pub const TAKER: Address = address!("0x00000000000000000000000000000000000000cc");
/// How long to wait for something that should arrive.
pub const PATIENCE: Duration = Duration::from_secs(5);
/// How long to wait to be convinced nothing arrives.
pub const QUIET: Duration = Duration::from_millis(300);

/// A simulator with default settings and our owner.
pub async fn start() -> ChainSim {
    start_with(Config {
        owner: OWNER,
        ..Config::default()
    })
    .await
}

/// A simulator with `config`.
pub async fn start_with(config: Config) -> ChainSim {
    ChainSim::start(config).await.expect("simulator starts")
}

/// The token with `symbol`, registered at start.
pub fn token(sim: &ChainSim, symbol: &str) -> Token {
    sim.tokens()
        .into_iter()
        .find(|token| token.symbol == symbol)
        .expect("default token")
}

/// `whole` tokens with `decimals`, as an exact integer.
pub fn units(whole: u64, decimals: u8) -> U256 {
    U256::from(whole) * U256::from(10).pow(U256::from(decimals))
}

/// An order fill giving `gave` and receiving `received`.
pub fn fill(
    owner: Address,
    nonce: &str,
    gave: (&Token, U256),
    received: (&Token, U256),
) -> OrderFill {
    OrderFill {
        owner,
        nonce: keccak256(nonce),
        gave: Leg {
            token: gave.0.address,
            amount: gave.1,
        },
        received: Leg {
            token: received.0.address,
            amount: received.1,
        },
    }
}

/// A take of our order selling `shares` AAPL0x for `usdc` USDC.
pub fn our_sale(sim: &ChainSim, shares: u64, usdc: u64) -> Trade {
    let aapl = token(sim, "AAPL0x");
    let usdc_token = token(sim, "USDC");
    Trade::Take {
        taker: TAKER,
        order: fill(
            OWNER,
            "ours",
            (&aapl, units(shares, 18)),
            (&usdc_token, units(usdc, 6)),
        ),
    }
}

/// JSON-RPC over HTTP.
#[derive(Debug)]
pub struct Http {
    client: reqwest::Client,
    url: String,
}

impl Http {
    pub fn new(sim: &ChainSim) -> Self {
        Self {
            client: reqwest::Client::new(),
            url: sim.http_url(),
        }
    }

    /// Posts `body` and returns the status and the parsed body (`Null` when empty).
    pub async fn post(&self, body: &Value) -> (u16, Value) {
        let response = self.client.post(&self.url).json(body).send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, body)
    }

    /// The response object of one call.
    pub async fn call(&self, method: &str, params: Value) -> Value {
        let (status, body) = self
            .post(&json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["id"], 1);
        body
    }

    /// The result of a call that must succeed.
    pub async fn result(&self, method: &str, params: Value) -> Value {
        let body = self.call(method, params).await;
        assert!(body.get("error").is_none(), "{method} failed: {body}");
        body["result"].clone()
    }

    /// The error object of a call that must fail.
    pub async fn error(&self, method: &str, params: Value) -> Value {
        let body = self.call(method, params).await;
        assert!(body.get("result").is_none(), "{method} should fail: {body}");
        body["error"].clone()
    }

    /// `eth_getLogs` with `filter`.
    pub async fn logs(&self, filter: Value) -> Vec<Value> {
        self.result("eth_getLogs", json!([filter]))
            .await
            .as_array()
            .unwrap()
            .clone()
    }

    /// A control request to `/control/{path}`, with an optional JSON body.
    pub async fn control(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, format!("{}/control/{path}", self.url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, body)
    }
}

/// A JSON-RPC WebSocket client that keeps notifications aside while waiting for responses.
#[derive(Debug)]
pub struct Ws {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    notifications: VecDeque<Value>,
}

impl Ws {
    pub async fn connect(sim: &ChainSim) -> Self {
        let (socket, _) = tokio_tungstenite::connect_async(sim.ws_url())
            .await
            .unwrap();
        Self {
            socket,
            next_id: 1,
            notifications: VecDeque::new(),
        }
    }

    /// Sends raw text.
    pub async fn send(&mut self, text: String) {
        self.socket.send(Message::Text(text.into())).await.unwrap();
    }

    /// The next message as JSON, or `None` if none comes within `wait`; panics if the connection ends.
    pub async fn next_message(&mut self, wait: Duration) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(wait, self.socket.next()).await.ok()?;
            match message.expect("connection open").expect("no socket error") {
                Message::Text(text) => return Some(serde_json::from_str(&text).unwrap()),
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("unexpected message {other:?}"),
            }
        }
    }

    /// Sends a call and returns its response object.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(
            json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }).to_string(),
        )
        .await;
        loop {
            let message = self.next_message(PATIENCE).await.expect("response in time");
            if message["method"] == "eth_subscription" {
                self.notifications.push_back(message);
            } else {
                assert_eq!(message["id"], id, "{message}");
                return message;
            }
        }
    }

    /// Subscribes and returns the subscription id.
    pub async fn subscribe(&mut self, params: Value) -> String {
        let response = self.call("eth_subscribe", params).await;
        response["result"]
            .as_str()
            .expect("subscription id")
            .to_owned()
    }

    /// The next notification's `params`, or `None` within `wait`.
    pub async fn notification_within(&mut self, wait: Duration) -> Option<Value> {
        if let Some(notification) = self.notifications.pop_front() {
            return Some(notification["params"].clone());
        }
        let message = self.next_message(wait).await?;
        assert_eq!(message["method"], "eth_subscription", "{message}");
        assert_eq!(message["jsonrpc"], "2.0");
        Some(message["params"].clone())
    }

    /// The next notification's `params`; panics if none comes.
    pub async fn notification(&mut self) -> Value {
        self.notification_within(PATIENCE)
            .await
            .expect("notification in time")
    }

    /// Whether the server closed the connection (without answering) within `wait`.
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        loop {
            match tokio::time::timeout(wait, self.socket.next()).await {
                Err(_) => return false,
                Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return true,
                Ok(Some(Ok(_))) => {}
            }
        }
    }
}

/// Parses a JSON quantity.
pub fn quantity(value: &Value) -> u64 {
    let text = value.as_str().expect("quantity string");
    u64::from_str_radix(text.strip_prefix("0x").expect("0x prefix"), 16).unwrap()
}

/// Parses a JSON hash.
pub fn hash(value: &Value) -> B256 {
    value.as_str().expect("hash string").parse().unwrap()
}
