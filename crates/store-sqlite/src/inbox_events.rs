//! Inbox events (live updates): reading the feed the triggers of
//! `migrations/sqlite/20261123000006_events.sql` write, its purge, and wake-ups.
//!
//! One writer means ids become visible in increasing order. Wake-ups come from this
//! process: every write goes through the write connection, and handing it back bumps a
//! watch channel (see `WriteConn`), so a reader wakes right after the commit, never
//! before it. (A write from another process, such as the CLI, is seen at the reader's
//! next periodic look.)

use async_trait::async_trait;
use switchboard_store::{InboxWakeups, Result, StoreError};

/// Wakes on every hand-back of the write connection after the one last seen.
struct CommitWatch(tokio::sync::watch::Receiver<u64>);

#[async_trait]
impl InboxWakeups for CommitWatch {
    async fn wait(&mut self) -> Result<()> {
        // The sender lives as long as the store; if it is gone, so is the store.
        self.0.changed().await.map_err(|_| StoreError::Unavailable(anyhow::anyhow!("the SQLite store is closed")))
    }
}

switchboard_store_sql::inbox_event_store!(crate::SqliteStore;
    async fn inbox_wakeups(&self) -> Result<Box<dyn InboxWakeups>> {
        let mut rx = self.written.subscribe();
        rx.mark_unchanged();
        Ok(Box::new(CommitWatch(rx)))
    }
);
