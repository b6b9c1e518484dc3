//! OAuth 2.0 authorization-code flow: `/v1/oauth/authorize` and `/v1/oauth/token`.

pub(crate) mod tokens;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::{Form, Json};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use crate::errors::OAuthError;
use crate::state::Sim;

/// Query of the browser's authorize request.
#[derive(Debug, Deserialize)]
pub(crate) struct AuthorizeRequest {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
}

/// `GET /v1/oauth/authorize`: the login page, or with auto-approve straight the 302 to the callback.
pub(crate) async fn authorize(
    State(sim): State<Arc<Sim>>,
    Query(request): Query<AuthorizeRequest>,
) -> Response {
    if let Err(reason) = check_client(&sim, &request) {
        return access_denied(reason);
    }
    if sim.config.auto_approve {
        return found(&sim.authorize(request.state.as_deref()).redirect_url);
    }
    let state = request
        .state
        .as_deref()
        .map(html_escape)
        .unwrap_or_default();
    Html(format!(
        "<!doctype html><title>Charles Schwab - Log in (simulated)</title>\
         <form method=\"post\" action=\"/v1/oauth/authorize\">\
         <input type=\"hidden\" name=\"response_type\" value=\"code\">\
         <input type=\"hidden\" name=\"client_id\" value=\"{}\">\
         <input type=\"hidden\" name=\"redirect_uri\" value=\"{}\">\
         <input type=\"hidden\" name=\"state\" value=\"{state}\">\
         <button type=\"submit\">Allow</button></form>",
        html_escape(&sim.config.app_key),
        html_escape(&sim.config.callback_url),
    ))
    .into_response()
}

/// `POST /v1/oauth/authorize`: the user pressed "Allow" on the login page.
pub(crate) async fn approve(
    State(sim): State<Arc<Sim>>,
    Form(request): Form<AuthorizeRequest>,
) -> Response {
    if let Err(reason) = check_client(&sim, &request) {
        return access_denied(reason);
    }
    found(&sim.authorize(request.state.as_deref()).redirect_url)
}

/// Refuses an unknown client or a callback that differs from the registered one by a single byte.
fn check_client(sim: &Sim, request: &AuthorizeRequest) -> Result<(), &'static str> {
    if request.response_type.as_deref() != Some("code") {
        return Err("response_type must be code");
    }
    if request.client_id.as_deref() != Some(sim.config.app_key.as_str()) {
        return Err("unknown client_id");
    }
    if request.redirect_uri.as_deref() != Some(sim.config.callback_url.as_str()) {
        return Err("redirect_uri does not match the registered callback URL");
    }
    Ok(())
}

/// `302 Found` to the callback, as Schwab's login redirects.
fn found(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

fn access_denied(reason: &str) -> Response {
    tracing::warn!(reason, "authorize refused");
    let page = format!(
        "<!doctype html><title>Access Denied</title><h1>We are unable to complete your request</h1><p>{}</p>",
        html_escape(reason)
    );
    (StatusCode::BAD_REQUEST, Html(page)).into_response()
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `POST /v1/oauth/token`: exchanges a code or a refresh token for a token set.
pub(crate) async fn token(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    match exchange(&sim, &headers, &body) {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

fn exchange(sim: &Sim, headers: &HeaderMap, body: &[u8]) -> Result<Response, OAuthError> {
    check_basic_auth(sim, headers)?;
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(OAuthError::bad_request(
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded",
        ));
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let field = |name: &str| {
        form.get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| {
                OAuthError::bad_request("invalid_request", format!("missing parameter: {name}"))
            })
    };
    let now = Utc::now();
    let tokens = match field("grant_type")? {
        "authorization_code" => {
            let (code, redirect_uri) = (field("code")?, field("redirect_uri")?);
            let mut world = sim.world();
            world
                .tokens
                .redeem_code(code, redirect_uri, now)
                .map_err(|error| OAuthError::bad_request("invalid_grant", error.to_string()))?;
            tracing::info!("authorization code exchanged; previous refresh token invalidated");
            world.tokens.start_grant(sim.lifetimes(), now)
        }
        "refresh_token" => {
            let refresh_token = field("refresh_token")?;
            sim.world().tokens.refresh(refresh_token, sim.lifetimes(), now).map_err(|_| {
                let digest = uuid::Uuid::new_v4().simple();
                let inner = format!(
                    "{{\"error_description\":\"Exception while authenticating refresh token [tokenDigest={digest}]\",\"error\":\"refresh_token_authentication_error\"}}"
                );
                OAuthError::bad_request("unsupported_token_type", format!("400 Bad Request: \"{inner}\""))
            })?
        }
        other => {
            return Err(OAuthError::bad_request(
                "unsupported_grant_type",
                format!("grant_type {other} is not supported"),
            ));
        }
    };
    let body = json!({
        "expires_in": sim.config.access_token_ttl.as_secs(),
        "token_type": "Bearer",
        "scope": "api",
        "refresh_token": tokens.refresh_token,
        "access_token": tokens.access_token,
        "id_token": tokens.id_token,
    });
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Demands `Authorization: Basic base64(app_key:app_secret)`.
fn check_basic_auth(sim: &Sim, headers: &HeaderMap) -> Result<(), OAuthError> {
    let credentials = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| STANDARD.decode(encoded.trim()).ok())
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .ok_or_else(|| OAuthError::invalid_client("missing HTTP Basic client credentials"))?;
    let expected = format!("{}:{}", sim.config.app_key, sim.config.app_secret);
    if credentials != expected {
        return Err(OAuthError::invalid_client("invalid client credentials"));
    }
    Ok(())
}
