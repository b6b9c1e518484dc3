//! The HTTP core: auth, rate-limit budget, retries, error decoding, pagination and safe creates.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use crate::budget::{self, Budget, BudgetPolicy, RateLimit};
use crate::error::{ApiError, Error, Result};
use crate::retry::{RetryPolicy, Safety, Schedule, retryable};
use crate::token::Token;

/// The public API.
pub const DEFAULT_BASE_URL: &str = "https://api.digitalocean.com";
/// Environment variable overriding the base URL (e.g. a simulator).
pub const BASE_URL_ENV: &str = "DIGITALOCEAN_API_URL";
/// Largest page DigitalOcean serves.
const PER_PAGE: &str = "200";

/// How the client waits for asynchronous work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollPolicy {
    /// Pause between polls.
    pub interval: Duration,
    /// Longest wait for an action or a droplet to become active.
    pub timeout: Duration,
    /// Longest wait for "Droplet already has a pending event." to clear.
    pub pending_event_timeout: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(600),
            pending_event_timeout: Duration::from_secs(300),
        }
    }
}

/// Settings of a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// API base URL (checked by [`Client::new`]).
    pub base_url: String,
    /// The token.
    pub token: Token,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// Retries of failed requests.
    pub retry: RetryPolicy,
    /// Rate-limit pacing.
    pub budget: BudgetPolicy,
    /// Polling of actions and pending events.
    pub poll: PollPolicy,
}

impl ClientConfig {
    /// Defaults for the public API with `token`.
    pub fn new(token: Token) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            token,
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            budget: BudgetPolicy::default(),
            poll: PollPolicy::default(),
        }
    }

    /// Token from `DIGITALOCEAN_ACCESS_TOKEN`, base URL from `DIGITALOCEAN_API_URL` when set.
    pub fn from_env() -> Result<Self> {
        let token = Token::from_env().ok_or(Error::MissingToken)?;
        let mut config = Self::new(token);
        if let Ok(url) = std::env::var(BASE_URL_ENV) {
            config.base_url = url;
        }
        Ok(config)
    }

    /// The same settings against another base URL (e.g. a simulator).
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }
}

fn parse_base_url(url: &str) -> Result<Url> {
    let parsed = Url::parse(url).map_err(|e| Error::BaseUrl {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::BaseUrl {
            url: url.to_owned(),
            reason: "the scheme must be http or https".into(),
        });
    }
    Ok(parsed)
}

/// A DigitalOcean API client. Cheap to clone; clones share the rate-limit budget.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: ClientConfig,
    base_url: Url,
    http: reqwest::Client,
    budget: Budget,
}

/// A request, as data.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    body: Option<Value>,
}

impl Call {
    fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
        }
    }

    pub(crate) fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }

    pub(crate) fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, path)
    }

    pub(crate) fn post(path: impl Into<String>, body: &impl Serialize) -> Self {
        Self::new(Method::POST, path).body(body)
    }

    pub(crate) fn put(path: impl Into<String>, body: &impl Serialize) -> Self {
        Self::new(Method::PUT, path).body(body)
    }

    pub(crate) fn body(mut self, body: &impl Serialize) -> Self {
        // Serializing the crate's own model types cannot fail; `Null` would be refused by the API.
        self.body = Some(serde_json::to_value(body).unwrap_or(Value::Null));
        self
    }

    pub(crate) fn query(mut self, key: &str, value: impl ToString) -> Self {
        self.query.push((key.to_owned(), value.to_string()));
        self
    }

    fn decode_error(&self, source: serde_json::Error) -> Error {
        Error::Decode {
            method: self.method.to_string(),
            path: self.path.clone(),
            source,
        }
    }

    fn transport_error(&self, source: reqwest::Error) -> Error {
        Error::Transport {
            method: self.method.to_string(),
            path: self.path.clone(),
            source: source.without_url(),
        }
    }
}

/// A successful response body.
#[derive(Debug)]
pub(crate) struct Reply {
    body: Vec<u8>,
}

impl Reply {
    /// The object under `key` (`{"droplet": {...}}`).
    pub(crate) fn field<T: DeserializeOwned>(&self, call: &Call, key: &str) -> Result<T> {
        let mut envelope: Value =
            serde_json::from_slice(&self.body).map_err(|e| call.decode_error(e))?;
        let inner = envelope
            .get_mut(key)
            .map(Value::take)
            .unwrap_or(Value::Null);
        serde_json::from_value(inner).map_err(|e| call.decode_error(e))
    }

    /// The whole body.
    pub(crate) fn decode<T: DeserializeOwned>(&self, call: &Call) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| call.decode_error(e))
    }
}

impl Client {
    /// A client with `config`.
    pub fn new(config: ClientConfig) -> Result<Self> {
        let http = crate::http::client_builder()
            .timeout(config.request_timeout)
            .build()
            .map_err(Error::HttpClient)?;
        let base_url = parse_base_url(&config.base_url)?;
        let budget = Budget::new(config.budget);
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                base_url,
                http,
                budget,
            }),
        })
    }

    /// A client configured from the environment (see [`ClientConfig::from_env`]).
    pub fn from_env() -> Result<Self> {
        Self::new(ClientConfig::from_env()?)
    }

    /// The quota reported by the last response.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.inner.budget.last()
    }

    pub(crate) fn poll_policy(&self) -> PollPolicy {
        self.inner.config.poll
    }

    /// One attempt, no retry.
    async fn attempt(&self, call: &Call) -> Result<Reply> {
        let url = self
            .inner
            .base_url
            .join(&call.path)
            .map_err(|e| Error::BaseUrl {
                url: format!("{}{}", self.inner.base_url, call.path),
                reason: e.to_string(),
            })?;
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), url)
            .bearer_auth(self.inner.config.token.expose())
            .header(ACCEPT, "application/json");
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        self.inner.budget.pace().await;
        let response = request.send().await.map_err(|e| call.transport_error(e))?;
        let status = response.status();
        let headers = response.headers().clone();
        if !headers.contains_key(RETRY_AFTER) {
            // A 429 with `retry-after` reports `remaining: 0` for the burst window; its
            // `retry-after`, not the hourly reset, says when to come back (handled below).
            self.inner.budget.observe(&headers);
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| call.transport_error(e))?
            .to_vec();
        tracing::debug!(method = %call.method, path = %call.path, status = status.as_u16(), "DigitalOcean request");
        if status.is_success() {
            return Ok(Reply { body });
        }
        let error = api_error(call, status, &headers, &body);
        if let Some(wait) = error.retry_after {
            self.inner.budget.block_for(wait);
        }
        Err(error.into())
    }

    /// Sends `call`, retrying as `safety` allows.
    pub(crate) async fn send(&self, call: &Call, safety: Safety) -> Result<Reply> {
        let mut schedule = Schedule::new(&self.inner.config.retry);
        let mut attempt = 1;
        loop {
            match self.attempt(call).await {
                Ok(reply) => return Ok(reply),
                Err(error) if safety == Safety::Delete && attempt > 1 && error.is_not_found() => {
                    tracing::info!(path = %call.path, "already deleted by an earlier attempt");
                    return Ok(Reply { body: Vec::new() });
                }
                Err(error) if retryable(&error, safety) => {
                    let retry_after = error.api().and_then(|e| e.retry_after);
                    let Some(wait) = schedule.next_wait(retry_after) else {
                        return Err(error);
                    };
                    tracing::warn!(%error, attempt, ?wait, "retrying DigitalOcean request");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// GETs `path` and returns the object under `key`.
    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str, key: &str) -> Result<T> {
        let call = Call::get(path);
        self.send(&call, Safety::Idempotent)
            .await?
            .field(&call, key)
    }

    /// GETs `path` and returns `None` on 404.
    pub(crate) async fn find<T: DeserializeOwned>(
        &self,
        path: &str,
        key: &str,
    ) -> Result<Option<T>> {
        match self.get(path, key).await {
            Ok(found) => Ok(Some(found)),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Sends an idempotent call whose body does not matter.
    pub(crate) async fn run(&self, call: Call, safety: Safety) -> Result<()> {
        self.send(&call, safety).await.map(drop)
    }

    /// Lists every page of a collection (`per_page=200`, following `links.pages.next`).
    pub(crate) async fn list_all<T: DeserializeOwned>(
        &self,
        call: Call,
        key: &str,
    ) -> Result<Vec<T>> {
        let mut items = Vec::new();
        let mut call = call.query("per_page", PER_PAGE);
        loop {
            let page = self
                .send(&call, Safety::Idempotent)
                .await?
                .decode::<Value>(&call)?;
            let batch = page.get(key).cloned().unwrap_or(Value::Array(Vec::new()));
            items
                .extend(serde_json::from_value::<Vec<T>>(batch).map_err(|e| call.decode_error(e))?);
            let next = page
                .pointer("/links/pages/next")
                .and_then(Value::as_str)
                .and_then(|u| Url::parse(u).ok());
            let Some(next) = next else { return Ok(items) };
            let query: Vec<(String, String)> = next.query_pairs().into_owned().collect();
            if query == call.query {
                return Ok(items);
            }
            call.query = query;
        }
    }

    /// Sends a create (or action) at most once per certain failure: when the outcome is unknown
    /// (5xx, timeout, cut connection) it calls `lookup` and returns what it finds before
    /// trying again; a 2xx whose body does not decode was carried out, so it is looked up and
    /// never sent again.
    pub(crate) async fn create<T, F, Fut>(
        &self,
        call: &Call,
        kind: &'static str,
        parse: impl Fn(&Reply) -> Result<T>,
        lookup: F,
    ) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Option<T>>>,
    {
        let mut schedule = Schedule::new(&self.inner.config.retry);
        loop {
            match self.send(call, Safety::Unsafe).await {
                Ok(reply) => match parse(&reply) {
                    Ok(made) => return Ok(made),
                    // A 2xx says it was carried out: what it made is looked up, never made again.
                    Err(error) => {
                        tracing::warn!(%error, kind, "the create succeeded but its body did not decode; looking it up");
                        return lookup().await?.ok_or(error);
                    }
                },
                Err(error) if error.outcome_unknown() => {
                    tracing::warn!(%error, kind, "outcome of the request is unknown; looking it up before any retry");
                    if let Some(found) = lookup().await? {
                        tracing::info!(kind, "the request had been carried out");
                        return Ok(found);
                    }
                    let Some(wait) = schedule.next_wait(None) else {
                        return Err(error);
                    };
                    tokio::time::sleep(wait).await;
                }
                Err(error) => return Err(error),
            }
        }
    }
}

/// Decodes DigitalOcean's error body, falling back to the status text.
fn api_error(call: &Call, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ApiError {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = |key: &str| parsed.get(key).and_then(Value::as_str).map(str::to_owned);
    let header_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let retry_after = budget::retry_after(headers);
    ApiError {
        method: call.method.to_string(),
        path: call.path.clone(),
        status,
        id: text("id").unwrap_or_default(),
        message: text("message")
            .or_else(|| text("error"))
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned()),
        request_id: text("request_id").filter(|id| !id.is_empty()).or(header_id),
        retry_after,
    }
}
