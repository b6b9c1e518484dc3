//! `/v2/volumes/{id}/actions` and `/v2/volumes/actions`: attach, detach, resize (202 + action).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::Value;

use super::volumes::{MAX_SIZE_GIB, find};
use super::{parse, wrap};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::pagination::paginate;
use crate::state::{Action, ActionStatus, Effect, State as Account, Volume};

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/v2/volumes/actions", post(post_by_name))
        .route(
            "/v2/volumes/{volume_id}/actions",
            get(list).post(post_by_id),
        )
        .route("/v2/volumes/{volume_id}/actions/{action_id}", get(show))
}

/// The body of a volume action.
#[derive(Debug, Deserialize)]
struct VolumeAction {
    #[serde(rename = "type")]
    kind: String,
    droplet_id: Option<u64>,
    size_gigabytes: Option<u64>,
    region: Option<String>,
    volume_name: Option<String>,
}

/// Checks the request and returns (action type, droplet kept busy, effect).
fn plan(
    state: &Account,
    volume: &Volume,
    request: &VolumeAction,
) -> ApiResult<(&'static str, Option<u64>, Effect)> {
    if request.region.as_ref().is_some_and(|r| *r != volume.region) {
        return Err(ApiError::unprocessable(
            "Volume and Droplet must be in the same region.",
        ));
    }
    let volume_id = volume.id.clone();
    match request.kind.as_str() {
        "attach" => {
            let droplet_id = request
                .droplet_id
                .ok_or_else(|| ApiError::bad_request("droplet_id is required"))?;
            let droplet = state
                .droplets
                .iter()
                .find(|d| d.id == droplet_id)
                .ok_or_else(ApiError::not_found)?;
            if droplet.region != volume.region {
                return Err(ApiError::unprocessable(
                    "Volume and Droplet must be in the same region.",
                ));
            }
            if state.droplet_busy(droplet_id) {
                return Err(ApiError::pending_event());
            }
            if !volume.droplet_ids.is_empty() {
                return Err(ApiError::unprocessable(
                    "Volume is already attached to a Droplet.",
                ));
            }
            Ok((
                "attach_volume",
                Some(droplet_id),
                Effect::Attach {
                    volume_id,
                    droplet_id,
                },
            ))
        }
        "detach" => {
            let droplet_id = request
                .droplet_id
                .ok_or_else(|| ApiError::bad_request("droplet_id is required"))?;
            if state.droplet_busy(droplet_id) {
                return Err(ApiError::pending_event());
            }
            if !volume.droplet_ids.contains(&droplet_id) {
                return Err(ApiError::unprocessable("Attachment not found"));
            }
            Ok((
                "detach_volume",
                Some(droplet_id),
                Effect::Detach {
                    volume_id,
                    droplet_id,
                },
            ))
        }
        "resize" => {
            let size = request
                .size_gigabytes
                .ok_or_else(|| ApiError::bad_request("size_gigabytes is required"))?;
            if size <= volume.size_gigabytes || size > MAX_SIZE_GIB {
                return Err(ApiError::unprocessable(format!(
                    "size_gigabytes must be larger than {} and at most {MAX_SIZE_GIB}",
                    volume.size_gigabytes
                )));
            }
            let busy = volume.droplet_ids.first().copied();
            if busy.is_some_and(|d| state.droplet_busy(d)) {
                return Err(ApiError::pending_event());
            }
            Ok((
                "resize_volume",
                busy,
                Effect::ResizeVolume {
                    volume_id,
                    size_gigabytes: size,
                },
            ))
        }
        other => Err(ApiError::bad_request(format!(
            "'{other}' is not a valid volume action type"
        ))),
    }
}

fn start(
    app: &App,
    state: &mut Account,
    volume: Volume,
    request: &VolumeAction,
) -> ApiResult<Response> {
    let (kind, droplet_id, effect) = plan(state, &volume, request)?;
    let now = Utc::now();
    let action = state.start_action(Action {
        id: 0,
        kind: kind.to_owned(),
        status: ActionStatus::InProgress,
        started_at: now,
        completes_at: now + app.config.action_delay,
        completed_at: None,
        resource_id: droplet_id,
        resource_type: "volume".to_owned(),
        region_slug: volume.region.clone(),
        droplet_id,
        volume_id: Some(volume.id.clone()),
        effect,
        fails: app.faults().take_errored_action(),
    });
    tracing::info!(volume_id = %volume.id, action_id = action.id, kind, "volume action started");
    Ok(wrap(StatusCode::ACCEPTED, "action", action.render()))
}

async fn post_by_id(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let request: VolumeAction = parse(&body)?;
    let mut state = app.state();
    let volume = find(&state, &id)?.clone();
    start(&app, &mut state, volume, &request)
}

async fn post_by_name(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let request: VolumeAction = parse(&body)?;
    let (Some(name), Some(region)) = (&request.volume_name, &request.region) else {
        return Err(ApiError::bad_request("volume_name and region are required"));
    };
    let mut state = app.state();
    let volume = state
        .volumes
        .iter()
        .find(|v| v.name == *name && v.region == *region)
        .cloned()
        .ok_or_else(ApiError::not_found)?;
    start(&app, &mut state, volume, &request)
}

async fn list(State(app): State<App>, Path(id): Path<String>, uri: Uri) -> ApiResult<Json<Value>> {
    let state = app.state();
    find(&state, &id)?;
    let actions = state
        .actions
        .iter()
        .filter(|a| a.volume_id.as_deref() == Some(id.as_str()))
        .map(Action::render)
        .collect();
    paginate(actions, "actions", &uri, &app.base_url).map(Json)
}

async fn show(
    State(app): State<App>,
    Path((id, action_id)): Path<(String, u64)>,
) -> ApiResult<Response> {
    let state = app.state();
    let action = state
        .actions
        .iter()
        .find(|a| a.id == action_id && a.volume_id.as_deref() == Some(id.as_str()))
        .ok_or_else(ApiError::not_found)?;
    Ok(wrap(StatusCode::OK, "action", action.render()))
}
