//! JSON-RPC 2.0 envelopes: single and batch requests, notifications, ids and error objects.

use std::time::Duration;

use serde_json::{Value, json};

use crate::methods;
use crate::node::Node;
use crate::subscriptions::Subscriptions;

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RpcError {
    pub(crate) code: i64,
    pub(crate) message: String,
    pub(crate) data: Option<Value>,
}

impl RpcError {
    pub(crate) fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub(crate) fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    pub(crate) fn parse_error(detail: impl std::fmt::Display) -> Self {
        Self::new(-32700, format!("parse error: {detail}"))
    }

    pub(crate) fn invalid_request(detail: impl Into<String>) -> Self {
        Self::new(-32600, detail)
    }

    pub(crate) fn method_not_found(method: &str) -> Self {
        Self::new(
            -32601,
            format!("the method {method} does not exist/is not available"),
        )
    }

    pub(crate) fn invalid_params(detail: impl std::fmt::Display) -> Self {
        Self::new(-32602, format!("invalid argument: {detail}"))
    }

    pub(crate) fn server(message: impl Into<String>) -> Self {
        Self::new(-32000, message)
    }

    pub(crate) fn limit_exceeded() -> Self {
        Self::new(-32005, "limit exceeded")
    }

    fn to_json(&self) -> Value {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(data) = &self.data {
            error["data"] = data.clone();
        }
        error
    }
}

/// The answer to one message and how long the backend takes to send it.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    /// The JSON text; nothing when every call was a notification.
    pub(crate) text: Option<String>,
    /// Time the answering backend works on it (slow `eth_getLogs`, late answers).
    pub(crate) delay: Duration,
}

/// Answers one HTTP body or WebSocket message: a call or a batch. `subscriptions` is the connection's
/// (none over HTTP); `rate_limited` refuses every call with `-32005`.
pub(crate) fn handle_message(
    node: &Node,
    text: &str,
    mut subscriptions: Option<&mut Subscriptions>,
    rate_limited: bool,
) -> Reply {
    let error = |error: RpcError| Reply {
        text: Some(error_response(&Value::Null, &error)),
        delay: Duration::ZERO,
    };
    match serde_json::from_str(text) {
        Err(parse) => error(RpcError::parse_error(parse)),
        Ok(Value::Array(calls)) if calls.is_empty() => {
            error(RpcError::invalid_request("empty batch"))
        }
        Ok(Value::Array(calls)) => {
            let mut delay = Duration::ZERO;
            let responses: Vec<String> = calls
                .into_iter()
                .filter_map(|call| {
                    let (text, took) =
                        handle_call(node, call, subscriptions.as_deref_mut(), rate_limited);
                    delay = delay.max(took);
                    text
                })
                .collect();
            Reply {
                text: (!responses.is_empty()).then(|| format!("[{}]", responses.join(","))),
                delay,
            }
        }
        Ok(call) => {
            let (text, delay) = handle_call(node, call, subscriptions, rate_limited);
            Reply { text, delay }
        }
    }
}

/// Answers one call object (`None` for a notification, without `id`) and the time it takes.
fn handle_call(
    node: &Node,
    call: Value,
    subscriptions: Option<&mut Subscriptions>,
    rate_limited: bool,
) -> (Option<String>, Duration) {
    let refuse = |id: &Value, error: RpcError| (Some(error_response(id, &error)), Duration::ZERO);
    let Value::Object(mut call) = call else {
        return refuse(&Value::Null, RpcError::invalid_request("invalid request"));
    };
    let id = call.remove("id");
    let version_ok = call.get("jsonrpc").and_then(Value::as_str) == Some("2.0");
    let method = call.remove("method");
    let reply_id = id.clone().unwrap_or(Value::Null);
    let Some(Value::String(method)) = method.filter(|_| version_ok) else {
        return refuse(&reply_id, RpcError::invalid_request("invalid request"));
    };
    if !matches!(
        id,
        None | Some(Value::Null | Value::Number(_) | Value::String(_))
    ) {
        return refuse(
            &Value::Null,
            RpcError::invalid_request("invalid request id"),
        );
    }
    let params = call.remove("params").unwrap_or(Value::Null);
    let backend = node.faults.backend(&method);
    let mut delay = backend.late.unwrap_or_default();
    let result = if rate_limited {
        Err(RpcError::limit_exceeded())
    } else if let Some((code, message)) = &backend.error {
        Err(RpcError::new(*code, message.clone()))
    } else {
        match (method.as_str(), subscriptions) {
            ("eth_subscribe", Some(subscriptions)) => subscriptions.subscribe(params),
            ("eth_unsubscribe", Some(subscriptions)) => subscriptions.unsubscribe(params),
            ("eth_subscribe" | "eth_unsubscribe", None) => {
                Err(RpcError::new(-32601, "notifications not supported"))
            }
            (method, _) => methods::call(node, method, params, &backend).map(|answer| {
                delay += answer.work;
                answer.json
            }),
        }
    };
    let Some(id) = id else {
        return (None, delay);
    };
    let text = match result {
        // `result` is already JSON text: splice it in rather than parse it back.
        Ok(result) => format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{result}}}"#),
        Err(error) => error_response(&id, &error),
    };
    (Some(text), delay)
}

fn error_response(id: &Value, error: &RpcError) -> String {
    json!({ "jsonrpc": "2.0", "id": id, "error": error.to_json() }).to_string()
}

/// Positional parameters: `params` must be an array (or absent) of at most `N` values; missing trailing
/// ones read as `null`, so `Option` parameters may be left out.
pub(crate) fn positional<const N: usize>(params: Value) -> Result<[Value; N], RpcError> {
    let values = match params {
        Value::Null => Vec::new(),
        Value::Array(values) => values,
        _ => return Err(RpcError::invalid_params("non-array args")),
    };
    if values.len() > N {
        return Err(RpcError::invalid_params(format!(
            "too many arguments, want at most {N}"
        )));
    }
    let mut values = values.into_iter();
    Ok(std::array::from_fn(|_| {
        values.next().unwrap_or(Value::Null)
    }))
}

/// Parses parameter `index` of a call.
pub(crate) fn param<T: serde::de::DeserializeOwned>(
    value: Value,
    index: usize,
) -> Result<T, RpcError> {
    serde_json::from_value(value)
        .map_err(|error| RpcError::new(-32602, format!("invalid argument {index}: {error}")))
}
