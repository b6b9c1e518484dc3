//! `/v2/droplets/{id}/actions`: power, resize, snapshot... (201 + action; 422 while one is pending).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::Value;

use super::droplets::find;
use super::{parse, wrap};
use crate::app::App;
use crate::catalog;
use crate::error::{ApiError, ApiResult};
use crate::pagination::paginate;
use crate::state::{Action, ActionStatus, Droplet, DropletStatus, Effect};

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/v2/droplets/{droplet_id}/actions", get(list).post(post))
        .route("/v2/droplets/{droplet_id}/actions/{action_id}", get(show))
}

/// The body of a droplet action.
#[derive(Debug, Deserialize)]
struct DropletAction {
    #[serde(rename = "type")]
    kind: String,
    size: Option<String>,
    name: Option<String>,
    image: Option<Value>,
}

/// What an action request does, or why it is refused.
fn effect_of(droplet: &Droplet, request: &DropletAction) -> ApiResult<Effect> {
    let droplet_id = droplet.id;
    let power = |status| Effect::Power { droplet_id, status };
    let feature = |name: &str, enabled| Effect::Feature {
        droplet_id,
        feature: name.to_owned(),
        enabled,
    };
    Ok(match request.kind.as_str() {
        "power_off" if droplet.status == DropletStatus::Off => {
            return Err(ApiError::unprocessable("Droplet is already powered off."));
        }
        "power_on" if droplet.status == DropletStatus::Active => {
            return Err(ApiError::unprocessable("Droplet is already powered on."));
        }
        "power_off" | "shutdown" => power(DropletStatus::Off),
        "power_on" | "reboot" | "power_cycle" => power(DropletStatus::Active),
        "resize" => {
            let size = request
                .size
                .clone()
                .filter(|s| catalog::size(s).is_some())
                .ok_or_else(|| {
                    ApiError::unprocessable("You specified an invalid size for Droplet resize.")
                })?;
            if droplet.status != DropletStatus::Off {
                return Err(ApiError::unprocessable(
                    "Droplet must be powered off before it can be resized.",
                ));
            }
            Effect::Resize {
                droplet_id,
                size_slug: size,
            }
        }
        "snapshot" => Effect::Snapshot {
            droplet_id,
            name: request
                .name
                .clone()
                .unwrap_or_else(|| format!("{}-{}", droplet.name, Utc::now().timestamp())),
        },
        "rename" => {
            let name = request
                .name
                .clone()
                .ok_or_else(|| ApiError::unprocessable("name is required to rename."))?;
            Effect::Rename { droplet_id, name }
        }
        "rebuild" => {
            let known = request.image.as_ref().is_some_and(|i| match i {
                Value::String(s) => catalog::image(s).is_some(),
                Value::Number(n) => catalog::image(&n.to_string()).is_some(),
                _ => false,
            });
            if !known {
                return Err(ApiError::unprocessable(
                    "You specified an invalid image for rebuild.",
                ));
            }
            power(DropletStatus::Active)
        }
        "enable_ipv6" => feature("ipv6", true),
        "enable_backups" => feature("backups", true),
        "disable_backups" => feature("backups", false),
        "password_reset" | "change_kernel" | "enable_private_networking" => Effect::None,
        other => {
            return Err(ApiError::unprocessable(format!(
                "'{other}' is not a valid droplet action type."
            )));
        }
    })
}

async fn post(State(app): State<App>, Path(id): Path<u64>, body: Bytes) -> ApiResult<Response> {
    let request: DropletAction = parse(&body)?;
    let mut state = app.state();
    let droplet = find(&state, id)?;
    if state.droplet_busy(id) {
        return Err(ApiError::pending_event());
    }
    let effect = effect_of(droplet, &request)?;
    let now = Utc::now();
    let region = droplet.region.clone();
    let action = state.start_action(Action {
        id: 0,
        kind: request.kind,
        status: ActionStatus::InProgress,
        started_at: now,
        completes_at: now + app.config.action_delay,
        completed_at: None,
        resource_id: Some(id),
        resource_type: "droplet".to_owned(),
        region_slug: region,
        droplet_id: Some(id),
        volume_id: None,
        effect,
        fails: app.faults().take_errored_action(),
    });
    tracing::info!(droplet_id = id, action_id = action.id, kind = %action.kind, "droplet action started");
    Ok(wrap(StatusCode::CREATED, "action", action.render()))
}

async fn list(State(app): State<App>, Path(id): Path<u64>, uri: Uri) -> ApiResult<Json<Value>> {
    let state = app.state();
    find(&state, id)?;
    let actions = state
        .actions
        .iter()
        .filter(|a| a.resource_type == "droplet" && a.resource_id == Some(id))
        .map(Action::render)
        .collect();
    paginate(actions, "actions", &uri, &app.base_url).map(Json)
}

async fn show(
    State(app): State<App>,
    Path((id, action_id)): Path<(u64, u64)>,
) -> ApiResult<Response> {
    let state = app.state();
    let action = state
        .actions
        .iter()
        .find(|a| a.id == action_id && a.resource_type == "droplet" && a.resource_id == Some(id))
        .ok_or_else(ApiError::not_found)?;
    Ok(wrap(StatusCode::OK, "action", action.render()))
}
