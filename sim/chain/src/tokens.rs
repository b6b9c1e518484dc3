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

#[cfg(test)]
mod tests {
    use alloy_sol_types::SolCall;

    use super::*;

    #[test]
    fn tokens_answer_symbol_and_decimals_and_revert_otherwise() {
        let mut tokens = Tokens::default();
        let usdc = tokens.register("USDC", 6).unwrap();
        assert_eq!(tokens.register("USDC", 6).unwrap(), usdc, "idempotent");
        assert!(matches!(
            tokens.register("USDC", 18),
            Err(TokenError::DecimalsConflict { existing: 6, .. })
        ));
        let CallOutcome::Return(symbol) =
            tokens.call(usdc.address, &symbolCall {}.abi_encode(), &[])
        else {
            panic!("symbol() returns");
        };
        assert_eq!(symbolCall::abi_decode_returns(&symbol).unwrap(), "USDC");
        let CallOutcome::Return(decimals) =
            tokens.call(usdc.address, &decimalsCall {}.abi_encode(), &[])
        else {
            panic!("decimals() returns");
        };
        assert_eq!(decimalsCall::abi_decode_returns(&decimals).unwrap(), 6);
        assert_eq!(
            tokens.call(usdc.address, &[1, 2, 3, 4], &[]),
            CallOutcome::Revert
        );
        assert_eq!(tokens.call(usdc.address, &[], &[]), CallOutcome::Revert);
        let contract = Address::repeat_byte(7);
        assert_eq!(
            tokens.call(contract, &symbolCall {}.abi_encode(), &[contract]),
            CallOutcome::Revert
        );
        assert_eq!(
            tokens.call(Address::ZERO, &symbolCall {}.abi_encode(), &[]),
            CallOutcome::Return(Bytes::new())
        );
    }
}
