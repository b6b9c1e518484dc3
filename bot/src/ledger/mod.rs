//! The SQLite ledger: the only module that writes the database. Every change that belongs
//! together (an event, its trades, their position updates, the checkpoint) commits in one
//! transaction, so a crash leaves either all of it or none. `tools` are the operator's (`schwad db`).

mod hedges;
mod history;
mod read;
mod tokens;
pub mod tools;
mod write;

use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::B256;
use sqlx::Transaction;
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool,
    SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::{Mutex, OwnedMutexGuard};

pub use hedges::{Decided, Decision, Execution};
pub use history::{ExecutionRow, HedgeLatency, PositionChange};
pub use read::{StoredEvent, TradeRow};
pub use tokens::{Sealed, StoredTokens};
pub use write::{Applied, Batch, Removal};

use crate::trade::{EventKind, Fill, LogKey, SkipReason, Trade};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// SQLite's `cache_size` per connection: negative, in KiB.
const CACHE_KIB: &str = "-512";

/// How long a writer waits for another connection's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A failed ledger operation.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database URL is malformed.
    #[error("invalid DATABASE_URL: {0}")]
    Url(#[source] sqlx::Error),
    /// Opening the database failed (its directory must exist and be writable, for the WAL).
    #[error("opening the database {url}: {source}")]
    Open {
        /// The database URL (SQLite URLs hold no credentials).
        url: String,
        source: sqlx::Error,
    },
    /// Running the embedded migrations failed.
    #[error("migrating the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("{action}: {source}")]
    Query {
        /// What the ledger was doing.
        action: &'static str,
        source: sqlx::Error,
    },
    /// A stored value does not parse.
    #[error("corrupt {column} value {value:?} in the database")]
    Corrupt {
        /// As `table.column`.
        column: &'static str,
        /// The stored text.
        value: String,
    },
}

/// Adds what the ledger was doing to a database error.
trait Context<T> {
    fn context(self, action: &'static str) -> Result<T, LedgerError>;
}

impl<T> Context<T> for Result<T, sqlx::Error> {
    fn context(self, action: &'static str) -> Result<T, LedgerError> {
        self.map_err(|source| LedgerError::Query { action, source })
    }
}

/// A fill of ours ready to store: decoded, with its token symbols and its classification.
#[derive(Debug, Clone)]
pub struct FillRecord {
    /// The fill as decoded.
    pub fill: Fill,
    /// Symbol of the token the order gave.
    pub gave_symbol: String,
    /// Symbol of the token the order received.
    pub received_symbol: String,
    /// The trade it counts as, or why it does not count.
    pub outcome: Result<Trade, SkipReason>,
}

/// An orderbook event carrying fills of ours, ready to store.
#[derive(Debug, Clone)]
pub struct EventRecord {
    /// The log's identity.
    pub key: LogKey,
    /// Block holding the log.
    pub block_number: u64,
    pub block_hash: B256,
    pub kind: EventKind,
    /// Our fills in it.
    pub fills: Vec<FillRecord>,
}

/// The bot's database.
#[derive(Debug, Clone)]
pub struct Ledger {
    pool: SqlitePool,
    /// This process's writers (ingestion, hedging) take turns here, in order, rather than in
    /// SQLite's busy handler, which sleeps up to 100 ms between tries for the write lock.
    writer: Arc<Mutex<()>>,
}

/// A write transaction holding the process's write turn until it ends.
struct WriteTx {
    tx: Transaction<'static, Sqlite>,
    _turn: OwnedMutexGuard<()>,
}

impl WriteTx {
    async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl Deref for WriteTx {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}

impl Ledger {
    /// Opens (creating if missing) the database at `url` and runs the embedded migrations.
    /// Uses WAL with full synchronous commits, so a committed transaction survives a crash.
    pub async fn open(url: &str) -> Result<Self, LedgerError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(LedgerError::Url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            // Page cache per pooled connection (SQLite's default is 2 MiB): the hot pages are the
            // tails of the append-only indexes; the rest is read from the OS page cache.
            .pragma("cache_size", CACHE_KIB);
        let pool = SqlitePoolOptions::new()
            .max_connections(3) // writers (ingestion, hedging) and a reader (health)
            .connect_with(options)
            .await
            .map_err(|source| LedgerError::Open {
                url: url.to_owned(),
                source,
            })?;
        MIGRATOR.run(&pool).await?;
        Ok(Self {
            pool,
            writer: Arc::new(Mutex::new(())),
        })
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> Result<(), LedgerError> {
        sqlx::query_scalar!("SELECT 1")
            .fetch_one(&self.pool)
            .await
            .context("pinging the database")?;
        Ok(())
    }

    /// Begins a write transaction holding the write lock from its start (`BEGIN IMMEDIATE`), so
    /// a read-then-write never fails on a snapshot another writer changed meanwhile.
    async fn write_tx(&self) -> Result<WriteTx, LedgerError> {
        let turn = self.write_turn().await;
        let tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .context("beginning a write transaction")?;
        Ok(WriteTx { tx, _turn: turn })
    }

    /// Waits for this process's turn to write (held by a single-statement write).
    async fn write_turn(&self) -> OwnedMutexGuard<()> {
        Arc::clone(&self.writer).lock_owned().await
    }

    /// Closes every connection, waiting for running queries.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Lowercase `0x`-prefixed hex, as stored.
fn hex<T: std::fmt::LowerHex>(value: T) -> String {
    format!("{value:#x}")
}
