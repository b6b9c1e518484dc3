//! The OAuth token store: sealed in the ledger, loaded and refreshed by the running bot, and
//! replaced by `schwad auth` (possibly from another process on the same database file).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::cipher::{CipherError, TokenCipher};
use super::oauth::{Grant, OAuthClient, OAuthError};
use crate::broker::BrokerError;
use crate::ledger::{Ledger, LedgerError, Sealed, StoredTokens};
use crate::secret::Secret;

/// Why tokens could not be read or stored.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The key is malformed, or sealing or opening failed.
    #[error(transparent)]
    Cipher(#[from] CipherError),
    /// The decrypted token set is not what this version stores.
    #[error("the stored broker tokens are unreadable")]
    Format,
    /// The database failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// What is sealed: both tokens together.
#[derive(Serialize, Deserialize)]
struct TokenPair {
    access_token: Secret,
    refresh_token: Secret,
}

/// Schwab's refresh token lives 7 days from login; past 6 days every refresh warns.
const LOGIN_WARNING_AGE: TimeDelta = TimeDelta::days(6);

/// A usable token set in memory.
#[derive(Debug, Clone)]
struct Tokens {
    generation: i64,
    access: Secret,
    refresh: Secret,
    access_expires_at: DateTime<Utc>,
    logged_in_at: DateTime<Utc>,
}

#[derive(Debug)]
enum State {
    /// Not read from the ledger yet.
    Unloaded,
    /// Tokens in hand.
    Ready(Tokens),
    /// The login of this generation (or none) is unusable: waiting for `schwad auth`.
    LoginNeeded(Option<i64>),
}

/// Hands out a valid access token, refreshing it `leeway` before it expires. When the refresh
/// token is refused, it reports [`BrokerError::ReauthNeeded`] until a newer login is stored.
#[derive(Debug)]
pub struct TokenManager {
    oauth: OAuthClient,
    ledger: Ledger,
    cipher: TokenCipher,
    leeway: TimeDelta,
    state: Mutex<State>,
}

impl TokenManager {
    /// A manager over the tokens stored in `ledger`.
    pub fn new(oauth: OAuthClient, ledger: Ledger, cipher: TokenCipher, leeway: Duration) -> Self {
        Self {
            oauth,
            ledger,
            cipher,
            leeway: TimeDelta::from_std(leeway).unwrap_or(TimeDelta::MAX),
            state: Mutex::new(State::Unloaded),
        }
    }

    /// Decrypts the stored tokens, if any: a wrong key fails here, at start, not at the first order.
    pub async fn check_stored(&self) -> Result<bool, TokenError> {
        Ok(load(&self.ledger, &self.cipher).await?.is_some())
    }

    /// A valid access token.
    pub async fn access_token(&self) -> Result<Secret, BrokerError> {
        let mut state = self.state.lock().await;
        let tokens = match &*state {
            State::Ready(tokens) => tokens.clone(),
            State::Unloaded | State::LoginNeeded(_) => {
                let unusable = match &*state {
                    State::LoginNeeded(generation) => *generation,
                    _ => None,
                };
                match load(&self.ledger, &self.cipher).await? {
                    Some(tokens) if Some(tokens.generation) != unusable => {
                        tracing::info!(generation = tokens.generation, "broker login loaded");
                        *state = State::Ready(tokens.clone());
                        tokens
                    }
                    _ => {
                        *state = State::LoginNeeded(unusable);
                        return Err(BrokerError::ReauthNeeded);
                    }
                }
            }
        };
        if Utc::now() + self.leeway < tokens.access_expires_at {
            return Ok(tokens.access);
        }
        match self.oauth.refresh(&tokens.refresh).await {
            Ok(grant) => {
                let refreshed = Tokens {
                    access_expires_at: expiry(&grant),
                    refresh: grant.refresh_token.unwrap_or(tokens.refresh),
                    access: grant.access_token,
                    generation: tokens.generation,
                    logged_in_at: tokens.logged_in_at,
                };
                let age = Utc::now() - tokens.logged_in_at;
                if age > LOGIN_WARNING_AGE {
                    tracing::warn!(
                        login_age_hours = age.num_hours(),
                        "the Schwab login is over 6 days old and its refresh token expires about 7 days after login: run `schwad auth` soon"
                    );
                }
                let sealed = seal(&self.cipher, &refreshed)?;
                let stored = self
                    .ledger
                    .store_refreshed(tokens.generation, &sealed, refreshed.access_expires_at)
                    .await
                    .map_err(TokenError::from)?;
                if stored {
                    tracing::debug!("access token refreshed");
                    *state = State::Ready(refreshed.clone());
                    Ok(refreshed.access)
                } else {
                    // `schwad auth` stored a newer login meanwhile: use that one next time.
                    *state = State::Unloaded;
                    Err(BrokerError::Unavailable(
                        "a newer login was stored during a refresh".to_owned(),
                    ))
                }
            }
            Err(OAuthError::Refused(reason)) => {
                // A newer login clobbers the old refresh token: prefer it if there is one.
                if let Some(newer) = load(&self.ledger, &self.cipher)
                    .await?
                    .filter(|stored| stored.generation != tokens.generation)
                {
                    *state = State::Ready(newer);
                    return Err(BrokerError::Unavailable(
                        "the refresh token was replaced by a newer login".to_owned(),
                    ));
                }
                tracing::warn!(%reason, "refresh token refused: re-authentication needed (run `schwad auth`)");
                *state = State::LoginNeeded(Some(tokens.generation));
                Err(BrokerError::ReauthNeeded)
            }
            Err(error) => Err(BrokerError::Unavailable(error.to_string())),
        }
    }

    /// Marks `stale` as expired (a 401 said so): the next [`Self::access_token`] refreshes.
    pub async fn expire(&self, stale: &Secret) {
        let mut state = self.state.lock().await;
        if let State::Ready(tokens) = &mut *state
            && tokens.access == *stale
        {
            tokens.access_expires_at = Utc::now();
        }
    }
}

/// Exchanges an authorization code and stores the new login (bumping its generation).
pub async fn log_in(
    oauth: &OAuthClient,
    ledger: &Ledger,
    cipher: &TokenCipher,
    code: &Secret,
) -> Result<i64, LoginError> {
    let grant = oauth.exchange(code).await?;
    let access_expires_at = expiry(&grant);
    let refresh = grant.refresh_token.ok_or(LoginError::NoRefreshToken)?;
    let tokens = Tokens {
        generation: 0,
        access: grant.access_token,
        refresh,
        access_expires_at,
        logged_in_at: Utc::now(),
    };
    let sealed = seal(cipher, &tokens)?;
    Ok(ledger
        .store_login(&sealed, access_expires_at)
        .await
        .map_err(TokenError::from)?)
}

/// Why `schwad auth` failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The code exchange failed.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// The token response lacked a refresh token.
    #[error("the token response carries no refresh token")]
    NoRefreshToken,
    /// Storing failed.
    #[error(transparent)]
    Tokens(#[from] TokenError),
}

fn expiry(grant: &Grant) -> DateTime<Utc> {
    Utc::now() + TimeDelta::from_std(grant.lifetime()).unwrap_or(TimeDelta::zero())
}

fn seal(cipher: &TokenCipher, tokens: &Tokens) -> Result<Sealed, TokenError> {
    let pair = TokenPair {
        access_token: tokens.access.clone(),
        refresh_token: tokens.refresh.clone(),
    };
    let plain = serde_json::to_vec(&pair).map_err(|_| TokenError::Format)?;
    Ok(cipher.seal(&plain)?)
}

async fn load(ledger: &Ledger, cipher: &TokenCipher) -> Result<Option<Tokens>, TokenError> {
    let Some(StoredTokens {
        generation,
        sealed,
        access_expires_at,
        logged_in_at,
    }) = ledger.stored_tokens().await?
    else {
        return Ok(None);
    };
    let plain = cipher.open(&sealed)?;
    let pair: TokenPair = serde_json::from_slice(&plain).map_err(|_| TokenError::Format)?;
    Ok(Some(Tokens {
        generation,
        access: pair.access_token,
        refresh: pair.refresh_token,
        access_expires_at,
        logged_in_at,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_expires_in_is_capped_at_a_day() {
        for expires_in in ["1000000000000000", "18446744073709551615"] {
            let grant: Grant = serde_json::from_str(&format!(
                r#"{{"access_token": "a", "expires_in": {expires_in}}}"#
            ))
            .unwrap();
            let latest = Utc::now() + TimeDelta::days(1);
            assert!(
                expiry(&grant) <= latest + TimeDelta::seconds(5),
                "{expires_in}"
            );
        }
    }
}
