//! The read-only HTTP server: `GET /health` (JSON), `GET /metrics` (Prometheus text) and the
//! dashboard (`GET /`, its data at `GET /dashboard.json`).

mod dashboard;
mod health;
mod metrics;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use crate::ledger::Ledger;
use crate::status::Status;

/// What the handlers read.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Live counters of the service.
    pub status: Arc<Status>,
    /// The database, for its health.
    pub ledger: Ledger,
    /// Lag (in blocks) above which the service reports itself degraded (catching up).
    pub max_lag: u64,
    /// Which broker hedges (`schwab`, `dry-run`).
    pub broker_kind: &'static str,
    /// Block explorer page of a transaction, without the hash (the dashboard's fill links).
    pub explorer_tx_url: url::Url,
}

/// The router serving `/health`, `/metrics` and the dashboard.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health::health))
        .route("/metrics", get(metrics::metrics))
        .route("/", get(dashboard::page))
        .route("/dashboard.json", get(dashboard::data))
        .route("/dashboard.css", get(dashboard::stylesheet))
        .with_state(state)
}

/// The git commit the binary was built from: `GIT_COMMIT` at run time, else at build time.
pub fn git_commit() -> String {
    std::env::var("GIT_COMMIT")
        .ok()
        .or_else(|| option_env!("GIT_COMMIT").map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}
