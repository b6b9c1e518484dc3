//! `/_sim/...`: steer the simulator over HTTP (request counters, faults, reset, state, pushed tags).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::app::App;
use crate::faults::Faults;
use crate::routes::registry::PushedTag;
use crate::state::State as Account;

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/_sim/requests", get(requests).delete(reset_requests))
        .route("/_sim/faults", get(faults).post(set_faults).put(set_faults))
        .route("/_sim/state", get(state).put(set_state))
        .route("/_sim/reset", post(reset))
        .route("/_sim/registry/tags", post(push_tag))
}

fn bad(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"id": "bad_request", "message": message})),
    )
        .into_response()
}

async fn requests(State(app): State<App>) -> Json<Value> {
    let counts = app.requests().clone();
    Json(json!({"total": counts.total(), "mutating": counts.mutating(), "routes": counts.routes()}))
}

async fn reset_requests(State(app): State<App>) -> StatusCode {
    *app.requests() = Default::default();
    StatusCode::NO_CONTENT
}

async fn faults(State(app): State<App>) -> Json<Faults> {
    Json(app.faults().clone())
}

async fn set_faults(State(app): State<App>, body: Bytes) -> Response {
    match serde_json::from_slice::<Faults>(&body) {
        Ok(faults) => {
            tracing::info!(?faults, "faults switched");
            *app.faults() = faults.clone();
            Json(faults).into_response()
        }
        Err(error) => bad(format!("invalid faults: {error}")),
    }
}

async fn state(State(app): State<App>) -> Json<Account> {
    Json(app.state().clone())
}

async fn set_state(State(app): State<App>, body: Bytes) -> Response {
    match serde_json::from_slice::<Account>(&body) {
        Ok(state) => {
            *app.state() = state;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => bad(format!("invalid state: {error}")),
    }
}

async fn reset(State(app): State<App>) -> StatusCode {
    *app.state() = Account::default();
    *app.faults() = Faults::default();
    *app.requests() = Default::default();
    StatusCode::NO_CONTENT
}

async fn push_tag(State(app): State<App>, body: Bytes) -> Response {
    let pushed = match serde_json::from_slice::<PushedTag>(&body) {
        Ok(pushed) => pushed,
        Err(error) => return bad(format!("invalid tag: {error}")),
    };
    match crate::routes::registry::push_tag(&mut app.state(), pushed) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => bad(error.to_string()),
    }
}
