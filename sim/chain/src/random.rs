//! A seeded generator of plausible orderbook activity: takes and clears of our owner's orders and
//! others', on USDC/equity markets with every tokenized-equity marker, 6 and 18 decimals, and some pairs
//! without USDC.

use alloy_primitives::{Address, U256, keccak256};

use crate::tokens::{Token, TokenError, Tokens};
use crate::trade::{Leg, OrderFill, Trade};

/// Tokenized equities the generator trades (every marker, 6 and 18 decimals): symbol and decimals.
const EQUITIES: [(&str, u8); 4] = [("AAPL0x", 18), ("NVDAs1", 18), ("tAAPL", 6), ("TSLA0x", 6)];
/// Other order owners and takers the generator picks from.
const STRANGERS: u64 = 6;
/// Distinct orders per owner and pair.
const NONCES_PER_ORDER: u64 = 3;

/// Seeded random trades; the same seed gives the same trades.
#[derive(Debug)]
pub(crate) struct RandomTrades {
    rng: fastrand::Rng,
    owner: Address,
    usdc: Token,
    equities: Vec<Token>,
    others: Vec<Token>,
}

impl RandomTrades {
    /// Registers the tokens it trades and starts the sequence of `seed`.
    pub(crate) fn new(seed: u64, owner: Address, tokens: &mut Tokens) -> Result<Self, TokenError> {
        let usdc = tokens.register("USDC", 6)?;
        let equities = EQUITIES
            .iter()
            .map(|(symbol, decimals)| tokens.register(symbol, *decimals))
            .collect::<Result<_, _>>()?;
        let others = vec![tokens.register("WETH", 18)?];
        Ok(Self {
            rng: fastrand::Rng::with_seed(seed),
            owner,
            usdc,
            equities,
            others,
        })
    }

    /// The trades of one random transaction: mostly one take, else one to three clears, sometimes with
    /// a take between them.
    pub(crate) fn transaction(&mut self) -> Vec<Trade> {
        let roll = self.rng.f64();
        if roll < 0.55 {
            return vec![self.take()];
        }
        let clears = self.rng.usize(1..=3);
        let mut trades: Vec<Trade> = (0..clears).map(|_| self.clear()).collect();
        if roll > 0.85 {
            let at = self.rng.usize(..=trades.len());
            trades.insert(at, self.take());
        }
        trades
    }

    fn take(&mut self) -> Trade {
        let owner = if self.rng.bool() {
            self.owner
        } else {
            self.stranger()
        };
        let (gave, received) = self.legs();
        Trade::Take {
            taker: self.stranger(),
            order: self.order(owner, gave, received),
        }
    }

    /// A clear where at most one side is ours (Rain refuses to clear an owner against itself), with a
    /// small bounty on either side.
    fn clear(&mut self) -> Trade {
        let ours = self.rng.u8(..3);
        let alice_owner = if ours == 0 {
            self.owner
        } else {
            self.stranger()
        };
        let mut bob_owner = if ours == 1 {
            self.owner
        } else {
            self.stranger()
        };
        while bob_owner == alice_owner {
            bob_owner = self.stranger();
        }
        let (alice_gave, alice_received) = self.legs();
        let bob_received = Leg {
            token: alice_gave.token,
            amount: self.minus_bounty(alice_gave.amount),
        };
        let bob_gave = Leg {
            token: alice_received.token,
            amount: self.plus_bounty(alice_received.amount),
        };
        Trade::Clear {
            clearer: self.stranger(),
            alice: self.order(alice_owner, alice_gave, alice_received),
            bob: self.order(bob_owner, bob_gave, bob_received),
        }
    }

    /// What an order gives and receives: mostly equity against USDC either way, sometimes a pair without
    /// USDC.
    fn legs(&mut self) -> (Leg, Leg) {
        let equity = self.equities[self.rng.usize(..self.equities.len())].clone();
        let milli_shares = self.rng.u64(1..=20_000);
        let shares = Leg {
            token: equity.address,
            amount: scaled(milli_shares, equity.decimals, 3),
        };
        let counter = if self.rng.f64() < 0.85 {
            let cents_per_share = self.rng.u64(5_000..=50_000);
            Leg {
                token: self.usdc.address,
                amount: scaled(milli_shares * cents_per_share, self.usdc.decimals, 5),
            }
        } else {
            let pool: Vec<&Token> = self
                .others
                .iter()
                .chain(&self.equities)
                .filter(|t| t.address != equity.address)
                .collect();
            let other = pool[self.rng.usize(..pool.len())];
            Leg {
                token: other.address,
                amount: scaled(self.rng.u64(1..=1_000_000), other.decimals, 6),
            }
        };
        if self.rng.bool() {
            (shares, counter)
        } else {
            (counter, shares)
        }
    }

    fn order(&mut self, owner: Address, gave: Leg, received: Leg) -> OrderFill {
        let (low, high) = if gave.token < received.token {
            (gave.token, received.token)
        } else {
            (received.token, gave.token)
        };
        let which = self.rng.u64(..NONCES_PER_ORDER);
        let nonce = keccak256(
            [
                owner.as_slice(),
                low.as_slice(),
                high.as_slice(),
                &which.to_be_bytes(),
            ]
            .concat(),
        );
        OrderFill {
            owner,
            nonce,
            gave,
            received,
        }
    }

    fn stranger(&mut self) -> Address {
        Address::from_word(keccak256(format!(
            "sim-chain stranger {}",
            self.rng.u64(..STRANGERS)
        )))
    }

    fn minus_bounty(&mut self, amount: U256) -> U256 {
        amount - self.bounty(amount)
    }

    fn plus_bounty(&mut self, amount: U256) -> U256 {
        amount + self.bounty(amount)
    }

    /// Nothing half the time, else up to 1% of `amount`.
    fn bounty(&mut self, amount: U256) -> U256 {
        if self.rng.bool() {
            U256::ZERO
        } else {
            amount * U256::from(self.rng.u64(..=100)) / U256::from(10_000)
        }
    }
}

/// `units / 10^scale` of a whole token, in smallest units of a token with `decimals`.
fn scaled(units: u64, decimals: u8, scale: u8) -> U256 {
    let units = U256::from(units);
    if decimals >= scale {
        units * U256::from(10).pow(U256::from(decimals - scale))
    } else {
        (units / U256::from(10).pow(U256::from(scale - decimals))).max(U256::from(1))
    }
}
