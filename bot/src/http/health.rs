//! `GET /health`: ok, degraded (chain not connected, or catching up) or failing (database down).

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use super::{AppState, git_commit};

/// Overall state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Overall {
    /// Connected and caught up.
    Ok,
    /// Working, but not connected or still catching up.
    Degraded,
    /// Cannot record fills.
    Failing,
}

/// The health report.
#[derive(Debug, Serialize)]
pub struct Health {
    status: Overall,
    version: &'static str,
    commit: String,
    database_ok: bool,
    chain_connected: bool,
    last_block_seen: u64,
    last_block_processed: u64,
    lag: u64,
}

/// Decides the overall state: a pure function of what was observed.
pub fn overall(database_ok: bool, chain_connected: bool, lag: u64, max_lag: u64) -> Overall {
    if !database_ok {
        Overall::Failing
    } else if !chain_connected || lag > max_lag {
        Overall::Degraded
    } else {
        Overall::Ok
    }
}

pub(super) async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let database_ok = match state.ledger.ping().await {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(%error, "health: database check failed");
            false
        }
    };
    let status = &state.status;
    let chain_connected = status.chain_connected.load(Ordering::Relaxed);
    let lag = status.lag();
    let overall = overall(database_ok, chain_connected, lag, state.max_lag);
    let code = match overall {
        Overall::Failing => StatusCode::SERVICE_UNAVAILABLE,
        Overall::Ok | Overall::Degraded => StatusCode::OK,
    };
    let health = Health {
        status: overall,
        version: env!("CARGO_PKG_VERSION"),
        commit: git_commit(),
        database_ok,
        chain_connected,
        last_block_seen: status.last_block_seen.load(Ordering::Relaxed),
        last_block_processed: status.last_block_processed.load(Ordering::Relaxed),
        lag,
    };
    (code, Json(health))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_down_is_failing() {
        assert_eq!(overall(false, true, 0, 12), Overall::Failing);
    }

    #[test]
    fn disconnected_or_catching_up_is_degraded() {
        assert_eq!(overall(true, false, 0, 12), Overall::Degraded);
        assert_eq!(overall(true, true, 13, 12), Overall::Degraded);
    }

    #[test]
    fn connected_within_the_window_is_ok() {
        assert_eq!(overall(true, true, 12, 12), Overall::Ok);
    }
}
