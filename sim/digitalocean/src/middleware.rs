//! What every request goes through: request id, counting, latency, auth, scopes, rate limit and faults.

use std::time::{Duration, SystemTime};

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::App;
use crate::error::{ApiError, REQUEST_ID};
use crate::faults::{Injected, LostResponse};
use crate::rate_limit::{Refusal, Verdict};

/// The list with its own limit (10 per minute on DigitalOcean).
const KEY_LIST_ROUTE: &str = "GET /v2/account/keys";

/// Tags each response with `x-request-id`; `/v2` requests also get the API gate.
pub(crate) async fn gate(State(app): State<App>, request: Request, next: Next) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let template = request.extensions().get::<MatchedPath>().map_or_else(
        || request.uri().path().to_owned(),
        |p| p.as_str().to_owned(),
    );
    let route = format!("{} {template}", request.method());
    let is_api = request.uri().path().starts_with("/v2");
    REQUEST_ID
        .scope(request_id.clone(), async move {
            let mut response = if is_api {
                serve_api(&app, &route, request, next).await
            } else {
                next.run(request).await
            };
            if let Ok(value) = HeaderValue::from_str(&request_id) {
                response.headers_mut().insert("x-request-id", value);
            }
            response
        })
        .await
}

async fn serve_api(app: &App, route: &str, request: Request, next: Next) -> Response {
    let number = {
        let mut requests = app.requests();
        requests.record(route);
        requests.total()
    };
    tracing::debug!(route, number, "request");
    if app.faults().hold_after.is_some_and(|first| number > first) {
        tracing::info!(route, number, "fault: holding the request");
        std::future::pending::<()>().await;
    }
    let latency = app.faults().latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let now = SystemTime::now();
    if !authorized(request.headers(), &app.config.token) {
        let mut response = ApiError::unauthorized().into_response();
        rate_headers(
            response.headers_mut(),
            app.limiter().peek(now),
            Injected::None,
        );
        return response;
    }
    if !crate::scopes::permits(app.config.scopes.as_deref(), route) {
        let mut response = ApiError::forbidden().into_response();
        rate_headers(
            response.headers_mut(),
            app.limiter().peek(now),
            Injected::None,
        );
        return response;
    }
    let mut verdict = app.limiter().check(now);
    if verdict.refused.is_none()
        && route == KEY_LIST_ROUTE
        && let Err(retry_after_secs) = app.key_list_window().take(now)
    {
        verdict.refused = Some(Refusal::Burst { retry_after_secs });
    }
    let injected = app.faults().inject(route);
    let mut response = match (verdict.refused, injected) {
        (Some(Refusal::Exhausted), _) => ApiError::too_many_requests().into_response(),
        (Some(Refusal::Burst { retry_after_secs }), _)
        | (None, Injected::RateLimited { retry_after_secs }) => retry_after(retry_after_secs),
        (None, Injected::ServerError) => ApiError::server_error().into_response(),
        (None, Injected::None) => {
            let creates = request.method() == Method::POST;
            let response = next.run(request).await;
            let lost = creates && response.status().is_success();
            match lost
                .then(|| app.faults().take_lost_response(route))
                .flatten()
            {
                Some(mode) => {
                    let stall = Duration::from_millis(app.faults().stall_ms);
                    lose(response.status(), mode, stall).await
                }
                None => response,
            }
        }
    };
    rate_headers(response.headers_mut(), verdict, injected);
    response
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|presented| presented == token)
}

fn retry_after(seconds: u64) -> Response {
    let mut response = ApiError::too_many_requests().into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

fn rate_headers(headers: &mut HeaderMap, verdict: Verdict, injected: Injected) {
    let remaining = if matches!(injected, Injected::RateLimited { .. }) {
        0
    } else {
        verdict.remaining
    };
    headers.insert("ratelimit-limit", HeaderValue::from(verdict.limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(remaining));
    headers.insert("ratelimit-reset", HeaderValue::from(verdict.reset));
}

/// Replaces the response of work already done by the failure the client sees instead.
async fn lose(status: StatusCode, mode: LostResponse, stall: Duration) -> Response {
    tracing::info!(?mode, %status, "fault: losing the response of a successful request");
    match mode {
        LostResponse::GatewayTimeout => ApiError::gateway_timeout().into_response(),
        LostResponse::Stall => {
            tokio::time::sleep(stall).await;
            ApiError::gateway_timeout().into_response()
        }
        LostResponse::ServerError => ApiError::server_error().into_response(),
        LostResponse::Garbled => {
            let mut page = Response::new(Body::from("<html><body>upstream reset</body></html>"));
            *page.status_mut() = status;
            page.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
            page
        }
        LostResponse::Disconnect => {
            let cut = futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::other(
                    "connection cut by fault injection",
                ))
            });
            let mut cut_response = Response::new(Body::from_stream(cut));
            *cut_response.status_mut() = status;
            cut_response
        }
    }
}
