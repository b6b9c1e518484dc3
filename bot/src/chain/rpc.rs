//! A JSON-RPC 2.0 client over one WebSocket: concurrent requests matched by id, and
//! `eth_subscription` notifications delivered on a channel. The connection's end (close, error,
//! or the client dropped) ends the notification channel, which is how callers see it.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use alloy_primitives::{Address, B256, Bytes, U64};
use futures_util::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use url::Url;

use super::log::RpcLog;
use super::retry::Retry;

/// JSON-RPC error code of a rate-limited request (EIP-1474 "limit exceeded").
const LIMIT_EXCEEDED: i64 = -32005;
/// How many times a rate-limited request is retried before its error is returned.
const RATE_LIMIT_RETRIES: u32 = 6;
/// First wait before retrying a rate-limited request; doubles on each retry (jittered below it) up to
/// `RATE_LIMIT_MAX_DELAY`.
const RATE_LIMIT_DELAY: Duration = Duration::from_millis(50);
/// Longest wait before retrying a rate-limited request.
const RATE_LIMIT_MAX_DELAY: Duration = Duration::from_secs(2);

/// A failed JSON-RPC exchange.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The WebSocket could not be opened.
    #[error("connecting to {endpoint}: {source}")]
    Connect {
        /// The endpoint, without path or credentials.
        endpoint: String,
        /// The WebSocket error.
        source: Box<tokio_tungstenite::tungstenite::Error>,
    },
    /// The connection closed before the answer came.
    #[error("{method}: connection closed")]
    Disconnected {
        /// The method called.
        method: &'static str,
    },
    /// The answer was larger than the WebSocket client accepts; the connection is gone with it.
    #[error("{method}: answer larger than the WebSocket message limit; connection closed")]
    TooLarge {
        /// The method called.
        method: &'static str,
    },
    /// No answer within the request timeout.
    #[error("{method}: no answer within {timeout:?}")]
    Timeout {
        /// The method called.
        method: &'static str,
        timeout: Duration,
    },
    /// The node answered with a JSON-RPC error.
    #[error("{method}: JSON-RPC error {code}: {message}")]
    Rpc {
        /// The method called.
        method: &'static str,
        /// The JSON-RPC error code; with the message it tells a rate limit from a refused range ([`RpcError::kind`]).
        code: i64,
        message: String,
    },
    /// The answer did not have the expected shape.
    #[error("{method}: unexpected result: {source}")]
    Decode {
        /// The method called.
        method: &'static str,
        /// The JSON error.
        source: serde_json::Error,
    },
}

/// What a failed request says about the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The answer exceeded the WebSocket message limit; the connection is gone with it.
    Oversized,
    /// The node refused the request as too big (too many blocks or results): a smaller one may succeed.
    TooBig,
    /// No answer in time: a smaller request may be answered in time.
    Timeout,
    /// The node asks to slow down.
    RateLimited,
    /// The connection is closed or could not be opened.
    Closed,
    /// Anything else (an internal error of the node, an unexpected answer): try again later.
    Other,
}

impl RpcError {
    /// The JSON-RPC error code, when the node answered with one.
    pub fn code(&self) -> Option<i64> {
        match self {
            Self::Rpc { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// What kind of failure this is, from the error and the node's message (providers word their limits
    /// differently: Infura `-32005` "query returned more than 10000 results" or "project ID request rate
    /// exceeded", Alchemy `-32602` "Log response size exceeded", QuickNode `-32614` "eth_getLogs is limited to a
    /// 10,000 range", geth "exceed maximum block range").
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::TooLarge { .. } => ErrorKind::Oversized,
            Self::Timeout { .. } => ErrorKind::Timeout,
            Self::Disconnected { .. } => ErrorKind::Closed,
            Self::Connect { source, .. } => match source.as_ref() {
                tokio_tungstenite::tungstenite::Error::Http(response)
                    if response.status().as_u16() == 429 =>
                {
                    ErrorKind::RateLimited
                }
                _ => ErrorKind::Closed,
            },
            Self::Decode { .. } => ErrorKind::Other,
            Self::Rpc { code, message, .. } => {
                let message = message.to_ascii_lowercase();
                let says = |words: &[&str]| words.iter().any(|w| message.contains(w));
                if *code == 429 || says(&["rate", "too many requests", "capacity", "quota"]) {
                    ErrorKind::RateLimited
                } else if says(&[
                    "more than",
                    "results",
                    "range",
                    "too large",
                    "too wide",
                    "too big",
                    "size exceeded",
                    "exceeds max",
                    "limited to",
                ]) {
                    ErrorKind::TooBig
                } else if *code == LIMIT_EXCEEDED {
                    // Infura's bare "limit exceeded" is its rate limit.
                    ErrorKind::RateLimited
                } else {
                    ErrorKind::Other
                }
            }
        }
    }

    /// Whether the node asks us to slow down (not a refusal of the request itself).
    pub fn is_rate_limited(&self) -> bool {
        self.kind() == ErrorKind::RateLimited
    }
}

/// An `eth_subscription` notification.
#[derive(Debug, Clone, Deserialize)]
pub struct Notification {
    /// The subscription id returned by `eth_subscribe`.
    pub subscription: String,
    /// The payload: a block header or a log.
    pub result: Value,
    /// When the notification was read from the socket.
    #[serde(skip, default = "Instant::now")]
    pub received: Instant,
}

/// The fields of a `newHeads` block header the bot uses.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Head {
    /// Block number.
    pub number: U64,
    /// Block hash.
    pub hash: B256,
}

/// An `eth_getLogs` / `logs` subscription filter on one contract and a set of topic0s.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogFilter {
    /// The contract.
    pub address: Address,
    /// `[[topic0, ...]]`: any of these events.
    pub topics: Vec<Vec<B256>>,
    /// First block (inclusive), for `eth_getLogs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_block: Option<U64>,
    /// Last block (inclusive), for `eth_getLogs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_block: Option<U64>,
}

/// A transaction receipt's logs.
#[derive(Debug, Clone, Deserialize)]
pub struct Receipt {
    /// Logs emitted by the transaction.
    pub logs: Vec<RpcLog>,
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Answer>>>>;

/// What a waiting request gets back.
#[derive(Debug)]
enum Answer {
    /// The result.
    Result(Value),
    /// The node's JSON-RPC error: code and message.
    Error(i64, String),
    /// An incoming message exceeded the client's limit; the connection is closing.
    TooLarge,
}

/// A connected JSON-RPC client. Cheap to share by reference; dropping it closes the socket.
#[derive(Debug)]
pub struct RpcClient {
    outgoing: mpsc::UnboundedSender<Message>,
    pending: Pending,
    next_id: AtomicU64,
    timeout: Duration,
}

/// A node's WebSocket URL. Its paths and query strings often hold API keys, so it displays and
/// debug-prints as scheme, host and port only.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint(Url);

impl Endpoint {
    /// Wraps a `ws://` or `wss://` URL; `None` for any other scheme.
    pub fn new(url: Url) -> Option<Self> {
        matches!(url.scheme(), "ws" | "wss").then_some(Self(url))
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}",
            self.0.scheme(),
            self.0.host_str().unwrap_or("?")
        )?;
        match self.0.port() {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({self})")
    }
}

impl RpcClient {
    /// Opens the WebSocket; returns the client and its notification stream.
    pub async fn connect(
        endpoint: &Endpoint,
        timeout: Duration,
    ) -> Result<(Self, mpsc::UnboundedReceiver<Notification>), RpcError> {
        crate::tls::install_provider();
        // Requests are small and latency-bound: send each at once (no Nagle delay).
        let connect = tokio_tungstenite::connect_async_with_config(endpoint.0.as_str(), None, true);
        let (socket, _) = tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| RpcError::Timeout {
                method: "connect",
                timeout,
            })?
            .map_err(|source| RpcError::Connect {
                endpoint: endpoint.to_string(),
                source: Box::new(source),
            })?;
        let (outgoing, to_socket) = mpsc::unbounded_channel();
        let (notify, notifications) = mpsc::unbounded_channel();
        let pending = Pending::default();
        tokio::spawn(pump(socket, to_socket, notify, Arc::clone(&pending)));
        let client = Self {
            outgoing,
            pending,
            next_id: AtomicU64::new(1),
            timeout,
        };
        Ok((client, notifications))
    }

    /// Calls `method` with `params` and decodes the result, retrying while rate limited.
    pub async fn request<T: DeserializeOwned>(
        &self,
        method: &'static str,
        params: Value,
    ) -> Result<T, RpcError> {
        let mut delays = Retry::new(RATE_LIMIT_DELAY, RATE_LIMIT_MAX_DELAY);
        loop {
            match self.request_once(method, &params).await {
                Err(error) if error.is_rate_limited() && delays.attempts() < RATE_LIMIT_RETRIES => {
                    let delay = delays.next_delay();
                    tracing::debug!(method, ?delay, "rate limited; retrying");
                    tokio::time::sleep(delay).await;
                }
                result => return result,
            }
        }
    }

    async fn request_once<T: DeserializeOwned>(
        &self,
        method: &'static str,
        params: &Value,
    ) -> Result<T, RpcError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (answer, answered) = oneshot::channel();
        self.pending.lock().await.insert(id, answer);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        if self.outgoing.send(Message::text(body.to_string())).is_err() {
            self.pending.lock().await.remove(&id);
            return Err(RpcError::Disconnected { method });
        }
        let answer = match tokio::time::timeout(self.timeout, answered).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => return Err(RpcError::Disconnected { method }),
            Err(_) => {
                self.pending.lock().await.remove(&id);
                let timeout = self.timeout;
                return Err(RpcError::Timeout { method, timeout });
            }
        };
        let value = match answer {
            Answer::Result(value) => value,
            Answer::Error(code, message) => {
                return Err(RpcError::Rpc {
                    method,
                    code,
                    message,
                });
            }
            Answer::TooLarge => return Err(RpcError::TooLarge { method }),
        };
        serde_json::from_value(value).map_err(|source| RpcError::Decode { method, source })
    }

    /// `eth_chainId`.
    pub async fn chain_id(&self) -> Result<u64, RpcError> {
        let id: U64 = self.request("eth_chainId", json!([])).await?;
        Ok(id.to())
    }

    /// The hash of the block the node holds at `number`; `None` when it holds none there (yet).
    pub async fn block_hash(&self, number: u64) -> Result<Option<B256>, RpcError> {
        let block: Option<Head> = self
            .request("eth_getBlockByNumber", json!([U64::from(number), false]))
            .await?;
        Ok(block.map(|block| block.hash))
    }

    /// `eth_blockNumber`.
    pub async fn block_number(&self) -> Result<u64, RpcError> {
        let number: U64 = self.request("eth_blockNumber", json!([])).await?;
        Ok(number.to())
    }

    /// `eth_getLogs` over an inclusive block range.
    pub async fn get_logs(&self, filter: &LogFilter) -> Result<Vec<RpcLog>, RpcError> {
        self.request("eth_getLogs", json!([filter])).await
    }

    /// `eth_call` at the latest block.
    pub async fn call(&self, to: Address, data: Bytes) -> Result<Bytes, RpcError> {
        self.request("eth_call", json!([{"to": to, "data": data}, "latest"]))
            .await
    }

    /// `eth_getTransactionReceipt`; `None` for an unknown transaction.
    pub async fn transaction_receipt(&self, hash: B256) -> Result<Option<Receipt>, RpcError> {
        self.request("eth_getTransactionReceipt", json!([hash]))
            .await
    }

    /// `eth_subscribe` to `newHeads`; returns the subscription id.
    pub async fn subscribe_new_heads(&self) -> Result<String, RpcError> {
        self.request("eth_subscribe", json!(["newHeads"])).await
    }

    /// `eth_subscribe` to `logs` matching `filter`; returns the subscription id.
    pub async fn subscribe_logs(&self, filter: &LogFilter) -> Result<String, RpcError> {
        self.request("eth_subscribe", json!(["logs", filter])).await
    }
}

/// One incoming JSON-RPC message: a response (with `id`) or a notification (with `params`).
#[derive(Debug, Deserialize)]
pub struct Incoming {
    id: Option<u64>,
    result: Option<Value>,
    error: Option<ErrorObject>,
    params: Option<Notification>,
}

#[derive(Debug, Deserialize)]
struct ErrorObject {
    code: i64,
    message: String,
}

/// Why an incoming text is not a JSON-RPC message.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// An array (a batch, which the bot never sends), a string, a number, ...: only an object is a message.
    #[error("a JSON-RPC message must be a JSON object")]
    NotAnObject,
    /// Not JSON, or an object of the wrong shape.
    #[error("malformed JSON-RPC message: {0}")]
    Malformed(#[from] serde_json::Error),
}

/// Parses one incoming message. Only a JSON object is one (serde would read an array as the fields in order).
pub fn parse_message(text: &str) -> Result<Incoming, MessageError> {
    if !text.trim_start().starts_with('{') {
        return Err(MessageError::NotAnObject);
    }
    Ok(serde_json::from_str(text)?)
}

/// Moves messages between the socket and the client until either side ends.
async fn pump<S>(
    socket: S,
    mut to_socket: mpsc::UnboundedReceiver<Message>,
    notify: mpsc::UnboundedSender<Notification>,
    pending: Pending,
) where
    S: futures_util::Sink<Message>
        + futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
        + Unpin,
{
    let (mut sink, mut stream) = socket.split();
    loop {
        tokio::select! {
            outgoing = to_socket.recv() => {
                let Some(message) = outgoing else { break };
                if sink.send(message).await.is_err() {
                    break;
                }
            }
            incoming = stream.next() => {
                let text = match incoming {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                    Some(Ok(Message::Binary(_))) => {
                        tracing::warn!("ignoring binary WebSocket message");
                        continue;
                    }
                    Some(Err(tokio_tungstenite::tungstenite::Error::Capacity(error))) => {
                        tracing::warn!(%error, "a WebSocket message exceeded the limit; closing the connection");
                        for (_, waiter) in pending.lock().await.drain() {
                            let _ = waiter.send(Answer::TooLarge);
                        }
                        break;
                    }
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                };
                match parse_message(text.as_str()) {
                    Ok(Incoming { id: Some(id), result, error, .. }) => {
                        let answer = match error {
                            Some(e) => Answer::Error(e.code, e.message),
                            None => Answer::Result(result.unwrap_or(Value::Null)),
                        };
                        if let Some(waiter) = pending.lock().await.remove(&id) {
                            let _ = waiter.send(answer); // the caller may have timed out
                        }
                    }
                    Ok(Incoming { params: Some(notification), .. }) => {
                        if notify.send(notification).is_err() {
                            break;
                        }
                    }
                    Ok(_) => tracing::warn!("ignoring JSON-RPC message without id or params"),
                    Err(error) => tracing::warn!(%error, "ignoring malformed JSON-RPC message"),
                }
            }
        }
    }
    // Dropping the waiters fails every in-flight request with `Disconnected`.
    pending.lock().await.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_never_shows_its_path_or_query() {
        let url = Url::parse("wss://node.example:8546/v2/SECRETKEY?token=SECRET").unwrap();
        let endpoint = Endpoint::new(url).unwrap();
        assert_eq!(endpoint.to_string(), "wss://node.example:8546");
        assert!(!format!("{endpoint:?}").contains("SECRET"));
    }

    fn rpc_error(code: i64, message: &str) -> RpcError {
        RpcError::Rpc {
            method: "eth_getLogs",
            code,
            message: message.to_owned(),
        }
    }

    #[test]
    fn rate_limits_are_told_apart_from_result_limits() {
        assert!(rpc_error(-32005, "limit exceeded").is_rate_limited());
        assert!(rpc_error(-32005, "project ID request rate exceeded").is_rate_limited());
        assert!(rpc_error(429, "Too Many Requests").is_rate_limited());
        assert!(!rpc_error(-32005, "query returned more than 10000 results").is_rate_limited());
        assert!(!rpc_error(-32602, "block range is too large").is_rate_limited());
    }

    #[test]
    fn only_limit_errors_ask_for_a_smaller_range() {
        for (code, message) in [
            (-32005, "query returned more than 10000 results"),
            (
                -32602,
                "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range",
            ),
            (-32614, "eth_getLogs is limited to a 10,000 range"),
            (-32000, "exceed maximum block range: 5000"),
        ] {
            assert_eq!(
                rpc_error(code, message).kind(),
                ErrorKind::TooBig,
                "{message}"
            );
        }
        for (code, message) in [
            (-32603, "internal error"),
            (-32000, "header not found"),
            (-32000, "execution reverted"),
        ] {
            assert_eq!(
                rpc_error(code, message).kind(),
                ErrorKind::Other,
                "{message}"
            );
        }
        let timeout = RpcError::Timeout {
            method: "eth_getLogs",
            timeout: Duration::from_secs(1),
        };
        assert_eq!(timeout.kind(), ErrorKind::Timeout);
    }

    #[test]
    fn only_a_json_object_is_a_message() {
        assert!(parse_message(r#"{"id": 1, "result": "0x1"}"#).is_ok());
        assert!(parse_message(r#"{"params": {"subscription": "0xa", "result": {}}}"#).is_ok());
        for text in [
            r#"[1, "0x1", null, null]"#,
            r#"[null, null, null, ["0xa", {}]]"#,
            r#"[{"id": 1, "result": "0x1"}]"#,
            "1",
            r#""text""#,
            "null",
        ] {
            assert!(parse_message(text).is_err(), "{text}");
        }
    }

    #[test]
    fn endpoint_must_be_a_websocket_url() {
        assert!(Endpoint::new(Url::parse("https://node.example").unwrap()).is_none());
    }
}
