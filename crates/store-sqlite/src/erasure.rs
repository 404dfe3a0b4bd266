//! Erasure and retention (`switchboard_store_sql::erasure`); here, what SQLite needs so
//! that erased data leaves the database file: the writer runs with `secure_delete` on
//! (freed space and pages are overwritten with zeros, see `lib.rs`), and after an erasure
//! the search indexes are merged (FTS5 keeps a deleted document's entries in older
//! segments until a merge) and the write-ahead log is checkpointed and truncated.

use std::time::Duration;

use switchboard_store::Result;

use crate::SqliteStore;
use crate::error::DbResultExt;

switchboard_store_sql::erasure_store!(crate::SqliteStore, sqlx::SqliteConnection, sqlx::Sqlite);

/// The content of a message without its media id.
const REMOVE_MEDIA_REF: &str = "json_remove(content, '$.id')";

impl SqliteStore {
    async fn compact(&self) -> Result<()> {
        let mut w = self.begin_write().await?;
        for t in ["messages_fts", "contacts_fts"] {
            sqlx::query(&format!("INSERT INTO {t} ({t}) VALUES ('optimize')")).execute(w.conn()).await.db()?;
        }
        w.commit().await?;
        // A reader in the middle of a query keeps the log's frames: try again briefly,
        // letting writers through in between.
        for _ in 0..40 {
            let mut conn = self.write_conn().await?;
            let (busy, _, _): (i64, i64, i64) =
                sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&mut *conn).await.db()?;
            drop(conn);
            if busy == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        tracing::warn!(
            "the write-ahead log could not be truncated after an erasure; its old frames go at the next checkpoint"
        );
        Ok(())
    }
}
