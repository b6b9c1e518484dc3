//! Helpers shared by the integration tests: a started simulator and a recording HTTP client.

#![allow(dead_code)] // each test binary uses a different subset

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use sim_digitalocean::{Config, SimHandle, Simulator};

/// Starts a simulator whose actions take `action_delay`.
pub async fn start(action_delay: Duration) -> SimHandle {
    Simulator::start(Config {
        action_delay,
        ..Config::default()
    })
    .await
    .unwrap()
}

/// One request and its response, as the OpenAPI validator reads them.
#[derive(Debug, serde::Serialize)]
pub struct Exchange {
    pub method: String,
    pub path: String,
    pub query: serde_json::Map<String, Value>,
    pub request_headers: serde_json::Map<String, Value>,
    pub request_body: Option<String>,
    pub status: u16,
    pub response_headers: serde_json::Map<String, Value>,
    pub response_body: String,
}

/// A response: status, headers and JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// A header as a string ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

/// A client of the simulator that records every exchange.
#[derive(Debug)]
pub struct Api {
    pub base: String,
    pub token: String,
    http: reqwest::Client,
    pub exchanges: Vec<Exchange>,
}

impl Api {
    pub fn new(sim: &SimHandle) -> Self {
        Self {
            base: sim.base_url(),
            token: sim.token().to_owned(),
            http: reqwest::Client::new(),
            exchanges: Vec::new(),
        }
    }

    /// Sends a request with the simulator's token.
    pub async fn call(&mut self, method: &str, path_and_query: &str, body: Option<Value>) -> Reply {
        let token = self.token.clone();
        self.call_as(Some(&token), method, path_and_query, body)
            .await
    }

    /// Sends a request with the given token (or none).
    pub async fn call_as(
        &mut self,
        token: Option<&str>,
        method: &str,
        path_and_query: &str,
        body: Option<Value>,
    ) -> Reply {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let url = format!("{}{path_and_query}", self.base);
        let mut request = self.http.request(method.clone(), &url);
        let mut request_headers = serde_json::Map::new();
        if let Some(token) = token {
            request = request.bearer_auth(token);
            request_headers.insert("Authorization".into(), json!(format!("Bearer {token}")));
        }
        let request_body = body.map(|b| b.to_string());
        if let Some(text) = &request_body {
            request = request
                .header("content-type", "application/json")
                .body(text.clone());
            request_headers.insert("Content-Type".into(), json!("application/json"));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let parsed = url::Url::parse(&url).unwrap();
        self.exchanges.push(Exchange {
            method: method.to_string(),
            path: parsed.path().to_owned(),
            query: parsed
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), json!(v)))
                .collect(),
            request_headers,
            request_body,
            status,
            response_headers: headers
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), json!(v.to_str().unwrap_or_default())))
                .collect(),
            response_body: text.clone(),
        });
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// GETs until `done` holds for the body (polling every 20 ms, at most 5 s).
    pub async fn wait_for(&mut self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..250 {
            let reply = self.call("GET", path, None).await;
            if done(&reply.body) {
                return reply.body;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{path} never reached the awaited state");
    }
}

/// A syntactically valid OpenSSH public key line.
pub const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb0Ji6V3uq2n3a0F2vtPLP2QuxRUTTuLwM7Pc5l9Pxs sim@test";
