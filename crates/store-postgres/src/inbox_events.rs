//! Inbox events (live updates): reading the feed the deferred triggers of
//! `migrations/postgres/20261123000006_events.sql` write, its purge, and wake-ups.
//!
//! The triggers take their ids at commit time under one advisory lock, so ids become
//! visible in increasing order even with many writers and many instances (see the
//! migration). Each transaction that records events `NOTIFY`s [`INBOX_EVENTS_CHANNEL`]
//! on commit; [`InboxEventStore::inbox_wakeups`] `LISTEN`s on one connection of the pool
//! (held while listening), so an instance wakes for the events of every instance.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgListener;
use sqlx::types::Json;
use switchboard_domain::{AgentId, ChannelId, ConversationId, LabelId, MessageId, NoteId};
use switchboard_store::{InboxEvent, InboxEventKind, InboxEventStore, InboxWakeups, Result, StoreError, TeamId};
use uuid::Uuid;

use crate::PgStore;
use crate::error::{DbResultExt, db_err};
use crate::rows::corrupt;

/// The channel the event triggers `NOTIFY` (empty payload) when their transaction
/// commits.
pub const INBOX_EVENTS_CHANNEL: &str = "switchboard_inbox_events";

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    kind: String,
    conversation_id: Uuid,
    channel_id: Uuid,
    team_id: Option<Uuid>,
    assignee_id: Option<Uuid>,
    message_id: Option<Uuid>,
    label_id: Option<Uuid>,
    note_id: Option<Uuid>,
    agent_id: Option<Uuid>,
    data: Json<serde_json::Value>,
    at: DateTime<Utc>,
}

impl TryFrom<EventRow> for InboxEvent {
    type Error = StoreError;
    fn try_from(r: EventRow) -> Result<Self> {
        let serde_json::Value::Object(data) = r.data.0 else {
            return Err(corrupt(format!("inbox event {} data is not an object", r.id)));
        };
        Ok(Self {
            id: r.id,
            kind: InboxEventKind::parse(&r.kind).ok_or_else(|| corrupt(format!("inbox event kind {:?}", r.kind)))?,
            conversation_id: ConversationId::from_uuid(r.conversation_id),
            channel_id: ChannelId::from_uuid(r.channel_id),
            team_id: r.team_id.map(TeamId::from_uuid),
            assignee_id: r.assignee_id.map(AgentId::from_uuid),
            message_id: r.message_id.map(MessageId::from_uuid),
            label_id: r.label_id.map(LabelId::from_uuid),
            note_id: r.note_id.map(NoteId::from_uuid),
            agent_id: r.agent_id.map(AgentId::from_uuid),
            data,
            at: r.at,
        })
    }
}

struct Listener(PgListener);

#[async_trait]
impl InboxWakeups for Listener {
    async fn wait(&mut self) -> Result<()> {
        // `Ok(None)`: the connection was lost (and is re-established, LISTEN included);
        // notifications may have been missed meanwhile, so the caller looks anyway.
        self.0.try_recv().await.map(|_| ()).map_err(db_err)
    }
}

#[async_trait]
impl InboxEventStore for PgStore {
    async fn inbox_events_after(&self, after: i64, limit: u32) -> Result<Vec<InboxEvent>> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT id, kind, conversation_id, channel_id, team_id, assignee_id, message_id, label_id, note_id, agent_id, \
                    data, at \
             FROM inbox_events WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .db()?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn last_inbox_event_id(&self) -> Result<i64> {
        let id: Option<i64> =
            sqlx::query_scalar("SELECT MAX(id) FROM inbox_events").fetch_one(self.pool()).await.db()?;
        Ok(id.unwrap_or(0))
    }

    async fn purge_inbox_events(&self, before: DateTime<Utc>, limit: u32) -> Result<u64> {
        let n = sqlx::query(
            "DELETE FROM inbox_events WHERE id IN \
               (SELECT id FROM inbox_events WHERE at < $1 ORDER BY at LIMIT $2)",
        )
        .bind(before)
        .bind(i64::from(limit))
        .execute(self.pool())
        .await
        .db()?;
        Ok(n.rows_affected())
    }

    async fn inbox_wakeups(&self) -> Result<Box<dyn InboxWakeups>> {
        let mut listener = PgListener::connect_with(self.pool()).await.db()?;
        listener.listen(INBOX_EVENTS_CHANNEL).await.db()?;
        Ok(Box::new(Listener(listener)))
    }
}
