//! The search indexes, filled in bulk (migration `search_in_bulk`): what was stored since
//! the last pass is indexed a chunk per transaction, outside the transactions that store
//! messages and contacts. Every row at or below a table's mark (`search_progress`) is in
//! its index, none above it; the triggers keep that true for rows deleted, changed or
//! stored below the mark.

use std::time::{Duration, Instant};

use sqlx::SqliteConnection;
use switchboard_store::Result;

use crate::SqliteStore;
use crate::error::DbResultExt;

/// How often the ingest worker's polls index what is pending (a search indexes first in
/// any case): often enough to keep each pass short, rarely enough that the index gets a
/// few segments a second instead of one per ingest commit.
pub(crate) const EVERY: Duration = Duration::from_millis(250);

/// Most rows indexed in one transaction, so a pass never holds the write gate for long.
const CHUNK: i64 = 1_000;

/// A table and its index: the mark's name, the next chunk's bounds, and the insert.
struct Indexed {
    bounds: &'static str,
    insert: &'static str,
    name: &'static str,
}

const TABLES: [Indexed; 2] = [
    Indexed {
        name: "messages",
        bounds: "SELECT p.indexed_to, (SELECT MAX(rowid) FROM (SELECT rowid FROM messages \
                   WHERE rowid > p.indexed_to ORDER BY rowid LIMIT ?1)) \
                 FROM search_progress p WHERE p.name = 'messages'",
        insert: "INSERT INTO messages_fts (rowid, text) SELECT rowid, text FROM messages \
                 WHERE rowid > ?1 AND rowid <= ?2 AND text IS NOT NULL AND auto_rule IS NULL ORDER BY rowid",
    },
    Indexed {
        name: "contacts",
        bounds: "SELECT p.indexed_to, (SELECT MAX(rowid) FROM (SELECT rowid FROM contacts \
                   WHERE rowid > p.indexed_to ORDER BY rowid LIMIT ?1)) \
                 FROM search_progress p WHERE p.name = 'contacts'",
        insert: "INSERT INTO contacts_fts (rowid, wa_id, profile_name, name) \
                 SELECT rowid, wa_id, profile_name, name FROM contacts \
                 WHERE rowid > ?1 AND rowid <= ?2 ORDER BY rowid",
    },
];

/// Whether anything stored is not indexed yet (on a reader: no write gate).
const PENDING: &str = "SELECT EXISTS (SELECT 1 FROM messages WHERE rowid > \
       (SELECT indexed_to FROM search_progress WHERE name = 'messages')) \
     OR EXISTS (SELECT 1 FROM contacts WHERE rowid > \
       (SELECT indexed_to FROM search_progress WHERE name = 'contacts'))";

/// Indexes the next chunk of `t` in `conn`'s transaction; false once nothing is pending.
async fn index_chunk(conn: &mut SqliteConnection, t: &Indexed) -> Result<bool> {
    let (from, to): (i64, Option<i64>) = sqlx::query_as(t.bounds).bind(CHUNK).fetch_one(&mut *conn).await.db()?;
    let Some(to) = to else { return Ok(false) };
    sqlx::query(t.insert).bind(from).bind(to).execute(&mut *conn).await.db()?;
    sqlx::query("UPDATE search_progress SET indexed_to = ?2 WHERE name = ?1")
        .bind(t.name)
        .bind(to)
        .execute(&mut *conn)
        .await
        .db()?;
    Ok(true)
}

impl SqliteStore {
    /// Indexes everything stored so far, a chunk per write transaction.
    pub(crate) async fn index_search(&self) -> Result<()> {
        *self.search_indexed.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
        let pending: bool = sqlx::query_scalar(PENDING).fetch_one(self.pool()).await.db()?;
        if !pending {
            return Ok(());
        }
        for t in &TABLES {
            loop {
                let mut w = self.begin_write().await?;
                if !index_chunk(w.conn(), t).await? {
                    break; // nothing written: dropping `w` rolls back
                }
                w.commit().await?;
            }
        }
        Ok(())
    }

    /// [`Self::index_search`] if the last pass was [`EVERY`] ago or more.
    pub(crate) async fn index_search_if_due(&self) -> Result<()> {
        let due = self.search_indexed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).elapsed() >= EVERY;
        if due { self.index_search().await } else { Ok(()) }
    }
}
