//! `/trader/v1/.../orders` endpoints.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::book::ChangeError;
use super::status::OrderStatus;
use super::view::Omit;
use super::{request, view};
use crate::accounts;
use crate::connection::Connection;
use crate::errors::{ApiError, GatewayError, TraderError};
use crate::faults::{LookupFault, LostResponse};
use crate::state::Sim;
use crate::time;

/// Default and largest `maxResults`.
const MAX_RESULTS: usize = 3000;

/// `POST /trader/v1/accounts/{hash}/orders`: 201, empty body, `Location` of the new order.
pub(crate) async fn place(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(connection): ConnectInfo<Connection>,
    Path(hash): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let account = accounts::by_hash(&sim, &hash)?.account_number.clone();
    let (before, after) = sim.world().faults.take_order_delay();
    // Schwab acts on a request it received even if the client is gone by then.
    let acting = Arc::clone(&sim);
    let (id, lost) = tokio::spawn(async move {
        delay(before).await;
        create(&acting, &account, &body, None)
    })
    .await
    .map_err(|_| GatewayError::new(StatusCode::INTERNAL_SERVER_ERROR))??;
    tracing::info!(order_id = id, lost = ?lost, "order placed");
    delay(after).await;
    Ok(accepted(&sim, &hash, id, lost, &connection).await)
}

/// A fault's delay. None is none: tokio rounds even a zero sleep up to its next 1 ms tick, which put 2 ms into
/// every order placed.
async fn delay(ms: u64) {
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// `PUT /trader/v1/accounts/{hash}/orders/{id}`: the old order ends `REPLACED`; 201 with the
/// `Location` of the new one.
pub(crate) async fn replace(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(connection): ConnectInfo<Connection>,
    Path((hash, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let account = accounts::by_hash(&sim, &hash)?;
    let old = order_id(&id)?;
    let (id, lost) = create(&sim, &account.account_number, &body, Some(old))?;
    tracing::info!(replaced = old, order_id = id, lost = ?lost, "order replaced");
    Ok(accepted(&sim, &hash, id, lost, &connection).await)
}

/// Validates and enters an order now (replacing `old`, if given), consuming the order faults.
fn create(
    sim: &Sim,
    account_number: &str,
    body: &[u8],
    old: Option<i64>,
) -> Result<(i64, Option<LostResponse>), ApiError> {
    let now = sim.now();
    let mut world = sim.world_at(now);
    world.order_requests.try_hit(now).map_err(order_limit)?;
    let order = request::parse(body).map_err(validation_failed)?;
    if let Some(old) = old {
        world
            .orders
            .replace(account_number, old, now)
            .map_err(|error| change_refused(error, "replaced"))?;
    }
    let (fate, lost) = world.faults.take_order_faults();
    let open = world.market.open;
    let id = world
        .orders
        .place(account_number, order, fate, now, open, sim.timing());
    if let Some(old) = old {
        world.orders.link_replacement(old, id);
    }
    Ok((id, lost))
}

/// An order a person enters by hand (another app, the website), replacing `old` if given:
/// no gateway, no faults' lost responses.
pub(crate) fn enter_by_hand(
    sim: &Sim,
    body: &serde_json::Value,
    old: Option<i64>,
) -> Result<i64, ApiError> {
    let account = sim
        .accounts
        .first()
        .map(|account| account.account_number.clone())
        .unwrap_or_default();
    let body = serde_json::to_vec(body).unwrap_or_default();
    create(sim, &account, &body, old).map(|(id, _)| id)
}

/// Cancels an order by hand, as a person would.
pub(crate) fn cancel_by_hand(sim: &Sim, id: i64) -> Result<(), ApiError> {
    let now = sim.now();
    let mut world = sim.world_at(now);
    let Some(account) = world
        .orders
        .orders()
        .iter()
        .find(|order| order.id == id)
        .map(|order| order.account_number.clone())
    else {
        return Err(order_not_found());
    };
    world
        .orders
        .cancel(&account, id, now)
        .map_err(|error| change_refused(error, "canceled"))
}

/// The 201 of an accepted order, or what replaces it when an injected fault loses it.
async fn accepted(
    sim: &Sim,
    hash: &str,
    id: i64,
    lost: Option<LostResponse>,
    connection: &Connection,
) -> Response {
    let location = format!("{}/trader/v1/accounts/{hash}/orders/{id}", sim.base_url);
    match lost {
        None => (StatusCode::CREATED, [(header::LOCATION, location)]).into_response(),
        Some(LostResponse::Drop) => {
            connection.sever();
            StatusCode::CREATED.into_response()
        }
        Some(LostResponse::Status { status }) => {
            GatewayError::new(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY))
                .into_response()
        }
        Some(LostResponse::Timeout { after_ms }) => {
            tokio::time::sleep(Duration::from_millis(after_ms)).await;
            GatewayError::new(StatusCode::GATEWAY_TIMEOUT).into_response()
        }
    }
}

fn validation_failed(errors: Vec<String>) -> TraderError {
    TraderError::new(
        StatusCode::BAD_REQUEST,
        "A validation error occurred while processing the request.",
        errors,
    )
}

fn change_refused(error: ChangeError, verb: &str) -> ApiError {
    match error {
        ChangeError::NotFound => order_not_found(),
        ChangeError::Terminal(_) => {
            TraderError::bad_request(format!("Order cannot be {verb}"), error.to_string()).into()
        }
    }
}

/// `GET /trader/v1/accounts/{hash}/orders/{id}`.
pub(crate) async fn get(
    State(sim): State<Arc<Sim>>,
    Path((hash, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let account = accounts::by_hash(&sim, &hash)?;
    let id = order_id(&id)?;
    let mut world = sim.world_at(sim.now());
    let fault = world.faults.take_lookup_fault();
    if fault == Some(LookupFault::NotFound) {
        return Err(order_not_found());
    }
    let omit = Omit {
        symbol: world.quirks.omit_symbols,
        executions: fault == Some(LookupFault::HideExecutions),
    };
    world
        .orders
        .orders()
        .iter()
        .find(|order| order.id == id && order.account_number == account.account_number)
        .map(|order| Json(view::order_json(order, omit)))
        .ok_or_else(order_not_found)
}

/// `DELETE /trader/v1/accounts/{hash}/orders/{id}`: 200 with an empty body.
pub(crate) async fn cancel(
    State(sim): State<Arc<Sim>>,
    Path((hash, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let account = accounts::by_hash(&sim, &hash)?;
    let id = order_id(&id)?;
    let now = sim.now();
    let mut world = sim.world_at(now);
    world.order_requests.try_hit(now).map_err(order_limit)?;
    match world.orders.cancel(&account.account_number, id, now) {
        Ok(()) => Ok(StatusCode::OK),
        Err(error) => Err(change_refused(error, "canceled")),
    }
}

/// Query of both order-list endpoints.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListQuery {
    from_entered_time: Option<String>,
    to_entered_time: Option<String>,
    status: Option<String>,
    max_results: Option<String>,
}

/// `GET /trader/v1/accounts/{hash}/orders?fromEnteredTime&toEnteredTime[&status][&maxResults]`.
pub(crate) async fn list_for_account(
    State(sim): State<Arc<Sim>>,
    Path(hash): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let account = accounts::by_hash(&sim, &hash)?;
    list(&sim, &query, Some(&account.account_number))
}

/// `GET /trader/v1/orders?...`: the orders of every linked account.
pub(crate) async fn list_all(
    State(sim): State<Arc<Sim>>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    list(&sim, &query, None)
}

fn list(
    sim: &Sim,
    query: &ListQuery,
    account_number: Option<&str>,
) -> Result<Json<Value>, ApiError> {
    let from = required_time("fromEnteredTime", query.from_entered_time.as_deref())?;
    let to = required_time("toEnteredTime", query.to_entered_time.as_deref())?;
    if from > to {
        return Err(bad_request(
            "fromEnteredTime must not be after toEnteredTime",
        ));
    }
    if to - from > TimeDelta::days(366) {
        return Err(bad_request(
            "The date range between fromEnteredTime and toEnteredTime must not exceed one year",
        ));
    }
    let status = match query.status.as_deref() {
        None => None,
        Some(name) => Some(
            OrderStatus::from_wire(name)
                .ok_or_else(|| bad_request(format!("Invalid status: {name}")))?,
        ),
    };
    let max_results = match query.max_results.as_deref() {
        None => MAX_RESULTS,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|max| (1..=MAX_RESULTS).contains(max))
            .ok_or_else(|| {
                bad_request(format!("maxResults must be between 1 and {MAX_RESULTS}"))
            })?,
    };
    let now = sim.now();
    let world = sim.world_at(now);
    let omit = Omit {
        symbol: world.quirks.omit_symbols,
        executions: false,
    };
    // The list lags: an order shows in it only a while after it was entered.
    let visible_until = now - TimeDelta::milliseconds(to_millis(world.quirks.list_lag_ms));
    let orders: Vec<Value> = world
        .orders
        .orders()
        .iter()
        .rev()
        .filter(|order| account_number.is_none_or(|number| order.account_number == number))
        .filter(|order| order.entered >= from && order.entered <= to)
        .filter(|order| order.entered <= visible_until)
        .filter(|order| status.is_none_or(|status| order.status == status))
        .take(max_results)
        .map(|order| view::order_json(order, omit))
        .collect();
    Ok(Json(Value::Array(orders)))
}

fn to_millis(millis: u64) -> i64 {
    i64::try_from(millis).unwrap_or(i64::MAX)
}

fn required_time(name: &str, value: Option<&str>) -> Result<DateTime<Utc>, ApiError> {
    let value = value.ok_or_else(|| bad_request(format!("{name} is required")))?;
    time::parse(value)
        .ok_or_else(|| bad_request(format!("{name} is not a valid ISO-8601 date-time: {value}")))
}

fn order_id(text: &str) -> Result<i64, ApiError> {
    text.parse()
        .map_err(|_| bad_request(format!("Invalid order id: {text}")))
}

fn bad_request(error: impl Into<String>) -> ApiError {
    TraderError::bad_request("Bad Request", error).into()
}

fn order_not_found() -> ApiError {
    TraderError::new(
        StatusCode::NOT_FOUND,
        "Order not found",
        vec!["No order with this id in this account".to_owned()],
    )
    .into()
}

fn order_limit(retry_after: u64) -> ApiError {
    GatewayError::new(StatusCode::TOO_MANY_REQUESTS)
        .detail("Order request limit exceeded")
        .retry_after(Some(retry_after))
        .into()
}
