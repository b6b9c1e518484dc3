#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

//! The OAuth authorization-code flow, token lifetimes and their error shapes.

mod common;

use std::time::Duration;

use common::{Session, client, exchange_code, fast_config, login, refresh};
use reqwest::StatusCode;
use serde_json::Value;
use sim_schwab::Config;

fn authorize_url(sim: &sim_schwab::Handle, client_id: &str, redirect_uri: &str) -> String {
    let query = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("state", "xyz"),
    ];
    let query = query
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    format!("{}/v1/oauth/authorize?{query}", sim.base_url())
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Decodes `%XX` escapes (enough for the code and state of a callback URL).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn query_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    url.split_once('?')?
        .1
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
}

#[tokio::test]
async fn auto_approved_login_redirects_to_the_callback_and_the_code_buys_tokens() {
    let sim = sim_schwab::start(Config {
        auto_approve: true,
        ..fast_config()
    })
    .await
    .unwrap();
    let http = client();
    let response = http
        .get(authorize_url(&sim, sim.app_key(), sim.callback_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("https://127.0.0.1?code=C0.b2F1dGgyLmJkYy5zY2h3YWIuY29t."),
        "{location}"
    );
    let raw_code = query_param(&location, "code").unwrap();
    assert!(
        raw_code.ends_with("%40"),
        "the code is URL-encoded and ends with %40: {raw_code}"
    );
    assert_eq!(query_param(&location, "state"), Some("xyz"));
    assert_eq!(query_param(&location, "session").unwrap().len(), 36);

    let code = decode(raw_code);
    let response = exchange_code(&sim, &http, &code).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["expires_in"], 1800);
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "api");
    let access = tokens["access_token"].as_str().unwrap();
    assert!(
        access.starts_with("I0.") && access.ends_with('@'),
        "{access}"
    );
    assert!(tokens["refresh_token"].as_str().unwrap().ends_with('@'));
    assert!(tokens["id_token"].as_str().unwrap().starts_with("eyJ"));
}

#[tokio::test]
async fn without_auto_approve_the_login_page_posts_the_consent() {
    let sim = sim_schwab::start(fast_config()).await.unwrap();
    let http = client();
    let page = http
        .get(authorize_url(&sim, sim.app_key(), sim.callback_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Allow") && html.contains("value=\"xyz\""),
        "{html}"
    );

    let form = [
        ("response_type", "code"),
        ("client_id", sim.app_key()),
        ("redirect_uri", sim.callback_url()),
        ("state", "xyz"),
    ];
    let allowed = http
        .post(format!("{}/v1/oauth/authorize", sim.base_url()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), StatusCode::FOUND);
    let location = allowed.headers()["location"].to_str().unwrap();
    let code = decode(query_param(location, "code").unwrap());
    assert_eq!(
        exchange_code(&sim, &http, &code).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn authorize_refuses_unknown_clients_and_inexact_callbacks() {
    let sim = sim_schwab::start(Config {
        auto_approve: true,
        ..fast_config()
    })
    .await
    .unwrap();
    let http = client();
    for (client_id, redirect_uri) in [
        ("someone-else", "https://127.0.0.1"),
        (sim.app_key(), "https://127.0.0.1/"),
        (sim.app_key(), "https://127.0.0.1:443"),
        (sim.app_key(), "HTTPS://127.0.0.1"),
    ] {
        let response = http
            .get(authorize_url(&sim, client_id, redirect_uri))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{client_id} {redirect_uri}"
        );
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("unable to complete your request")
        );
    }
    let no_response_type = format!(
        "{}/v1/oauth/authorize?client_id={}&redirect_uri=https://127.0.0.1",
        sim.base_url(),
        sim.app_key()
    );
    assert_eq!(
        http.get(no_response_type).send().await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn codes_work_once() {
    let sim = sim_schwab::start(fast_config()).await.unwrap();
    let http = client();
    let code = sim.authorize(None).code;
    assert_eq!(
        exchange_code(&sim, &http, &code).await.status(),
        StatusCode::OK
    );
    let again = exchange_code(&sim, &http, &code).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"].is_string());

    let double_encoded = sim.authorize(None).code.replace('@', "%40");
    assert_eq!(
        exchange_code(&sim, &http, &double_encoded).await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn codes_expire_after_their_ttl() {
    let sim = sim_schwab::start(Config {
        code_ttl: Duration::from_millis(50),
        ..fast_config()
    })
    .await
    .unwrap();
    let http = client();
    let code = sim.authorize(None).code;
    tokio::time::sleep(Duration::from_millis(80)).await;
    let response = exchange_code(&sim, &http, &code).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
}

#[tokio::test]
async fn token_endpoint_error_shapes() {
    let sim = sim_schwab::start(fast_config()).await.unwrap();
    let http = client();
    let url = format!("{}/v1/oauth/token", sim.base_url());
    let code = sim.authorize(None).code;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", sim.callback_url()),
    ];

    let no_auth = http.post(&url).form(&form).send().await.unwrap();
    assert_eq!(no_auth.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        no_auth.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    let bad_secret = http
        .post(&url)
        .basic_auth(sim.app_key(), Some("wrong"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(bad_secret.status(), StatusCode::UNAUTHORIZED);
    let body = bad_secret.text().await.unwrap();
    assert!(body.contains("invalid_client") && !body.contains(sim.app_secret()));

    let json_body = http
        .post(&url)
        .basic_auth(sim.app_key(), Some(sim.app_secret()))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        json_body.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );

    let missing_code = http
        .post(&url)
        .basic_auth(sim.app_key(), Some(sim.app_secret()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("redirect_uri", sim.callback_url()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        missing_code.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );

    let wrong_redirect = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "https://127.0.0.1/"),
    ];
    let response = http
        .post(&url)
        .basic_auth(sim.app_key(), Some(sim.app_secret()))
        .form(&wrong_redirect)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );

    let unknown_grant = http
        .post(&url)
        .basic_auth(sim.app_key(), Some(sim.app_secret()))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        unknown_grant.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );
}

#[tokio::test]
async fn refresh_issues_new_access_tokens_until_the_refresh_token_expires() {
    let config = Config {
        refresh_token_ttl: Duration::from_millis(300),
        ..fast_config()
    };
    let session = Session::start(config).await;
    let response = refresh(&session.sim, &session.http, &session.refresh_token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(
        tokens["refresh_token"],
        session.refresh_token.as_str(),
        "refresh keeps the refresh token"
    );
    assert_ne!(tokens["access_token"], session.access_token.as_str());

    tokio::time::sleep(Duration::from_millis(350)).await;
    let expired = refresh(&session.sim, &session.http, &session.refresh_token).await;
    assert_eq!(expired.status(), StatusCode::BAD_REQUEST);
    let body: Value = expired.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_token_type");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("refresh_token_authentication_error")
    );
    assert!(
        !body.to_string().contains(&session.refresh_token),
        "no secret in errors"
    );
}

#[tokio::test]
async fn a_new_login_clobbers_the_previous_refresh_token() {
    let session = Session::start(fast_config()).await;
    let second = login(&session.sim, &session.http).await;
    let old = refresh(&session.sim, &session.http, &session.refresh_token).await;
    assert_eq!(old.status(), StatusCode::BAD_REQUEST);
    let new = refresh(
        &session.sim,
        &session.http,
        second["refresh_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(new.status(), StatusCode::OK);
}

#[tokio::test]
async fn access_tokens_expire_and_api_calls_get_the_gateway_401() {
    let session = Session::start(Config {
        access_token_ttl: Duration::from_millis(100),
        ..fast_config()
    })
    .await;
    assert_eq!(
        session
            .get("/trader/v1/accounts/accountNumbers")
            .await
            .status(),
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    let response = session.get("/trader/v1/accounts/accountNumbers").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    let error = &body["errors"][0];
    assert_eq!(error["status"], 401);
    assert_eq!(error["title"], "Unauthorized");
    assert!(error["id"].is_string());

    let refreshed: Value = refresh(&session.sim, &session.http, &session.refresh_token)
        .await
        .json()
        .await
        .unwrap();
    let retry = session
        .http
        .get(session.url("/trader/v1/accounts/accountNumbers"))
        .bearer_auth(refreshed["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status(), StatusCode::OK);
}

#[tokio::test]
async fn missing_and_forged_bearer_tokens_are_refused() {
    let session = Session::start(fast_config()).await;
    let missing = session
        .http
        .get(session.url("/trader/v1/accounts/accountNumbers"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["errors"][0]["source"]["header"], "Authorization");
    let forged = session
        .http
        .get(session.url("/trader/v1/accounts/accountNumbers"))
        .bearer_auth("I0.forged@")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn expiring_all_tokens_forces_refresh_or_a_new_login() {
    let session = Session::start(fast_config()).await;
    session.sim.expire_tokens(false);
    assert_eq!(
        session
            .get("/trader/v1/accounts/accountNumbers")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refresh(&session.sim, &session.http, &session.refresh_token)
            .await
            .status(),
        StatusCode::OK
    );

    let expire = session
        .http
        .post(session.url("/_sim/tokens/expire"))
        .json(&serde_json::json!({"refresh": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(expire.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        refresh(&session.sim, &session.http, &session.refresh_token)
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    let fresh: Value = reqwest::get(session.url("/_sim/oauth/code"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = fresh["code"].as_str().unwrap();
    assert!(
        fresh["redirect_url"]
            .as_str()
            .unwrap()
            .contains(&code.replace('@', "%40"))
    );
    assert_eq!(
        exchange_code(&session.sim, &session.http, code)
            .await
            .status(),
        StatusCode::OK
    );
}
