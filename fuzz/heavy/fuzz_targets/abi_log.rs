//! Orderbook logs from the chain (untrusted log data): well-formed `TakeOrderV2`, `ClearV2` and `AfterClear` events
//! with arbitrary orders, IO indexes, decimals and amounts, and arbitrary bytes under each event's topic, decoded,
//! paired and classified as trades: an error value for every input, never a panic.
#![no_main]

use alloy_primitives::{Address, B256, Bytes, LogData, U64, U256};
use alloy_sol_types::SolEvent;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use schwad::chain::abi::{
    AfterClear, ClearConfig, ClearStateChange, ClearV2, EvaluableV3, IO, OrderV3,
    TakeOrderConfigV3, TakeOrderV2,
};
use schwad::chain::decode::{self, DecodeError, Decoder, OrderbookEvent};
use schwad::chain::log::RpcLog;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut logs = Vec::new();
    while logs.len() < 12 {
        let Ok(log) = next_log(&mut u) else { break };
        logs.push(log);
    }
    let mut decoder = Decoder::default();
    for log in &logs {
        if let Ok(Some(event)) = decode::decode_take(log) {
            classify(&event);
        }
        if let Ok(events) = decoder.push(log) {
            events.iter().for_each(classify);
        }
    }
    if let Ok(events) = Decoder::decode_batch(&mut logs) {
        events.iter().for_each(classify);
    }
});

/// Every fill's amounts convert, or fail, as both a buy and a sell.
fn classify(event: &OrderbookEvent) {
    for fill in &event.fills {
        let _ = fill.gave.to_decimal();
        let _ = fill.received.to_decimal();
        let _ = fill.classify("USDC", "AAPL0x");
        let _ = fill.classify("AAPL0x", "USDC");
    }
}

fn next_log(u: &mut Unstructured) -> Result<RpcLog> {
    let data = match u.int_in_range(0..=3u8)? {
        0 => {
            let event = TakeOrderV2 {
                sender: address(u)?,
                config: TakeOrderConfigV3 {
                    order: order(u)?,
                    inputIOIndex: index(u)?,
                    outputIOIndex: index(u)?,
                    signedContext: Vec::new(),
                },
                input: amount(u)?,
                output: amount(u)?,
            };
            let log = log(u, event.encode_log_data())?;
            // What was encoded decodes: only an IO index out of range is refused.
            match decode::decode_take(&log) {
                Ok(Some(_)) | Err(DecodeError::IoIndex { .. }) => {}
                other => panic!("a well-formed TakeOrderV2 decoded as {other:?}"),
            }
            return Ok(log);
        }
        1 => ClearV2 {
            sender: address(u)?,
            alice: order(u)?,
            bob: order(u)?,
            clearConfig: ClearConfig {
                aliceInputIOIndex: index(u)?,
                aliceOutputIOIndex: index(u)?,
                bobInputIOIndex: index(u)?,
                bobOutputIOIndex: index(u)?,
                aliceBountyVaultId: U256::ZERO,
                bobBountyVaultId: U256::ZERO,
            },
        }
        .encode_log_data(),
        2 => AfterClear {
            sender: address(u)?,
            clearStateChange: ClearStateChange {
                aliceOutput: amount(u)?,
                bobOutput: amount(u)?,
                aliceInput: amount(u)?,
                bobInput: amount(u)?,
            },
        }
        .encode_log_data(),
        _ => {
            let topic = *u.choose(&decode::topics())?;
            let len = u.arbitrary_len::<u8>()?;
            LogData::new_unchecked(vec![topic], Bytes::copy_from_slice(u.bytes(len)?))
        }
    };
    log(u, data)
}

fn log(u: &mut Unstructured, data: LogData) -> Result<RpcLog> {
    Ok(RpcLog {
        address: Address::ZERO,
        topics: data.topics().to_vec(),
        data: data.data,
        block_number: U64::from(u.int_in_range(0..=3u64)?),
        block_hash: B256::ZERO,
        transaction_hash: B256::repeat_byte(u.int_in_range(0..=1u8)?),
        log_index: U64::from(u.int_in_range(0..=15u64)?),
        removed: u.ratio(1, 8)?,
    })
}

fn order(u: &mut Unstructured) -> Result<OrderV3> {
    Ok(OrderV3 {
        owner: address(u)?,
        evaluable: EvaluableV3 {
            interpreter: Address::ZERO,
            store: Address::ZERO,
            bytecode: Bytes::new(),
        },
        validInputs: ios(u)?,
        validOutputs: ios(u)?,
        nonce: B256::from(u.arbitrary::<[u8; 32]>()?),
    })
}

fn ios(u: &mut Unstructured) -> Result<Vec<IO>> {
    (0..u.int_in_range(0..=3u8)?)
        .map(|_| {
            Ok(IO {
                token: address(u)?,
                decimals: u.arbitrary()?,
                vaultId: U256::ZERO,
            })
        })
        .collect()
}

fn address(u: &mut Unstructured) -> Result<Address> {
    Ok(Address::from(u.arbitrary::<[u8; 20]>()?))
}

/// Mostly an index into a short IO list, sometimes any word.
fn index(u: &mut Unstructured) -> Result<U256> {
    if u.ratio(7, 8)? {
        Ok(U256::from(u.int_in_range(0..=3u8)?))
    } else {
        amount(u)
    }
}

/// A small amount or any 256-bit word.
fn amount(u: &mut Unstructured) -> Result<U256> {
    if u.arbitrary()? {
        Ok(U256::from(u.arbitrary::<u64>()?))
    } else {
        Ok(U256::from_be_bytes(u.arbitrary::<[u8; 32]>()?))
    }
}
