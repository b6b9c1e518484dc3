//! Errors of the client. API errors show DigitalOcean's `id`, `message` and `request_id`.

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;

/// An error answered by the API (any non-2xx status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP method of the request.
    pub method: String,
    /// Path of the request (no query, no host).
    pub path: String,
    /// HTTP status.
    pub status: StatusCode,
    /// DigitalOcean's error id, e.g. `not_found` (empty when the body was not DigitalOcean's).
    pub id: String,
    /// DigitalOcean's message.
    pub message: String,
    /// The request id, from the body or the `x-request-id` header.
    pub request_id: Option<String>,
    /// The `retry-after` delay sent with a 429.
    pub retry_after: Option<Duration>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DigitalOcean {} {} answered {} {}: {}",
            self.method,
            self.path,
            self.status.as_u16(),
            self.id,
            self.message
        )?;
        match &self.request_id {
            Some(id) => write!(f, " (request_id {id})"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for ApiError {}

/// Everything that can go wrong talking to DigitalOcean.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No token in `DIGITALOCEAN_ACCESS_TOKEN`.
    #[error("DIGITALOCEAN_ACCESS_TOKEN is not set")]
    MissingToken,
    /// The base URL is not usable.
    #[error("invalid DigitalOcean base URL {url}: {reason}")]
    BaseUrl {
        /// The URL given.
        url: String,
        /// Why it is rejected.
        reason: String,
    },
    /// The HTTP client could not be built (TLS backend).
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(reqwest::Error),
    /// The API answered an error.
    #[error(transparent)]
    Api(Box<ApiError>),
    /// The request failed on the network (connection, timeout, cut response).
    #[error("DigitalOcean {method} {path} failed: {source}")]
    Transport {
        /// HTTP method.
        method: String,
        /// Path.
        path: String,
        /// The cause (without the token: it only travels in a header).
        source: reqwest::Error,
    },
    /// A 2xx body did not have the expected shape.
    #[error("DigitalOcean {method} {path} answered an unexpected body: {source}")]
    Decode {
        /// HTTP method.
        method: String,
        /// Path.
        path: String,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// An action ended `errored`.
    #[error("DigitalOcean action {id} ({kind}) errored")]
    ActionErrored {
        /// Action id.
        id: u64,
        /// Action type.
        kind: String,
    },
    /// Waiting for something took longer than allowed.
    #[error("timed out after {waited:?} waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        waited: Duration,
    },
    /// A create whose response was lost left more than one matching resource.
    #[error("{count} {kind} named {name:?} exist after a create whose response was lost")]
    Ambiguous {
        /// Resource kind.
        kind: &'static str,
        /// The name looked up.
        name: String,
        /// How many matched.
        count: usize,
    },
}

impl Error {
    /// The API error, if this is one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::Api(error) => Some(error.as_ref()),
            _ => None,
        }
    }

    /// Whether the API answered this status.
    pub fn has_status(&self, status: StatusCode) -> bool {
        self.api().is_some_and(|e| e.status == status)
    }

    /// Whether this is a 404.
    pub fn is_not_found(&self) -> bool {
        self.has_status(StatusCode::NOT_FOUND)
    }

    /// Whether this is a 403: the token lacks the endpoint's scope.
    pub fn is_forbidden(&self) -> bool {
        self.has_status(StatusCode::FORBIDDEN)
    }

    /// Whether this is `422 Droplet already has a pending event.`
    pub fn is_pending_event(&self) -> bool {
        self.api().is_some_and(|e| {
            e.status == StatusCode::UNPROCESSABLE_ENTITY
                && e.message.to_ascii_lowercase().contains("pending event")
        })
    }

    /// Whether the request may have been carried out although it failed (5xx, timeout, cut
    /// connection after sending). A create that fails this way must be looked up, not repeated.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Self::Api(error) => error.status.is_server_error(),
            Self::Transport { source, .. } => !source.is_connect() && !source.is_builder(),
            _ => false,
        }
    }
}

impl From<ApiError> for Error {
    fn from(error: ApiError) -> Self {
        Self::Api(Box::new(error))
    }
}

/// Result of the client.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: StatusCode, message: &str) -> Error {
        Error::from(ApiError {
            method: "POST".into(),
            path: "/v2/droplets/7/actions".into(),
            status,
            id: "unprocessable_entity".into(),
            message: message.into(),
            request_id: Some("4d9d8375-3c56-4925-a3e7-eb137fed17e9".into()),
            retry_after: None,
        })
    }

    #[test]
    fn display_shows_id_message_and_request_id() {
        let error = api(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Droplet already has a pending event.",
        );
        assert_eq!(
            error.to_string(),
            "DigitalOcean POST /v2/droplets/7/actions answered 422 unprocessable_entity: \
             Droplet already has a pending event. (request_id 4d9d8375-3c56-4925-a3e7-eb137fed17e9)"
        );
        assert!(error.is_pending_event());
        assert!(!error.outcome_unknown());
    }

    #[test]
    fn server_errors_leave_the_outcome_unknown() {
        assert!(api(StatusCode::GATEWAY_TIMEOUT, "timeout").outcome_unknown());
        assert!(!api(StatusCode::NOT_FOUND, "gone").outcome_unknown());
        assert!(api(StatusCode::NOT_FOUND, "gone").is_not_found());
    }
}
