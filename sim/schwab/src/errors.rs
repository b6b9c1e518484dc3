//! Schwab's three error envelopes as axum responses.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Trader API envelope: `{"message": "...", "errors": ["..."]}`.
#[derive(Debug)]
pub(crate) struct TraderError {
    status: StatusCode,
    message: String,
    errors: Vec<String>,
}

impl TraderError {
    /// An error with a status, a message and detail lines.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>, errors: Vec<String>) -> Self {
        Self {
            status,
            message: message.into(),
            errors,
        }
    }

    /// A 400 Bad Request with one detail line.
    pub(crate) fn bad_request(message: impl Into<String>, error: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message, vec![error.into()])
    }
}

impl IntoResponse for TraderError {
    fn into_response(self) -> Response {
        let body = json!({ "message": self.message, "errors": self.errors });
        (self.status, Json(body)).into_response()
    }
}

/// API gateway / market-data envelope: `{"errors":[{"id","status","title","detail","source"}]}`.
#[derive(Debug)]
pub(crate) struct GatewayError {
    status: StatusCode,
    detail: Option<String>,
    source: Option<Value>,
    retry_after: Option<u64>,
}

impl GatewayError {
    /// An error with only a status (and its standard title).
    pub(crate) fn new(status: StatusCode) -> Self {
        Self {
            status,
            detail: None,
            source: None,
            retry_after: None,
        }
    }

    /// Adds the `detail` line.
    pub(crate) fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds the `source` object, e.g. `{"parameter":"markets"}`.
    pub(crate) fn source(mut self, source: Value) -> Self {
        self.source = Some(source);
        self
    }

    /// Adds a `Retry-After` header (seconds).
    pub(crate) fn retry_after(mut self, seconds: Option<u64>) -> Self {
        self.retry_after = seconds;
        self
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        // Schwab's gateway sends 401 statuses as numbers and the rest as strings.
        let status = if self.status == StatusCode::UNAUTHORIZED {
            json!(self.status.as_u16())
        } else {
            json!(self.status.as_str())
        };
        let mut error = json!({
            "id": uuid::Uuid::new_v4().to_string(),
            "status": status,
            "title": self.status.canonical_reason().unwrap_or("Error"),
        });
        if let Some(detail) = self.detail {
            error["detail"] = json!(detail);
        }
        if let Some(source) = self.source {
            error["source"] = source;
        }
        let mut response = (self.status, Json(json!({ "errors": [error] }))).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

/// OAuth token endpoint envelope: `{"error": "...", "error_description": "..."}`.
#[derive(Debug)]
pub(crate) struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OAuthError {
    /// A 400 with an OAuth error code.
    pub(crate) fn bad_request(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
        }
    }

    /// A 401 `invalid_client`: the Basic credentials are missing or wrong.
    pub(crate) fn invalid_client(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: description.into(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.error, "error_description": self.description });
        (self.status, Json(body)).into_response()
    }
}

/// Either envelope, for handlers that can fail at the gateway or in the Trader API.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// A Trader API error.
    Trader(TraderError),
    /// A gateway error.
    Gateway(GatewayError),
}

impl From<TraderError> for ApiError {
    fn from(error: TraderError) -> Self {
        Self::Trader(error)
    }
}

impl From<GatewayError> for ApiError {
    fn from(error: GatewayError) -> Self {
        Self::Gateway(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Trader(error) => error.into_response(),
            Self::Gateway(error) => error.into_response(),
        }
    }
}
