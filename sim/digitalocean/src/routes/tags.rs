//! `/v2/tags`: create, list, get, delete, and tagging/untagging droplets and volumes.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{no_content, parse, valid_tag, wrap};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::pagination::paginate;
use crate::state::State as Account;

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/v2/tags", get(list).post(create))
        .route("/v2/tags/{tag_id}", get(show).delete(destroy))
        .route(
            "/v2/tags/{tag_id}/resources",
            post(tag_resources).delete(untag_resources),
        )
}

/// The canonical spelling of a tag (names are case-stable).
fn canonical(state: &Account, name: &str) -> ApiResult<String> {
    state
        .tags
        .iter()
        .find(|t| t.eq_ignore_ascii_case(name))
        .cloned()
        .ok_or_else(ApiError::not_found)
}

fn render(state: &Account, name: &str) -> Value {
    let tagged = |tags: &Vec<String>| tags.iter().any(|t| t.eq_ignore_ascii_case(name));
    let droplets: Vec<u64> = state
        .droplets
        .iter()
        .filter(|d| tagged(&d.tags))
        .map(|d| d.id)
        .collect();
    let volumes: Vec<&str> = state
        .volumes
        .iter()
        .filter(|v| tagged(&v.tags))
        .map(|v| v.id.as_str())
        .collect();
    let snapshots = state
        .snapshots
        .iter()
        .filter(|s| s.resource_type == "volume" && tagged(&s.tags))
        .count();
    let empty = json!({"count": 0});
    json!({
        "name": name,
        "resources": {
            "count": droplets.len() + volumes.len() + snapshots,
            "droplets": {"count": droplets.len()},
            "images": empty,
            "volumes": {"count": volumes.len()},
            "volume_snapshots": {"count": snapshots},
            "databases": empty,
        },
    })
}

async fn list(State(app): State<App>, uri: Uri) -> ApiResult<Json<Value>> {
    let state = app.state();
    let tags = state.tags.iter().map(|t| render(&state, t)).collect();
    paginate(tags, "tags", &uri, &app.base_url).map(Json)
}

async fn show(State(app): State<App>, Path(name): Path<String>) -> ApiResult<Response> {
    let state = app.state();
    let name = canonical(&state, &name)?;
    Ok(wrap(StatusCode::OK, "tag", render(&state, &name)))
}

/// The body of `POST /v2/tags`.
#[derive(Debug, Deserialize)]
struct CreateTag {
    name: Option<String>,
}

async fn create(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let body: CreateTag = parse(&body)?;
    let Some(name) = body.name.filter(|n| valid_tag(n)) else {
        // The one endpoint whose 400 body is `error_with_root_causes`.
        let body = json!({
            "error": "tag names may only contain letters, numbers, colons, dashes and underscores",
            "messages": null,
            "root_causes": ["invalid tag name"],
        });
        return Ok((StatusCode::BAD_REQUEST, Json(body)).into_response());
    };
    let mut state = app.state();
    let name = match canonical(&state, &name) {
        Ok(existing) => existing,
        Err(_) => {
            state.tags.push(name.clone());
            name
        }
    };
    Ok(wrap(StatusCode::CREATED, "tag", render(&state, &name)))
}

async fn destroy(State(app): State<App>, Path(name): Path<String>) -> ApiResult<Response> {
    let mut state = app.state();
    let name = canonical(&state, &name)?;
    state.tags.retain(|t| *t != name);
    for droplet in &mut state.droplets {
        droplet.tags.retain(|t| *t != name);
    }
    for volume in &mut state.volumes {
        volume.tags.retain(|t| *t != name);
    }
    Ok(no_content())
}

/// The body of the tag resources endpoints.
#[derive(Debug, Deserialize)]
struct Resources {
    resources: Vec<Resource>,
}

/// One resource to tag or untag.
#[derive(Debug, Deserialize)]
struct Resource {
    resource_id: String,
    resource_type: String,
}

/// Tags (`add`) or untags every listed resource; all must exist, or nothing changes.
fn retag(state: &mut Account, name: &str, resources: &[Resource], add: bool) -> ApiResult<()> {
    let mut draft = state.clone();
    retag_all(&mut draft, name, resources, add)?;
    *state = draft;
    Ok(())
}

fn retag_all(state: &mut Account, name: &str, resources: &[Resource], add: bool) -> ApiResult<()> {
    let edit = |tags: &mut Vec<String>| {
        tags.retain(|t| t != name);
        if add {
            tags.push(name.to_owned());
        }
    };
    for resource in resources {
        let found = match resource.resource_type.as_str() {
            "droplet" => state
                .droplets
                .iter_mut()
                .find(|d| d.id.to_string() == resource.resource_id)
                .map(|d| edit(&mut d.tags)),
            "volume" => state
                .volumes
                .iter_mut()
                .find(|v| v.id == resource.resource_id)
                .map(|v| edit(&mut v.tags)),
            "volume_snapshot" => state
                .snapshots
                .iter_mut()
                .find(|s| s.id == resource.resource_id && s.resource_type == "volume")
                .map(|s| edit(&mut s.tags)),
            other => {
                return Err(ApiError::bad_request(format!(
                    "resource_type '{other}' cannot be tagged here"
                )));
            }
        };
        if found.is_none() {
            return Err(ApiError::not_found());
        }
    }
    Ok(())
}

async fn tag_resources(
    State(app): State<App>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let body: Resources = parse(&body)?;
    let mut state = app.state();
    let name = canonical(&state, &name)?;
    retag(&mut state, &name, &body.resources, true)?;
    Ok(no_content())
}

async fn untag_resources(
    State(app): State<App>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let body: Resources = parse(&body)?;
    let mut state = app.state();
    let name = canonical(&state, &name)?;
    retag(&mut state, &name, &body.resources, false)?;
    Ok(no_content())
}
