//! `GET /v2/account`: the cheap token check.

use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use super::droplets::DROPLET_LIMIT;
use super::wrap;
use crate::app::App;

pub(crate) fn routes() -> Router<App> {
    Router::new().route("/v2/account", get(show))
}

async fn show() -> Response {
    wrap(
        StatusCode::OK,
        "account",
        json!({
            "droplet_limit": DROPLET_LIMIT,
            "floating_ip_limit": 5,
            "volume_limit": 100,
            "email": "sammy@example.com",
            "name": "Sammy the Shark",
            "uuid": "b6fc48dbf6d9906cace5f2a52a7bd2b6d2d2ad3b",
            "email_verified": true,
            "status": "active",
            "status_message": " ",
            "team": {"uuid": "5df3e3004a5ee8b1d3d9e6d7b0d0a1f93e3b6d2e", "name": "schwad"},
        }),
    )
}
