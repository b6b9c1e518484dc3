//! [`ChainSim`]: a running simulator and the Rust API that scripts it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, B256, address};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::chain::{ReorgError, ReorgReport};
use crate::faults::{Faults, LogLimits};
use crate::ledger::Fill;
use crate::node::{self, Node};
use crate::server;
use crate::tokens::{Token, TokenError};
use crate::trade::{Trade, TradeError};

/// Rain's IOrderBookV4 on Base.
pub const BASE_ORDERBOOK: Address = address!("0x881cf4c0764e733d9C387f3858eE87CcA04AFFe0");

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Chain id (`eth_chainId`); Base's 8453 by default.
    pub chain_id: u64,
    /// Address of the orderbook contract emitting the trade logs.
    pub orderbook: Address,
    /// The owner whose orders are "ours" in random trades.
    pub owner: Address,
    /// Mine a block at this interval (`None`: only when asked).
    pub block_time: Option<Duration>,
    /// Random transactions added to each mined block (0: none).
    pub trades_per_block: u32,
    /// Seed of every random choice (trades, reorgs, faults).
    pub seed: u64,
    /// Initial `eth_getLogs` limits.
    pub log_limits: LogLimits,
    /// Chain events buffered per WebSocket connection before a slow client is disconnected.
    pub event_buffer: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            chain_id: 8453,
            orderbook: BASE_ORDERBOOK,
            owner: address!("0x00000000000000000000000000000000000000aa"),
            block_time: None,
            trades_per_block: 0,
            seed: 0,
            log_limits: LogLimits::default(),
            event_buffer: 1 << 16,
        }
    }
}

/// Why a simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listen address is unavailable.
    #[error("cannot listen on {address}")]
    Bind {
        /// The address asked for.
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The random generator's tokens could not be deployed.
    #[error("cannot deploy the default tokens")]
    Tokens(#[from] TokenError),
}

/// A running simulator: a JSON-RPC node on loopback (HTTP POST and WebSocket at `/`, control endpoints
/// under `/control`) and the handle that scripts it. Dropping it stops the server.
#[derive(Debug)]
pub struct ChainSim {
    node: Arc<Node>,
    address: SocketAddr,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<()>,
    miner: JoinHandle<()>,
}

impl ChainSim {
    /// Starts a simulator; the random generator's tokens (`USDC`, `AAPL0x`, `NVDAs1`, `tAAPL`, `TSLA0x`,
    /// `WETH`) are deployed at genesis.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        let node = Arc::new(Node::new(&config)?);
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Bind {
                    address: config.listen,
                    source,
                })?;
        let address = listener.local_addr().map_err(|source| StartError::Bind {
            address: config.listen,
            source,
        })?;
        let (shutdown, mut stopped) = watch::channel(false);
        let app = server::router(Arc::clone(&node));
        let server = tokio::spawn(async move {
            let stop = async move {
                // Either a shutdown request or the handle going away stops the server.
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            // No Nagle: a notification right after a reply must not wait for the client's delayed ACK.
            let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
                let _ = stream.set_nodelay(true);
            });
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::error!(%error, "chain simulator server failed");
            }
        });
        let miner = tokio::spawn(node::auto_mine(Arc::clone(&node)));
        tracing::info!(%address, "chain simulator listening");
        Ok(Self {
            node,
            address,
            shutdown,
            server,
            miner,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// JSON-RPC over HTTP, e.g. `http://127.0.0.1:8545`.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// JSON-RPC over WebSocket, e.g. `ws://127.0.0.1:8545`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.address)
    }

    /// Deploys an ERC-20 token answering `symbol()` and `decimals()`; registering the same symbol and
    /// decimals again returns the same token.
    pub fn register_token(&self, symbol: &str, decimals: u8) -> Result<Token, TokenError> {
        self.node.register_token(symbol, decimals)
    }

    /// Every deployed token, by symbol.
    pub fn tokens(&self) -> Vec<Token> {
        self.node.tokens()
    }

    /// Queues one transaction holding `trades` (in order) for the next block; returns its hash.
    pub fn submit(&self, trades: &[Trade]) -> Result<B256, TradeError> {
        self.node.submit(trades)
    }

    /// Queues `count` random transactions for the next block; returns their hashes.
    pub fn submit_random(&self, count: usize) -> Vec<B256> {
        self.node.submit_random(count)
    }

    /// Mines one block with every queued transaction; returns its number.
    pub fn mine(&self) -> u64 {
        self.node.mine(1)
    }

    /// Mines `count` blocks (the first takes the queued transactions); returns the new head number.
    pub fn mine_blocks(&self, count: u64) -> u64 {
        self.node.mine(count)
    }

    /// The head block number.
    pub fn head(&self) -> u64 {
        self.node.chain().head().header.number
    }

    /// Mines automatically at this interval, or only on demand with `None`.
    pub fn set_block_time(&self, block_time: Option<Duration>) {
        self.node.set_block_time(block_time);
    }

    /// Starts (`count` > 0) or stops (0) the random stream: `count` random transactions per mined block.
    pub fn set_trades_per_block(&self, count: u32) {
        self.node.set_trades_per_block(count);
    }

    /// Replaces the last `depth` blocks by as many new ones with new hashes: `logs` subscribers get the
    /// old logs again with `removed: true`, each old transaction comes back in a new block except a
    /// share `drop_share` (0 to 1) that disappears, and the ledger marks the old fills non-canonical.
    pub fn reorg(&self, depth: u64, drop_share: f64) -> Result<ReorgReport, ReorgError> {
        self.node.reorg(depth, drop_share, &[])
    }

    /// [`ChainSim::reorg`] whose new blocks also leave out the transactions in `dropping` (the other fork
    /// never included them): the transactions after them in a block move to lower log indexes.
    pub fn reorg_dropping(
        &self,
        depth: u64,
        drop_share: f64,
        dropping: &[B256],
    ) -> Result<ReorgReport, ReorgError> {
        self.node.reorg(depth, drop_share, dropping)
    }

    /// Every fill mined so far, in mining order, reorged-out ones marked non-canonical.
    pub fn ledger(&self) -> Vec<Fill> {
        self.node.ledger()
    }

    /// The fault switches.
    pub fn faults(&self) -> &Faults {
        &self.node.faults
    }

    /// Stops accepting connections, closes the WebSockets and waits for the server to stop.
    pub async fn shutdown(mut self) {
        self.shutdown.send_replace(true);
        self.node.faults.drop_connections();
        self.miner.abort();
        // Aborted or finished, the server task is done either way.
        let _ = (&mut self.server).await;
    }
}

impl Drop for ChainSim {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
        self.node.faults.drop_connections();
        self.miner.abort();
    }
}
