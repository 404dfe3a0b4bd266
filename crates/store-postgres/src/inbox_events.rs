//! Inbox events (live updates): reading the feed the deferred triggers of
//! `migrations/postgres/20261123000006_events.sql` write, its purge, and wake-ups.
//!
//! The triggers take their ids at commit time under one advisory lock, so ids become
//! visible in increasing order even with many writers and many instances (see the
//! migration). Each transaction that records events `NOTIFY`s [`INBOX_EVENTS_CHANNEL`]
//! on commit; [`InboxEventStore::inbox_wakeups`] `LISTEN`s on one connection of the pool
//! (held while listening), so an instance wakes for the events of every instance.

use async_trait::async_trait;
use sqlx::postgres::PgListener;
use switchboard_store::{InboxWakeups, Result};

use crate::error::db_err;

/// The channel the event triggers `NOTIFY` (empty payload) when their transaction
/// commits.
pub const INBOX_EVENTS_CHANNEL: &str = "switchboard_inbox_events";

struct Listener(PgListener);

#[async_trait]
impl InboxWakeups for Listener {
    async fn wait(&mut self) -> Result<()> {
        // `Ok(None)`: the connection was lost (and is re-established, LISTEN included);
        // notifications may have been missed meanwhile, so the caller looks anyway.
        self.0.try_recv().await.map(|_| ()).map_err(db_err)
    }
}

switchboard_store_sql::inbox_event_store!(crate::PgStore;
    async fn inbox_wakeups(&self) -> Result<Box<dyn InboxWakeups>> {
        let mut listener = PgListener::connect_with(self.pool()).await.db()?;
        listener.listen(INBOX_EVENTS_CHANNEL).await.db()?;
        Ok(Box::new(Listener(listener)))
    }
);
