//! Solidity definitions of what the simulated contracts emit and answer: Rain's IOrderBookV4 structs and
//! events, and the ERC-20 calls and events the simulator knows.

use alloy_primitives::{B256, keccak256};
use alloy_sol_types::{SolValue, sol};

sol! {
    /// One token an order can send or receive, from one vault.
    #[derive(Debug, PartialEq, Eq)]
    struct IO { address token; uint8 decimals; uint256 vaultId; }

    /// The Rainlang expression deployed for an order.
    #[derive(Debug, PartialEq, Eq)]
    struct EvaluableV3 { address interpreter; address store; bytes bytecode; }

    /// A Raindex order.
    #[derive(Debug, PartialEq, Eq)]
    struct OrderV3 { address owner; EvaluableV3 evaluable; IO[] validInputs; IO[] validOutputs; bytes32 nonce; }

    /// Context signed by an oracle and handed to the order's expression.
    #[derive(Debug, PartialEq, Eq)]
    struct SignedContextV1 { address signer; uint256[] context; bytes signature; }

    /// Which order a taker takes, through which of its IOs.
    #[derive(Debug, PartialEq, Eq)]
    struct TakeOrderConfigV3 { OrderV3 order; uint256 inputIOIndex; uint256 outputIOIndex; SignedContextV1[] signedContext; }

    /// Which IOs two cleared orders trade through, and where the clearer's bounty goes.
    #[derive(Debug, PartialEq, Eq)]
    struct ClearConfig {
        uint256 aliceInputIOIndex;
        uint256 aliceOutputIOIndex;
        uint256 bobInputIOIndex;
        uint256 bobOutputIOIndex;
        uint256 aliceBountyVaultId;
        uint256 bobBountyVaultId;
    }

    /// The amounts two cleared orders sent and received.
    #[derive(Debug, PartialEq, Eq)]
    struct ClearStateChange { uint256 aliceOutput; uint256 bobOutput; uint256 aliceInput; uint256 bobInput; }

    /// A taker took an order: `input` is what the taker received (what the order gave), `output` what the
    /// taker gave (what the order received).
    #[derive(Debug, PartialEq, Eq)]
    event TakeOrderV2(address sender, TakeOrderConfigV3 config, uint256 input, uint256 output);

    /// Two orders were cleared against each other; the amounts follow in the next `AfterClear`.
    #[derive(Debug, PartialEq, Eq)]
    event ClearV2(address sender, OrderV3 alice, OrderV3 bob, ClearConfig clearConfig);

    /// The amounts of the `ClearV2` just before it in the same transaction.
    #[derive(Debug, PartialEq, Eq)]
    event AfterClear(address sender, ClearStateChange clearStateChange);

    /// The orderbook evaluated an order with this context (an interpreter caller's event); bots ignore it.
    #[derive(Debug, PartialEq, Eq)]
    event Context(address sender, uint256[][] context);

    /// ERC-20 transfer, emitted by token contracts next to the orderbook's logs.
    #[derive(Debug, PartialEq, Eq)]
    event Transfer(address indexed from, address indexed to, uint256 value);

    /// ERC-20 `symbol()`.
    function symbol() external view returns (string);

    /// ERC-20 `decimals()`.
    function decimals() external view returns (uint8);
}

impl OrderV3 {
    /// The order hash Rain uses: `keccak256(abi.encode(order))`.
    pub fn hash(&self) -> B256 {
        keccak256(self.abi_encode())
    }
}
