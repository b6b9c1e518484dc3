//! Gap-free, exactly-once ingestion: live `newHeads` and `logs` subscriptions for latency, backed
//! by the persisted checkpoint and `eth_getLogs` catch-up in bounded pages on start, on every
//! reconnect and on every new head (which also re-reads the last `confirmations` blocks).
//!
//! Queued notifications and catch-up pages take turns, so a stream of live logs never starves the
//! catch-up (nor the reverse); the live takes queued meanwhile are committed in one transaction.
//! Clears are recorded from complete `eth_getLogs` answers only: a lost notification would make
//! pairing a `ClearV2` with an `AfterClear` from the stream a guess.
//! A stored log is reverted only when delivered with `removed: true` naming its block, when the node
//! holds another block at its height, or when its transaction is recorded in another block: a node
//! that answers `eth_getLogs` from behind the head (a lagging backend of a load-balanced provider)
//! leaves out logs it does not hold yet, and that absence is no removal.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use alloy_primitives::{Address, B256, U64};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::decode::{
    DecodeError, Decoder, OrderbookEvent, OwnerFilter, carries_fills, decode_take, topics,
};
use super::log::RpcLog;
use super::range::RangeControl;
use super::retry::Retry;
use super::rpc::{Endpoint, ErrorKind, Head, LogFilter, Notification, RpcClient, RpcError};
use super::symbols::{SymbolError, Symbols};
use crate::ledger::{
    Applied, Batch, EventRecord, FillRecord, Ledger, LedgerError, Removal, StoredEvent,
};
use crate::status::Status;
use crate::trade::LogKey;

/// Most notifications committed in one live batch.
const LIVE_BATCH: usize = 1_024;
/// Consecutive transient catch-up failures before the session is replaced (another backend may
/// answer the next one).
const TRANSIENT_FAILURES: u32 = 8;
/// Longest wait before a catch-up page is tried again after a transient failure.
const CATCH_UP_RETRY_CAP: Duration = Duration::from_secs(5);

/// What the ingestion needs to know about the chain and which fills are ours.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// WebSocket JSON-RPC endpoint.
    pub endpoint: Endpoint,
    /// The chain the node must serve (`eth_chainId`).
    pub chain_id: u64,
    /// The orderbook contract.
    pub orderbook: Address,
    /// Which fills are ours.
    pub filter: OwnerFilter,
    /// First block to read when the ledger has no checkpoint.
    pub deployment_block: u64,
    /// Depth of the reorg window: the last blocks re-read on every new head (at least 1).
    pub confirmations: u64,
    /// Largest block range of one `eth_getLogs`.
    pub max_range: u64,
    /// A session with no new head for this long is replaced.
    pub stall_timeout: Duration,
    /// Timeout of one JSON-RPC request.
    pub request_timeout: Duration,
    /// First delay before reconnecting or retrying; doubles (jittered below it) up to `max_backoff`.
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
    /// The node serves another chain.
    #[error("the node serves chain {actual}, not chain {expected} (CHAIN_ID)")]
    WrongChain {
        /// `CHAIN_ID`.
        expected: u64,
        /// The node's `eth_chainId`.
        actual: u64,
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

impl IngestError {
    /// Whether trying the same step again later, on the same connection, may succeed.
    fn is_transient(&self) -> bool {
        match self {
            Self::Rpc(error) => !matches!(error.kind(), ErrorKind::Oversized | ErrorKind::Closed),
            Self::Symbol(SymbolError::NotYet { .. } | SymbolError::Rpc { .. }) => true,
            _ => false,
        }
    }
}

/// The ingestion loop and its state.
#[derive(Debug)]
pub struct Ingestor {
    config: IngestConfig,
    ledger: Ledger,
    status: Arc<Status>,
    symbols: Symbols,
    /// Effective `eth_getLogs` range.
    range: RangeControl,
    /// The stored checkpoint (this process is its only writer).
    checkpoint: Option<u64>,
    /// Last block settled: read, with every block before it, from answers that could not have
    /// left its logs out (see [`Ingestor::settle`]). A catch-up pass starts after it. Ahead of
    /// `checkpoint` while only empty blocks followed it (their checkpoint write is deferred:
    /// re-reading them after a crash is harmless).
    settled: Option<u64>,
}

/// The subscriptions and the catch-up state of one session.
struct Session {
    client: RpcClient,
    heads: String,
    logs: String,
    /// Highest head announced and not caught up to yet.
    target: Option<u64>,
    /// Next block the catch-up pass in progress reads.
    cursor: Option<u64>,
    /// After a transient failure: when the catch-up tries again.
    retry_at: Option<Instant>,
    /// Delays between catch-up attempts after transient failures.
    retry: Retry,
    /// The session counts as stalled when no head arrives by then.
    deadline: Instant,
    /// Whether a catch-up pass completed (the session is live).
    live: bool,
}

impl Session {
    fn catch_up_due(&self, now: Instant) -> bool {
        self.target.is_some() && self.retry_at.is_none_or(|at| at <= now)
    }
}

/// A log notification and when it was read from the socket.
struct LiveLog {
    log: RpcLog,
    received: Instant,
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
        let range = RangeControl::new(config.max_range);
        Ok(Self {
            config,
            ledger,
            status,
            symbols,
            range,
            checkpoint,
            settled: checkpoint,
        })
    }

    /// Runs sessions until `shutdown` turns true, reconnecting with jittered exponential backoff.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut reconnects = Retry::new(self.config.min_backoff, self.config.max_backoff);
        let endpoint = self.config.endpoint.clone();
        while !*shutdown.borrow() {
            let result = self.session(&mut shutdown, &mut reconnects).await;
            self.status.chain_connected.store(false, Ordering::Relaxed);
            let error = match result {
                Ok(()) => break,
                Err(error) => error,
            };
            if matches!(error, IngestError::Stalled(_)) {
                Status::add(&self.status.stalls, 1);
            }
            Status::add(&self.status.reconnects, 1);
            let delay = reconnects.next_delay();
            tracing::warn!(%error, %endpoint, ?delay, "chain session ended; reconnecting");
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = shutdown.changed() => {}
            }
        }
        tracing::info!("ingestion stopped");
    }

    /// One connection: check the chain, subscribe, then alternate between the queued notifications
    /// (heads, and live logs committed in batches) and catch-up pages, until an error, a stall or
    /// shutdown (`Ok`).
    async fn session(
        &mut self,
        shutdown: &mut watch::Receiver<bool>,
        reconnects: &mut Retry,
    ) -> Result<(), IngestError> {
        let (client, mut notifications) =
            RpcClient::connect(&self.config.endpoint, self.config.request_timeout).await?;
        self.check_chain(&client).await?;
        // Logs first: nodes that notify in subscription order then send a block's logs before
        // its head.
        let logs = client.subscribe_logs(&self.filter(None)).await?;
        let heads = client.subscribe_new_heads().await?;
        let head = client.block_number().await?;
        let mut session = Session {
            client,
            heads,
            logs,
            target: None,
            cursor: None,
            retry_at: None,
            retry: Retry::new(
                self.config.min_backoff,
                self.config.max_backoff.min(CATCH_UP_RETRY_CAP),
            ),
            deadline: Instant::now() + self.config.stall_timeout,
            live: false,
        };
        self.status.chain_connected.store(true, Ordering::Relaxed);
        self.on_head(&mut session, head);
        tracing::info!(head, "chain session subscribed; catching up");
        let mut next = None;
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let batch = self.collect(&mut session, next.take(), &mut notifications)?;
            if !batch.is_empty() {
                self.commit_live(&mut session, batch).await?;
            }
            if session.catch_up_due(Instant::now()) {
                self.catch_up_page(&mut session).await?;
                if session.live && session.target.is_none() && session.retry.attempts() == 0 {
                    reconnects.reset();
                }
                continue;
            }
            let retry_at = session.retry_at.unwrap_or(session.deadline);
            tokio::select! {
                biased;
                _ = shutdown.changed() => return Ok(()),
                notification = notifications.recv() => {
                    next = Some(notification.ok_or(IngestError::Closed)?);
                }
                () = tokio::time::sleep_until(retry_at), if session.retry_at.is_some() => {}
                () = tokio::time::sleep_until(session.deadline) => {
                    return Err(IngestError::Stalled(self.config.stall_timeout));
                }
            }
        }
    }

    /// Refuses a node of another chain.
    async fn check_chain(&self, client: &RpcClient) -> Result<(), IngestError> {
        let actual = client.chain_id().await?;
        let expected = self.config.chain_id;
        let wrong = if actual == expected { 0 } else { actual };
        self.status.wrong_chain_id.store(wrong, Ordering::Relaxed);
        if actual == expected {
            Ok(())
        } else {
            Err(IngestError::WrongChain { expected, actual })
        }
    }

    /// A head: the node's own head, and the target of the catch-up.
    fn on_head(&self, session: &mut Session, head: u64) {
        Status::raise(&self.status.last_block_seen, head);
        session.target = session.target.max(Some(head));
        session.deadline = Instant::now() + self.config.stall_timeout;
    }

    /// Takes `first` and what else is queued (at most `LIVE_BATCH`): heads move the catch-up's
    /// target, logs are returned in order for one commit.
    fn collect(
        &self,
        session: &mut Session,
        first: Option<Notification>,
        notifications: &mut mpsc::UnboundedReceiver<Notification>,
    ) -> Result<Vec<LiveLog>, IngestError> {
        let mut logs = Vec::new();
        let mut next = first;
        for _ in 0..LIVE_BATCH {
            let notification = match next.take() {
                Some(notification) => notification,
                None => match notifications.try_recv() {
                    Ok(notification) => notification,
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        return Err(IngestError::Closed);
                    }
                },
            };
            if notification.subscription == session.heads {
                let head = parse_head(notification)?;
                self.on_head(session, head);
            } else if notification.subscription == session.logs {
                let Notification {
                    result, received, ..
                } = notification;
                let log =
                    serde_json::from_value(result).map_err(|source| IngestError::Notification {
                        what: "log",
                        source,
                    })?;
                logs.push(LiveLog { log, received });
            }
        }
        Ok(logs)
    }

    /// Live logs, in order, committed at once: removals apply where they fall, the new takes of
    /// the batch go in one transaction. A fill whose symbols cannot be read yet is left to the
    /// catch-up.
    async fn commit_live(
        &mut self,
        session: &mut Session,
        batch: Vec<LiveLog>,
    ) -> Result<(), IngestError> {
        let mut records = Vec::new();
        let mut received = Vec::new();
        for LiveLog { log, received: at } in batch {
            if log.removed {
                if carries_fills(&log) {
                    self.commit_records(&mut records, &mut received).await?;
                    let reason = "log delivered with removed: true";
                    let removal = Removal {
                        key: log.key(),
                        block_hash: log.block_hash,
                    };
                    tracing::debug!(key = %removal.key, block = %removal.block_hash, "removal notified");
                    let applied = self.ledger.apply(Batch::revert(&[removal], reason)).await?;
                    self.count(applied);
                }
                continue;
            }
            if let Some(event) = decode_take(&log)? {
                let key = event.key;
                match self.record(&session.client, event).await {
                    Ok(Some(record)) => {
                        records.push(record);
                        received.push((key, at));
                    }
                    Ok(None) => {}
                    Err(error) if error.is_transient() => {
                        tracing::debug!(%key, %error, "live fill left to the catch-up");
                    }
                    Err(error) => return Err(error),
                }
            }
        }
        self.commit_records(&mut records, &mut received).await
    }

    async fn commit_records(
        &mut self,
        records: &mut Vec<EventRecord>,
        received: &mut Vec<(LogKey, Instant)>,
    ) -> Result<(), IngestError> {
        if records.is_empty() {
            return Ok(());
        }
        let applied = self.ledger.apply(Batch::record(records)).await?;
        self.count(applied);
        for (key, at) in received.drain(..) {
            let latency_us = u64::try_from(at.elapsed().as_micros()).unwrap_or(u64::MAX);
            tracing::debug!(target: "schwad::live", %key, latency_us, "live log committed");
        }
        records.clear();
        Ok(())
    }

    /// Reads and applies one page of the catch-up pass (from the block after the last settled one,
    /// so the last `confirmations` blocks are read again, up to the newest head). Transient failures
    /// are retried later on this connection; too big a range is shrunk.
    async fn catch_up_page(&mut self, session: &mut Session) -> Result<(), IngestError> {
        let Some(target) = session.target else {
            return Ok(());
        };
        let deployment = self.config.deployment_block;
        let from = *session
            .cursor
            .get_or_insert_with(|| self.settled.map_or(deployment, |s| s + 1).max(deployment));
        if from > target {
            self.finish_pass(session, target);
            return Ok(());
        }
        let to = self.range.end(from, target);
        let outcome = match session
            .client
            .get_logs(&self.filter(Some((from, to))))
            .await
        {
            Ok(logs) => {
                self.range.succeeded(from, to);
                self.apply_range(&session.client, from, to, target, logs)
                    .await
            }
            Err(error) => match error.kind() {
                ErrorKind::Oversized => {
                    // The connection closed with the answer: the next session asks for less.
                    self.range.shrink(from, to);
                    return Err(error.into());
                }
                ErrorKind::TooBig | ErrorKind::Timeout if self.range.shrink(from, to) => {
                    tracing::info!(%error, range = self.range.current(), "eth_getLogs range too large; shrinking");
                    return Ok(());
                }
                _ => Err(error.into()),
            },
        };
        match outcome {
            Ok(read_to) => {
                if let Some(read_to) = read_to {
                    session.cursor = Some(read_to + 1);
                }
                if read_to == Some(to) {
                    session.retry.reset();
                    session.retry_at = None;
                    if to >= target {
                        self.finish_pass(session, target);
                    }
                } else {
                    // The node answered from behind the head: ask again shortly, by then it
                    // likely holds the block.
                    session.retry_at = Some(Instant::now() + self.config.min_backoff);
                }
                Ok(())
            }
            Err(error) if error.is_transient() => {
                if session.retry.attempts() >= TRANSIENT_FAILURES {
                    return Err(error);
                }
                let delay = session.retry.next_delay();
                tracing::warn!(%error, from, to, ?delay, "catch-up page failed; retrying");
                session.retry_at = Some(Instant::now() + delay);
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    fn finish_pass(&self, session: &mut Session, target: u64) {
        session.cursor = None;
        if session.target == Some(target) {
            session.target = None;
        }
        if !session.live {
            session.live = true;
            tracing::info!(head = target, "chain session live");
        }
    }

    /// Applies one `eth_getLogs` answer for `from..=to`, asked while the newest head known was
    /// `head`, in one transaction: records the new events, reverts the stored ones whose block the
    /// node replaced, and advances the checkpoint to what the answer settles. Returns the last
    /// block applied: before `to` when a stored event is missing from the answer while the node
    /// does not hold another block at its height (it answered from behind); `None` when that is
    /// already the case at `from`.
    async fn apply_range(
        &mut self,
        client: &RpcClient,
        from: u64,
        to: u64,
        head: u64,
        logs: Vec<RpcLog>,
    ) -> Result<Option<u64>, IngestError> {
        let stored = self.ledger.events_between(from, to).await?;
        let present: HashSet<(LogKey, B256)> =
            logs.iter().map(|l| (l.key(), l.block_hash)).collect();
        let mut missing: BTreeMap<u64, Vec<StoredEvent>> = BTreeMap::new();
        for event in stored
            .iter()
            .filter(|e| !present.contains(&(e.key, e.block_hash)))
        {
            missing.entry(event.block_number).or_default().push(*event);
        }
        let mut read_to = Some(to);
        let mut vanished = Vec::new();
        for (height, events) in missing {
            let held = client.block_hash(height).await?;
            if events
                .iter()
                .all(|e| held.is_some_and(|h| h != e.block_hash))
            {
                vanished.extend(events.iter().map(|e| Removal {
                    key: e.key,
                    block_hash: e.block_hash,
                }));
            } else {
                tracing::debug!(
                    height,
                    ?held,
                    "a stored log is missing from eth_getLogs, whose node does not hold another block there: not a removal"
                );
                read_to = height.checked_sub(1).filter(|h| *h >= from);
                break;
            }
        }
        let Some(read_to) = read_to else {
            return Ok(None);
        };
        // An event stored in another block (a reorg mined its transaction again) is recorded in the
        // block it is in now; the ledger reverts the other block's copy.
        let stored: HashSet<(LogKey, B256)> =
            stored.iter().map(|e| (e.key, e.block_hash)).collect();
        let mut logs: Vec<RpcLog> = logs.into_iter().filter(|l| l.block() <= read_to).collect();
        let events = Decoder::decode_batch(&mut logs)?
            .into_iter()
            .filter(|event| !stored.contains(&(event.key, event.block_hash)))
            .collect();
        let records = self.records(client, events).await?;
        tracing::debug!(
            from,
            to,
            read_to,
            logs = logs.len(),
            records = records.len(),
            vanished = vanished.len(),
            "catch-up page"
        );
        let settled = self.settle(from, read_to, head);
        if records.is_empty() && vanished.is_empty() {
            // Nothing to write but progress: persist it once per reorg window, saving an fsync
            // per empty block.
            let unsaved = settled
                .unwrap_or(0)
                .saturating_sub(self.checkpoint.unwrap_or(0));
            if settled.is_none()
                || self.checkpoint.is_some() && unsaved < self.config.confirmations.max(1)
            {
                self.mark_processed(read_to);
                return Ok(Some(read_to));
            }
        }
        let reason = "the node holds another block at the log's height (reorg)";
        let mut batch = Batch::record(&records).and_revert(&vanished, reason);
        if let Some(settled) = settled {
            batch = batch.checkpoint(settled);
        }
        let applied = self.ledger.apply(batch).await?;
        self.count(applied);
        self.checkpoint = self.checkpoint.max(settled);
        self.mark_processed(read_to);
        Ok(Some(read_to))
    }

    /// What an answer of `from..=read_to`, asked while the newest head known was `head`, settles;
    /// returns the last settled block. A node that answers `eth_getLogs` from behind the head (a
    /// lagging backend of a load-balanced provider) cuts the range at its own head without saying
    /// so, and a block with no stored log of ours cannot show that its logs are missing. Only
    /// blocks at least `confirmations` below `head` are held by every backend that lags less than
    /// that; and only an answer that starts at the first unsettled block settles anything, so a
    /// block an earlier page may have missed is read again by the next pass.
    fn settle(&mut self, from: u64, read_to: u64, head: u64) -> Option<u64> {
        let first_unsettled = self.settled.map_or(self.config.deployment_block, |s| s + 1);
        if let Some(safe) = head.checked_sub(self.config.confirmations)
            && from <= first_unsettled
            && read_to.min(safe) >= first_unsettled
        {
            self.settled = Some(read_to.min(safe));
        }
        self.settled
    }

    fn mark_processed(&self, block: u64) {
        Status::raise(&self.status.last_block_processed, block);
    }

    /// Keeps our fills of `events` and resolves their symbols and classification.
    async fn records(
        &mut self,
        client: &RpcClient,
        events: Vec<OrderbookEvent>,
    ) -> Result<Vec<EventRecord>, IngestError> {
        let mut records = Vec::with_capacity(events.len());
        for event in events {
            records.extend(self.record(client, event).await?);
        }
        Ok(records)
    }

    /// The event's fills of ours with their symbols and classification; `None` when none is ours.
    async fn record(
        &mut self,
        client: &RpcClient,
        event: OrderbookEvent,
    ) -> Result<Option<EventRecord>, IngestError> {
        let Some(event) = self.config.filter.retain(event) else {
            return Ok(None);
        };
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
        Ok(Some(EventRecord {
            key: event.key,
            block_number: event.block_number,
            block_hash: event.block_hash,
            kind: event.kind,
            fills,
        }))
    }

    /// Re-processes one transaction by hand: records its fills of ours (duplicates skipped).
    pub async fn process_transaction(&mut self, hash: B256) -> Result<Applied, IngestError> {
        let (client, _notifications) =
            RpcClient::connect(&self.config.endpoint, self.config.request_timeout).await?;
        self.check_chain(&client).await?;
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
        let applied = self.ledger.apply(Batch::record(&records)).await?;
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
