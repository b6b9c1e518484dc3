//! The `eth_*`, `net_*` and `web3_*` methods the simulated node answers.

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, B256, Bloom, Bytes};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::chain::{BASE_FEE, Block, Chain, GAS_PER_TX};
use crate::faults::{Backend, CallFailure, LogLimits};
use crate::filter::{BlockTag, FilterParams};
use crate::json::{BlockTransaction, BlockView, ReceiptView, RpcLog, TransactionView};
use crate::node::Node;
use crate::rpc::{RpcError, param, positional};
use crate::tokens::CallOutcome;

/// A method's result and the time the backend spends on it.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The JSON text of the result.
    pub(crate) json: String,
    /// Work time (an `eth_getLogs` scan).
    pub(crate) work: Duration,
}

/// Answers a stateless method as `backend` does: from its own head, with its faults.
pub(crate) fn call(
    node: &Node,
    method: &str,
    params: Value,
    backend: &Backend,
) -> Result<Answer, RpcError> {
    let view = node
        .chain()
        .head()
        .header
        .number
        .saturating_sub(backend.lag);
    let instant = |json: Result<String, RpcError>| {
        json.map(|json| Answer {
            json,
            work: Duration::ZERO,
        })
    };
    if method == "eth_getLogs" {
        let [filter] = positional(params)?;
        let filter: FilterParams = param(filter, 0)?;
        let (logs, scanned) = get_logs(&node.chain(), node.faults.log_limits(), &filter, view)?;
        return Ok(Answer {
            json: to_json(&logs)?,
            work: backend.get_logs_per_block * u32::try_from(scanned).unwrap_or(u32::MAX),
        });
    }
    if method == "eth_call"
        && let Some(failure) = backend.call_failure
    {
        return match failure {
            CallFailure::Empty => instant(to_json(&Bytes::new())),
            CallFailure::Revert => Err(RpcError::server("execution reverted")),
        };
    }
    instant(answer(node, method, params, view))
}

/// Answers a method as a node whose head is `view`.
fn answer(node: &Node, method: &str, params: Value, view: u64) -> Result<String, RpcError> {
    let held = |block: &Block| block.header.number <= view;
    match method {
        "eth_chainId" => no_params(params).and_then(|()| to_json(&quantity(node.chain_id))),
        "net_version" => no_params(params).and_then(|()| to_json(&node.chain_id.to_string())),
        "web3_clientVersion" => no_params(params)
            .and_then(|()| to_json(&concat!("sim-chain/v", env!("CARGO_PKG_VERSION")))),
        "eth_blockNumber" => no_params(params).and_then(|()| to_json(&quantity(view))),
        "eth_getBlockByNumber" => {
            let [tag, full] = positional(params)?;
            let tag: BlockTag = param(tag, 0)?;
            let full: bool = param(full, 1)?;
            let chain = node.chain();
            let number = tag.resolve(view);
            to_json(
                &chain
                    .block(number)
                    .filter(|block| held(block))
                    .map(|block| block_view(node.chain_id, block, full)),
            )
        }
        "eth_getBlockByHash" => {
            let [hash, full] = positional(params)?;
            let hash: B256 = param(hash, 0)?;
            let full: bool = param(full, 1)?;
            to_json(
                &node
                    .chain()
                    .block_by_hash(&hash)
                    .filter(|block| held(block))
                    .map(|block| block_view(node.chain_id, block, full)),
            )
        }
        "eth_getTransactionReceipt" => {
            let [hash] = positional(params)?;
            let hash: B256 = param(hash, 0)?;
            to_json(
                &node
                    .chain()
                    .transaction(&hash)
                    .filter(|(block, _)| held(block))
                    .map(|(block, index)| receipt(block, index)),
            )
        }
        "eth_getTransactionByHash" => {
            let [hash] = positional(params)?;
            let hash: B256 = param(hash, 0)?;
            to_json(
                &node
                    .chain()
                    .transaction(&hash)
                    .filter(|(block, _)| held(block))
                    .map(|(block, index)| transaction(node.chain_id, block, index)),
            )
        }
        "eth_call" => {
            let [request, tag] = positional(params)?;
            let request: CallRequest = param(request, 0)?;
            let tag: Option<BlockTag> = param(tag, 1)?;
            to_json(&eth_call(
                &node.chain(),
                &request,
                tag.unwrap_or(BlockTag::Latest),
                view,
            )?)
        }
        _ => Err(RpcError::method_not_found(method)),
    }
}

fn no_params(params: Value) -> Result<(), RpcError> {
    positional::<0>(params).map(|_| ())
}

fn quantity(value: u64) -> String {
    format!("{value:#x}")
}

fn to_json(value: &impl serde::Serialize) -> Result<String, RpcError> {
    serde_json::to_string(value)
        .map_err(|error| RpcError::server(format!("cannot encode result: {error}")))
}

/// The logs of `filter` as a node whose head is `view` answers them (a range past its head is cut at it,
/// without an error, as geth does), within the provider-style `limits`; and how many blocks it scanned.
pub(crate) fn get_logs(
    chain: &Chain,
    limits: LogLimits,
    filter: &FilterParams,
    view: u64,
) -> Result<(Vec<RpcLog>, u64), RpcError> {
    let matcher = filter.matcher().map_err(RpcError::invalid_params)?;
    let blocks: &[Arc<Block>] = if let Some(hash) = filter.block_hash {
        if filter.from_block.is_some() || filter.to_block.is_some() {
            return Err(RpcError::invalid_params(
                "cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other",
            ));
        }
        let block = chain
            .block_by_hash(&hash)
            .filter(|block| block.header.number <= view)
            .ok_or_else(|| RpcError::server("unknown block"))?;
        std::slice::from_ref(block)
    } else {
        let from = filter.from_block.unwrap_or(BlockTag::Latest).resolve(view);
        let to = filter.to_block.unwrap_or(BlockTag::Latest).resolve(view);
        if from > to {
            return Err(RpcError::server("invalid block range params"));
        }
        if let Some(max) = limits.max_block_range
            && to - from >= max
        {
            return Err(RpcError::new(
                -32602,
                format!(
                    "block range is too large: {} blocks requested, at most {max} allowed",
                    to - from + 1
                ),
            ));
        }
        chain.blocks(from..=to.min(view))
    };
    let mut logs = Vec::new();
    for block in blocks {
        let before = logs.len();
        logs.extend(
            block
                .logs
                .iter()
                .filter(|log| matcher.matches(log))
                .cloned(),
        );
        if let Some(max) = limits.max_results
            && logs.len() > max
        {
            return Err(too_many_results(max, blocks, before, block));
        }
    }
    Ok((logs, blocks.len() as u64))
}

/// Infura's answer to a query past the result limit, suggesting the range that fits.
fn too_many_results(
    max: usize,
    blocks: &[Arc<Block>],
    fitting: usize,
    overflowing: &Block,
) -> RpcError {
    let first = blocks.first().map_or(0, |block| block.header.number);
    let last_fitting = overflowing.header.number.saturating_sub(1).max(first);
    let message = format!("query returned more than {max} results");
    let error = RpcError::new(
        -32005,
        format!("{message}. Try with this block range [{first:#x}, {last_fitting:#x}]."),
    );
    error.with_data(json!({ "from": format!("{first:#x}"), "to": format!("{last_fitting:#x}"), "limit": max, "fitting": fitting }))
}

fn block_view(chain_id: u64, block: &Block, full: bool) -> BlockView<'_> {
    let transactions = (0..block.txs.len())
        .map(|index| {
            if full {
                BlockTransaction::Full(Box::new(transaction(chain_id, block, index)))
            } else {
                BlockTransaction::Hash(block.txs[index].hash)
            }
        })
        .collect();
    let size = 600 + 200 * block.txs.len() as u64;
    BlockView {
        header: &block.header,
        size,
        transactions,
        uncles: [],
    }
}

fn transaction(chain_id: u64, block: &Block, index: usize) -> TransactionView {
    let tx = &block.txs[index];
    TransactionView {
        hash: tx.hash,
        block_hash: block.header.hash,
        block_number: block.header.number,
        transaction_index: index as u64,
        from: tx.content.from,
        to: tx.content.to,
        nonce: tx.nonce,
        value: 0,
        gas: GAS_PER_TX,
        gas_price: BASE_FEE,
        max_fee_per_gas: 2 * BASE_FEE,
        max_priority_fee_per_gas: 0,
        input: Bytes::new(),
        chain_id,
        access_list: [],
        tx_type: 2,
        v: 0,
        y_parity: 0,
        r: B256::ZERO,
        s: B256::ZERO,
    }
}

fn receipt(block: &Block, index: usize) -> ReceiptView<'_> {
    let tx = &block.txs[index];
    let logs = &block.logs[tx.logs.clone()];
    let mut logs_bloom = Bloom::ZERO;
    for log in logs {
        logs_bloom.accrue_raw_log(log.address, &log.topics);
    }
    ReceiptView {
        transaction_hash: tx.hash,
        transaction_index: index as u64,
        block_hash: block.header.hash,
        block_number: block.header.number,
        from: tx.content.from,
        to: tx.content.to,
        cumulative_gas_used: GAS_PER_TX * (index as u64 + 1),
        gas_used: GAS_PER_TX,
        effective_gas_price: BASE_FEE,
        contract_address: None,
        logs,
        logs_bloom,
        status: 1,
        tx_type: 2,
    }
}

/// The call object of `eth_call` (`input` is the newer name of `data`).
#[derive(Debug, Deserialize)]
struct CallRequest {
    to: Address,
    #[serde(alias = "input")]
    data: Option<Bytes>,
}

fn eth_call(
    chain: &Chain,
    request: &CallRequest,
    tag: BlockTag,
    view: u64,
) -> Result<Bytes, RpcError> {
    if tag.resolve(view) > view {
        return Err(RpcError::server("header not found"));
    }
    let input = request.data.clone().unwrap_or_default();
    match chain.tokens.call(request.to, &input, &[chain.orderbook()]) {
        CallOutcome::Return(output) => Ok(output),
        CallOutcome::Revert => Err(RpcError::server("execution reverted")),
    }
}
