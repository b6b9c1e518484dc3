//! `/_sim/...`: the test-only control API, outside Schwab's real paths and without auth.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::faults::Fault;
use crate::ledger::Ledger;
use crate::orders::handlers;
use crate::quirks::Quirks;
use crate::state::{Authorization, Sim};

/// The control routes.
pub(crate) fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/_sim/info", get(info))
        .route("/_sim/oauth/code", get(code))
        .route("/_sim/market", get(market).put(set_market))
        .route("/_sim/prices/{symbol}", put(set_prices))
        .route(
            "/_sim/faults",
            get(faults).post(inject).delete(clear_faults),
        )
        .route("/_sim/tokens/expire", post(expire_tokens))
        .route("/_sim/ledger", get(ledger))
        .route("/_sim/quirks", get(quirks).put(set_quirks))
        .route("/_sim/orders", post(enter_order))
        .route(
            "/_sim/orders/{id}",
            axum::routing::delete(cancel_order).put(replace_order),
        )
}

async fn quirks(State(sim): State<Arc<Sim>>) -> Json<Quirks> {
    Json(sim.quirks())
}

async fn set_quirks(State(sim): State<Arc<Sim>>, Json(quirks): Json<Quirks>) -> StatusCode {
    sim.set_quirks(quirks);
    StatusCode::NO_CONTENT
}

/// `POST /_sim/orders` with a place-order body: an order a person enters by hand.
async fn enter_order(
    State(sim): State<Arc<Sim>>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let id = handlers::enter_by_hand(&sim, &body, None)?;
    Ok(Json(json!({ "orderId": id })))
}

/// `PUT /_sim/orders/{id}` with a place-order body: a person replaces an order.
async fn replace_order(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<i64>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let id = handlers::enter_by_hand(&sim, &body, Some(id))?;
    Ok(Json(json!({ "orderId": id })))
}

/// `DELETE /_sim/orders/{id}`: a person cancels an order.
async fn cancel_order(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    handlers::cancel_by_hand(&sim, id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Base URL, app key, callback and accounts (never the app secret).
async fn info(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!({
        "base_url": sim.base_url,
        "app_key": sim.config.app_key,
        "callback_url": sim.config.callback_url,
        "accounts": sim.accounts,
    }))
}

#[derive(Debug, Deserialize)]
struct CodeQuery {
    state: Option<String>,
}

/// A fresh authorization code and the redirect URL the browser would follow.
async fn code(State(sim): State<Arc<Sim>>, Query(query): Query<CodeQuery>) -> Json<Authorization> {
    Json(sim.authorize(query.state.as_deref()))
}

#[derive(Debug, Deserialize, serde::Serialize)]
struct MarketSwitch {
    open: bool,
}

async fn market(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!({ "open": sim.market_clock().open }))
}

async fn set_market(State(sim): State<Arc<Sim>>, Json(switch): Json<MarketSwitch>) -> StatusCode {
    sim.set_market_open(switch.open);
    StatusCode::NO_CONTENT
}

/// `PUT /_sim/prices/{symbol}` with a JSON array of prices, one fill per price.
async fn set_prices(
    State(sim): State<Arc<Sim>>,
    Path(symbol): Path<String>,
    Json(prices): Json<Vec<f64>>,
) -> StatusCode {
    sim.set_prices(&symbol, prices);
    StatusCode::NO_CONTENT
}

async fn faults(State(sim): State<Arc<Sim>>) -> Json<Vec<Fault>> {
    Json(sim.faults())
}

/// `POST /_sim/faults` with e.g. `{"kind":"unauthorized","calls":2}`.
async fn inject(State(sim): State<Arc<Sim>>, Json(fault): Json<Fault>) -> StatusCode {
    sim.inject(fault);
    StatusCode::NO_CONTENT
}

async fn clear_faults(State(sim): State<Arc<Sim>>) -> StatusCode {
    sim.clear_faults();
    StatusCode::NO_CONTENT
}

#[derive(Debug, Default, Deserialize)]
struct ExpireRequest {
    #[serde(default)]
    refresh: bool,
}

/// `POST /_sim/tokens/expire` with `{"refresh": true}` to force a new login.
async fn expire_tokens(
    State(sim): State<Arc<Sim>>,
    body: Option<Json<ExpireRequest>>,
) -> StatusCode {
    let request = body.map(|Json(request)| request).unwrap_or_default();
    sim.expire_tokens(request.refresh);
    StatusCode::NO_CONTENT
}

async fn ledger(State(sim): State<Arc<Sim>>) -> Json<Ledger> {
    Json(sim.ledger())
}
