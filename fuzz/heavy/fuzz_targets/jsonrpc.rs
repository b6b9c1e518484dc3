//! The node's JSON-RPC messages over the WebSocket: only a JSON object is a message; the block headers and logs an
//! answer or notification carries decode to values or errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use schwad::chain::decode::Decoder;
use schwad::chain::log::RpcLog;
use schwad::chain::rpc::{Head, Receipt, parse_message};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if parse_message(text).is_err() {
        return;
    }
    assert!(
        text.trim_start().starts_with('{'),
        "{text:?} is not an object"
    );
    // A field the bot ignores may hold a number no `Value` takes (1e999): nothing more to check then.
    let Ok(message) = serde_json::from_str::<Value>(text) else {
        return;
    };
    for payload in [message.get("result"), message.pointer("/params/result")]
        .into_iter()
        .flatten()
    {
        let _ = serde_json::from_value::<Head>(payload.clone());
        if let Ok(mut logs) = serde_json::from_value::<Vec<RpcLog>>(payload.clone()) {
            let _ = Decoder::decode_batch(&mut logs);
        }
        if let Ok(log) = serde_json::from_value::<RpcLog>(payload.clone()) {
            let _ = Decoder::default().push(&log);
        }
        if let Ok(mut receipt) = serde_json::from_value::<Receipt>(payload.clone()) {
            let _ = Decoder::decode_batch(&mut receipt.logs);
        }
    }
});
