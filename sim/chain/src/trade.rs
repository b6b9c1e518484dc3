//! Trades to put on chain, and their encoding into the logs of one transaction with the real ABI.

use alloy_primitives::{Address, B256, Bytes, Log, U256, address};
use alloy_sol_types::SolEvent;
use serde::{Deserialize, Serialize};

use crate::abi::{
    AfterClear, ClearConfig, ClearStateChange, ClearV2, Context, EvaluableV3, IO, OrderV3,
    SignedContextV1, TakeOrderConfigV3, TakeOrderV2, Transfer,
};
use crate::json::decimal;
use crate::ledger::TokenAmount;
use crate::tokens::{Token, Tokens};

/// Interpreter every simulated order is deployed with.
const INTERPRETER: Address = address!("0x1111111111111111111111111111111111111111");
/// Store every simulated order is deployed with.
const STORE: Address = address!("0x2222222222222222222222222222222222222222");
/// Oracle that signs the context of simulated takes.
const ORACLE: Address = address!("0x3333333333333333333333333333333333333333");

/// An exact amount of one token, in its smallest units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leg {
    /// Token contract.
    pub token: Address,
    /// Amount in the token's smallest units (JSON: a decimal string).
    #[serde(with = "decimal")]
    pub amount: U256,
}

/// One order's part in a trade: whose order it is and what it gave and received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderFill {
    /// Order owner.
    pub owner: Address,
    /// Order nonce: with the owner and the token pair, it identifies the order (and its hash).
    pub nonce: B256,
    /// What the order sent out.
    pub gave: Leg,
    /// What the order took in.
    pub received: Leg,
}

/// A trade on the orderbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trade {
    /// `taker` took `order` (one `TakeOrderV2` log).
    Take {
        /// Who sent the transaction.
        taker: Address,
        /// The order taken.
        order: OrderFill,
    },
    /// `clearer` cleared `alice` against `bob` (a `ClearV2` log, then its `AfterClear`).
    Clear {
        /// Who sent the transaction and earns the bounty.
        clearer: Address,
        /// First order: gives what `bob` receives.
        alice: OrderFill,
        /// Second order: gives what `alice` receives.
        bob: OrderFill,
    },
}

/// Why trades cannot go on chain.
#[derive(Debug, thiserror::Error)]
pub enum TradeError {
    /// A transaction needs at least one trade.
    #[error("a transaction needs at least one trade")]
    Empty,
    /// A leg names a token that is not registered.
    #[error("token {0} is not registered")]
    UnknownToken(Address),
    /// An order cannot give and receive the same token.
    #[error("order of {owner} gives and receives the same token {token}")]
    SameToken {
        /// Order owner.
        owner: Address,
        /// The token on both legs.
        token: Address,
    },
    /// Rain refuses to clear two orders of one owner.
    #[error("cannot clear two orders of the same owner {0}")]
    SameOwner(Address),
    /// The cleared orders do not trade the same pair in opposite directions.
    #[error("cleared orders must trade one pair in opposite directions")]
    MismatchedPair,
    /// One cleared order gives less than the other receives.
    #[error("cleared order gives less than its counterparty receives")]
    InsufficientOutput,
}

/// Which order of a trade a fill belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FillSide {
    /// The order taken by a `TakeOrderV2`.
    Taken,
    /// The alice order of a `ClearV2`.
    Alice,
    /// The bob order of a `ClearV2`.
    Bob,
}

/// A fill of a transaction not yet placed in a block.
#[derive(Debug, Clone)]
pub(crate) struct FillDraft {
    /// Position of the `TakeOrderV2` / `ClearV2` log among the transaction's logs.
    pub(crate) log_position: usize,
    pub(crate) side: FillSide,
    pub(crate) owner: Address,
    pub(crate) order_hash: B256,
    pub(crate) gave: TokenAmount,
    pub(crate) received: TokenAmount,
}

/// A transaction's content: who sent it to which contract, its logs in order, and the fills among them.
#[derive(Debug, Clone)]
pub(crate) struct TxContent {
    pub(crate) from: Address,
    pub(crate) to: Address,
    pub(crate) logs: Vec<Log>,
    pub(crate) fills: Vec<FillDraft>,
}

/// Encodes `trades` as the logs one transaction to `orderbook` emits, in order: each take emits the
/// order's `Context`, its `TakeOrderV2`, then the two token transfers; each clear emits `ClearV2`, the
/// two orders' `Context`s, `AfterClear`, then the transfers of the clearer's bounty when there is one.
pub(crate) fn encode(
    trades: &[Trade],
    tokens: &Tokens,
    orderbook: Address,
) -> Result<TxContent, TradeError> {
    let first = trades.first().ok_or(TradeError::Empty)?;
    let from = match first {
        Trade::Take { taker, .. } => *taker,
        Trade::Clear { clearer, .. } => *clearer,
    };
    let mut content = TxContent {
        from,
        to: orderbook,
        logs: Vec::new(),
        fills: Vec::new(),
    };
    for trade in trades {
        match trade {
            Trade::Take { taker, order } => {
                encode_take(&mut content, tokens, orderbook, *taker, order)?
            }
            Trade::Clear {
                clearer,
                alice,
                bob,
            } => {
                encode_clear(&mut content, tokens, orderbook, *clearer, alice, bob)?;
            }
        }
    }
    Ok(content)
}

fn encode_take(
    content: &mut TxContent,
    tokens: &Tokens,
    orderbook: Address,
    taker: Address,
    fill: &OrderFill,
) -> Result<(), TradeError> {
    let order = ResolvedOrder::new(fill, tokens)?;
    let event = TakeOrderV2 {
        sender: taker,
        config: TakeOrderConfigV3 {
            order: order.order.clone(),
            inputIOIndex: U256::from(order.input_index),
            outputIOIndex: U256::from(order.output_index),
            signedContext: vec![SignedContextV1 {
                signer: ORACLE,
                context: vec![fill.gave.amount, fill.received.amount],
                signature: Bytes::copy_from_slice(fill.nonce.as_slice()),
            }],
        },
        // The taker's perspective: it received what the order gave and gave what the order received.
        input: fill.gave.amount,
        output: fill.received.amount,
    };
    // The orderbook evaluates the order (emitting its context) before the take.
    content.logs.push(order.context(orderbook, taker));
    content
        .fills
        .push(order.draft(content.logs.len(), FillSide::Taken, fill));
    content.logs.push(Log {
        address: orderbook,
        data: event.encode_log_data(),
    });
    content.logs.push(transfer(
        fill.received.token,
        taker,
        orderbook,
        fill.received.amount,
    ));
    content.logs.push(transfer(
        fill.gave.token,
        orderbook,
        taker,
        fill.gave.amount,
    ));
    Ok(())
}

fn encode_clear(
    content: &mut TxContent,
    tokens: &Tokens,
    orderbook: Address,
    clearer: Address,
    alice: &OrderFill,
    bob: &OrderFill,
) -> Result<(), TradeError> {
    if alice.owner == bob.owner {
        return Err(TradeError::SameOwner(alice.owner));
    }
    if alice.gave.token != bob.received.token || bob.gave.token != alice.received.token {
        return Err(TradeError::MismatchedPair);
    }
    let alice_bounty = alice
        .gave
        .amount
        .checked_sub(bob.received.amount)
        .ok_or(TradeError::InsufficientOutput)?;
    let bob_bounty = bob
        .gave
        .amount
        .checked_sub(alice.received.amount)
        .ok_or(TradeError::InsufficientOutput)?;
    let alice_order = ResolvedOrder::new(alice, tokens)?;
    let bob_order = ResolvedOrder::new(bob, tokens)?;
    let clear = ClearV2 {
        sender: clearer,
        alice: alice_order.order.clone(),
        bob: bob_order.order.clone(),
        clearConfig: ClearConfig {
            aliceInputIOIndex: U256::from(alice_order.input_index),
            aliceOutputIOIndex: U256::from(alice_order.output_index),
            bobInputIOIndex: U256::from(bob_order.input_index),
            bobOutputIOIndex: U256::from(bob_order.output_index),
            aliceBountyVaultId: U256::from_be_slice(clearer.as_slice()),
            bobBountyVaultId: U256::from_be_slice(clearer.as_slice()),
        },
    };
    let after = AfterClear {
        sender: clearer,
        clearStateChange: ClearStateChange {
            aliceOutput: alice.gave.amount,
            bobOutput: bob.gave.amount,
            aliceInput: alice.received.amount,
            bobInput: bob.received.amount,
        },
    };
    let position = content.logs.len();
    content
        .fills
        .push(alice_order.draft(position, FillSide::Alice, alice));
    content
        .fills
        .push(bob_order.draft(position, FillSide::Bob, bob));
    content.logs.push(Log {
        address: orderbook,
        data: clear.encode_log_data(),
    });
    // Both orders are evaluated between the clear and its amounts, as on chain.
    content.logs.push(alice_order.context(orderbook, clearer));
    content.logs.push(bob_order.context(orderbook, clearer));
    content.logs.push(Log {
        address: orderbook,
        data: after.encode_log_data(),
    });
    for (token, bounty) in [
        (alice.gave.token, alice_bounty),
        (bob.gave.token, bob_bounty),
    ] {
        if !bounty.is_zero() {
            content
                .logs
                .push(transfer(token, orderbook, clearer, bounty));
        }
    }
    Ok(())
}

/// An ERC-20 `Transfer` log emitted by `token`.
fn transfer(token: Address, from: Address, to: Address, value: U256) -> Log {
    Log {
        address: token,
        data: Transfer { from, to, value }.encode_log_data(),
    }
}

/// A fill's order as it appears on chain, with the IO indexes the trade went through.
struct ResolvedOrder {
    order: OrderV3,
    input_index: usize,
    output_index: usize,
    gave: Token,
    received: Token,
}

impl ResolvedOrder {
    /// Builds the order of `fill`: like a market maker's, it can both buy and sell its pair, listing both
    /// tokens as inputs and as outputs (in opposite orders), so the IO indexes matter.
    fn new(fill: &OrderFill, tokens: &Tokens) -> Result<Self, TradeError> {
        let token = |address: Address| {
            tokens
                .get(&address)
                .cloned()
                .ok_or(TradeError::UnknownToken(address))
        };
        let gave = token(fill.gave.token)?;
        let received = token(fill.received.token)?;
        if gave.address == received.address {
            return Err(TradeError::SameToken {
                owner: fill.owner,
                token: gave.address,
            });
        }
        let (low, high) = if gave.address < received.address {
            (&gave, &received)
        } else {
            (&received, &gave)
        };
        let io = |token: &Token| IO {
            token: token.address,
            decimals: token.decimals,
            // One vault per order and token; any distinct number will do.
            vaultId: U256::from_be_bytes(fill.nonce.0)
                ^ U256::from_be_slice(token.address.as_slice()),
        };
        let order = OrderV3 {
            owner: fill.owner,
            evaluable: EvaluableV3 {
                interpreter: INTERPRETER,
                store: STORE,
                bytecode: Bytes::copy_from_slice(fill.owner.as_slice()),
            },
            validInputs: vec![io(low), io(high)],
            validOutputs: vec![io(high), io(low)],
            nonce: fill.nonce,
        };
        let input_index = usize::from(received.address != low.address);
        let output_index = usize::from(gave.address != high.address);
        Ok(Self {
            order,
            input_index,
            output_index,
            gave,
            received,
        })
    }

    /// The `Context` log of evaluating this order for `sender`.
    fn context(&self, orderbook: Address, sender: Address) -> Log {
        let base = vec![
            U256::from_be_bytes(self.order.hash().0),
            U256::from_be_slice(self.order.owner.as_slice()),
        ];
        let io = vec![
            U256::from_be_slice(self.received.address.as_slice()),
            U256::from_be_slice(self.gave.address.as_slice()),
        ];
        Log {
            address: orderbook,
            data: Context {
                sender,
                context: vec![base, io],
            }
            .encode_log_data(),
        }
    }

    fn draft(&self, log_position: usize, side: FillSide, fill: &OrderFill) -> FillDraft {
        FillDraft {
            log_position,
            side,
            owner: fill.owner,
            order_hash: self.order.hash(),
            gave: TokenAmount {
                token: self.gave.clone(),
                amount: fill.gave.amount,
            },
            received: TokenAmount {
                token: self.received.clone(),
                amount: fill.received.amount,
            },
        }
    }
}
