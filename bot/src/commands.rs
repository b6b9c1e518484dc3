//! The one-shot commands: `process-tx`, `positions`, `auth` and `resolve`.

use std::fmt::Write;
use std::sync::Arc;

use alloy_primitives::B256;
use url::Url;

use crate::broker::schwab::oauth::code_from_redirect;
use crate::broker::schwab::{self, AppConfig, CipherError, LoginError, TokenCipher, TokenError};
use crate::chain::ingest::{IngestConfig, IngestError, Ingestor};
use crate::hedge::{self, Position};
use crate::ledger::{Applied, Decided, Decision, Ledger, LedgerError, TradeRow};
use crate::secret::Secret;
use crate::status::Status;
use crate::trade::{Price, Shares};

/// Re-processes one transaction: records its fills of ours, skipping those already stored.
pub async fn process_tx(
    database_url: &str,
    config: IngestConfig,
    hash: B256,
) -> Result<Applied, IngestError> {
    let ledger = Ledger::open(database_url).await?;
    let mut ingestor = Ingestor::new(config, ledger.clone(), Arc::new(Status::default())).await?;
    let applied = ingestor.process_transaction(hash).await;
    ledger.close().await;
    applied
}

/// The positions (with the hedge each would need now) and the `trades` most recent trades.
pub async fn positions(database_url: &str, trades: u32) -> Result<String, LedgerError> {
    let ledger = Ledger::open(database_url).await?;
    let positions = ledger.positions().await?;
    let recent = ledger.recent_trades(trades).await?;
    ledger.close().await;
    Ok(render(&positions, &recent))
}

/// Records a person's decision on a pending execution; a running bot follows it on its next pass.
pub async fn resolve(
    database_url: &str,
    execution: i64,
    decision: Decision,
) -> Result<Decided, LedgerError> {
    let ledger = Ledger::open(database_url).await?;
    let decided = ledger.decide(execution, decision).await;
    ledger.close().await;
    decided
}

/// Why `schwad auth` failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The database failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The redirect URL, the exchange or storing failed.
    #[error(transparent)]
    Login(#[from] LoginError),
}

/// A login in progress: the URL to open, then the redirect URL pasted back.
#[derive(Debug)]
pub struct AuthFlow {
    app: AppConfig,
    encryption_key: Secret,
    state: String,
}

impl AuthFlow {
    /// Starts a login with a fresh `state` (checked when the redirect comes back).
    pub fn start(app: AppConfig, encryption_key: Secret) -> Result<Self, AuthError> {
        TokenCipher::from_hex(&encryption_key).map_err(login_error)?;
        Ok(Self {
            app,
            encryption_key,
            state: format!("{:016x}", fastrand::u64(..)),
        })
    }

    /// The authorize URL the user opens.
    pub fn url(&self) -> Result<Url, AuthError> {
        let oauth = self.app.oauth().map_err(|error| {
            LoginError::OAuth(schwab::oauth::OAuthError::Unavailable(error.to_string()))
        })?;
        Ok(oauth.authorize_url(&self.state))
    }

    /// Exchanges the code in `redirect` and stores the tokens in the database at
    /// `database_url`; returns the login's generation.
    pub async fn finish(self, database_url: &str, redirect: &str) -> Result<i64, AuthError> {
        let code = code_from_redirect(redirect, Some(&self.state)).map_err(LoginError::from)?;
        let ledger = Ledger::open(database_url).await?;
        let result = schwab::log_in(&self.app, &self.encryption_key, &ledger, &code).await;
        ledger.close().await;
        Ok(result?)
    }
}

/// Whether stored tokens (if any) decrypt with `encryption_key`: `auth` warns before replacing
/// tokens a running bot with another key could not read.
pub async fn stored_tokens_readable(
    database_url: &str,
    encryption_key: &Secret,
) -> Result<bool, AuthError> {
    let cipher = TokenCipher::from_hex(encryption_key).map_err(login_error)?;
    let ledger = Ledger::open(database_url).await?;
    let stored = ledger.stored_tokens().await;
    ledger.close().await;
    Ok(match stored? {
        Some(tokens) => match cipher.open(&tokens.sealed) {
            Ok(_) => true,
            Err(CipherError::WrongKey) => false,
            Err(other) => return Err(login_error(other).into()),
        },
        None => true,
    })
}

fn login_error(error: CipherError) -> LoginError {
    LoginError::Tokens(TokenError::Cipher(error))
}

/// Renders positions and trades as plain-text tables.
pub fn render(positions: &[Position], trades: &[TradeRow]) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "{:<8} {:>24} {:>24} {:>12} {:>24}  hedge now",
        "symbol", "bought", "sold", "hedged", "net"
    );
    for position in positions {
        let hedge = hedge::plan(position).map_or_else(
            || "-".to_owned(),
            |intent| format!("{} {}", intent.side.as_str(), intent.shares),
        );
        let _ = writeln!(
            out,
            "{:<8} {:>24} {:>24} {:>12} {:>24}  {hedge}",
            position.ticker.as_str(),
            position.bought.shown(),
            position.sold.shown(),
            position.hedged.shown(),
            position.net().shown()
        );
    }
    let _ = writeln!(out, "\nrecent trades:");
    for t in trades {
        let text = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_owned());
        // Shown rounded; a value that does not parse is shown as stored.
        let shown = |value: &Option<String>, show: fn(&str) -> Option<String>| {
            value
                .as_deref()
                .and_then(show)
                .unwrap_or_else(|| text(value))
        };
        let _ = writeln!(
            out,
            "#{:<6} block {:<10} {}#{:<4} {:<9} {:<6} {:<5} {:>24} @ {:<12} {}{}",
            t.id,
            t.block_number,
            t.tx_hash,
            t.log_index,
            t.status,
            text(&t.symbol),
            text(&t.direction),
            shown(&t.shares, |s| s.parse::<Shares>().ok().map(Shares::shown)),
            shown(&t.price, |s| s.parse::<Price>().ok().map(Price::shown)),
            t.recorded_at,
            t.skip_reason
                .as_ref()
                .map(|r| format!("  ({r})"))
                .unwrap_or_default(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trade::Ticker;

    #[test]
    fn prices_and_shares_print_rounded() {
        let exact = |s: &str| s.parse::<Shares>().unwrap();
        let position = Position {
            ticker: Ticker::parse("AAPL").unwrap(),
            bought: exact("3.123456789012345678"),
            sold: exact("0.5"),
            hedged: exact("2"),
        };
        let trade = TradeRow {
            id: 1,
            block_number: 7,
            tx_hash: "0xabc".to_owned(),
            log_index: 0,
            status: "recorded".to_owned(),
            skip_reason: None,
            symbol: Some("AAPL".to_owned()),
            direction: Some("buy".to_owned()),
            shares: Some("1.123456789012345678".to_owned()),
            price: Some("423.39782395100338806359134741".to_owned()),
            recorded_at: "2026-12-05T09:00:00Z".to_owned(),
        };
        let text = render(&[position], &[trade]);
        assert!(
            text.contains(" 3.123457 ") && text.contains(" 0.623457 "),
            "{text}"
        );
        assert!(text.contains("1.123457 @ 423.40 "), "{text}");
        assert!(
            !text.contains("423.3978") && !text.contains("3.1234567"),
            "{text}"
        );
    }
}
