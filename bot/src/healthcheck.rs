//! `schwad healthcheck`: the image's HEALTHCHECK (the image carries no HTTP client or shell). Healthy means
//! the URL answers 200 within the timeout.

use std::time::Duration;

use reqwest::StatusCode;
use url::Url;

/// Why the check failed.
#[derive(Debug, thiserror::Error)]
pub enum HealthcheckError {
    /// No answer (refused, timed out, TLS failed): the cause is the source.
    #[error("GET {url}")]
    Unreachable {
        /// The URL checked.
        url: Url,
        /// The client's error, with its causes.
        source: reqwest::Error,
    },
    /// An answer other than 200 (`/health` says 503 when the database is down).
    #[error("GET {url}: {status}")]
    Status {
        /// The URL checked.
        url: Url,
        /// The status received.
        status: StatusCode,
    },
}

/// GETs `url`: Ok on 200 within `timeout`.
pub async fn check(url: &Url, timeout: Duration) -> Result<(), HealthcheckError> {
    let unreachable = |source| HealthcheckError::Unreachable {
        url: url.clone(),
        source,
    };
    let client = crate::tls::http_client()
        .timeout(timeout)
        .build()
        .map_err(unreachable)?;
    let status = client
        .get(url.clone())
        .send()
        .await
        .map_err(unreachable)?
        .status();
    if status == StatusCode::OK {
        Ok(())
    } else {
        Err(HealthcheckError::Status {
            url: url.clone(),
            status,
        })
    }
}
