//! ERC-20 symbols by `eth_call` to `symbol()`, cached in memory and in the ledger. A `symbol()` that
//! answers nothing readable (`0x` from a backend without the token's code yet, a spurious revert) is asked
//! again: only after `GIVE_UP_ATTEMPTS` unreadable answers over at least `GIVE_UP_AFTER` does the token
//! count as having no symbol. Until then its fills wait.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use alloy_primitives::{Address, Bytes};
use alloy_sol_types::SolCall;

use super::abi::symbolCall;
use super::rpc::{RpcClient, RpcError};
use crate::ledger::{Ledger, LedgerError};

/// JSON-RPC error code of a reverted `eth_call` (EIP-1474 / geth).
const EXECUTION_REVERTED: i64 = 3;
/// Unreadable answers before a token counts as having no symbol.
const GIVE_UP_ATTEMPTS: u32 = 5;
/// Shortest time between a token's first unreadable answer and giving up on it.
const GIVE_UP_AFTER: Duration = Duration::from_secs(30);

/// A failed symbol lookup.
#[derive(Debug, thiserror::Error)]
pub enum SymbolError {
    /// The call failed for a reason other than the token's own revert.
    #[error("symbol() of {token}: {source}")]
    Rpc {
        token: Address,
        /// The RPC error.
        source: RpcError,
    },
    /// The token answered nothing readable, not often or long enough yet to give up: its fills wait.
    #[error("symbol() of {token} unreadable ({attempts} answers so far); asking again later")]
    NotYet {
        token: Address,
        /// Unreadable answers so far.
        attempts: u32,
    },
    /// Caching the symbol failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Token symbols known so far.
#[derive(Debug, Default)]
pub struct Symbols {
    known: HashMap<Address, String>,
    /// Tokens whose `symbol()` was unreadable: how often, since when.
    unreadable: HashMap<Address, (u32, Instant)>,
}

impl Symbols {
    /// Starts from the symbols cached in the ledger.
    pub async fn load(ledger: &Ledger) -> Result<Self, LedgerError> {
        Ok(Self {
            known: ledger.symbols().await?.into_iter().collect(),
            unreadable: HashMap::new(),
        })
    }

    /// The token's symbol; empty when the token has none (its `symbol()` kept reverting or returning
    /// garbage, see the module), which classifies the fill as skipped rather than stopping ingestion.
    pub async fn resolve(
        &mut self,
        client: &RpcClient,
        ledger: &Ledger,
        token: Address,
    ) -> Result<String, SymbolError> {
        if let Some(symbol) = self.known.get(&token) {
            return Ok(symbol.clone());
        }
        let data = Bytes::from(symbolCall {}.abi_encode());
        let symbol = match client.call(token, data).await {
            Ok(output) => decode_symbol(&output),
            Err(error) if is_revert(&error) => None,
            Err(source) => return Err(SymbolError::Rpc { token, source }),
        };
        let Some(symbol) = symbol else {
            let (attempts, since) = self.unreadable.entry(token).or_insert((0, Instant::now()));
            *attempts = attempts.saturating_add(1);
            if *attempts < GIVE_UP_ATTEMPTS || since.elapsed() < GIVE_UP_AFTER {
                return Err(SymbolError::NotYet {
                    token,
                    attempts: *attempts,
                });
            }
            tracing::warn!(%token, attempts = *attempts, "token has no readable symbol(): its fills are skipped");
            return Ok(String::new());
        };
        self.unreadable.remove(&token);
        ledger.store_symbol(token, &symbol).await?;
        self.known.insert(token, symbol.clone());
        Ok(symbol)
    }
}

fn is_revert(error: &RpcError) -> bool {
    match error {
        RpcError::Rpc { code, message, .. } => {
            *code == EXECUTION_REVERTED || message.contains("revert")
        }
        _ => false,
    }
}

/// Decodes `symbol()` output: an ABI string, or a NUL-padded `bytes32` (older tokens).
fn decode_symbol(output: &[u8]) -> Option<String> {
    if let Ok(symbol) = symbolCall::abi_decode_returns(output) {
        return Some(symbol);
    }
    let bytes: &[u8; 32] = output.try_into().ok()?;
    let text = std::str::from_utf8(bytes).ok()?.trim_end_matches('\0');
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use alloy_sol_types::SolValue;

    use super::*;

    #[test]
    fn decodes_an_abi_string() {
        let output = ("AAPL0x".to_owned(),).abi_encode_params();
        assert_eq!(decode_symbol(&output).as_deref(), Some("AAPL0x"));
    }

    #[test]
    fn decodes_a_bytes32_symbol() {
        let mut output = [0u8; 32];
        output[..4].copy_from_slice(b"USDC");
        assert_eq!(decode_symbol(&output).as_deref(), Some("USDC"));
    }

    #[test]
    fn garbage_is_no_symbol() {
        assert_eq!(decode_symbol(&[1, 2, 3]), None);
    }
}
