//! Calls to the Trader and Market Data APIs: bearer auth, client-side rate limits, backoff on 429
//! and 5xx for reads (honouring `Retry-After`), one refresh-and-retry on 401, order POSTs sent
//! exactly once, and Schwab's clock measured from the `Date` header of every answer.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use backoff::ExponentialBackoff;
use backoff::backoff::Backoff as _;
use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::{DATE, LOCATION, RETRY_AFTER};
use reqwest::{Response, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use super::envelope;
use super::rate_limit::RateLimiter;
use super::tokens::TokenManager;
use crate::broker::BrokerError;

/// How reads are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff delay (doubles with jitter).
    pub min_backoff: Duration,
    /// Longest backoff delay (also caps `Retry-After`).
    pub max_backoff: Duration,
}

/// An authenticated, rate-limited client of Schwab's APIs.
#[derive(Debug)]
pub struct Api {
    http: reqwest::Client,
    base_url: Url,
    tokens: TokenManager,
    requests: RateLimiter,
    orders: RateLimiter,
    retry: RetryPolicy,
    /// Schwab's clock minus ours in milliseconds, from the last `Date` header read.
    skew_ms: AtomicI64,
}

impl Api {
    /// A client under `base_url` with `requests` and `orders` limiters.
    pub fn new(
        http: reqwest::Client,
        base_url: Url,
        tokens: TokenManager,
        requests: RateLimiter,
        orders: RateLimiter,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            http,
            base_url,
            tokens,
            requests,
            orders,
            retry,
            skew_ms: AtomicI64::new(0),
        }
    }

    /// Schwab's clock minus ours, as last measured (zero before any answer). `Date` has whole
    /// seconds, so it is off by up to a second plus the round trip.
    pub fn clock_skew(&self) -> TimeDelta {
        TimeDelta::milliseconds(self.skew_ms.load(Ordering::Relaxed))
    }

    /// Measures the skew from an answer's `Date`, read as the middle of its second.
    fn measure_skew(&self, response: &Response) {
        let Some(date) = response
            .headers()
            .get(DATE)
            .and_then(|date| date.to_str().ok())
            .and_then(|date| DateTime::parse_from_rfc2822(date).ok())
        else {
            return;
        };
        let skew = date.with_timezone(&Utc) + TimeDelta::milliseconds(500) - Utc::now();
        let before = self
            .skew_ms
            .swap(skew.num_milliseconds(), Ordering::Relaxed);
        if (skew.num_milliseconds() - before).abs() > 2_000 {
            tracing::info!(
                skew_ms = skew.num_milliseconds(),
                "Schwab's clock differs from ours"
            );
        }
    }

    /// GETs `path` and decodes the JSON body, retrying what is worth retrying.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, BrokerError> {
        let url = self.url(path);
        let mut backoff = ExponentialBackoff {
            initial_interval: self.retry.min_backoff,
            max_interval: self.retry.max_backoff,
            max_elapsed_time: None,
            ..ExponentialBackoff::default()
        };
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            self.requests.acquire().await;
            let token = self.tokens.access_token().await?;
            let sent = self
                .http
                .get(url.clone())
                .bearer_auth(token.expose())
                .query(query)
                .send()
                .await;
            if let Ok(response) = &sent {
                self.measure_skew(response);
            }
            let (problem, retry_after) = match sent {
                Err(error) => (unreachable(path, &error), None),
                Ok(response) if response.status().is_success() => {
                    return response.json().await.map_err(|error| {
                        BrokerError::Unavailable(format!(
                            "decoding {path}: {}",
                            error.without_url()
                        ))
                    });
                }
                Ok(response) => {
                    let status = response.status();
                    let retry_after = retry_after(&response);
                    let problem = failure(path, response).await;
                    match status {
                        StatusCode::UNAUTHORIZED if !refreshed => {
                            refreshed = true;
                            self.tokens.expire(&token).await;
                            continue;
                        }
                        StatusCode::TOO_MANY_REQUESTS => (problem, retry_after),
                        status if status.is_server_error() => (problem, None),
                        StatusCode::UNAUTHORIZED => return Err(BrokerError::Unavailable(problem)),
                        _ => return Err(BrokerError::Refused(problem)),
                    }
                }
            };
            let delay = retry_after
                .or_else(|| backoff.next_backoff())
                .unwrap_or(self.retry.max_backoff)
                .min(self.retry.max_backoff);
            if attempt >= self.retry.max_retries {
                return Err(BrokerError::Unavailable(problem));
            }
            attempt += 1;
            tracing::debug!(%problem, ?delay, attempt, "broker read failed; retrying");
            tokio::time::sleep(delay).await;
        }
    }

    /// POSTs an order and returns its `Location`. Sent again only after an answer that proves
    /// Schwab did not act (a 401, once, with a refreshed token); an error that is not such a proof
    /// leaves the outcome unknown, for the caller to look up.
    pub async fn post_order(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<String, BrokerError> {
        let mut refreshed = false;
        loop {
            self.orders.acquire().await;
            self.requests.acquire().await;
            let token = self
                .tokens
                .access_token()
                .await
                .map_err(|error| match error {
                    BrokerError::Unavailable(problem) => {
                        BrokerError::NotPlaced(format!("no access token: {problem}"))
                    }
                    other => other,
                })?;
            let response = self
                .http
                .post(self.url(path))
                .bearer_auth(token.expose())
                .json(body)
                .send()
                .await
                .map_err(|error| {
                    let problem = unreachable(path, &error);
                    if error.is_connect() {
                        BrokerError::NotPlaced(problem)
                    } else {
                        BrokerError::Unavailable(problem)
                    }
                })?;
            self.measure_skew(&response);
            let status = response.status();
            if status.is_success() {
                return response
                    .headers()
                    .get(LOCATION)
                    .and_then(|location| location.to_str().ok())
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        BrokerError::Unavailable(format!("{status} without a Location header"))
                    });
            }
            let problem = failure(path, response).await;
            return Err(match status {
                // Turned away at the door: the login or the rate limit, checked before any order exists.
                StatusCode::UNAUTHORIZED if !refreshed => {
                    refreshed = true;
                    self.tokens.expire(&token).await;
                    continue;
                }
                StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS => {
                    BrokerError::NotPlaced(problem)
                }
                StatusCode::REQUEST_TIMEOUT => BrokerError::Unavailable(problem),
                status if status.is_client_error() => BrokerError::Refused(problem),
                _ => BrokerError::Unavailable(problem),
            });
        }
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.base_url.clone();
        url.set_path(path);
        url
    }
}

fn unreachable(path: &str, error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else {
        "failed"
    };
    format!("{path} {kind}: {}", error_chain(error))
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

async fn failure(path: &str, response: Response) -> String {
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    format!("{path}: {}", envelope::describe(status, &body))
}

fn retry_after(response: &Response) -> Option<Duration> {
    response
        .headers()
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
        .map(Duration::from_secs)
}
