//! The HTTP routes: `/v2/...` as DigitalOcean serves them, `/_sim/...` to steer the simulator.

pub(crate) mod account;
pub(crate) mod actions;
pub(crate) mod control;
pub(crate) mod droplet_actions;
pub(crate) mod droplets;
pub(crate) mod firewalls;
pub(crate) mod registry;
pub(crate) mod snapshots;
pub(crate) mod ssh_keys;
pub(crate) mod tags;
pub(crate) mod volume_actions;
pub(crate) mod volumes;

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::app::App;
use crate::error::{ApiError, ApiResult};

/// All routes with the request gate.
pub(crate) fn router(app: App) -> Router {
    Router::new()
        .merge(account::routes())
        .merge(actions::routes())
        .merge(droplets::routes())
        .merge(droplet_actions::routes())
        .merge(volumes::routes())
        .merge(volume_actions::routes())
        .merge(snapshots::routes())
        .merge(firewalls::routes())
        .merge(registry::routes())
        .merge(tags::routes())
        .merge(ssh_keys::routes())
        .merge(control::routes())
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "This method is not allowed here.",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            crate::middleware::gate,
        ))
        .with_state(app)
}

/// Parses a JSON request body; anything else is DigitalOcean's 400 "error parsing request body".
pub(crate) fn parse<T: DeserializeOwned>(body: &Bytes) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|_| ApiError::unparsable_body())
}

/// `{key: value}` with a status.
pub(crate) fn wrap(status: StatusCode, key: &str, value: Value) -> Response {
    let mut body = Map::new();
    body.insert(key.to_owned(), value);
    (status, axum::Json(Value::Object(body))).into_response()
}

/// 204 with an empty body.
pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Whether `name` is a valid tag name (`^[a-zA-Z0-9_\-:]+$`, at most 255 characters).
pub(crate) fn valid_tag(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-:".contains(c))
}

/// Checks tag names and creates the missing ones (droplet and volume creates do that).
pub(crate) fn ensure_tags(state: &mut crate::state::State, tags: &[String]) -> ApiResult<()> {
    if let Some(bad) = tags.iter().find(|t| !valid_tag(t)) {
        return Err(ApiError::unprocessable(format!(
            "tag name '{bad}' is invalid"
        )));
    }
    for tag in tags {
        if !state.tags.iter().any(|t| t.eq_ignore_ascii_case(tag)) {
            state.tags.push(tag.clone());
        }
    }
    Ok(())
}
