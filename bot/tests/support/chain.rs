//! The chain simulator as the ingestion tests drive it: started with our owner, random trading, and one
//! fill of ours made to order.

use std::time::Duration;

use alloy_primitives::{Address, B256, U256};
use sim_chain::{ChainSim, Config, Leg, OrderFill, Trade};

use super::OWNER;

/// A simulator whose random trades include our owner's orders.
pub async fn start_sim(seed: u64) -> ChainSim {
    ChainSim::start(Config {
        owner: OWNER,
        seed,
        ..Config::default()
    })
    .await
    .expect("chain simulator")
}

/// Mines `blocks` blocks of `per_block` random transactions, `interval` apart.
pub async fn trade(sim: &ChainSim, blocks: usize, per_block: usize, interval: Duration) {
    for _ in 0..blocks {
        sim.submit_random(per_block);
        sim.mine();
        tokio::time::sleep(interval).await;
    }
}

/// Our order selling 2.5 AAPL0x for 500 USDC; `nonce` tells orders apart.
pub fn our_order(sim: &ChainSim, nonce: u64) -> OrderFill {
    let token = |symbol: &str| {
        sim.tokens()
            .into_iter()
            .find(|t| t.symbol == symbol)
            .expect("a default token")
    };
    OrderFill {
        owner: OWNER,
        nonce: B256::from(U256::from(nonce)),
        gave: Leg {
            token: token("AAPL0x").address,
            amount: U256::from(2_500_000_000_000_000_000u128),
        },
        received: Leg {
            token: token("USDC").address,
            amount: U256::from(500_000_000u64),
        },
    }
}

/// [`our_order`] taken by a stranger.
pub fn our_take(sim: &ChainSim, nonce: u64) -> Trade {
    Trade::Take {
        taker: Address::repeat_byte(0x99),
        order: our_order(sim, nonce),
    }
}

/// [`our_order`] cleared against a stranger's order that gives exactly what ours receives.
pub fn our_clear(sim: &ChainSim, nonce: u64) -> Trade {
    Trade::Clear {
        clearer: Address::repeat_byte(0x55),
        alice: our_order(sim, nonce),
        bob: mirror(sim, Address::repeat_byte(0x77), nonce),
    }
}

/// A stranger's order mirroring [`our_order`]: it gives the USDC ours receives for the AAPL0x ours gives.
fn mirror(sim: &ChainSim, owner: Address, nonce: u64) -> OrderFill {
    let ours = our_order(sim, nonce);
    OrderFill {
        owner,
        nonce: B256::from(U256::from(nonce)),
        gave: ours.received,
        received: ours.gave,
    }
}

/// [`our_order`] as the bob side of a clear against a stranger's alice order (the same logs as [`our_clear`]).
pub fn our_clear_as_bob(sim: &ChainSim, nonce: u64) -> Trade {
    Trade::Clear {
        clearer: Address::repeat_byte(0x55),
        alice: mirror(sim, Address::repeat_byte(0x66), nonce),
        bob: our_order(sim, nonce),
    }
}

/// Two strangers' orders cleared: the same logs as [`our_clear`], no fill of ours.
pub fn strangers_clear(sim: &ChainSim, nonce: u64) -> Trade {
    let alice = OrderFill {
        owner: Address::repeat_byte(0x44),
        ..our_order(sim, nonce)
    };
    Trade::Clear {
        clearer: Address::repeat_byte(0x55),
        alice,
        bob: mirror(sim, Address::repeat_byte(0x77), nonce),
    }
}
