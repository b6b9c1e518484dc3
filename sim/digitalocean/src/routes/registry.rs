//! `/v2/registry`: the account's single container registry, its subscription, repository tags,
//! docker credentials and options.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{no_content, parse, wrap};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::pagination::{paginate, query};
use crate::state::{Registry, RepositoryTag};

/// Host name of the registry in image URLs and docker credentials.
pub const REGISTRY_HOST: &str = "registry.digitalocean.com";
/// Regions a registry can live in.
const REGIONS: &[&str] = &["nyc3", "sfo3", "ams3", "sgp1", "fra1"];

/// (slug, name, included repositories, included bytes, monthly cents)
const TIERS: &[(&str, &str, u64, u64, u64)] = &[
    ("starter", "Starter", 1, 524_288_000, 0),
    ("basic", "Basic", 5, 5_368_709_120, 500),
    ("professional", "Professional", 0, 107_374_182_400, 2000),
];

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/v2/registry", get(show).post(create).delete(destroy))
        .route("/v2/registry/docker-credentials", get(docker_credentials))
        .route("/v2/registry/options", get(options))
        .route(
            "/v2/registry/subscription",
            get(subscription).post(update_subscription),
        )
        .route(
            "/v2/registry/{registry}/repositories/{repository}/tags",
            get(list_tags),
        )
}

/// A tier's included repositories (0 is unlimited).
fn included_repositories(slug: &str) -> Option<u64> {
    TIERS.iter().find(|t| t.0 == slug).map(|t| t.2)
}

/// The subscription tier object of `slug`.
pub(crate) fn tier_json(slug: &str) -> Value {
    let (slug, name, repositories, bytes, cents) = TIERS
        .iter()
        .copied()
        .find(|t| t.0 == slug)
        .unwrap_or(TIERS[0]);
    json!({
        "name": name,
        "slug": slug,
        "included_repositories": repositories,
        "included_storage_bytes": bytes,
        "allow_storage_overage": slug != "starter",
        "included_bandwidth_bytes": bytes,
        "monthly_price_in_cents": cents,
        "storage_overage_price_in_cents": if slug == "starter" { 0 } else { 2 },
    })
}

async fn show(State(app): State<App>) -> ApiResult<Response> {
    let state = app.state();
    let registry = state.registry.as_ref().ok_or_else(ApiError::not_found)?;
    Ok(wrap(StatusCode::OK, "registry", registry.render()))
}

/// The body of `POST /v2/registry`.
#[derive(Debug, Deserialize)]
struct CreateRegistry {
    name: Option<String>,
    subscription_tier_slug: Option<String>,
    region: Option<String>,
}

fn valid_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

async fn create(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let body: CreateRegistry = parse(&body)?;
    let name = body.name.filter(|n| valid_name(n)).ok_or_else(|| {
        ApiError::unprocessable("name must be 1-63 lowercase letters, digits and dashes")
    })?;
    let tier = body
        .subscription_tier_slug
        .filter(|t| TIERS.iter().any(|(slug, ..)| slug == t))
        .ok_or_else(|| {
            ApiError::unprocessable("subscription_tier_slug must be starter, basic or professional")
        })?;
    let region = body.region.unwrap_or_else(|| "nyc3".to_owned());
    if !REGIONS.contains(&region.as_str()) {
        return Err(ApiError::unprocessable(format!(
            "registries are not available in {region}"
        )));
    }
    let mut state = app.state();
    if state.registry.is_some() {
        return Err(ApiError::conflict(
            "conflict",
            "a registry already exists for this account",
        ));
    }
    let registry = Registry {
        name,
        region,
        tier_slug: tier,
        created_at: Utc::now(),
        tier_updated_at: None,
        repositories: Default::default(),
    };
    tracing::info!(name = %registry.name, "registry created");
    let rendered = registry.render();
    state.registry = Some(registry);
    Ok(wrap(StatusCode::CREATED, "registry", rendered))
}

async fn destroy(State(app): State<App>) -> ApiResult<Response> {
    let mut state = app.state();
    state.registry.take().ok_or_else(ApiError::not_found)?;
    Ok(no_content())
}

async fn docker_credentials(State(app): State<App>, uri: Uri) -> ApiResult<Json<Value>> {
    let params = query(&uri);
    let read_write = params.get("read_write").is_some_and(|v| v == "true");
    let expiry = params
        .get("expiry_seconds")
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| ApiError::bad_request("expiry_seconds must be an integer"))
        })
        .transpose()?;
    if app.state().registry.is_none() {
        return Err(ApiError::not_found());
    }
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let user = if read_write { "rw" } else { "ro" };
    let auth =
        base64::engine::general_purpose::STANDARD.encode(format!("{user}-{secret}:{secret}"));
    tracing::debug!(read_write, ?expiry, "docker credentials issued");
    Ok(Json(json!({"auths": {REGISTRY_HOST: {"auth": auth}}})))
}

async fn options() -> Json<Value> {
    let tiers: Vec<Value> = TIERS
        .iter()
        .map(|(slug, ..)| {
            let mut tier = tier_json(slug);
            tier["eligible"] = json!(true);
            tier
        })
        .collect();
    Json(json!({"options": {"available_regions": REGIONS, "subscription_tiers": tiers}}))
}

async fn subscription(State(app): State<App>) -> ApiResult<Response> {
    let state = app.state();
    let registry = state.registry.as_ref().ok_or_else(ApiError::not_found)?;
    Ok(wrap(
        StatusCode::OK,
        "subscription",
        registry.subscription(),
    ))
}

/// The body of `POST /v2/registry/subscription`.
#[derive(Debug, Deserialize)]
struct UpdateSubscription {
    tier_slug: Option<String>,
}

async fn update_subscription(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let body: UpdateSubscription = parse(&body)?;
    let (tier, included) = body
        .tier_slug
        .and_then(|t| included_repositories(&t).map(|n| (t, n)))
        .ok_or_else(|| {
            ApiError::unprocessable("tier_slug must be starter, basic or professional")
        })?;
    let mut state = app.state();
    let registry = state.registry.as_mut().ok_or_else(ApiError::not_found)?;
    let used = registry.repositories.len() as u64;
    if included != 0 && used > included {
        return Err(ApiError::precondition_failed(format!(
            "registry is not eligible for tier because: [OverRepositoryLimit] ({used} repositories, {tier} includes {included})"
        )));
    }
    if registry.tier_slug != tier {
        tracing::info!(from = %registry.tier_slug, to = %tier, "registry subscription changed");
        registry.tier_slug = tier;
        registry.tier_updated_at = Some(Utc::now());
    }
    Ok(wrap(
        StatusCode::OK,
        "subscription",
        registry.subscription(),
    ))
}

async fn list_tags(
    State(app): State<App>,
    Path((name, repository)): Path<(String, String)>,
    uri: Uri,
) -> ApiResult<Json<Value>> {
    let tags: Vec<Value> = {
        let state = app.state();
        let registry = state
            .registry
            .as_ref()
            .filter(|r| r.name == name)
            .ok_or_else(ApiError::not_found)?;
        let tags = registry
            .repositories
            .get(&repository)
            .ok_or_else(ApiError::not_found)?;
        tags.iter()
            .map(|t| t.render(&registry.name, &repository))
            .collect()
    };
    paginate(tags, "tags", &uri, &app.base_url).map(Json)
}

/// A tag pushed out of band (what `docker push` does), for tests and the `/_sim` control API.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PushedTag {
    /// Repository name inside the registry; may contain `/`.
    pub repository: String,
    pub tag: String,
    /// `sha256:...` digest of the manifest the tag points at.
    pub manifest_digest: String,
    /// Uncompressed size in bytes.
    #[serde(default)]
    pub size_bytes: u64,
}

/// Why a tag could not be pushed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The account has no registry.
    #[error("the account has no registry")]
    NoRegistry,
    /// The digest is not `sha256:` and 64 hex digits.
    #[error("manifest digest {0:?} is not sha256:<64 hex digits>")]
    BadDigest(String),
}

/// Points `tag` of a repository at a manifest, creating the repository; a re-pushed tag moves.
pub(crate) fn push_tag(
    state: &mut crate::state::State,
    pushed: PushedTag,
) -> Result<(), PushError> {
    let registry = state.registry.as_mut().ok_or(PushError::NoRegistry)?;
    let hex = pushed.manifest_digest.strip_prefix("sha256:");
    if !hex.is_some_and(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit())) {
        return Err(PushError::BadDigest(pushed.manifest_digest));
    }
    let tags = registry.repositories.entry(pushed.repository).or_default();
    tags.retain(|t| t.tag != pushed.tag);
    tags.push(RepositoryTag {
        tag: pushed.tag,
        manifest_digest: pushed.manifest_digest,
        compressed_size_bytes: pushed.size_bytes / 2,
        size_bytes: pushed.size_bytes,
        updated_at: Utc::now(),
    });
    Ok(())
}
