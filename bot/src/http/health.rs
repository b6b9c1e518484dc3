//! `GET /health`: ok, degraded (chain not connected, catching up, broker needing a new login or
//! unreachable) or failing (database down), with the reasons.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use super::{AppState, git_commit};
use crate::hedge::report::HedgingReport;
use crate::status::BrokerHealth;

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
    pub(super) status: Overall,
    /// Why it is not ok, e.g. `re-authentication needed`.
    pub(super) reasons: Vec<&'static str>,
    pub(super) version: &'static str,
    pub(super) commit: String,
    pub(super) database_ok: bool,
    pub(super) chain_connected: bool,
    pub(super) last_block_seen: u64,
    pub(super) last_block_processed: u64,
    pub(super) lag: u64,
    pub(super) broker: &'static str,
    pub(super) broker_kind: &'static str,
    /// Hedging problems: unknown outcomes, ambiguous orders, symbols backing off, mismatches.
    pub(super) hedging: HedgingReport,
}

/// What was observed, for the pure decision.
#[derive(Debug, Clone, Copy)]
pub struct Observed {
    /// The database answered.
    pub database_ok: bool,
    /// A chain session is live.
    pub chain_connected: bool,
    /// The node serves another chain than configured.
    pub wrong_chain: bool,
    /// Blocks seen but not processed.
    pub lag: u64,
    /// Lag tolerated before "catching up".
    pub max_lag: u64,
    /// The broker's state.
    pub broker: BrokerHealth,
}

/// Decides the overall state and its reasons: a pure function of what was observed.
pub fn overall(observed: Observed) -> (Overall, Vec<&'static str>) {
    let mut reasons = Vec::new();
    if !observed.database_ok {
        reasons.push("database unavailable");
    }
    if observed.wrong_chain {
        reasons.push("wrong chain id");
    }
    if !observed.chain_connected {
        reasons.push("chain not connected");
    } else if observed.lag > observed.max_lag {
        reasons.push("catching up");
    }
    match observed.broker {
        BrokerHealth::ReauthNeeded | BrokerHealth::Unreachable => {
            reasons.push(observed.broker.as_str());
        }
        BrokerHealth::Starting | BrokerHealth::Ready => {}
    }
    let overall = if !observed.database_ok {
        Overall::Failing
    } else if reasons.is_empty() {
        Overall::Ok
    } else {
        Overall::Degraded
    };
    (overall, reasons)
}

/// Adds the executor's problems: any of them makes an `ok` service `degraded`.
pub fn with_hedging(
    overall: Overall,
    mut reasons: Vec<&'static str>,
    hedging: Vec<&'static str>,
) -> (Overall, Vec<&'static str>) {
    if hedging.is_empty() {
        return (overall, reasons);
    }
    reasons.extend(hedging);
    let overall = match overall {
        Overall::Ok => Overall::Degraded,
        other => other,
    };
    (overall, reasons)
}

pub(super) async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let health = report(&state).await;
    let code = match health.status {
        Overall::Failing => StatusCode::SERVICE_UNAVAILABLE,
        Overall::Ok | Overall::Degraded => StatusCode::OK,
    };
    (code, Json(health))
}

/// The health report of the running service (also shown by the dashboard).
pub(super) async fn report(state: &AppState) -> Health {
    let database_ok = match state.ledger.ping().await {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(%error, "health: database check failed");
            false
        }
    };
    let status = &state.status;
    let chain_connected = status.chain_connected.load(Ordering::Relaxed);
    let wrong_chain = status.wrong_chain_id.load(Ordering::Relaxed) != 0;
    let lag = status.lag();
    let broker = status.broker();
    let (overall, reasons) = overall(Observed {
        database_ok,
        chain_connected,
        wrong_chain,
        lag,
        max_lag: state.max_lag,
        broker,
    });
    let hedging = status.hedging();
    let (overall, reasons) = with_hedging(overall, reasons, hedging.reasons());
    Health {
        status: overall,
        reasons,
        version: env!("CARGO_PKG_VERSION"),
        commit: git_commit(),
        database_ok,
        chain_connected,
        last_block_seen: status.last_block_seen.load(Ordering::Relaxed),
        last_block_processed: status.last_block_processed.load(Ordering::Relaxed),
        lag,
        broker: broker.as_str(),
        broker_kind: state.broker_kind,
        hedging,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed() -> Observed {
        Observed {
            database_ok: true,
            chain_connected: true,
            wrong_chain: false,
            lag: 0,
            max_lag: 12,
            broker: BrokerHealth::Ready,
        }
    }

    #[test]
    fn database_down_is_failing() {
        let (state, reasons) = overall(Observed {
            database_ok: false,
            ..observed()
        });
        assert_eq!(
            (state, reasons),
            (Overall::Failing, vec!["database unavailable"])
        );
    }

    #[test]
    fn disconnected_or_catching_up_is_degraded() {
        let disconnected = Observed {
            chain_connected: false,
            ..observed()
        };
        assert_eq!(overall(disconnected).0, Overall::Degraded);
        let behind = Observed {
            lag: 13,
            ..observed()
        };
        assert_eq!(overall(behind), (Overall::Degraded, vec!["catching up"]));
    }

    #[test]
    fn a_node_of_another_chain_is_degraded_with_its_reason() {
        let wrong = Observed {
            chain_connected: false,
            wrong_chain: true,
            ..observed()
        };
        assert_eq!(
            overall(wrong),
            (
                Overall::Degraded,
                vec!["wrong chain id", "chain not connected"]
            )
        );
    }

    #[test]
    fn an_expired_login_is_degraded_with_its_reason() {
        let reauth = Observed {
            broker: BrokerHealth::ReauthNeeded,
            ..observed()
        };
        assert_eq!(
            overall(reauth),
            (Overall::Degraded, vec!["re-authentication needed"])
        );
    }

    #[test]
    fn a_hedging_problem_degrades_but_never_hides_a_failure() {
        let (state, reasons) = overall(observed());
        assert_eq!(
            with_hedging(state, reasons, vec!["hedge order outcome unknown"]),
            (Overall::Degraded, vec!["hedge order outcome unknown"])
        );
        assert_eq!(
            with_hedging(Overall::Ok, vec![], vec![]),
            (Overall::Ok, vec![])
        );
        assert_eq!(
            with_hedging(
                Overall::Failing,
                vec!["database unavailable"],
                vec!["broker position mismatch"]
            )
            .0,
            Overall::Failing
        );
    }

    #[test]
    fn connected_within_the_window_is_ok() {
        let edge = Observed {
            lag: 12,
            broker: BrokerHealth::Starting,
            ..observed()
        };
        assert_eq!(overall(edge), (Overall::Ok, vec![]));
    }
}
