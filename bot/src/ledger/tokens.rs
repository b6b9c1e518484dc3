//! The broker's sealed OAuth tokens (one row). Only ciphertext and expiry times are stored.

use chrono::{DateTime, SecondsFormat, Utc};

use super::{Context, Ledger, LedgerError};

/// A token set sealed for the database (by the broker's cipher; the ledger only stores it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The random nonce.
    pub nonce: Vec<u8>,
    /// Ciphertext with its authentication tag.
    pub ciphertext: Vec<u8>,
}

/// The stored login.
#[derive(Debug, Clone)]
pub struct StoredTokens {
    /// Bumped by every login.
    pub generation: i64,
    /// The sealed token pair.
    pub sealed: Sealed,
    /// When the access token expires.
    pub access_expires_at: DateTime<Utc>,
    /// When the login happened (the refresh token lives about 7 days from then).
    pub logged_in_at: DateTime<Utc>,
}

fn text(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Ledger {
    /// The stored login, if any.
    pub async fn stored_tokens(&self) -> Result<Option<StoredTokens>, LedgerError> {
        let Some(row) = sqlx::query!(
            "SELECT login_generation, nonce, ciphertext, access_expires_at, logged_in_at
             FROM broker_tokens WHERE id = 1"
        )
        .fetch_optional(&self.pool)
        .await
        .context("reading the broker tokens")?
        else {
            return Ok(None);
        };
        let time = |column: &'static str, value: &str| {
            DateTime::parse_from_rfc3339(value)
                .map(|time| time.with_timezone(&Utc))
                .map_err(|_| LedgerError::Corrupt {
                    column,
                    value: value.to_owned(),
                })
        };
        let access_expires_at = time("broker_tokens.access_expires_at", &row.access_expires_at)?;
        let logged_in_at = time("broker_tokens.logged_in_at", &row.logged_in_at)?;
        Ok(Some(StoredTokens {
            generation: row.login_generation,
            sealed: Sealed {
                nonce: row.nonce,
                ciphertext: row.ciphertext,
            },
            access_expires_at,
            logged_in_at,
        }))
    }

    /// Stores a new login, replacing any older one; returns its generation.
    pub async fn store_login(
        &self,
        sealed: &Sealed,
        access_expires_at: DateTime<Utc>,
    ) -> Result<i64, LedgerError> {
        let expires = text(access_expires_at);
        let now = text(Utc::now());
        let _turn = self.write_turn().await;
        let generation = sqlx::query_scalar!(
            "INSERT INTO broker_tokens
                 (id, login_generation, nonce, ciphertext, access_expires_at, logged_in_at)
             VALUES (1, 1, ?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET
                 login_generation = login_generation + 1,
                 nonce = excluded.nonce,
                 ciphertext = excluded.ciphertext,
                 access_expires_at = excluded.access_expires_at,
                 logged_in_at = excluded.logged_in_at,
                 updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             RETURNING login_generation",
            sealed.nonce,
            sealed.ciphertext,
            expires,
            now
        )
        .fetch_one(&self.pool)
        .await
        .context("storing a broker login")?;
        Ok(generation)
    }

    /// Stores refreshed tokens of login `generation`; false (nothing stored) when a newer login
    /// replaced it meanwhile.
    pub async fn store_refreshed(
        &self,
        generation: i64,
        sealed: &Sealed,
        access_expires_at: DateTime<Utc>,
    ) -> Result<bool, LedgerError> {
        let expires = text(access_expires_at);
        let _turn = self.write_turn().await;
        let updated = sqlx::query!(
            "UPDATE broker_tokens SET nonce = ?2, ciphertext = ?3, access_expires_at = ?4,
                 updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE id = 1 AND login_generation = ?1",
            generation,
            sealed.nonce,
            sealed.ciphertext,
            expires
        )
        .execute(&self.pool)
        .await
        .context("storing refreshed broker tokens")?;
        Ok(updated.rows_affected() == 1)
    }
}
