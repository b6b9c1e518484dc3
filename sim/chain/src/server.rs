//! The HTTP server: JSON-RPC over POST and WebSocket upgrade at `/`, control endpoints under
//! `/control`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::control;
use crate::faults::RateLimitStyle;
use crate::node::Node;
use crate::{rpc, ws};

/// The routes of a node.
pub(crate) fn router(node: Arc<Node>) -> Router {
    Router::new()
        .route("/", get(websocket).post(json_rpc))
        .nest("/control", control::router())
        .with_state(node)
}

async fn websocket(State(node): State<Arc<Node>>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| ws::serve(node, socket))
}

async fn json_rpc(State(node): State<Arc<Node>>, body: Bytes) -> Response {
    let limited = node.faults.rate_limited();
    let text = String::from_utf8_lossy(&body);
    let reply = rpc::handle_message(&node, &text, None, limited.is_some());
    tokio::time::sleep(reply.delay).await;
    let status = match limited {
        Some(RateLimitStyle::Http429) => StatusCode::TOO_MANY_REQUESTS,
        Some(RateLimitStyle::JsonRpc) | None => StatusCode::OK,
    };
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        reply.text.unwrap_or_default(),
    )
        .into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    response
}
