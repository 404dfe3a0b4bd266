//! The PostgreSQL implementation of Switchboard's store: for several stateless instances
//! sharing one database.
//!
//! # Concurrency
//!
//! - Webhook appends are one `INSERT … SELECT FROM UNNEST(…) ON CONFLICT … RETURNING`
//!   statement per batch (group commit), from any number of instances at once.
//! - The ingest worker's transaction starts with a transaction-scoped advisory lock
//!   ([`INGEST_LOCK`]): instances take turns, and events are applied one batch at a
//!   time, in arrival order. The lock is released by commit, rollback, or the
//!   connection dying, so a crashed worker never blocks the others.
//! - A status report for a wamid we have not stored yet is kept as pending. Recording
//!   the wamid (`insert_outbound`, `record_sent`) and keeping a pending report both take
//!   a per-wamid advisory lock, so a report can never be parked just after the message
//!   that would have consumed it looked for it. The recording side takes that lock
//!   before any row lock; an ingest batch may hold a conversation row when it asks for
//!   it, so a deadlock is possible (rarely: a status for the very wamid being recorded,
//!   in a batch that also wrote to that conversation). PostgreSQL breaks it by aborting
//!   one side: the recording side retries, an aborted ingest batch fails as
//!   `Unavailable` and is claimed again.
//! - Senders of any number of instances claim outbox jobs with `FOR UPDATE SKIP LOCKED`,
//!   one job in flight per conversation (see `outbox.rs`); recording a batch of outcomes
//!   takes the wamid locks of its sends first, like `record_sent`.
//! - PostgreSQL cannot store NUL characters in TEXT or JSONB: they are dropped from
//!   every value that comes from outside (see `nul.rs`).
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
mod sla;
mod status;
mod teams;
mod views;
mod webhooks;

use std::str::FromStr;
use std::time::Duration;

use anyhow::anyhow;
use async_trait::async_trait;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use switchboard_store::{Readiness, Store, StoreError};

use crate::error::{DbResultExt, db_err};
pub use crate::inbox_events::INBOX_EVENTS_CHANNEL;

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/postgres");

/// The key of the transaction-scoped advisory lock every ingest transaction takes first
/// (ASCII "SWBDINGS"). Single-key (bigint) advisory locks do not collide with the
/// two-key ones used per wamid.
pub const INGEST_LOCK: i64 = 0x5357_4244_494E_4753;

/// The first key of the per-wamid advisory locks (two int4 keys: this, then a hash of
/// channel and wamid).
const WAMID_LOCK_CLASS: i32 = 0x5357_4D49; // "SWMI"

/// The channel `NOTIFY`ed (empty payload) when an outbox job becomes ready: enqueued or
/// requeued. Delivered on commit; a sender `LISTEN`s to it to wake up at once.
pub const OUTBOX_CHANNEL: &str = "switchboard_outbox";

/// The oldest server this schema and these statements are tested on.
const MIN_SERVER_VERSION: i32 = 15_00_00;

/// How to reach PostgreSQL.
#[derive(Clone)]
pub struct PgOptions {
    /// `postgres://user:password@host:port/database?sslmode=…`. May hold a password:
    /// `Debug` hides it.
    pub url: String,
    pub max_connections: u32,
    /// How long a caller waits for a pool connection before failing with
    /// `StoreError::Unavailable`.
    pub acquire_timeout: Duration,
}

impl PgOptions {
    /// The defaults: 10 connections, a 5 s acquire timeout.
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), max_connections: 10, acquire_timeout: Duration::from_secs(5) }
    }
}

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOptions")
            .field("url", &"[REDACTED]")
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .finish()
    }
}

/// The PostgreSQL store. Cheap to clone (a pool).
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects and checks the server version (15 or later). Does not migrate; call
    /// [`Store::migrate`].
    pub async fn connect(opts: &PgOptions) -> Result<Self, StoreError> {
        let connect = PgConnectOptions::from_str(&opts.url)
            .map_err(|e| StoreError::Other(anyhow!(e).context("invalid PostgreSQL database URL")))?
            .application_name("switchboard");
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .acquire_timeout(opts.acquire_timeout)
            .connect_with(connect)
            .await
            .db()?;
        let version: String = sqlx::query_scalar("SHOW server_version_num").fetch_one(&pool).await.db()?;
        let version: i32 = version.trim().parse().unwrap_or(0);
        if version < MIN_SERVER_VERSION {
            pool.close().await;
            return Err(StoreError::Other(anyhow!(
                "PostgreSQL {version} is too old: Switchboard needs {MIN_SERVER_VERSION} or later"
            )));
        }
        Ok(Self { pool })
    }

    pub(crate) const fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A pool connection for a single statement that writes (the shared statements of
    /// `switchboard_store_sql` ask for one; SQLite's goes through its write gate).
    pub(crate) async fn write_conn(&self) -> Result<PoolConnection<Postgres>, StoreError> {
        self.pool.acquire().await.db()
    }

    /// A transaction on a pool connection (rolled back if dropped without `commit`).
    pub(crate) async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        Ok(WriteTx(self.pool.begin().await.db()?))
    }
}

/// A write transaction, with the same methods as SQLite's, for the shared statements.
pub(crate) struct WriteTx(Transaction<'static, Postgres>);

impl WriteTx {
    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        &mut self.0
    }

    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        self.0.commit().await.db()
    }
}

fn migrate_err(e: MigrateError) -> StoreError {
    match e {
        MigrateError::Execute(e) => db_err(e),
        other => StoreError::Other(anyhow!(other).context("migrating the PostgreSQL database")),
    }
}

#[async_trait]
impl Store for PgStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        // The migrator takes its own advisory lock: instances starting together are safe.
        MIGRATOR.run(&self.pool).await.map_err(migrate_err)
    }

    async fn readiness(&self) -> Result<Readiness, StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.db()?;
        let has_table: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&self.pool)
            .await
            .db()?;
        let applied: Vec<i64> = if has_table {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success").fetch_all(&self.pool).await.db()?
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
        "postgres"
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
