//! HTTP control endpoints under `/control`, so a simulator in another process can be scripted: tokens,
//! trades, mining, the random stream, faults and the ledger.

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::B256;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::chain::ReorgReport;
use crate::faults::{CallFailure, Lagging, Latency, LogLimits, RandomErrors, RateLimit};
use crate::ledger::Fill;
use crate::node::Node;
use crate::tokens::Token;
use crate::trade::Trade;

/// The control routes.
pub(crate) fn router() -> Router<Arc<Node>> {
    Router::new()
        .route("/status", get(status))
        .route("/tokens", get(tokens).post(add_token))
        .route("/transactions", post(add_transaction))
        .route("/random-transactions", post(add_random))
        .route("/mine", post(mine))
        .route("/stream", put(set_stream))
        .route("/block-time", put(set_block_time))
        .route("/ledger", get(ledger))
        .route("/faults/drop", post(drop_connections))
        .route("/faults/stall", post(stall))
        .route("/faults/resume", post(resume))
        .route("/faults/duplicates", put(duplicates))
        .route("/faults/notification-loss", put(notification_loss))
        .route("/faults/lagging", put(lagging))
        .route("/faults/errors", put(errors))
        .route("/faults/latency", put(latency))
        .route("/faults/removal-delay", put(removal_delay))
        .route("/faults/call-failures", post(call_failures))
        .route("/requests", get(requests))
        .route("/faults/rate-limit", put(rate_limit))
        .route("/faults/log-limits", put(log_limits))
        .route("/faults/reorg", post(reorg))
}

/// A refused control request: 400 with `{"error": ...}`.
#[derive(Debug)]
struct ControlError(String);

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        (StatusCode::BAD_REQUEST, Json(json!({ "error": self.0 }))).into_response()
    }
}

impl<E: std::error::Error> From<E> for ControlError {
    fn from(error: E) -> Self {
        Self(error.to_string())
    }
}

#[derive(Debug, Serialize)]
struct Status {
    head: u64,
    head_hash: alloy_primitives::B256,
    trades_per_block: u32,
}

async fn status(State(node): State<Arc<Node>>) -> Json<Status> {
    let head = node.chain().head().header.clone();
    Json(Status {
        head: head.number,
        head_hash: head.hash,
        trades_per_block: node.trades_per_block(),
    })
}

async fn tokens(State(node): State<Arc<Node>>) -> Json<Vec<Token>> {
    Json(node.tokens())
}

#[derive(Debug, Deserialize)]
struct NewToken {
    symbol: String,
    decimals: u8,
}

async fn add_token(
    State(node): State<Arc<Node>>,
    Json(token): Json<NewToken>,
) -> Result<Json<Token>, ControlError> {
    Ok(Json(node.register_token(&token.symbol, token.decimals)?))
}

#[derive(Debug, Deserialize)]
struct NewTransaction {
    trades: Vec<Trade>,
}

async fn add_transaction(
    State(node): State<Arc<Node>>,
    Json(tx): Json<NewTransaction>,
) -> Result<Json<serde_json::Value>, ControlError> {
    let hash = node.submit(&tx.trades)?;
    Ok(Json(json!({ "tx_hash": hash })))
}

#[derive(Debug, Deserialize)]
struct Count {
    count: usize,
}

async fn add_random(
    State(node): State<Arc<Node>>,
    Json(count): Json<Count>,
) -> Json<serde_json::Value> {
    Json(json!({ "tx_hashes": node.submit_random(count.count) }))
}

#[derive(Debug, Deserialize)]
struct Blocks {
    #[serde(default = "one")]
    blocks: u64,
}

fn one() -> u64 {
    1
}

async fn mine(
    State(node): State<Arc<Node>>,
    body: Option<Json<Blocks>>,
) -> Json<serde_json::Value> {
    let blocks = body.map_or(1, |Json(body)| body.blocks);
    let head = node.mine(blocks);
    Json(json!({ "head": head }))
}

#[derive(Debug, Deserialize)]
struct Stream {
    trades_per_block: u32,
}

async fn set_stream(State(node): State<Arc<Node>>, Json(stream): Json<Stream>) -> StatusCode {
    node.set_trades_per_block(stream.trades_per_block);
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct BlockTime {
    millis: Option<u64>,
}

async fn set_block_time(
    State(node): State<Arc<Node>>,
    Json(block_time): Json<BlockTime>,
) -> StatusCode {
    node.set_block_time(block_time.millis.map(Duration::from_millis));
    StatusCode::NO_CONTENT
}

async fn ledger(State(node): State<Arc<Node>>) -> Json<Vec<Fill>> {
    Json(node.ledger())
}

async fn drop_connections(State(node): State<Arc<Node>>) -> StatusCode {
    node.faults.drop_connections();
    StatusCode::NO_CONTENT
}

async fn stall(State(node): State<Arc<Node>>) -> StatusCode {
    node.faults.stall();
    StatusCode::NO_CONTENT
}

async fn resume(State(node): State<Arc<Node>>) -> StatusCode {
    node.faults.resume();
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct Share {
    share: f64,
}

async fn duplicates(State(node): State<Arc<Node>>, Json(share): Json<Share>) -> StatusCode {
    node.faults.set_duplicate_share(share.share);
    StatusCode::NO_CONTENT
}

async fn notification_loss(State(node): State<Arc<Node>>, Json(share): Json<Share>) -> StatusCode {
    node.faults.set_notification_loss_share(share.share);
    StatusCode::NO_CONTENT
}

async fn lagging(State(node): State<Arc<Node>>, Json(lagging): Json<Lagging>) -> StatusCode {
    node.faults.set_lagging(lagging);
    StatusCode::NO_CONTENT
}

async fn errors(State(node): State<Arc<Node>>, Json(errors): Json<RandomErrors>) -> StatusCode {
    node.faults.set_random_errors(errors);
    StatusCode::NO_CONTENT
}

async fn latency(State(node): State<Arc<Node>>, Json(latency): Json<Latency>) -> StatusCode {
    node.faults.set_latency(latency);
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct Delay {
    millis: u64,
}

async fn removal_delay(State(node): State<Arc<Node>>, Json(delay): Json<Delay>) -> StatusCode {
    node.faults
        .set_removal_delay(Duration::from_millis(delay.millis));
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct CallFailures {
    count: u32,
    failure: CallFailure,
}

async fn call_failures(
    State(node): State<Arc<Node>>,
    Json(failures): Json<CallFailures>,
) -> StatusCode {
    node.faults
        .fail_next_calls(failures.count, failures.failure);
    StatusCode::NO_CONTENT
}

async fn requests(State(node): State<Arc<Node>>) -> Json<std::collections::HashMap<String, u64>> {
    Json(node.faults.request_counts())
}

async fn rate_limit(State(node): State<Arc<Node>>, Json(limit): Json<RateLimit>) -> StatusCode {
    node.faults.set_rate_limit(limit);
    StatusCode::NO_CONTENT
}

async fn log_limits(State(node): State<Arc<Node>>, Json(limits): Json<LogLimits>) -> StatusCode {
    node.faults.set_log_limits(limits);
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct ReorgRequest {
    depth: u64,
    #[serde(default)]
    drop_share: f64,
    /// Transactions the new blocks leave out.
    #[serde(default)]
    drop: Vec<B256>,
}

async fn reorg(
    State(node): State<Arc<Node>>,
    Json(request): Json<ReorgRequest>,
) -> Result<Json<ReorgReport>, ControlError> {
    Ok(Json(node.reorg(
        request.depth,
        request.drop_share,
        &request.drop,
    )?))
}
