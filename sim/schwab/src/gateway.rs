//! What Schwab's API gateway does before a request reaches the API: injected faults, bearer
//! authentication, rate limiting, and the correlation id on every response.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;

use crate::errors::GatewayError;
use crate::faults::Fault;
use crate::state::Sim;

/// The correlation header Schwab puts on its responses.
pub(crate) const CORREL_ID: HeaderName = HeaderName::from_static("schwab-client-correlid");

/// Guards every `/trader` and `/marketdata` call.
pub(crate) async fn guard(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    match admit(&sim, &request) {
        Ok(()) => next.run(request).await,
        Err(error) => {
            tracing::debug!(path = request.uri().path(), ?error, "gateway refused call");
            error.into_response()
        }
    }
}

fn admit(sim: &Sim, request: &Request) -> Result<(), GatewayError> {
    let now = Utc::now();
    let mut world = sim.world();
    match world.faults.take_call_fault() {
        Some(Fault::Unauthorized { .. }) => return Err(unauthorized("Access token expired")),
        Some(Fault::RateLimited {
            retry_after_secs, ..
        }) => {
            return Err(GatewayError::new(StatusCode::TOO_MANY_REQUESTS)
                .detail("Rate limit exceeded")
                .retry_after(retry_after_secs));
        }
        Some(Fault::ServerError { status, .. }) => {
            return Err(GatewayError::new(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            ));
        }
        _ => {}
    }
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(|| {
            GatewayError::new(StatusCode::UNAUTHORIZED)
                .detail("Missing header")
                .source(json!({ "header": "Authorization" }))
        })?;
    if !world.tokens.access_is_valid(token.trim(), now) {
        return Err(unauthorized("Invalid or expired access token"));
    }
    world.requests.try_hit(now).map_err(|retry_after| {
        GatewayError::new(StatusCode::TOO_MANY_REQUESTS)
            .detail("Rate limit exceeded")
            .retry_after(Some(retry_after))
    })
}

fn unauthorized(detail: &str) -> GatewayError {
    GatewayError::new(StatusCode::UNAUTHORIZED).detail(detail)
}

/// Stamps every response with Schwab's clock in `Date` (the host's, shifted by the clock
/// offset quirk), as a client measuring its skew sees it.
pub(crate) async fn date(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let date = sim.now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    if let Ok(value) = HeaderValue::from_str(&date) {
        response.headers_mut().insert(header::DATE, value);
    }
    response
}

/// Echoes the caller's `Schwab-Client-CorrelId` or mints one, on every response.
pub(crate) async fn correlation_id(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&CORREL_ID)
        .cloned()
        .or_else(|| HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).ok());
    let mut response = next.run(request).await;
    if let Some(id) = id {
        response.headers_mut().insert(CORREL_ID, id);
    }
    response
}
