//! The operator's dashboard: one read-only page (`GET /`) with the positions, the last fills and
//! hedges, the health and the charts, and the same data as JSON (`GET /dashboard.json`, exact
//! values). Everything comes from this binary: no script, no external resource, and a
//! Content-Security-Policy of `default-src 'self'` so the browser loads nothing else.

mod chart;
mod page;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use super::AppState;
use super::health::{Health, report};
use crate::hedge::Position;
use crate::ledger::{ExecutionRow, HedgeLatency, LedgerError, PositionChange, TradeRow};
use crate::trade::Shares;

/// Fills and hedge executions listed.
const LISTED: u32 = 25;
/// Position changes and executions drawn in the charts.
const CHARTED: u32 = 500;

/// Headers of every dashboard response: only this origin's resources, no framing, no referrer
/// sent to the block explorer.
const HEADERS: [(HeaderName, &str); 4] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::CACHE_CONTROL, "no-store"),
];

/// A symbol's position as the dashboard shows it (exact values).
#[derive(Debug, Serialize)]
pub struct PositionView {
    symbol: String,
    #[serde(serialize_with = "exact")]
    bought: Shares,
    #[serde(serialize_with = "exact")]
    sold: Shares,
    #[serde(serialize_with = "exact")]
    onchain_net: Shares,
    #[serde(serialize_with = "exact")]
    hedged: Shares,
    #[serde(serialize_with = "exact")]
    unhedged: Shares,
}

fn exact<S: Serializer>(shares: &Shares, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(shares)
}

impl From<&Position> for PositionView {
    fn from(position: &Position) -> Self {
        Self {
            symbol: position.ticker.as_str().to_owned(),
            bought: position.bought,
            sold: position.sold,
            onchain_net: position.onchain_net(),
            hedged: position.hedged,
            unhedged: position.net(),
        }
    }
}

/// A fill-to-order latency (JSON).
#[derive(Debug, Serialize)]
pub struct LatencyView {
    symbol: String,
    opened_at: DateTime<Utc>,
    millis: i64,
}

/// Everything the page shows.
#[derive(Debug, Serialize)]
pub struct Snapshot {
    generated_at: DateTime<Utc>,
    health: Health,
    explorer_tx_url: String,
    positions: Vec<PositionView>,
    fills: Vec<TradeRow>,
    hedge_executions: Vec<ExecutionRow>,
    hedge_latencies: Vec<LatencyView>,
    #[serde(skip)]
    history: History,
}

/// What the charts draw.
#[derive(Debug, Default)]
struct History {
    onchain: Vec<PositionChange>,
    hedged: Vec<PositionChange>,
    latencies: Vec<HedgeLatency>,
}

async fn snapshot(state: &AppState) -> Result<Snapshot, LedgerError> {
    let ledger = &state.ledger;
    let health = report(state).await;
    let positions = ledger.positions().await?;
    let history = History {
        onchain: ledger.recent_onchain_changes(CHARTED).await?,
        hedged: ledger.recent_hedge_changes(CHARTED).await?,
        latencies: ledger.recent_hedge_latencies(CHARTED).await?,
    };
    Ok(Snapshot {
        generated_at: Utc::now(),
        health,
        explorer_tx_url: state.explorer_tx_url.to_string(),
        positions: positions.iter().map(PositionView::from).collect(),
        fills: ledger.recent_trades(LISTED).await?,
        hedge_executions: ledger.recent_executions(LISTED).await?,
        hedge_latencies: history
            .latencies
            .iter()
            .map(|l| LatencyView {
                symbol: l.symbol.clone(),
                opened_at: l.at,
                millis: l.millis,
            })
            .collect(),
        history,
    })
}

fn unavailable(error: &LedgerError) -> Response {
    tracing::warn!(%error, "dashboard: reading the database failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        HEADERS,
        "the database is unavailable; see /health",
    )
        .into_response()
}

pub(super) async fn page(State(state): State<AppState>) -> Response {
    match snapshot(&state).await {
        Ok(snapshot) => (HEADERS, Html(page::render(&snapshot).into_string())).into_response(),
        Err(error) => unavailable(&error),
    }
}

pub(super) async fn data(State(state): State<AppState>) -> Response {
    match snapshot(&state).await {
        Ok(snapshot) => (HEADERS, Json(snapshot)).into_response(),
        Err(error) => unavailable(&error),
    }
}

pub(super) async fn stylesheet() -> impl IntoResponse {
    (
        HEADERS,
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("dashboard.css"),
    )
}
