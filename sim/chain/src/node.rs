//! The node shared by the RPC server, the control API and the background miner: chain state behind a
//! lock, the event feed of subscribers, faults and the random trade stream.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy_primitives::B256;
use tokio::sync::{broadcast, watch};

use crate::chain::{Block, Chain, ReorgError, ReorgReport};
use crate::faults::Faults;
use crate::json::RpcLog;
use crate::ledger::Fill;
use crate::random::RandomTrades;
use crate::sim::Config;
use crate::tokens::{Token, TokenError};
use crate::trade::{self, Trade, TradeError};

/// What subscribers hear about.
#[derive(Debug)]
pub(crate) enum ChainEvent {
    /// A block joined the canonical chain.
    Mined(Arc<Block>),
    /// A reorg took these logs out of the canonical chain (each marked `removed`).
    Removed(Vec<RpcLog>),
}

/// The simulated node.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) chain_id: u64,
    chain: RwLock<Chain>,
    events: broadcast::Sender<Arc<ChainEvent>>,
    pub(crate) faults: Faults,
    generator: Mutex<RandomTrades>,
    reorg_rng: Mutex<fastrand::Rng>,
    trades_per_block: AtomicU32,
    block_time: watch::Sender<Option<Duration>>,
}

impl Node {
    /// A node at genesis with the random generator's tokens deployed.
    pub(crate) fn new(settings: &Config) -> Result<Self, TokenError> {
        let mut chain = Chain::new(
            settings.chain_id,
            settings.orderbook,
            unix_now(),
            settings.seed.wrapping_add(3),
        );
        let generator = RandomTrades::new(settings.seed, settings.owner, &mut chain.tokens)?;
        Ok(Self {
            chain_id: settings.chain_id,
            chain: RwLock::new(chain),
            events: broadcast::Sender::new(settings.event_buffer),
            faults: Faults::new(settings.seed.wrapping_add(1), settings.log_limits),
            generator: Mutex::new(generator),
            reorg_rng: Mutex::new(fastrand::Rng::with_seed(settings.seed.wrapping_add(2))),
            trades_per_block: AtomicU32::new(settings.trades_per_block),
            block_time: watch::Sender::new(settings.block_time),
        })
    }

    /// Read access to the chain.
    pub(crate) fn chain(&self) -> RwLockReadGuard<'_, Chain> {
        self.chain.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn chain_mut(&self) -> RwLockWriteGuard<'_, Chain> {
        self.chain.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// A feed of chain events from now on.
    pub(crate) fn events(&self) -> broadcast::Receiver<Arc<ChainEvent>> {
        self.events.subscribe()
    }

    /// Deploys an ERC-20 token (idempotent for the same symbol and decimals).
    pub(crate) fn register_token(&self, symbol: &str, decimals: u8) -> Result<Token, TokenError> {
        self.chain_mut().tokens.register(symbol, decimals)
    }

    /// All deployed tokens.
    pub(crate) fn tokens(&self) -> Vec<Token> {
        let mut tokens: Vec<Token> = self.chain().tokens.all().cloned().collect();
        tokens.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        tokens
    }

    /// Queues one transaction holding `trades` for the next block.
    pub(crate) fn submit(&self, trades: &[Trade]) -> Result<B256, TradeError> {
        let mut chain = self.chain_mut();
        let content = trade::encode(trades, &chain.tokens, chain.orderbook())?;
        Ok(chain.submit(content))
    }

    /// Queues `count` random transactions for the next block.
    pub(crate) fn submit_random(&self, count: usize) -> Vec<B256> {
        let mut generator = self
            .generator
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut chain = self.chain_mut();
        (0..count)
            .filter_map(|_| {
                let trades = generator.transaction();
                match trade::encode(&trades, &chain.tokens, chain.orderbook()) {
                    Ok(content) => Some(chain.submit(content)),
                    Err(error) => {
                        tracing::error!(%error, "random trade rejected");
                        None
                    }
                }
            })
            .collect()
    }

    /// Mines `count` blocks, each first receiving the random stream's transactions, and tells subscribers.
    /// Returns the new head number.
    pub(crate) fn mine(&self, count: u64) -> u64 {
        let mut head = 0;
        for _ in 0..count {
            let stream = self.trades_per_block.load(Ordering::Relaxed);
            if stream > 0 {
                self.submit_random(stream as usize);
            }
            let block = self.chain_mut().mine(unix_now());
            head = block.header.number;
            // No receivers is fine: nobody is subscribed.
            let _ = self.events.send(Arc::new(ChainEvent::Mined(block)));
        }
        head
    }

    /// Replaces the last `depth` blocks (see [`Chain::reorg`]) and tells subscribers: removed logs
    /// first, then the new blocks; with a removal delay (see [`Faults::set_removal_delay`]), the new
    /// blocks first and the removed logs that much later.
    pub(crate) fn reorg(
        &self,
        depth: u64,
        drop_share: f64,
        dropping: &[B256],
    ) -> Result<ReorgReport, ReorgError> {
        let reorg = {
            let mut rng = self
                .reorg_rng
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            self.chain_mut()
                .reorg(depth, drop_share, dropping, &mut rng, unix_now())?
        };
        tracing::info!(depth, removed_logs = reorg.removed.len(), "reorg");
        let removed = Arc::new(ChainEvent::Removed(reorg.removed));
        let delay = self.faults.removal_delay();
        let late = match tokio::runtime::Handle::try_current() {
            Ok(runtime) if !delay.is_zero() => Some(runtime),
            _ => None,
        };
        if late.is_none() {
            let _ = self.events.send(Arc::clone(&removed));
        }
        for block in reorg.added {
            let _ = self.events.send(Arc::new(ChainEvent::Mined(block)));
        }
        if let Some(runtime) = late {
            let events = self.events.clone();
            runtime.spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = events.send(removed);
            });
        }
        Ok(reorg.report)
    }

    /// Every fill mined so far.
    pub(crate) fn ledger(&self) -> Vec<Fill> {
        self.chain().ledger().to_vec()
    }

    /// Sets how many random transactions go into each block (0 stops the stream).
    pub(crate) fn set_trades_per_block(&self, count: u32) {
        self.trades_per_block.store(count, Ordering::Relaxed);
    }

    /// Random transactions per block.
    pub(crate) fn trades_per_block(&self) -> u32 {
        self.trades_per_block.load(Ordering::Relaxed)
    }

    /// Sets the automatic block interval (`None`: mine only on demand).
    pub(crate) fn set_block_time(&self, block_time: Option<Duration>) {
        self.block_time.send_replace(block_time);
    }

    /// Watches the automatic block interval.
    pub(crate) fn watch_block_time(&self) -> watch::Receiver<Option<Duration>> {
        self.block_time.subscribe()
    }
}

/// Mines a block every interval while one is set.
pub(crate) async fn auto_mine(node: Arc<Node>) {
    let mut block_time = node.watch_block_time();
    loop {
        let interval = *block_time.borrow_and_update();
        let changed = match interval {
            Some(interval) => tokio::select! {
                () = tokio::time::sleep(interval) => {
                    node.mine(1);
                    continue;
                }
                changed = block_time.changed() => changed,
            },
            None => block_time.changed().await,
        };
        if changed.is_err() {
            return;
        }
    }
}

/// Seconds since the Unix epoch.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
