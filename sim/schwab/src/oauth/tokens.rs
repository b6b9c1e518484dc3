//! Authorization codes, access tokens and the refresh grant: pure bookkeeping over a given clock.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};

use crate::time;

/// base64("oauth2.bdc.schwab.com"), the middle part of every authorization code.
const CODE_ISSUER: &str = "b2F1dGgyLmJkYy5zY2h3YWIuY29t";
/// base64("oauth2.cdc.schwab.com"), the middle part of every access token.
const TOKEN_ISSUER: &str = "b2F1dGgyLmNkYy5zY2h3YWIuY29t";

/// Why a code or refresh token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum GrantError {
    /// The code was never issued or was already exchanged.
    #[error("authorization code is invalid or was already used")]
    UnknownCode,
    /// The code outlived its TTL.
    #[error("authorization code expired")]
    ExpiredCode,
    /// The code was issued for another redirect URI.
    #[error("redirect_uri does not match the authorization request")]
    RedirectMismatch,
    /// The refresh token is unknown, expired or replaced by a newer login.
    #[error("refresh token invalid")]
    RefreshRejected,
}

/// A full token set as returned by `/v1/oauth/token` (no `Debug`: it is all secrets).
pub(crate) struct TokenSet {
    pub(crate) access_token: String,
    pub(crate) refresh_token: String,
    pub(crate) id_token: String,
}

struct PendingCode {
    redirect_uri: String,
    expires_at: DateTime<Utc>,
}

struct RefreshGrant {
    token: String,
    expires_at: DateTime<Utc>,
}

/// Every credential the simulated authorization server has issued.
#[derive(Default)]
pub(crate) struct TokenStore {
    codes: HashMap<String, PendingCode>,
    access: HashMap<String, DateTime<Utc>>,
    /// The one live refresh grant: a new code exchange replaces ("clobbers") it.
    refresh: Option<RefreshGrant>,
}

/// Counts only: the credentials themselves never reach logs.
impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenStore")
            .field("codes", &self.codes.len())
            .field("access_tokens", &self.access.len())
            .field("refresh_grant", &self.refresh.is_some())
            .finish()
    }
}

impl TokenStore {
    /// Issues a single-use authorization code bound to `redirect_uri`.
    pub(crate) fn issue_code(
        &mut self,
        redirect_uri: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> String {
        self.codes.retain(|_, code| code.expires_at > now);
        let code = format!("C0.{CODE_ISSUER}.{}@", random_token(43));
        let pending = PendingCode {
            redirect_uri: redirect_uri.to_owned(),
            expires_at: time::after(now, ttl),
        };
        self.codes.insert(code.clone(), pending);
        code
    }

    /// Consumes a code (whatever the outcome) and checks it.
    pub(crate) fn redeem_code(
        &mut self,
        code: &str,
        redirect_uri: &str,
        now: DateTime<Utc>,
    ) -> Result<(), GrantError> {
        let pending = self.codes.remove(code).ok_or(GrantError::UnknownCode)?;
        if pending.expires_at <= now {
            return Err(GrantError::ExpiredCode);
        }
        if pending.redirect_uri != redirect_uri {
            return Err(GrantError::RedirectMismatch);
        }
        Ok(())
    }

    /// Starts a new refresh grant (invalidating the previous one) and issues its first token set.
    pub(crate) fn start_grant(&mut self, lifetimes: Lifetimes, now: DateTime<Utc>) -> TokenSet {
        let token = format!("{}@", random_token(86));
        self.refresh = Some(RefreshGrant {
            token: token.clone(),
            expires_at: time::after(now, lifetimes.refresh),
        });
        self.issue_access(token, lifetimes, now)
    }

    /// Issues a fresh access token on the live refresh grant, without extending it.
    pub(crate) fn refresh(
        &mut self,
        refresh_token: &str,
        lifetimes: Lifetimes,
        now: DateTime<Utc>,
    ) -> Result<TokenSet, GrantError> {
        match &self.refresh {
            Some(grant) if grant.token == refresh_token && grant.expires_at > now => {
                let token = grant.token.clone();
                Ok(self.issue_access(token, lifetimes, now))
            }
            _ => Err(GrantError::RefreshRejected),
        }
    }

    /// Whether `token` is a live access token.
    pub(crate) fn access_is_valid(&self, token: &str, now: DateTime<Utc>) -> bool {
        self.access
            .get(token)
            .is_some_and(|expires_at| *expires_at > now)
    }

    /// Expires every access token now; with `refresh`, the refresh grant too.
    pub(crate) fn expire_all(&mut self, refresh: bool) {
        self.access.clear();
        if refresh {
            self.refresh = None;
        }
    }

    fn issue_access(
        &mut self,
        refresh_token: String,
        lifetimes: Lifetimes,
        now: DateTime<Utc>,
    ) -> TokenSet {
        self.access.retain(|_, expires_at| *expires_at > now);
        let access_token = format!("I0.{TOKEN_ISSUER}.{}@", random_token(43));
        self.access
            .insert(access_token.clone(), time::after(now, lifetimes.access));
        TokenSet {
            access_token,
            refresh_token,
            id_token: id_token(lifetimes.client_id, now, lifetimes.access),
        }
    }
}

/// Token lifetimes and the app they are issued to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lifetimes<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) access: Duration,
    pub(crate) refresh: Duration,
}

/// Random characters from the URL-safe base64 alphabet.
fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..len)
        .map(|_| char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]))
        .collect()
}

/// An unsigned-looking JWT (`eyJ...`) with the claims an OpenID id_token carries.
fn id_token(client_id: &str, now: DateTime<Utc>, lifetime: Duration) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = serde_json::json!({
        "iss": "https://api.schwabapi.com",
        "aud": client_id,
        "sub": STANDARD.encode(client_id),
        "iat": now.timestamp(),
        "exp": time::after(now, lifetime).timestamp(),
    });
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.{}", random_token(86))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIFETIMES: Lifetimes<'static> = Lifetimes {
        client_id: "key",
        access: Duration::from_secs(1800),
        refresh: Duration::from_secs(3600),
    };

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn codes_are_single_use_and_expire() {
        let mut store = TokenStore::default();
        let code = store.issue_code("https://127.0.0.1", at(0), Duration::from_secs(30));
        assert!(code.starts_with("C0.b2F1dGgyLmJkYy5zY2h3YWIuY29t.") && code.ends_with('@'));
        assert_eq!(
            store.redeem_code(&code, "https://127.0.0.1", at(29)),
            Ok(())
        );
        assert_eq!(
            store.redeem_code(&code, "https://127.0.0.1", at(29)),
            Err(GrantError::UnknownCode)
        );
        let late = store.issue_code("https://127.0.0.1", at(0), Duration::from_secs(30));
        assert_eq!(
            store.redeem_code(&late, "https://127.0.0.1", at(30)),
            Err(GrantError::ExpiredCode)
        );
        let other = store.issue_code("https://127.0.0.1", at(0), Duration::from_secs(30));
        assert_eq!(
            store.redeem_code(&other, "https://127.0.0.1/", at(1)),
            Err(GrantError::RedirectMismatch)
        );
    }

    #[test]
    fn refresh_keeps_the_grant_expiry_and_new_login_clobbers() {
        let mut store = TokenStore::default();
        let first = store.start_grant(LIFETIMES, at(0));
        assert!(store.access_is_valid(&first.access_token, at(1799)));
        assert!(!store.access_is_valid(&first.access_token, at(1800)));
        let refreshed = store
            .refresh(&first.refresh_token, LIFETIMES, at(3599))
            .unwrap();
        assert_eq!(refreshed.refresh_token, first.refresh_token);
        assert!(store.access_is_valid(&refreshed.access_token, at(3600)));
        assert_eq!(
            store
                .refresh(&first.refresh_token, LIFETIMES, at(3600))
                .err(),
            Some(GrantError::RefreshRejected)
        );

        let second = store.start_grant(LIFETIMES, at(10));
        assert_eq!(
            store.refresh(&first.refresh_token, LIFETIMES, at(11)).err(),
            Some(GrantError::RefreshRejected)
        );
        assert!(
            store
                .refresh(&second.refresh_token, LIFETIMES, at(11))
                .is_ok()
        );
    }

    #[test]
    fn expire_all_forces_reauth() {
        let mut store = TokenStore::default();
        let set = store.start_grant(LIFETIMES, at(0));
        store.expire_all(false);
        assert!(!store.access_is_valid(&set.access_token, at(1)));
        assert!(store.refresh(&set.refresh_token, LIFETIMES, at(1)).is_ok());
        store.expire_all(true);
        assert!(store.refresh(&set.refresh_token, LIFETIMES, at(1)).is_err());
    }
}
