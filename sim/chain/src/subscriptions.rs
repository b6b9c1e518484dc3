//! One WebSocket connection's `eth_subscribe` subscriptions and the `eth_subscription` notifications
//! chain events produce for them.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::filter::{FilterParams, LogMatcher};
use crate::node::ChainEvent;
use crate::rpc::{RpcError, param, positional};

/// What a subscription listens to.
#[derive(Debug)]
enum Kind {
    NewHeads,
    Logs(LogMatcher),
}

/// The subscriptions of one connection, by id.
#[derive(Debug)]
pub(crate) struct Subscriptions {
    by_id: BTreeMap<String, Kind>,
    rng: fastrand::Rng,
}

impl Subscriptions {
    /// No subscriptions; ids drawn from `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            by_id: BTreeMap::new(),
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// `eth_subscribe`: `["newHeads"]` or `["logs", filter]`; returns the new id.
    pub(crate) fn subscribe(&mut self, params: Value) -> Result<String, RpcError> {
        let [kind, filter] = positional(params)?;
        let kind: String = param(kind, 0)?;
        let kind = match kind.as_str() {
            "newHeads" => Kind::NewHeads,
            "logs" => {
                let filter: Option<FilterParams> = param(filter, 1)?;
                Kind::Logs(
                    filter
                        .unwrap_or_default()
                        .matcher()
                        .map_err(RpcError::invalid_params)?,
                )
            }
            other => {
                return Err(RpcError::method_not_found(&format!(
                    "eth_subscribe(\"{other}\")"
                )));
            }
        };
        let id = format!("0x{:016x}{:016x}", self.rng.u64(..), self.rng.u64(..));
        self.by_id.insert(id.clone(), kind);
        Ok(json!(id).to_string())
    }

    /// `eth_unsubscribe`: whether the id was a subscription.
    pub(crate) fn unsubscribe(&mut self, params: Value) -> Result<String, RpcError> {
        let [id] = positional(params)?;
        let id: String = param(id, 0)?;
        Ok(self.by_id.remove(&id).is_some().to_string())
    }

    /// The notifications `event` produces, in order: per mined block its head, then its logs one by one,
    /// as geth sends them.
    pub(crate) fn notifications(&self, event: &ChainEvent) -> Vec<String> {
        let mut out = Vec::new();
        let logs = match event {
            ChainEvent::Mined(block) => {
                for (id, kind) in &self.by_id {
                    if matches!(kind, Kind::NewHeads) {
                        out.push(notification(id, &block.header));
                    }
                }
                &block.logs
            }
            ChainEvent::Removed(logs) => logs,
        };
        for (id, kind) in &self.by_id {
            if let Kind::Logs(matcher) = kind {
                out.extend(
                    logs.iter()
                        .filter(|log| matcher.matches(log))
                        .map(|log| notification(id, log)),
                );
            }
        }
        out
    }
}

fn notification(id: &str, result: &impl Serialize) -> String {
    // Ids are `0x` and hex digits, and serialising chain objects cannot fail.
    let result = serde_json::to_string(result).unwrap_or_else(|_| "null".to_owned());
    format!(
        r#"{{"jsonrpc":"2.0","method":"eth_subscription","params":{{"subscription":"{id}","result":{result}}}}}"#
    )
}
