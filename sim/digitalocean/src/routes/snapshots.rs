//! `/v2/snapshots`: droplet and volume snapshots, filtered by `resource_type`.

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

use super::{no_content, wrap};
use crate::app::App;
use crate::catalog;
use crate::error::{ApiError, ApiResult};
use crate::pagination::{paginate, query};
use crate::state::{Snapshot, State as Account};

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/v2/snapshots", get(list))
        .route("/v2/snapshots/{snapshot_id}", get(show).delete(destroy))
}

async fn list(State(app): State<App>, uri: Uri) -> ApiResult<Json<Value>> {
    let kind = query(&uri).remove("resource_type");
    if kind
        .as_deref()
        .is_some_and(|k| k != "droplet" && k != "volume")
    {
        return Err(ApiError::bad_request(
            "resource_type must be droplet or volume",
        ));
    }
    let snapshots = app
        .state()
        .snapshots
        .iter()
        .filter(|s| kind.as_ref().is_none_or(|k| s.resource_type == *k))
        .map(Snapshot::render)
        .collect();
    paginate(snapshots, "snapshots", &uri, &app.base_url).map(Json)
}

fn find<'a>(state: &'a Account, id: &str) -> ApiResult<&'a Snapshot> {
    if catalog::image(id).is_some() {
        return Err(ApiError::bad_request("the resource is not a snapshot"));
    }
    state
        .snapshots
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(ApiError::not_found)
}

async fn show(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Response> {
    let state = app.state();
    Ok(wrap(
        StatusCode::OK,
        "snapshot",
        find(&state, &id)?.render(),
    ))
}

async fn destroy(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Response> {
    let mut state = app.state();
    let snapshot = find(&state, &id)?.clone();
    state.snapshots.retain(|s| s.id != id);
    if let Ok(image_id) = snapshot.id.parse::<u64>() {
        for droplet in &mut state.droplets {
            droplet.snapshot_ids.retain(|s| *s != image_id);
        }
    }
    Ok(no_content())
}
