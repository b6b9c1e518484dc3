//! `/v2/actions`: every action of the account, newest last.

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

use super::wrap;
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::pagination::paginate;
use crate::state::Action;

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/v2/actions", get(list))
        .route("/v2/actions/{action_id}", get(show))
}

async fn list(State(app): State<App>, uri: Uri) -> ApiResult<Json<Value>> {
    let actions = app.state().actions.iter().map(Action::render).collect();
    paginate(actions, "actions", &uri, &app.base_url).map(Json)
}

async fn show(State(app): State<App>, Path(id): Path<u64>) -> ApiResult<Response> {
    let state = app.state();
    let action = state
        .actions
        .iter()
        .find(|a| a.id == id)
        .ok_or_else(ApiError::not_found)?;
    Ok(wrap(StatusCode::OK, "action", action.render()))
}
