//! `/v2/droplets`: list (filters, pagination), get, create (202 + `links.actions`), delete.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ensure_tags, no_content, parse, wrap};
use crate::app::App;
use crate::catalog;
use crate::error::{ApiError, ApiResult};
use crate::pagination::{paginate, query};
use crate::state::{Action, ActionStatus, Droplet, DropletStatus, Effect, State as Account};

/// Largest accepted `user_data`, in bytes.
const MAX_USER_DATA: usize = 64 * 1024;
/// Droplets the account may hold (`droplet_limit`).
pub(crate) const DROPLET_LIMIT: usize = 25;

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/v2/droplets", get(list).post(create).delete(delete_by_tag))
        .route("/v2/droplets/{droplet_id}", get(show).delete(destroy))
        .route("/v2/droplets/{droplet_id}/firewalls", get(firewalls))
}

/// The droplet object as currently seen.
pub(crate) fn render(state: &Account, droplet: &Droplet) -> Value {
    droplet.render(state.droplet_busy(droplet.id))
}

/// Finds a droplet or answers 404.
pub(crate) fn find(state: &Account, id: u64) -> ApiResult<&Droplet> {
    state
        .droplets
        .iter()
        .find(|d| d.id == id)
        .ok_or_else(ApiError::not_found)
}

async fn list(State(app): State<App>, uri: Uri) -> ApiResult<Json<Value>> {
    let params = query(&uri);
    let tag = params.get("tag_name");
    let name = params.get("name");
    if tag.is_some() && (name.is_some() || params.contains_key("type")) {
        return Err(ApiError::bad_request(
            "tag_name cannot be combined with name or type",
        ));
    }
    let state = app.state();
    let droplets = state
        .droplets
        .iter()
        .filter(|d| tag.is_none_or(|t| d.tags.iter().any(|dt| dt.eq_ignore_ascii_case(t))))
        .filter(|d| name.is_none_or(|n| d.name.eq_ignore_ascii_case(n)))
        .map(|d| render(&state, d))
        .collect();
    paginate(droplets, "droplets", &uri, &app.base_url).map(Json)
}

async fn show(State(app): State<App>, Path(id): Path<u64>) -> ApiResult<Response> {
    let state = app.state();
    let droplet = find(&state, id)?;
    Ok(wrap(StatusCode::OK, "droplet", render(&state, droplet)))
}

/// The body of `POST /v2/droplets` (single create).
#[derive(Debug, Deserialize)]
struct CreateDroplet {
    name: Option<String>,
    size: Option<String>,
    image: Option<Value>,
    region: Option<String>,
    #[serde(default)]
    ssh_keys: Vec<Value>,
    #[serde(default)]
    backups: bool,
    #[serde(default)]
    ipv6: bool,
    #[serde(default)]
    monitoring: bool,
    #[serde(default)]
    tags: Vec<String>,
    user_data: Option<String>,
    #[serde(default)]
    volumes: Vec<String>,
    vpc_uuid: Option<String>,
}

/// Whether `name` is a valid droplet (host) name.
fn valid_name(name: &str) -> bool {
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && edge_ok(name.chars().next())
        && edge_ok(name.chars().last())
}

/// The image slug or id as a string.
fn image_key(image: &Value) -> Option<String> {
    match image {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn validate(state: &Account, body: &CreateDroplet) -> ApiResult<(String, String, String, String)> {
    let name = body.name.clone().filter(|n| valid_name(n)).ok_or_else(|| {
        ApiError::unprocessable(
            "Name is invalid. Only valid hostname characters are allowed. (a-z, A-Z, 0-9, . and -)",
        )
    })?;
    let size = body
        .size
        .clone()
        .filter(|s| catalog::size(s).is_some())
        .ok_or_else(|| {
            ApiError::unprocessable("You specified an invalid size for Droplet creation.")
        })?;
    let image = body
        .image
        .as_ref()
        .and_then(image_key)
        .and_then(|key| catalog::image(&key).map(|i| i.slug.to_owned()))
        .ok_or_else(|| {
            ApiError::unprocessable("You specified an invalid image for Droplet creation.")
        })?;
    let region = body.region.clone().unwrap_or_else(|| "nyc3".to_owned());
    if catalog::region(&region).is_none() {
        return Err(ApiError::unprocessable(
            "You specified an invalid region for Droplet creation.",
        ));
    }
    if body
        .user_data
        .as_ref()
        .is_some_and(|u| u.len() > MAX_USER_DATA)
    {
        return Err(ApiError::unprocessable(
            "user_data is too long: the maximum is 64 KiB.",
        ));
    }
    for key in &body.ssh_keys {
        let known = state.ssh_keys.iter().any(|k| match key {
            Value::Number(n) => n.as_u64() == Some(k.id),
            Value::String(s) => *s == k.fingerprint || *s == k.id.to_string(),
            _ => false,
        });
        if !known {
            return Err(ApiError::unprocessable(
                "You specified an invalid SSH key ID or fingerprint.",
            ));
        }
    }
    for volume_id in &body.volumes {
        let volume = state.volumes.iter().find(|v| v.id == *volume_id);
        match volume {
            Some(v) if v.region == region && v.droplet_ids.is_empty() => {}
            Some(v) if v.region != region => {
                return Err(ApiError::unprocessable(
                    "Volume and Droplet must be in the same region.",
                ));
            }
            Some(_) => {
                return Err(ApiError::unprocessable(
                    "Volume is already attached to another Droplet.",
                ));
            }
            None => {
                return Err(ApiError::unprocessable(format!(
                    "Volume {volume_id} could not be found."
                )));
            }
        }
    }
    if state.droplets.len() >= DROPLET_LIMIT {
        return Err(ApiError::unprocessable(
            "creating this/these droplet(s) will exceed your droplet limit",
        ));
    }
    Ok((name, size, image, region))
}

async fn create(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let body: CreateDroplet = parse(&body)?;
    if !body.volumes.is_empty()
        && !crate::scopes::holds(app.config.scopes.as_deref(), "block_storage:read")
    {
        return Err(ApiError::forbidden());
    }
    let mut state = app.state();
    let (name, size_slug, image_slug, region) = validate(&state, &body)?;
    ensure_tags(&mut state, &body.tags)?;
    let now = Utc::now();
    let id = state.next_droplet_id();
    let mut features = vec!["droplet_agent".to_owned(), "private_networking".to_owned()];
    features.extend(body.backups.then(|| "backups".to_owned()));
    features.extend(body.ipv6.then(|| "ipv6".to_owned()));
    features.extend(body.monitoring.then(|| "monitoring".to_owned()));
    for volume in state
        .volumes
        .iter_mut()
        .filter(|v| body.volumes.contains(&v.id))
    {
        volume.droplet_ids = vec![id];
    }
    let droplet = Droplet {
        id,
        name,
        size_slug,
        image_slug,
        region: region.clone(),
        status: DropletStatus::New,
        created_at: now,
        tags: body.tags,
        volume_ids: body.volumes,
        snapshot_ids: Vec::new(),
        user_data: body.user_data,
        vpc_uuid: body
            .vpc_uuid
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        features,
    };
    state.droplets.push(droplet.clone());
    let action = state.start_action(Action {
        id: 0,
        kind: "create".to_owned(),
        status: ActionStatus::InProgress,
        started_at: now,
        completes_at: now + app.config.action_delay,
        completed_at: None,
        resource_id: Some(id),
        resource_type: "droplet".to_owned(),
        region_slug: region,
        droplet_id: Some(id),
        volume_id: None,
        effect: Effect::Boot { droplet_id: id },
        fails: false,
    });
    tracing::info!(droplet_id = id, name = %droplet.name, "droplet created");
    let href = app.url(&format!("/v2/actions/{}", action.id));
    let body = json!({
        "droplet": droplet.render(false),
        "links": {"actions": [{"id": action.id, "rel": "create", "href": href}]},
    });
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// Removes a droplet and everything that points at it.
fn remove(state: &mut Account, id: u64) {
    state.droplets.retain(|d| d.id != id);
    for volume in &mut state.volumes {
        volume.droplet_ids.retain(|d| *d != id);
    }
    for firewall in &mut state.firewalls {
        firewall.droplet_ids.retain(|d| *d != id);
    }
}

async fn destroy(State(app): State<App>, Path(id): Path<u64>) -> ApiResult<Response> {
    let mut state = app.state();
    find(&state, id)?;
    remove(&mut state, id);
    tracing::info!(droplet_id = id, "droplet deleted");
    Ok(no_content())
}

async fn delete_by_tag(State(app): State<App>, uri: Uri) -> ApiResult<Response> {
    let tag = query(&uri)
        .remove("tag_name")
        .ok_or_else(|| ApiError::bad_request("tag_name is required"))?;
    let mut state = app.state();
    let ids: Vec<u64> = state
        .droplets
        .iter()
        .filter(|d| d.tags.iter().any(|t| t.eq_ignore_ascii_case(&tag)))
        .map(|d| d.id)
        .collect();
    for id in ids {
        remove(&mut state, id);
    }
    Ok(no_content())
}

async fn firewalls(
    State(app): State<App>,
    Path(id): Path<u64>,
    uri: Uri,
) -> ApiResult<Json<Value>> {
    let state = app.state();
    let droplet = find(&state, id)?;
    let now = Utc::now();
    let firewalls = state
        .firewalls
        .iter()
        .filter(|f| f.droplet_ids.contains(&id) || f.tags.iter().any(|t| droplet.tags.contains(t)))
        .map(|f| f.render(now))
        .collect();
    paginate(firewalls, "firewalls", &uri, &app.base_url).map(Json)
}
