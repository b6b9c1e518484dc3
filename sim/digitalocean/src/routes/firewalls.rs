//! `/v2/firewalls`: create (202, `waiting` → `succeeded`), get, list, PUT (full replacement),
//! delete, and adding/removing droplets, tags and rules.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{no_content, parse, wrap};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::pagination::paginate;
use crate::state::{Firewall, State as Account};

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/v2/firewalls", get(list).post(create))
        .route(
            "/v2/firewalls/{firewall_id}",
            get(show).put(update).delete(destroy),
        )
        .route(
            "/v2/firewalls/{firewall_id}/droplets",
            post(add_droplets).delete(remove_droplets),
        )
        .route(
            "/v2/firewalls/{firewall_id}/tags",
            post(add_tags).delete(remove_tags),
        )
        .route(
            "/v2/firewalls/{firewall_id}/rules",
            post(add_rules).delete(remove_rules),
        )
}

/// The body of create and PUT: everything a firewall holds.
#[derive(Debug, Deserialize)]
struct FirewallBody {
    name: Option<String>,
    #[serde(default)]
    inbound_rules: Vec<Value>,
    #[serde(default)]
    outbound_rules: Vec<Value>,
    #[serde(default)]
    droplet_ids: Vec<u64>,
    #[serde(default)]
    tags: Vec<String>,
}

/// The body of the droplets, tags and rules sub-resources.
#[derive(Debug, Deserialize)]
struct Members {
    #[serde(default)]
    droplet_ids: Vec<u64>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    inbound_rules: Vec<Value>,
    #[serde(default)]
    outbound_rules: Vec<Value>,
}

fn valid_name(name: &str) -> bool {
    name.len() >= 2
        && name.len() <= 255
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

/// Checks one rule and fills the defaults DigitalOcean fills (`ports: "0"` for icmp).
fn normalize_rule(rule: &Value, targets: &str) -> ApiResult<Value> {
    let mut rule = rule
        .as_object()
        .cloned()
        .ok_or_else(ApiError::unparsable_body)?;
    let protocol = rule
        .get("protocol")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    match protocol.as_str() {
        "icmp" => {
            rule.insert("ports".into(), json!("0"));
        }
        "tcp" | "udp" => {
            let ports = rule
                .get("ports")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let valid = ports == "0"
                || ports == "all"
                || ports
                    .split('-')
                    .all(|p| p.parse::<u16>().is_ok_and(|n| n > 0))
                    && ports.split('-').count() <= 2;
            if !valid {
                return Err(ApiError::bad_request(format!(
                    "invalid ports '{ports}' for a {protocol} rule"
                )));
            }
        }
        other => return Err(ApiError::bad_request(format!("invalid protocol '{other}'"))),
    }
    if !rule.get(targets).is_some_and(Value::is_object) {
        return Err(ApiError::bad_request(format!("each rule needs {targets}")));
    }
    Ok(Value::Object(rule))
}

fn normalize_rules(inbound: &[Value], outbound: &[Value]) -> ApiResult<(Vec<Value>, Vec<Value>)> {
    let inbound = inbound
        .iter()
        .map(|r| normalize_rule(r, "sources"))
        .collect::<ApiResult<_>>()?;
    let outbound = outbound
        .iter()
        .map(|r| normalize_rule(r, "destinations"))
        .collect::<ApiResult<_>>()?;
    Ok((inbound, outbound))
}

fn check_members(state: &Account, droplet_ids: &[u64], tags: &[String]) -> ApiResult<()> {
    if let Some(missing) = droplet_ids
        .iter()
        .find(|id| !state.droplets.iter().any(|d| d.id == **id))
    {
        return Err(ApiError::bad_request(format!(
            "droplet {missing} could not be found"
        )));
    }
    if let Some(missing) = tags
        .iter()
        .find(|t| !state.tags.iter().any(|s| s.eq_ignore_ascii_case(t)))
    {
        return Err(ApiError::bad_request(format!(
            "tag {missing} could not be found"
        )));
    }
    Ok(())
}

/// Builds the firewall a create or PUT describes.
fn build(
    app: &App,
    state: &Account,
    body: FirewallBody,
    id: String,
    created_at: DateTime<Utc>,
) -> ApiResult<Firewall> {
    let name = body
        .name
        .filter(|n| valid_name(n))
        .ok_or_else(|| ApiError::bad_request("name is invalid"))?;
    let (inbound_rules, outbound_rules) =
        normalize_rules(&body.inbound_rules, &body.outbound_rules)?;
    if inbound_rules.is_empty() && outbound_rules.is_empty() {
        return Err(ApiError::bad_request(
            "must specify at least one inbound or outbound rule",
        ));
    }
    check_members(state, &body.droplet_ids, &body.tags)?;
    Ok(Firewall {
        id,
        name,
        created_at,
        settles_at: Utc::now() + app.config.action_delay,
        droplet_ids: body.droplet_ids,
        removing: Vec::new(),
        tags: body.tags,
        inbound_rules,
        outbound_rules,
    })
}

fn find_mut<'a>(state: &'a mut Account, id: &str) -> ApiResult<&'a mut Firewall> {
    state
        .firewalls
        .iter_mut()
        .find(|f| f.id == id)
        .ok_or_else(ApiError::not_found)
}

async fn list(State(app): State<App>, uri: Uri) -> ApiResult<Json<Value>> {
    let now = Utc::now();
    let firewalls = app
        .state()
        .firewalls
        .iter()
        .map(|f| f.render(now))
        .collect();
    paginate(firewalls, "firewalls", &uri, &app.base_url).map(Json)
}

async fn show(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Response> {
    let state = app.state();
    let firewall = state
        .firewalls
        .iter()
        .find(|f| f.id == id)
        .ok_or_else(ApiError::not_found)?;
    Ok(wrap(
        StatusCode::OK,
        "firewall",
        firewall.render(Utc::now()),
    ))
}

async fn create(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let body: FirewallBody = parse(&body)?;
    let mut state = app.state();
    let firewall = build(
        &app,
        &state,
        body,
        uuid::Uuid::new_v4().to_string(),
        Utc::now(),
    )?;
    tracing::info!(firewall_id = %firewall.id, name = %firewall.name, "firewall created");
    let rendered = firewall.render(Utc::now());
    state.firewalls.push(firewall);
    Ok(wrap(StatusCode::ACCEPTED, "firewall", rendered))
}

async fn update(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let body: FirewallBody = parse(&body)?;
    let mut state = app.state();
    let created_at = find_mut(&mut state, &id)?.created_at;
    let replacement = build(&app, &state, body, id.clone(), created_at)?;
    let firewall = find_mut(&mut state, &id)?;
    let before = firewall.droplet_ids.clone();
    *firewall = replacement;
    firewall.note_removed(&before);
    tracing::info!(firewall_id = %id, "firewall replaced");
    Ok(wrap(
        StatusCode::OK,
        "firewall",
        firewall.render(Utc::now()),
    ))
}

async fn destroy(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Response> {
    let mut state = app.state();
    find_mut(&mut state, &id)?;
    state.firewalls.retain(|f| f.id != id);
    Ok(no_content())
}

/// Applies a change to a firewall's members and restarts its convergence.
fn change(
    app: &App,
    id: &str,
    body: &Bytes,
    edit: impl FnOnce(&mut Firewall, Members),
) -> ApiResult<Response> {
    let members: Members = parse(body)?;
    let mut state = app.state();
    check_members(&state, &members.droplet_ids, &members.tags)?;
    let (inbound_rules, outbound_rules) =
        normalize_rules(&members.inbound_rules, &members.outbound_rules)?;
    let members = Members {
        inbound_rules,
        outbound_rules,
        ..members
    };
    let firewall = find_mut(&mut state, id)?;
    let before = firewall.droplet_ids.clone();
    edit(firewall, members);
    firewall.note_removed(&before);
    firewall.settles_at = Utc::now() + app.config.action_delay;
    Ok(no_content())
}

fn add<T: PartialEq>(list: &mut Vec<T>, items: Vec<T>) {
    for item in items {
        if !list.contains(&item) {
            list.push(item);
        }
    }
}

async fn add_droplets(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    change(&app, &id, &body, |f, m| {
        add(&mut f.droplet_ids, m.droplet_ids)
    })
}

async fn remove_droplets(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    change(&app, &id, &body, |f, m| {
        f.droplet_ids.retain(|d| !m.droplet_ids.contains(d))
    })
}

async fn add_tags(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    change(&app, &id, &body, |f, m| add(&mut f.tags, m.tags))
}

async fn remove_tags(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    change(&app, &id, &body, |f, m| {
        f.tags.retain(|t| !m.tags.contains(t))
    })
}

async fn add_rules(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    change(&app, &id, &body, |f, m| {
        add(&mut f.inbound_rules, m.inbound_rules);
        add(&mut f.outbound_rules, m.outbound_rules);
    })
}

async fn remove_rules(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    change(&app, &id, &body, |f, m| {
        f.inbound_rules.retain(|r| !m.inbound_rules.contains(r));
        f.outbound_rules.retain(|r| !m.outbound_rules.contains(r));
    })
}
