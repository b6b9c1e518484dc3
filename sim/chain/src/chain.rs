//! The simulated chain: canonical blocks with their transactions and logs, the pending pool, mining
//! and reorgs. Blocks are stored by number, so a range of blocks is a slice.

use std::collections::HashMap;
use std::ops::{Range, RangeInclusive};
use std::sync::Arc;

use alloy_primitives::{Address, B64, B256, Bloom, Bytes, address, b256, keccak256};
use serde::Serialize;

use crate::json::{Header, RpcLog};
use crate::ledger::{Fill, Ledger};
use crate::tokens::Tokens;
use crate::trade::TxContent;

/// Root of an empty trie: transactions and receipts roots of an empty block.
const EMPTY_ROOT: B256 =
    b256!("0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421");
/// `keccak256(rlp([]))`: the uncle hash of every post-merge block.
const EMPTY_UNCLES: B256 =
    b256!("0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347");
/// Fee recipient of every block (Base's sequencer fee vault).
const MINER: Address = address!("0x4200000000000000000000000000000000000011");
/// Gas limit of every block.
const GAS_LIMIT: u64 = 30_000_000;
/// Gas every simulated transaction uses.
pub(crate) const GAS_PER_TX: u64 = 150_000;
/// Base fee of every block, in wei (also every transaction's effective gas price).
pub(crate) const BASE_FEE: u64 = 1_000_000;

/// A mined block with its transactions and logs.
#[derive(Debug)]
pub(crate) struct Block {
    pub(crate) header: Header,
    pub(crate) txs: Vec<MinedTx>,
    /// All logs of the block, in log-index order.
    pub(crate) logs: Vec<RpcLog>,
}

/// A transaction in a block.
#[derive(Debug)]
pub(crate) struct MinedTx {
    pub(crate) hash: B256,
    /// The sender's transaction count before this one.
    pub(crate) nonce: u64,
    pub(crate) content: TxContent,
    /// Where its logs sit in the block's logs.
    pub(crate) logs: Range<usize>,
}

/// A transaction waiting for the next block.
#[derive(Debug)]
struct PendingTx {
    hash: B256,
    nonce: u64,
    content: TxContent,
}

/// What a reorg did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReorgReport {
    /// How many blocks were replaced.
    pub depth: u64,
    /// Head hash before the reorg.
    pub old_head: B256,
    /// Head hash after the reorg (same height).
    pub new_head: B256,
    /// Ledger fills marked non-canonical.
    pub removed_fills: usize,
    /// Transactions mined again in the new blocks.
    pub reincluded: Vec<B256>,
    /// Transactions gone for good.
    pub dropped: Vec<B256>,
}

/// Why a reorg cannot happen.
#[derive(Debug, thiserror::Error)]
pub enum ReorgError {
    /// The depth must be between 1 and the head number (genesis stays).
    #[error("cannot reorg {depth} blocks of a chain whose head is block {head}")]
    InvalidDepth {
        /// Depth asked for.
        depth: u64,
        /// Current head number.
        head: u64,
    },
}

/// A reorg's effects for subscribers: the logs it removed, then the blocks it added.
#[derive(Debug)]
pub(crate) struct Reorg {
    pub(crate) removed: Vec<RpcLog>,
    pub(crate) added: Vec<Arc<Block>>,
    pub(crate) report: ReorgReport,
}

/// Chain state: blocks, pending pool, token contracts and the fill ledger, behind one lock.
#[derive(Debug)]
pub(crate) struct Chain {
    orderbook: Address,
    blocks: Vec<Arc<Block>>,
    by_hash: HashMap<B256, u64>,
    tx_locations: HashMap<B256, (u64, usize)>,
    pending: Vec<PendingTx>,
    pub(crate) tokens: Tokens,
    ledger: Ledger,
    rng: fastrand::Rng,
    /// Transactions sent per address, for nonces.
    nonces: HashMap<Address, u64>,
}

impl Chain {
    /// A chain holding only its genesis block; hashes are drawn from `seed`.
    pub(crate) fn new(chain_id: u64, orderbook: Address, genesis_time: u64, seed: u64) -> Self {
        let mut chain = Self {
            orderbook,
            blocks: Vec::new(),
            by_hash: HashMap::new(),
            tx_locations: HashMap::new(),
            pending: Vec::new(),
            tokens: Tokens::default(),
            ledger: Ledger::default(),
            rng: fastrand::Rng::with_seed(seed),
            nonces: HashMap::new(),
        };
        let hash = keccak256(format!("sim-chain genesis {chain_id}"));
        let state = keccak256(format!("sim-chain genesis state {chain_id}"));
        chain.push(Block {
            header: header(0, hash, B256::ZERO, genesis_time, state),
            txs: vec![],
            logs: vec![],
        });
        chain
    }

    /// The orderbook contract address.
    pub(crate) fn orderbook(&self) -> Address {
        self.orderbook
    }

    /// The head block.
    pub(crate) fn head(&self) -> &Arc<Block> {
        // The genesis block is pushed at construction and reorgs never remove it.
        &self.blocks[self.blocks.len() - 1]
    }

    /// The canonical block at `number`.
    pub(crate) fn block(&self, number: u64) -> Option<&Arc<Block>> {
        self.blocks.get(usize::try_from(number).ok()?)
    }

    /// The canonical block with this hash.
    pub(crate) fn block_by_hash(&self, hash: &B256) -> Option<&Arc<Block>> {
        self.by_hash
            .get(hash)
            .and_then(|number| self.block(*number))
    }

    /// The canonical blocks in `range`, clamped to the head.
    pub(crate) fn blocks(&self, range: RangeInclusive<u64>) -> &[Arc<Block>] {
        let last = self.blocks.len() - 1;
        let end = usize::try_from(*range.end())
            .unwrap_or(usize::MAX)
            .min(last);
        let start = usize::try_from(*range.start()).unwrap_or(usize::MAX);
        self.blocks.get(start..=end).unwrap_or(&[])
    }

    /// The canonical block and position of a mined transaction.
    pub(crate) fn transaction(&self, hash: &B256) -> Option<(&Arc<Block>, usize)> {
        let (number, index) = self.tx_locations.get(hash)?;
        Some((self.block(*number)?, *index))
    }

    /// Every fill mined so far.
    pub(crate) fn ledger(&self) -> &[Fill] {
        self.ledger.fills()
    }

    /// Queues a transaction for the next block and returns its hash.
    pub(crate) fn submit(&mut self, content: TxContent) -> B256 {
        let hash = self.random_hash();
        let sent = self.nonces.entry(content.from).or_default();
        let nonce = *sent;
        *sent += 1;
        self.pending.push(PendingTx {
            hash,
            nonce,
            content,
        });
        hash
    }

    /// Mines one block holding every pending transaction.
    pub(crate) fn mine(&mut self, now: u64) -> Arc<Block> {
        let txs = std::mem::take(&mut self.pending);
        self.append(txs, now)
    }

    /// Replaces the last `depth` blocks by as many new ones: each of their transactions comes back in one
    /// of the new blocks, except those in `dropping` and a share `drop_share` of the others, which disappear.
    pub(crate) fn reorg(
        &mut self,
        depth: u64,
        drop_share: f64,
        dropping: &[B256],
        rng: &mut fastrand::Rng,
        now: u64,
    ) -> Result<Reorg, ReorgError> {
        let head_number = self.head().header.number;
        if depth == 0 || depth > head_number {
            return Err(ReorgError::InvalidDepth {
                depth,
                head: head_number,
            });
        }
        let old_head = self.head().header.hash;
        let fork_point = head_number - depth + 1;
        let mut removed = Vec::new();
        let mut survivors = Vec::new();
        let mut dropped = Vec::new();
        let keep = self.blocks.len() - usize::try_from(depth).unwrap_or(usize::MAX);
        for block in self.blocks.split_off(keep) {
            self.by_hash.remove(&block.header.hash);
            removed.extend(block.logs.iter().map(|log| RpcLog {
                removed: true,
                ..log.clone()
            }));
            let block = Arc::try_unwrap(block).unwrap_or_else(|shared| clone_block(&shared));
            for tx in block.txs {
                self.tx_locations.remove(&tx.hash);
                if dropping.contains(&tx.hash) || rng.f64() < drop_share {
                    dropped.push(tx.hash);
                } else {
                    survivors.push(PendingTx {
                        hash: tx.hash,
                        nonce: tx.nonce,
                        content: tx.content,
                    });
                }
            }
        }
        let removed_fills = self.ledger.reorg_from(fork_point);
        let reincluded = survivors.iter().map(|tx| tx.hash).collect();
        // Survivors keep their order (a sender's nonces must), spread over the new blocks.
        let mut slots: Vec<u64> = survivors.iter().map(|_| rng.u64(..depth)).collect();
        slots.sort_unstable();
        let mut survivors = slots.into_iter().zip(survivors).peekable();
        let mut added = Vec::new();
        for slot in 0..depth {
            let mut txs = Vec::new();
            while let Some((_, tx)) = survivors.next_if(|(next, _)| *next == slot) {
                txs.push(tx);
            }
            added.push(self.append(txs, now));
        }
        let new_head = self.head().header.hash;
        Ok(Reorg {
            removed,
            added,
            report: ReorgReport {
                depth,
                old_head,
                new_head,
                removed_fills,
                reincluded,
                dropped,
            },
        })
    }

    /// Appends a block holding `txs` on top of the head and records its fills.
    fn append(&mut self, txs: Vec<PendingTx>, now: u64) -> Arc<Block> {
        let hash = self.random_hash();
        let parent = &self.head().header;
        let number = parent.number + 1;
        let timestamp = now.max(parent.timestamp + 1);
        let (parent_hash, parent_state) = (parent.hash, parent.state_root);
        let mut logs = Vec::new();
        let mut mined = Vec::with_capacity(txs.len());
        let mut bloom = Bloom::ZERO;
        for (tx_index, tx) in txs.into_iter().enumerate() {
            let start = logs.len();
            let index = tx_index as u64;
            for log in &tx.content.logs {
                bloom.accrue_raw_log(log.address, log.topics());
                logs.push(RpcLog {
                    address: log.address,
                    topics: log.topics().to_vec(),
                    data: log.data.data.clone(),
                    block_number: number,
                    block_hash: hash,
                    block_timestamp: timestamp,
                    transaction_hash: tx.hash,
                    transaction_index: index,
                    log_index: logs.len() as u64,
                    removed: false,
                });
            }
            for fill in &tx.content.fills {
                self.ledger.record(Fill {
                    tx_hash: tx.hash,
                    log_index: (start + fill.log_position) as u64,
                    block_number: number,
                    block_hash: hash,
                    side: fill.side,
                    owner: fill.owner,
                    order_hash: fill.order_hash,
                    gave: fill.gave.clone(),
                    received: fill.received.clone(),
                    canonical: true,
                });
            }
            self.tx_locations.insert(tx.hash, (number, tx_index));
            mined.push(MinedTx {
                hash: tx.hash,
                nonce: tx.nonce,
                content: tx.content,
                logs: start..logs.len(),
            });
        }
        let mut header = header(number, hash, parent_hash, timestamp, parent_state);
        if !mined.is_empty() {
            header.logs_bloom = bloom;
            header.gas_used = GAS_PER_TX * mined.len() as u64;
            let tx_hashes: Vec<u8> = mined.iter().flat_map(|tx| tx.hash.0).collect();
            header.transactions_root = keccak256(&tx_hashes);
            header.receipts_root =
                keccak256([header.transactions_root.as_slice(), hash.as_slice()].concat());
            header.state_root =
                keccak256([parent_state.as_slice(), header.transactions_root.as_slice()].concat());
        }
        self.push(Block {
            header,
            txs: mined,
            logs,
        })
    }

    /// A fresh block or transaction hash: random bytes from the seeded generator (nothing can check them
    /// against an encoding, and keccak would cost more than the rest of an empty block).
    fn random_hash(&mut self) -> B256 {
        let mut hash = B256::ZERO;
        self.rng.fill(hash.as_mut_slice());
        hash
    }

    fn push(&mut self, block: Block) -> Arc<Block> {
        let block = Arc::new(block);
        self.by_hash.insert(block.header.hash, block.header.number);
        self.blocks.push(Arc::clone(&block));
        block
    }
}

/// The header of an empty block (state unchanged); `append` fills in what transactions change.
fn header(number: u64, hash: B256, parent_hash: B256, timestamp: u64, state_root: B256) -> Header {
    Header {
        hash,
        parent_hash,
        sha3_uncles: EMPTY_UNCLES,
        miner: MINER,
        state_root,
        transactions_root: EMPTY_ROOT,
        receipts_root: EMPTY_ROOT,
        logs_bloom: Bloom::ZERO,
        difficulty: 0,
        number,
        gas_limit: GAS_LIMIT,
        gas_used: 0,
        timestamp,
        extra_data: Bytes::new(),
        // prevrandao: unpredictable enough for a simulator, and free.
        mix_hash: parent_hash,
        nonce: B64::ZERO,
        base_fee_per_gas: BASE_FEE,
    }
}

/// Copies a block still shared with a subscriber, so a reorg can take its transactions back.
fn clone_block(block: &Block) -> Block {
    Block {
        header: block.header.clone(),
        txs: block
            .txs
            .iter()
            .map(|tx| MinedTx {
                hash: tx.hash,
                nonce: tx.nonce,
                content: tx.content.clone(),
                logs: tx.logs.clone(),
            })
            .collect(),
        logs: block.logs.clone(),
    }
}
