//! Gap-free, exactly-once ingestion: live `newHeads` and `logs` subscriptions for latency, backed
//! by the persisted checkpoint and `eth_getLogs` catch-up in bounded ranges on start, on every
//! reconnect and on every new head (which also re-reads the last `confirmations` blocks, so a
//! log that vanished in a reorg is reverted).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, B256, U64};
use backoff::backoff::Backoff;
use tokio::sync::watch;
use tokio::time::Instant;

use super::decode::{DecodeError, Decoder, OrderbookEvent, OwnerFilter, carries_fills, topics};
use super::log::{LogKey, RpcLog};
use super::rpc::{Endpoint, Head, LogFilter, Notification, RpcClient, RpcError};
use super::symbols::{SymbolError, Symbols};
use crate::ledger::{Applied, EventRecord, FillRecord, Ledger, LedgerError};
use crate::status::Status;

/// What the ingestion needs to know about the chain and which fills are ours.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// WebSocket JSON-RPC endpoint.
    pub endpoint: Endpoint,
    /// The orderbook contract.
    pub orderbook: Address,
    /// Which fills are ours.
    pub filter: OwnerFilter,
    /// First block to read when the ledger has no checkpoint.
    pub deployment_block: u64,
    /// Depth of the reorg window: the last blocks re-read on every new head.
    pub confirmations: u64,
    /// Largest block range of one `eth_getLogs`.
    pub max_range: u64,
    /// A session with no new head for this long is replaced.
    pub stall_timeout: Duration,
    /// Timeout of one JSON-RPC request.
    pub request_timeout: Duration,
    /// First delay before reconnecting; doubles (with jitter) up to `max_backoff`.
    pub min_backoff: Duration,
    /// Longest delay before reconnecting.
    pub max_backoff: Duration,
}

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// A JSON-RPC call failed.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// A log did not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A token symbol could not be read.
    #[error(transparent)]
    Symbol(#[from] SymbolError),
    /// A notification did not have the expected shape.
    #[error("malformed {what} notification: {source}")]
    Notification {
        /// Head or log.
        what: &'static str,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// No new head arrived in time.
    #[error("no new head for {0:?}: connection stalled")]
    Stalled(Duration),
    /// The node closed the connection.
    #[error("connection closed by the node")]
    Closed,
    /// The transaction asked for by hand is unknown to the node.
    #[error("transaction {0} not found")]
    UnknownTransaction(B256),
}

/// The ingestion loop and its state.
#[derive(Debug)]
pub struct Ingestor {
    config: IngestConfig,
    ledger: Ledger,
    status: Arc<Status>,
    symbols: Symbols,
    /// Effective `eth_getLogs` range: shrinks when the node refuses a range as too large.
    range: u64,
    /// The stored checkpoint (this process is its only writer).
    checkpoint: Option<u64>,
    /// Last block completely processed; ahead of `checkpoint` while only empty blocks followed
    /// it (their checkpoint write is deferred: re-reading them after a crash is harmless).
    processed: Option<u64>,
}

/// The subscriptions of one session.
struct Session {
    client: RpcClient,
    heads: String,
    logs: String,
    decoder: Decoder,
    /// Highest new head not yet caught up to.
    pending_head: Option<u64>,
}

impl Ingestor {
    /// Prepares ingestion: loads cached symbols and the checkpoint.
    pub async fn new(
        config: IngestConfig,
        ledger: Ledger,
        status: Arc<Status>,
    ) -> Result<Self, LedgerError> {
        let symbols = Symbols::load(&ledger).await?;
        let checkpoint = ledger.checkpoint().await?;
        if let Some(block) = checkpoint {
            Status::raise(&status.last_block_processed, block);
        }
        let range = config.max_range.max(1);
        Ok(Self {
            config,
            ledger,
            status,
            symbols,
            range,
            checkpoint,
            processed: checkpoint,
        })
    }

    /// Runs sessions until `shutdown` turns true, reconnecting with jittered exponential backoff.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = backoff::ExponentialBackoff {
            initial_interval: self.config.min_backoff,
            max_interval: self.config.max_backoff,
            randomization_factor: 0.5,
            multiplier: 2.0,
            max_elapsed_time: None,
            ..backoff::ExponentialBackoff::default()
        };
        backoff.reset(); // starts `current_interval` at `initial_interval`
        let endpoint = self.config.endpoint.clone();
        while !*shutdown.borrow() {
            let result = self.session(&mut shutdown, &mut backoff).await;
            self.status
                .chain_connected
                .store(false, std::sync::atomic::Ordering::Relaxed);
            let error = match result {
                Ok(()) => break,
                Err(error) => error,
            };
            if matches!(error, IngestError::Stalled(_)) {
                Status::add(&self.status.stalls, 1);
            }
            Status::add(&self.status.reconnects, 1);
            let delay = backoff.next_backoff().unwrap_or(self.config.max_backoff);
            tracing::warn!(%error, %endpoint, ?delay, "chain session ended; reconnecting");
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = shutdown.changed() => {}
            }
        }
        tracing::info!("ingestion stopped");
    }

    /// One connection: subscribe, catch up, then follow heads and logs until an error, a stall
    /// or shutdown (`Ok`). Queued notifications go before the catch-up a new head asks for, so a
    /// live log is committed without waiting for the `eth_getLogs` that confirms it.
    async fn session(
        &mut self,
        shutdown: &mut watch::Receiver<bool>,
        backoff: &mut backoff::ExponentialBackoff,
    ) -> Result<(), IngestError> {
        let (client, mut notifications) =
            RpcClient::connect(&self.config.endpoint, self.config.request_timeout).await?;
        // Logs first: nodes that notify in subscription order then send a block's logs before
        // its head, so the live path commits them before the head's catch-up runs.
        let logs = client.subscribe_logs(&self.filter(None)).await?;
        let heads = client.subscribe_new_heads().await?;
        let mut session = Session {
            client,
            heads,
            logs,
            decoder: Decoder::default(),
            pending_head: None,
        };
        self.status
            .chain_connected
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let head = session.client.block_number().await?;
        self.catch_up(&session.client, head, shutdown).await?;
        backoff.reset();
        tracing::info!(head, "chain session live");
        let mut deadline = Instant::now() + self.config.stall_timeout;
        loop {
            tokio::select! {
                biased;
                _ = shutdown.changed() => return Ok(()),
                notification = notifications.recv() => {
                    let notification = notification.ok_or(IngestError::Closed)?;
                    if notification.subscription == session.heads {
                        deadline = Instant::now() + self.config.stall_timeout;
                        let head = parse_head(notification)?;
                        session.pending_head = session.pending_head.max(Some(head));
                    } else if notification.subscription == session.logs {
                        self.on_log(&mut session, notification).await?;
                    }
                }
                () = std::future::ready(()), if session.pending_head.is_some() => {
                    if let Some(head) = session.pending_head.take() {
                        self.catch_up(&session.client, head, shutdown).await?;
                        session
                            .decoder
                            .forget_before(head.saturating_sub(self.config.confirmations));
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    return Err(IngestError::Stalled(self.config.stall_timeout));
                }
            }
            if *shutdown.borrow() {
                return Ok(());
            }
        }
    }

    /// A live log: recorded at once (the catch-up on the next head confirms or reverts it).
    async fn on_log(
        &mut self,
        session: &mut Session,
        notification: Notification,
    ) -> Result<(), IngestError> {
        let Notification {
            result, received, ..
        } = notification;
        let log: RpcLog =
            serde_json::from_value(result).map_err(|source| IngestError::Notification {
                what: "log",
                source,
            })?;
        if log.removed {
            if carries_fills(&log) {
                let applied = self
                    .ledger
                    .apply(&[], &[log.key()], "log delivered with removed: true", None)
                    .await?;
                self.count(applied);
            }
            return Ok(());
        }
        let events = session.decoder.push(&log)?;
        let records = self.records(&session.client, events).await?;
        if !records.is_empty() {
            let applied = self.ledger.apply(&records, &[], "", None).await?;
            self.count(applied);
            let latency_us = u64::try_from(received.elapsed().as_micros()).unwrap_or(u64::MAX);
            tracing::debug!(target: "schwad::live", key = %log.key(), latency_us, "live log committed");
        }
        Ok(())
    }

    /// Reads and applies every block from the checkpoint (minus the reorg window) up to `head`.
    async fn catch_up(
        &mut self,
        client: &RpcClient,
        head: u64,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<(), IngestError> {
        Status::raise(&self.status.last_block_seen, head);
        let next = self
            .processed
            .map_or(self.config.deployment_block, |c| c + 1);
        let mut from = next
            .saturating_sub(self.config.confirmations)
            .max(self.config.deployment_block);
        while from <= head && !*shutdown.borrow() {
            let (to, logs) = self.get_logs(client, from, head).await?;
            self.apply_range(client, from, to, logs).await?;
            from = to + 1;
        }
        Ok(())
    }

    /// `eth_getLogs` from `from` to at most `head`, shrinking the range while the node refuses
    /// it (too many blocks or results) or its answer exceeds the message limit (which also ends
    /// the session: the next one starts with the smaller range). Returns the range end read.
    async fn get_logs(
        &mut self,
        client: &RpcClient,
        from: u64,
        head: u64,
    ) -> Result<(u64, Vec<RpcLog>), IngestError> {
        loop {
            let to = head.min(from.saturating_add(self.range - 1));
            match client.get_logs(&self.filter(Some((from, to)))).await {
                Ok(logs) => return Ok((to, logs)),
                Err(error) if error.is_too_large() && to > from => {
                    self.range = (to - from).div_ceil(2).max(1);
                    tracing::info!(%error, range = self.range, "eth_getLogs range too large; shrinking");
                    if matches!(error, RpcError::TooLarge { .. }) {
                        return Err(error.into());
                    }
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Applies one `eth_getLogs` answer for `from..=to` in one transaction: reverts the stored
    /// events that are no longer there, records the new ones and advances the checkpoint to `to`.
    async fn apply_range(
        &mut self,
        client: &RpcClient,
        from: u64,
        to: u64,
        mut logs: Vec<RpcLog>,
    ) -> Result<(), IngestError> {
        let stored: HashSet<LogKey> = self
            .ledger
            .events_between(from, to)
            .await?
            .into_iter()
            .collect();
        let present: HashSet<LogKey> = logs.iter().map(RpcLog::key).collect();
        let vanished: Vec<LogKey> = stored.difference(&present).copied().collect();
        let events = Decoder::decode_batch(&mut logs)?
            .into_iter()
            .filter(|event| !stored.contains(&event.key))
            .collect();
        let records = self.records(client, events).await?;
        if records.is_empty() && vanished.is_empty() {
            // Nothing to write but progress: persist it once per reorg window, saving an fsync
            // per empty block.
            let unsaved = to.saturating_sub(self.checkpoint.unwrap_or(0));
            if self.checkpoint.is_some() && unsaved < self.config.confirmations.max(1) {
                self.mark_processed(to);
                return Ok(());
            }
        }
        let reason = "log no longer returned by eth_getLogs (reorg)";
        let applied = self
            .ledger
            .apply(&records, &vanished, reason, Some(to))
            .await?;
        self.count(applied);
        self.checkpoint = self.checkpoint.max(Some(to));
        self.mark_processed(to);
        Ok(())
    }

    fn mark_processed(&mut self, block: u64) {
        self.processed = self.processed.max(Some(block));
        Status::raise(&self.status.last_block_processed, block);
    }

    /// Keeps our fills of `events` and resolves their symbols and classification.
    async fn records(
        &mut self,
        client: &RpcClient,
        events: Vec<OrderbookEvent>,
    ) -> Result<Vec<EventRecord>, IngestError> {
        let mut records = Vec::new();
        for event in events
            .into_iter()
            .filter_map(|e| self.config.filter.retain(e))
        {
            let mut fills = Vec::with_capacity(event.fills.len());
            for fill in event.fills {
                let gave_symbol = self
                    .symbols
                    .resolve(client, &self.ledger, fill.gave.token)
                    .await?;
                let received_symbol = self
                    .symbols
                    .resolve(client, &self.ledger, fill.received.token)
                    .await?;
                let outcome = fill.classify(&gave_symbol, &received_symbol);
                if let Err(reason) = &outcome {
                    tracing::debug!(key = %event.key, %reason, "fill of ours skipped");
                }
                fills.push(FillRecord {
                    fill,
                    gave_symbol,
                    received_symbol,
                    outcome,
                });
            }
            records.push(EventRecord {
                key: event.key,
                block_number: event.block_number,
                block_hash: event.block_hash,
                kind: event.kind,
                fills,
            });
        }
        Ok(records)
    }

    /// Re-processes one transaction by hand: records its fills of ours (duplicates skipped).
    pub async fn process_transaction(&mut self, hash: B256) -> Result<Applied, IngestError> {
        let (client, _notifications) =
            RpcClient::connect(&self.config.endpoint, self.config.request_timeout).await?;
        let receipt = client
            .transaction_receipt(hash)
            .await?
            .ok_or(IngestError::UnknownTransaction(hash))?;
        let mut logs: Vec<RpcLog> = receipt
            .logs
            .into_iter()
            .filter(|log| log.address == self.config.orderbook)
            .collect();
        let events = Decoder::decode_batch(&mut logs)?;
        let records = self.records(&client, events).await?;
        let applied = self.ledger.apply(&records, &[], "", None).await?;
        self.count(applied);
        Ok(applied)
    }

    fn filter(&self, range: Option<(u64, u64)>) -> LogFilter {
        LogFilter {
            address: self.config.orderbook,
            topics: vec![topics().to_vec()],
            from_block: range.map(|(from, _)| U64::from(from)),
            to_block: range.map(|(_, to)| U64::from(to)),
        }
    }

    fn count(&self, applied: Applied) {
        let status = &self.status;
        Status::add(&status.events_processed, applied.inserted);
        Status::add(&status.duplicates_skipped, applied.duplicates);
        Status::add(&status.events_reverted, applied.reverted);
        Status::add(&status.events_restored, applied.restored);
        if applied.inserted > 0 || applied.reverted > 0 || applied.restored > 0 {
            status.trades_changed.notify_one();
        }
        if applied.reverted > 0 || applied.restored > 0 {
            tracing::warn!(
                reverted = applied.reverted,
                restored = applied.restored,
                "reorg applied"
            );
        }
    }
}

/// The block number of a `newHeads` notification.
fn parse_head(notification: Notification) -> Result<u64, IngestError> {
    let head: Head = serde_json::from_value(notification.result).map_err(|source| {
        IngestError::Notification {
            what: "head",
            source,
        }
    })?;
    tracing::debug!(number = %head.number, hash = %head.hash, "new head");
    Ok(head.number.to())
}
