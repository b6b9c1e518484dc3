//! The ERC-20 token contracts the simulated chain knows, and what `eth_call` answers for them.

use std::collections::HashMap;

use alloy_primitives::{Address, Bytes, keccak256};
use alloy_sol_types::SolCall;
use serde::{Deserialize, Serialize};

use crate::abi::{decimalsCall, symbolCall};

/// An ERC-20 token deployed on the simulated chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// Contract address.
    pub address: Address,
    /// What `symbol()` returns, e.g. `USDC` or `AAPL0x`.
    pub symbol: String,
    /// What `decimals()` returns.
    pub decimals: u8,
}

/// Why a token could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The symbol is already registered with other decimals.
    #[error("token {symbol} is already registered with {existing} decimals, not {requested}")]
    DecimalsConflict {
        /// The symbol asked for.
        symbol: String,
        /// Decimals of the registered token.
        existing: u8,
        /// Decimals asked for.
        requested: u8,
    },
}

/// What a contract call returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CallOutcome {
    /// The call returned this data (empty for an account without code).
    Return(Bytes),
    /// The contract reverted without a reason.
    Revert,
}

/// Token contracts by address.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    by_address: HashMap<Address, Token>,
}

impl Tokens {
    /// Deploys a token at an address derived from its symbol; registering the same token again is a no-op.
    pub(crate) fn register(&mut self, symbol: &str, decimals: u8) -> Result<Token, TokenError> {
        let address = Address::from_word(keccak256(format!("sim-chain token {symbol}")));
        if let Some(existing) = self.by_address.get(&address) {
            if existing.decimals != decimals {
                return Err(TokenError::DecimalsConflict {
                    symbol: symbol.to_owned(),
                    existing: existing.decimals,
                    requested: decimals,
                });
            }
            return Ok(existing.clone());
        }
        let token = Token {
            address,
            symbol: symbol.to_owned(),
            decimals,
        };
        self.by_address.insert(address, token.clone());
        Ok(token)
    }

    /// The token deployed at `address`, if any.
    pub(crate) fn get(&self, address: &Address) -> Option<&Token> {
        self.by_address.get(address)
    }

    /// All tokens, in no particular order.
    pub(crate) fn all(&self) -> impl Iterator<Item = &Token> {
        self.by_address.values()
    }

    /// Executes a read-only call to `to`: `symbol()` and `decimals()` on tokens; any other selector reverts
    /// on a contract (`contracts` lists the other addresses holding code), and an account without code
    /// returns nothing, as on a real chain.
    pub(crate) fn call(&self, to: Address, input: &[u8], contracts: &[Address]) -> CallOutcome {
        let Some(token) = self.by_address.get(&to) else {
            return if contracts.contains(&to) {
                CallOutcome::Revert
            } else {
                CallOutcome::Return(Bytes::new())
            };
        };
        match input.get(..4) {
            Some(selector) if selector == symbolCall::SELECTOR => {
                CallOutcome::Return(symbolCall::abi_encode_returns(&token.symbol).into())
            }
            Some(selector) if selector == decimalsCall::SELECTOR => {
                CallOutcome::Return(decimalsCall::abi_encode_returns(&token.decimals).into())
            }
            _ => CallOutcome::Revert,
        }
    }
}
