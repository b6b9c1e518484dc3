//! Schwab's OAuth 2.0 authorization-code flow: the authorize URL, the code pasted back in the
//! redirect URL, and the token endpoint (code exchange and refresh, HTTP Basic client auth).

use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::envelope;
use crate::secret::Secret;

/// The app registration and where Schwab is.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    http: reqwest::Client,
    base_url: Url,
    app_key: String,
    app_secret: Secret,
    callback_url: String,
}

/// A token response.
#[derive(Debug, Clone, Deserialize)]
pub struct Grant {
    /// The bearer token (30 minutes at Schwab).
    pub access_token: Secret,
    /// The refresh token (7 days from login); a refresh may omit it (then keep the old one).
    pub refresh_token: Option<Secret>,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// Longest access-token lifetime believed (Schwab's is 30 minutes): a larger `expires_in` is capped, so the expiry
/// time it gives stays within what time arithmetic can hold.
pub const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

impl Grant {
    /// The access token's lifetime, at most [`MAX_LIFETIME`].
    pub fn lifetime(&self) -> Duration {
        Duration::from_secs(self.expires_in).min(MAX_LIFETIME)
    }
}

/// A failed token request.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// Schwab refused the code or refresh token (expired, used, clobbered) or the app credentials.
    #[error("the token endpoint refused the request: {0}")]
    Refused(String),
    /// The token endpoint could not be reached or failed.
    #[error("the token endpoint is unavailable: {0}")]
    Unavailable(String),
    /// The pasted redirect URL carries no usable code.
    #[error("the redirect URL {0}")]
    Redirect(&'static str),
}

impl OAuthClient {
    /// A client of the token endpoint under `base_url`.
    pub fn new(
        http: reqwest::Client,
        base_url: Url,
        app_key: String,
        app_secret: Secret,
        callback_url: String,
    ) -> Self {
        Self {
            http,
            base_url,
            app_key,
            app_secret,
            callback_url,
        }
    }

    /// The URL a user opens to log in and allow the app; `state` comes back in the redirect.
    pub fn authorize_url(&self, state: &str) -> Url {
        let mut url = self.endpoint("v1/oauth/authorize");
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.app_key)
            .append_pair("redirect_uri", &self.callback_url)
            .append_pair("state", state);
        url
    }

    /// Exchanges an authorization code (decoded, ending in `@`) for a token set.
    pub async fn exchange(&self, code: &Secret) -> Result<Grant, OAuthError> {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code.expose()),
            ("redirect_uri", &self.callback_url),
        ])
        .await
    }

    /// Refreshes the access token.
    pub async fn refresh(&self, refresh_token: &Secret) -> Result<Grant, OAuthError> {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
        ])
        .await
    }

    async fn token(&self, form: &[(&str, &str)]) -> Result<Grant, OAuthError> {
        let response = self
            .http
            .post(self.endpoint("v1/oauth/token"))
            .basic_auth(&self.app_key, Some(self.app_secret.expose()))
            .form(form)
            .send()
            .await
            .map_err(|error| OAuthError::Unavailable(error.without_url().to_string()))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|error| OAuthError::Unavailable(error.without_url().to_string()))?;
        if status.is_success() {
            return serde_json::from_str(&body)
                .map_err(|error| OAuthError::Unavailable(format!("token response: {error}")));
        }
        let message = envelope::describe(status.as_u16(), &body);
        if status.is_client_error() && status.as_u16() != 429 {
            Err(OAuthError::Refused(message))
        } else {
            Err(OAuthError::Unavailable(message))
        }
    }

    fn endpoint(&self, path: &str) -> Url {
        let mut url = self.base_url.clone();
        url.set_path(path);
        url
    }
}

/// The authorization code in the redirect URL the browser landed on. Its query is URL-encoded
/// (the code ends in `%40`, i.e. `@`); the code comes back decoded. When `state` is given, the
/// redirect must carry the same one.
pub fn code_from_redirect(redirect: &str, state: Option<&str>) -> Result<Secret, OAuthError> {
    let url = Url::parse(redirect.trim()).map_err(|_| OAuthError::Redirect("is not a URL"))?;
    let param = |name: &str| {
        url.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    if let Some(expected) = state
        && param("state").as_deref() != Some(expected)
    {
        return Err(OAuthError::Redirect(
            "carries another state: paste the URL of this login",
        ));
    }
    param("code")
        .filter(|code| !code.is_empty())
        .map(Secret::new)
        .ok_or(OAuthError::Redirect("has no code parameter"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_is_url_decoded_and_keeps_its_at_sign() {
        let redirect =
            "https://127.0.0.1/?code=C0.b2F1dGgyLmJkYy5zY2h3YWIuY29t.abc%40&session=9f1e&state=s1";
        let code = code_from_redirect(redirect, Some("s1")).unwrap();
        assert_eq!(code.expose(), "C0.b2F1dGgyLmJkYy5zY2h3YWIuY29t.abc@");
    }

    #[test]
    fn a_lifetime_beyond_a_day_is_capped() {
        let grant: Grant =
            serde_json::from_str(r#"{"access_token": "a", "expires_in": 18446744073709551615}"#)
                .unwrap();
        assert_eq!(grant.lifetime(), Duration::from_secs(86_400));
        let grant: Grant =
            serde_json::from_str(r#"{"access_token": "a", "expires_in": 1800}"#).unwrap();
        assert_eq!(grant.lifetime(), Duration::from_secs(1800));
    }

    #[test]
    fn a_foreign_state_or_missing_code_is_refused() {
        let redirect = "https://127.0.0.1/?code=C0.x%40&state=other";
        assert!(code_from_redirect(redirect, Some("mine")).is_err());
        assert!(code_from_redirect("https://127.0.0.1/?session=1", None).is_err());
        assert!(code_from_redirect("not a url", None).is_err());
    }

    #[test]
    fn the_authorize_url_names_the_app_and_callback() {
        let client = OAuthClient::new(
            reqwest::Client::new(),
            Url::parse("https://api.schwabapi.com").unwrap(),
            "KEY".to_owned(),
            Secret::new("SECRET"),
            "https://127.0.0.1".to_owned(),
        );
        let url = client.authorize_url("st");
        assert_eq!(
            url.as_str(),
            "https://api.schwabapi.com/v1/oauth/authorize?response_type=code&client_id=KEY&redirect_uri=https%3A%2F%2F127.0.0.1&state=st"
        );
        assert!(!url.as_str().contains("SECRET"));
    }
}
