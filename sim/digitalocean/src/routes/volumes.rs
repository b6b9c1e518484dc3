//! `/v2/volumes`: list by name/region, create (409 on a duplicate name in a region), get, delete
//! (409 while attached), and volume snapshots.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::Value;

use super::{ensure_tags, no_content, parse, wrap};
use crate::app::App;
use crate::catalog;
use crate::error::{ApiError, ApiResult};
use crate::pagination::{paginate, query};
use crate::state::{Snapshot, State as Account, Volume};

/// Largest volume, in GiB.
pub(crate) const MAX_SIZE_GIB: u64 = 16 * 1024;

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/v2/volumes", get(list).post(create).delete(delete_by_name))
        .route("/v2/volumes/{volume_id}", get(show).delete(destroy))
        .route(
            "/v2/volumes/{volume_id}/snapshots",
            post(create_snapshot).get(list_snapshots),
        )
        .route(
            "/v2/volumes/snapshots/{snapshot_id}",
            get(show_snapshot).delete(delete_snapshot),
        )
}

/// Finds a volume or answers 404.
pub(crate) fn find<'a>(state: &'a Account, id: &str) -> ApiResult<&'a Volume> {
    state
        .volumes
        .iter()
        .find(|v| v.id == id)
        .ok_or_else(ApiError::not_found)
}

async fn list(State(app): State<App>, uri: Uri) -> ApiResult<Json<Value>> {
    let params = query(&uri);
    let volumes = app
        .state()
        .volumes
        .iter()
        .filter(|v| params.get("name").is_none_or(|n| v.name == *n))
        .filter(|v| params.get("region").is_none_or(|r| v.region == *r))
        .map(Volume::render)
        .collect();
    paginate(volumes, "volumes", &uri, &app.base_url).map(Json)
}

async fn show(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Response> {
    let state = app.state();
    Ok(wrap(StatusCode::OK, "volume", find(&state, &id)?.render()))
}

/// The body of `POST /v2/volumes`.
#[derive(Debug, Deserialize)]
struct CreateVolume {
    name: Option<String>,
    size_gigabytes: Option<u64>,
    region: Option<String>,
    #[serde(default)]
    description: String,
    snapshot_id: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    filesystem_type: Option<String>,
    filesystem_label: Option<String>,
}

/// Volume names: lowercase letters, digits and `-`, starting with a letter, at most 64.
fn valid_name(name: &str) -> bool {
    name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The name, size and region of a valid create, and the filesystem of the snapshot it starts from (a volume made
/// from a snapshot has its source's filesystem, whatever the request says).
fn validate(
    state: &Account,
    body: &CreateVolume,
) -> ApiResult<(String, u64, String, Option<String>)> {
    let name = body
        .name
        .clone()
        .filter(|n| valid_name(n))
        .ok_or_else(|| ApiError::bad_request("name must be lowercase letters, digits and dashes, starting with a letter (at most 64)"))?;
    let size = body
        .size_gigabytes
        .filter(|s| (1..=MAX_SIZE_GIB).contains(s))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "size_gigabytes must be between 1 and {MAX_SIZE_GIB}"
            ))
        })?;
    let region = body
        .region
        .clone()
        .filter(|r| catalog::region(r).is_some())
        .ok_or_else(|| ApiError::bad_request("region is invalid"))?;
    match (
        body.filesystem_type.as_deref(),
        body.filesystem_label.as_deref(),
    ) {
        (None | Some("ext4" | "xfs"), None) => {}
        (Some("ext4"), Some(label)) if label.len() <= 16 => {}
        (Some("xfs"), Some(label)) if label.len() <= 12 => {}
        (None, Some(_)) => {
            return Err(ApiError::bad_request(
                "filesystem_label requires filesystem_type",
            ));
        }
        (Some("ext4" | "xfs"), Some(_)) => {
            return Err(ApiError::bad_request("filesystem_label is too long"));
        }
        (Some(other), _) => {
            return Err(ApiError::bad_request(format!(
                "filesystem_type '{other}' is not ext4 or xfs"
            )));
        }
    }
    let mut source_filesystem = None;
    if let Some(snapshot_id) = &body.snapshot_id {
        let snapshot = state
            .snapshots
            .iter()
            .find(|s| s.id == *snapshot_id && s.resource_type == "volume")
            .ok_or_else(ApiError::not_found)?;
        if snapshot.min_disk_size > size {
            return Err(ApiError::bad_request(
                "size_gigabytes is smaller than the snapshot",
            ));
        }
        if snapshot.region != region {
            return Err(ApiError::bad_request(format!(
                "the snapshot is in {}: a volume is created from a snapshot in the snapshot's region",
                snapshot.region
            )));
        }
        source_filesystem = Some(snapshot.filesystem_type.clone());
    }
    if state
        .volumes
        .iter()
        .any(|v| v.name == name && v.region == region)
    {
        return Err(ApiError::conflict(
            "already_exists",
            format!("a volume with the name {name} already exists in {region}"),
        ));
    }
    Ok((name, size, region, source_filesystem))
}

async fn create(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let body: CreateVolume = parse(&body)?;
    let mut state = app.state();
    let (name, size_gigabytes, region, source_filesystem) = validate(&state, &body)?;
    ensure_tags(&mut state, &body.tags)?;
    let volume = Volume {
        id: uuid::Uuid::new_v4().to_string(),
        name,
        description: body.description,
        size_gigabytes,
        region,
        droplet_ids: Vec::new(),
        filesystem_type: source_filesystem
            .or(body.filesystem_type)
            .unwrap_or_default(),
        filesystem_label: body.filesystem_label.unwrap_or_default(),
        created_at: Utc::now(),
        tags: body.tags,
        source_snapshot: body.snapshot_id,
    };
    tracing::info!(volume_id = %volume.id, name = %volume.name, "volume created");
    state.volumes.push(volume.clone());
    Ok(wrap(StatusCode::CREATED, "volume", volume.render()))
}

fn remove(state: &mut Account, id: &str) -> ApiResult<()> {
    if !find(state, id)?.droplet_ids.is_empty() {
        return Err(ApiError::conflict(
            "conflict",
            "A volume that's attached to a Droplet cannot be deleted. Please detach it first before deleting.",
        ));
    }
    state.volumes.retain(|v| v.id != id);
    Ok(())
}

async fn destroy(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Response> {
    remove(&mut app.state(), &id)?;
    tracing::info!(volume_id = %id, "volume deleted");
    Ok(no_content())
}

async fn delete_by_name(State(app): State<App>, uri: Uri) -> ApiResult<Response> {
    let params = query(&uri);
    let (Some(name), Some(region)) = (params.get("name"), params.get("region")) else {
        return Err(ApiError::bad_request("name and region are required"));
    };
    let mut state = app.state();
    let id = state
        .volumes
        .iter()
        .find(|v| v.name == *name && v.region == *region)
        .map(|v| v.id.clone())
        .ok_or_else(ApiError::not_found)?;
    remove(&mut state, &id)?;
    Ok(no_content())
}

/// The body of `POST /v2/volumes/{id}/snapshots`.
#[derive(Debug, Deserialize)]
struct CreateSnapshot {
    name: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

async fn create_snapshot(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let body: CreateSnapshot = parse(&body)?;
    let mut state = app.state();
    let volume = find(&state, &id)?.clone();
    let name = body
        .name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad_request("name is required"))?;
    ensure_tags(&mut state, &body.tags)?;
    let snapshot = Snapshot {
        id: uuid::Uuid::new_v4().to_string(),
        name,
        created_at: Utc::now(),
        region: volume.region.clone(),
        resource_id: volume.id.clone(),
        resource_type: "volume".to_owned(),
        min_disk_size: volume.size_gigabytes,
        size_gigabytes: 0.0,
        tags: body.tags,
        filesystem_type: volume.filesystem_type.clone(),
    };
    tracing::info!(snapshot_id = %snapshot.id, volume_id = %volume.id, "volume snapshot created");
    state.snapshots.push(snapshot.clone());
    Ok(wrap(StatusCode::CREATED, "snapshot", snapshot.render()))
}

async fn list_snapshots(
    State(app): State<App>,
    Path(id): Path<String>,
    uri: Uri,
) -> ApiResult<Json<Value>> {
    let state = app.state();
    find(&state, &id)?;
    let snapshots = state
        .snapshots
        .iter()
        .filter(|s| s.resource_type == "volume" && s.resource_id == id)
        .map(Snapshot::render)
        .collect();
    paginate(snapshots, "snapshots", &uri, &app.base_url).map(Json)
}

fn find_snapshot<'a>(state: &'a Account, id: &str) -> ApiResult<&'a Snapshot> {
    state
        .snapshots
        .iter()
        .find(|s| s.id == id && s.resource_type == "volume")
        .ok_or_else(ApiError::not_found)
}

async fn show_snapshot(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Response> {
    let state = app.state();
    Ok(wrap(
        StatusCode::OK,
        "snapshot",
        find_snapshot(&state, &id)?.render(),
    ))
}

async fn delete_snapshot(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Response> {
    let mut state = app.state();
    find_snapshot(&state, &id)?;
    state.snapshots.retain(|s| s.id != id);
    Ok(no_content())
}
