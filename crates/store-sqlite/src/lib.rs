//! The SQLite implementation of Switchboard's store: the default backend, good enough for
//! a real single-node deployment.
//!
//! # Durability and concurrency
//!
//! The database runs in WAL mode. SQLite has one writer at a time, and when two
//! connections contend for it, SQLite's busy handler sleeps in coarse steps (whole
//! milliseconds, growing), which would wreck webhook latency. So all writes of this
//! process go through ONE dedicated write connection behind a fair (FIFO) in-process
//! *write gate* (a `tokio::sync::Mutex` around the connection): a writer takes the gate,
//! opens `BEGIN IMMEDIATE`, and holds the gate until it commits or rolls back. Writers
//! queue in memory instead of inside SQLite, and the one write connection keeps its page
//! cache warm (a connection's cache is dropped whenever another connection wrote, so
//! rotating writes over a pool would read the hot index pages again and again). Reads go
//! to a separate pool; WAL readers never block and are never blocked by the writer.
//!
//! Group commit happens one level up: the caller batches concurrent webhook deliveries
//! into one [`EventLog::append_events`] call, which is one transaction.
//!
//! The outbox claim scans for candidates on a reader and takes the gate only for the one
//! `UPDATE … RETURNING` that leases them, so a backlog of waiting jobs never holds up
//! webhook appends (see `outbox.rs`).
//!
//! How much a commit survives is [`Synchronous`].
#![forbid(unsafe_code)]

mod agents;
mod assignment;
mod audit;
mod auth;
mod autoreply;
mod channels;
mod consent;
mod contacts;
mod csat;
mod erasure;
mod error;
mod events;
mod inbox_events;
mod ingest;
mod kpis;
mod labels;
mod links;
mod notes;
mod nul;
mod outbox;
mod queue;
mod reports;
mod rows;
mod search;
mod sla;
mod teams;
mod views;
mod webhooks;

use std::borrow::Cow;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use async_trait::async_trait;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    SqliteTransactionManager,
};
use sqlx::{ConnectOptions, Connection, TransactionManager};
use switchboard_store::{Readiness, Store, StoreError};
use tokio::sync::{Mutex, OwnedMappedMutexGuard, OwnedMutexGuard};

use crate::error::{DbResultExt, db_err};

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");

/// How hard SQLite works to make a commit durable (`PRAGMA synchronous`, in WAL mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// A committed transaction survives a crash or `kill -9` of the process: it is in
    /// the WAL file, handed to the operating system. A power loss or kernel crash can
    /// lose the last transactions (never corrupts the database). Faster: commits do not
    /// wait for fsync.
    Normal,
    /// A committed transaction also survives power loss and a kernel crash: the WAL is
    /// fsynced at every commit (group commit shares one fsync across a batch).
    #[default]
    Full,
}

/// How to open the SQLite database.
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    /// `sqlite://path/to/file.db` (created if missing). In-memory databases are refused:
    /// the write connection and the readers would each see a database of their own.
    pub url: String,
    /// Connections in all: one is the write connection, the others (at least one)
    /// serve reads.
    pub max_connections: u32,
    pub synchronous: Synchronous,
    /// How long a caller waits for the database (a pool connection, the write gate,
    /// SQLite's own lock) before failing with `StoreError::Unavailable`.
    pub busy_timeout: Duration,
}

impl SqliteOptions {
    /// The defaults: 8 connections, `Synchronous::Full`, a 5 s busy timeout.
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 8,
            synchronous: Synchronous::Full,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// The SQLite store. Cheap to clone (a pool and the gated write connection).
#[derive(Clone, Debug)]
pub struct SqliteStore {
    /// Readers.
    read: SqlitePool,
    /// The write gate, around the one write connection (`None` once closed).
    writer: Arc<Mutex<Option<SqliteConnection>>>,
    busy_timeout: Duration,
    /// Copies committed WAL frames into the database file in the background.
    checkpointer: Arc<Checkpointer>,
    /// Bumped each time the write connection is handed back (after a commit, a
    /// rollback or a single statement): wakes the live-updates reader (`inbox_events.rs`).
    written: Arc<tokio::sync::watch::Sender<u64>>,
    /// When the search indexes were last brought up to date (`search.rs`).
    search_indexed: Arc<std::sync::Mutex<std::time::Instant>>,
}

/// The background checkpoint task; stops when the last handle to the store goes.
#[derive(Debug)]
struct Checkpointer(tokio::task::JoinHandle<()>);

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The write connection, held through the gate, outside a transaction (one statement is
/// its own transaction).
/// Handing it back signals `written` (the statement or transaction is over by then).
pub(crate) struct WriteConn {
    conn: OwnedMappedMutexGuard<Option<SqliteConnection>, SqliteConnection>,
    written: Arc<tokio::sync::watch::Sender<u64>>,
}

impl std::ops::Deref for WriteConn {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for WriteConn {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}

impl Drop for WriteConn {
    fn drop(&mut self) {
        self.written.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// A write transaction on the write connection, holding the gate. Dropping it without
/// `commit` rolls back: the ROLLBACK is queued on the connection before the gate is
/// released, so it runs ahead of anything the next writer sends.
pub(crate) struct WriteTx {
    conn: WriteConn,
    open: bool,
}

impl WriteTx {
    pub(crate) fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }

    pub(crate) async fn commit(mut self) -> Result<(), StoreError> {
        SqliteTransactionManager::commit(&mut self.conn).await.db()?;
        self.open = false;
        Ok(())
    }

    pub(crate) async fn rollback(mut self) -> Result<(), StoreError> {
        SqliteTransactionManager::rollback(&mut self.conn).await.db()?;
        self.open = false;
        Ok(())
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if self.open {
            SqliteTransactionManager::start_rollback(&mut self.conn);
        }
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the database: WAL, foreign keys on, the configured
    /// synchronous level and busy timeout. Does not migrate; call [`Store::migrate`].
    pub async fn connect(opts: &SqliteOptions) -> Result<Self, StoreError> {
        if opts.url.contains(":memory:") || opts.url.contains("mode=memory") {
            return Err(StoreError::Other(anyhow!(
                "in-memory SQLite databases are not supported; use a file (sqlite://path/to/file.db)"
            )));
        }
        let connect = SqliteConnectOptions::from_str(&opts.url)
            .map_err(|e| StoreError::Other(anyhow!(e).context("invalid SQLite database URL")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match opts.synchronous {
                Synchronous::Normal => SqliteSynchronous::Normal,
                Synchronous::Full => SqliteSynchronous::Full,
            })
            .busy_timeout(opts.busy_timeout)
            .foreign_keys(true)
            // The event log inserts come in 63 shapes (events.rs), each set-wise statement
            // in up to 31 (rows.rs `Values`), the rest are a few dozen: keep them all
            // prepared.
            .statement_cache_capacity(512)
            // Let a RETURNING of a whole batch stream back without stalling the
            // connection's thread.
            .row_buffer_size(1024);
        let writer = connect
            .clone()
            .pragma("cache_size", "-16000")
            // Statement journals (every statement that can fail halfway inside a larger
            // transaction: upserts, inserts that fire triggers) stay in memory instead of
            // spilling to a temporary file with a write system call per page.
            .pragma("temp_store", "memory")
            // Deleted and overwritten content is zeroed in the file (freed cells and
            // pages), so erased and purged personal data does not linger in free space
            // (`erasure.rs`). It costs writes of freed pages, not of live ones.
            .pragma("secure_delete", "on")
            // The writer checkpoints only every 50,000 pages (200 MB of WAL) instead of
            // SQLite's 1,000: a checkpoint runs inside the commit that crosses the
            // threshold and fsyncs the database, and the event log's hash index touches a
            // random page per row, so frequent checkpoints write the same pages back again
            // and again. A background task does the copying meanwhile (see
            // `checkpoint_in_background`). Measured: docs/BENCHMARKS.md.
            .pragma("wal_autocheckpoint", "50000")
            .connect()
            .await
            .db()?;
        // A connection is in-process: checking it before each use would only add a
        // round trip to its thread.
        let read = SqlitePoolOptions::new()
            .max_connections(opts.max_connections.saturating_sub(1).max(1))
            .test_before_acquire(false)
            .acquire_timeout(opts.busy_timeout)
            .connect_with(connect)
            .await
            .db()?;
        let checkpointer = Arc::new(Checkpointer(tokio::spawn(checkpoint_in_background(read.clone()))));
        Ok(Self {
            read,
            writer: Arc::new(Mutex::new(Some(writer))),
            busy_timeout: opts.busy_timeout,
            checkpointer,
            written: Arc::new(tokio::sync::watch::Sender::new(0)),
            search_indexed: Arc::new(std::sync::Mutex::new(std::time::Instant::now())),
        })
    }

    /// Takes the write gate and with it the write connection (waiting at most the busy
    /// timeout), for a single statement.
    pub(crate) async fn write_conn(&self) -> Result<WriteConn, StoreError> {
        let gate = self.gate().await?;
        let conn = OwnedMutexGuard::try_map(gate, Option::as_mut)
            .map_err(|_| StoreError::Unavailable(anyhow!("the SQLite store is closed")))?;
        Ok(WriteConn { conn, written: Arc::clone(&self.written) })
    }

    async fn gate(&self) -> Result<OwnedMutexGuard<Option<SqliteConnection>>, StoreError> {
        tokio::time::timeout(self.busy_timeout, Arc::clone(&self.writer).lock_owned())
            .await
            .map_err(|_| StoreError::Unavailable(anyhow!("timed out waiting for the SQLite write gate")))
    }

    /// Takes the write gate, then opens `BEGIN IMMEDIATE` on the write connection (the
    /// write lock up front, so a read-then-write transaction never fails to upgrade).
    pub(crate) async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        let mut conn = self.write_conn().await?;
        SqliteTransactionManager::begin(&mut conn, Some(Cow::Borrowed("BEGIN IMMEDIATE"))).await.db()?;
        Ok(WriteTx { conn, open: true })
    }

    /// The read pool.
    pub(crate) const fn pool(&self) -> &SqlitePool {
        &self.read
    }
}

/// Every 50 ms, a PASSIVE checkpoint from a reader connection: it copies committed WAL
/// frames into the database file and fsyncs it without blocking the writer. The
/// writer's own automatic checkpoint (at 50,000 pages) then finds almost everything
/// copied already, so the commit that triggers it stalls briefly instead of for the
/// whole copy and fsync; it also resets the WAL, which bounds its size. Small and often
/// beats large and rare for acknowledgement latency: at 2,000 webhooks/s with ingest
/// running, p99 ~10 ms at 50 ms, ~20 ms at 200 ms, ~250 ms at 1 s; throughput at
/// saturation is ~5 % lower than at 200 ms (hot pages are copied more often).
async fn checkpoint_in_background(pool: SqlitePool) {
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            tracing::debug!(error = %e, "background checkpoint");
        }
    }
}

fn migrate_err(e: MigrateError) -> StoreError {
    match e {
        MigrateError::Execute(e) => db_err(e),
        other => StoreError::Other(anyhow!(other).context("migrating the SQLite database")),
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        // Under the gate, so no write of ours runs meanwhile. (Through a pool connection:
        // the migrator's public API takes an `Acquire`.)
        let _gate = self.write_conn().await?;
        MIGRATOR.run(&self.read).await.map_err(migrate_err)
    }

    async fn readiness(&self) -> Result<Readiness, StoreError> {
        sqlx::query("SELECT 1").execute(&self.read).await.db()?;
        // The write connection too: it is not a pool's, so nothing else would notice it
        // broken. If a writer holds it right now, it evidently works: don't queue.
        if let Ok(mut writer) = self.writer.try_lock() {
            let conn = writer.as_mut().ok_or_else(|| StoreError::Unavailable(anyhow!("the SQLite store is closed")))?;
            sqlx::query("SELECT 1").execute(conn).await.db()?;
        }
        let has_table: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
        )
        .fetch_one(&self.read)
        .await
        .db()?;
        let applied: Vec<i64> = if has_table {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success").fetch_all(&self.read).await.db()?
        } else {
            Vec::new()
        };
        let pending_migrations = MIGRATOR
            .iter()
            .filter(|m| !m.migration_type.is_down_migration() && !applied.contains(&m.version))
            .map(|m| m.version)
            .collect();
        Ok(Readiness { pending_migrations })
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn close(&self) {
        self.checkpointer.0.abort();
        // After the writes in flight (the gate is fair), close the writer: the last
        // connection to close checkpoints the WAL into the database file.
        let writer = self.writer.lock().await.take();
        self.read.close().await;
        if let Some(conn) = writer
            && let Err(e) = conn.close().await
        {
            tracing::warn!(error = %e, "closing the SQLite write connection");
        }
    }
}
