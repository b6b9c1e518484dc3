//! `/v2/account/keys`: SSH keys, addressed by id or MD5 fingerprint.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use md5::{Digest, Md5};
use serde::Deserialize;
use serde_json::Value;

use super::{no_content, parse, wrap};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::pagination::paginate;
use crate::state::{SshKey, State as Account};

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/v2/account/keys", get(list).post(create))
        .route(
            "/v2/account/keys/{ssh_key_identifier}",
            get(show).put(rename).delete(destroy),
        )
}

/// The MD5 fingerprint (`3b:16:bf:...`) of an OpenSSH public key line, if it parses.
pub fn fingerprint(public_key: &str) -> Option<String> {
    let blob = public_key.split_whitespace().nth(1)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .ok()?;
    let digest = Md5::digest(&bytes);
    Some(
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

fn position(state: &Account, identifier: &str) -> ApiResult<usize> {
    state
        .ssh_keys
        .iter()
        .position(|k| k.id.to_string() == identifier || k.fingerprint == identifier)
        .ok_or_else(ApiError::not_found)
}

async fn list(State(app): State<App>, uri: Uri) -> ApiResult<Json<Value>> {
    let keys = app.state().ssh_keys.iter().map(SshKey::render).collect();
    paginate(keys, "ssh_keys", &uri, &app.base_url).map(Json)
}

async fn show(State(app): State<App>, Path(identifier): Path<String>) -> ApiResult<Response> {
    let state = app.state();
    let key = &state.ssh_keys[position(&state, &identifier)?];
    Ok(wrap(StatusCode::OK, "ssh_key", key.render()))
}

/// The body of create and rename.
#[derive(Debug, Deserialize)]
struct KeyBody {
    name: Option<String>,
    public_key: Option<String>,
}

async fn create(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let body: KeyBody = parse(&body)?;
    let name = body
        .name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::unprocessable("name is required"))?;
    let public_key = body.public_key.unwrap_or_default();
    let fingerprint = fingerprint(&public_key).ok_or_else(|| {
        ApiError::unprocessable("Key invalid, key should be of the format `type key [comment]`")
    })?;
    let mut state = app.state();
    if state.ssh_keys.iter().any(|k| k.fingerprint == fingerprint) {
        return Err(ApiError::unprocessable(
            "SSH Key is already in use on your account",
        ));
    }
    let key = SshKey {
        id: state.next_ssh_key_id(),
        fingerprint,
        public_key,
        name,
    };
    state.ssh_keys.push(key.clone());
    Ok(wrap(StatusCode::CREATED, "ssh_key", key.render()))
}

async fn rename(
    State(app): State<App>,
    Path(identifier): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let body: KeyBody = parse(&body)?;
    let mut state = app.state();
    let index = position(&state, &identifier)?;
    let key = &mut state.ssh_keys[index];
    if let Some(name) = body.name {
        key.name = name;
    }
    Ok(wrap(StatusCode::OK, "ssh_key", key.render()))
}

async fn destroy(State(app): State<App>, Path(identifier): Path<String>) -> ApiResult<Response> {
    let mut state = app.state();
    let index = position(&state, &identifier)?;
    state.ssh_keys.remove(index);
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    #[test]
    fn fingerprint_is_colon_separated_md5_of_the_key_blob() {
        // The blob is "hello"; its MD5 is 5d41402abc4b2a76b9719d911017c592.
        let fp = super::fingerprint("ssh-ed25519 aGVsbG8= me@host").unwrap();
        assert_eq!(fp, "5d:41:40:2a:bc:4b:2a:76:b9:71:9d:91:10:17:c5:92");
        assert_eq!(super::fingerprint("garbage"), None);
    }
}
