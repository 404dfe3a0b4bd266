//! The SQLite implementation of Switchboard's store: the default backend, good enough for
//! a real single-node deployment.
//!
//! # Durability and concurrency
//!
//! The database runs in WAL mode. SQLite has one writer at a time, and when two
//! connections contend for it, SQLite's busy handler sleeps in coarse steps (whole
//! milliseconds, growing), which would wreck webhook latency. So every write transaction
//! of this process first takes one fair (FIFO) in-process *write gate*, then opens
//! `BEGIN IMMEDIATE`, and holds the gate until it commits or rolls back: writers queue in
//! memory instead of inside SQLite. Reads go straight to the pool; WAL readers never
//! block and are never blocked by the writer.
//!
//! Group commit happens one level up: the caller batches concurrent webhook deliveries
//! into one [`EventLog::append_events`] call, which is one transaction.
//!
//! How much a commit survives is [`Synchronous`].
#![forbid(unsafe_code)]

mod agents;
mod error;
mod events;
mod ingest;
mod rows;
mod status;
mod views;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use async_trait::async_trait;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use switchboard_store::{Readiness, Store, StoreError};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::{DbResultExt, db_err};

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");

/// How hard SQLite works to make a commit durable (`PRAGMA synchronous`, in WAL mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// A committed transaction survives a crash or `kill -9` of the process: it is in
    /// the WAL file, handed to the operating system. A power loss or kernel crash can
    /// lose the last transactions (never corrupts the database). Much faster: commits do
    /// not wait for fsync.
    #[default]
    Normal,
    /// A committed transaction also survives power loss: the WAL is fsynced at every
    /// commit.
    Full,
}

/// How to open the SQLite database.
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    /// `sqlite://path/to/file.db` (created if missing) or `sqlite::memory:`.
    pub url: String,
    /// Pool size. One connection writes at a time; the others serve reads.
    pub max_connections: u32,
    pub synchronous: Synchronous,
    /// How long a caller waits for the database (a pool connection, the write gate,
    /// SQLite's own lock) before failing with `StoreError::Unavailable`.
    pub busy_timeout: Duration,
}

impl SqliteOptions {
    /// The defaults: 8 connections, `Synchronous::Normal`, a 5 s busy timeout.
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 8,
            synchronous: Synchronous::Normal,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// The SQLite store. Cheap to clone (a pool and the write gate).
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    gate: Arc<Mutex<()>>,
    busy_timeout: Duration,
}

/// A write transaction holding the write gate. Dropping it rolls back, then releases
/// the gate (fields drop in order).
pub(crate) struct WriteTx {
    pub(crate) tx: Transaction<'static, Sqlite>,
    _gate: OwnedMutexGuard<()>,
}

impl WriteTx {
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        let Self { tx, _gate } = self;
        tx.commit().await.db()
    }

    pub(crate) async fn rollback(self) -> Result<(), StoreError> {
        let Self { tx, _gate } = self;
        tx.rollback().await.db()
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the database: WAL, foreign keys on, the configured
    /// synchronous level and busy timeout. Does not migrate; call [`Store::migrate`].
    pub async fn connect(opts: &SqliteOptions) -> Result<Self, StoreError> {
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
            // The event log inserts come in a few fixed shapes (see events.rs), and the
            // ingest statements are a dozen: keep them all prepared.
            .statement_cache_capacity(256);
        let pool = SqlitePoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .acquire_timeout(opts.busy_timeout)
            .connect_with(connect)
            .await
            .db()?;
        Ok(Self { pool, gate: Arc::new(Mutex::new(())), busy_timeout: opts.busy_timeout })
    }

    /// Takes the write gate (waiting at most the busy timeout).
    pub(crate) async fn gate(&self) -> Result<OwnedMutexGuard<()>, StoreError> {
        tokio::time::timeout(self.busy_timeout, Arc::clone(&self.gate).lock_owned())
            .await
            .map_err(|_| StoreError::Unavailable(anyhow!("timed out waiting for the SQLite write gate")))
    }

    /// Takes the write gate, then opens `BEGIN IMMEDIATE` (the write lock up front, so a
    /// read-then-write transaction never fails to upgrade).
    pub(crate) async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        let gate = self.gate().await?;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await.db()?;
        Ok(WriteTx { tx, _gate: gate })
    }

    pub(crate) const fn pool(&self) -> &SqlitePool {
        &self.pool
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
        let _gate = self.gate().await?;
        MIGRATOR.run(&self.pool).await.map_err(migrate_err)
    }

    async fn readiness(&self) -> Result<Readiness, StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.db()?;
        let has_table: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
        )
        .fetch_one(&self.pool)
        .await
        .db()?;
        let applied: Vec<i64> = if has_table {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await
                .db()?
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
        self.pool.close().await;
    }
}
