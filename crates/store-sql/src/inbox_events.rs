//! Inbox events (live updates): reading the feed the migrations' triggers write, and its
//! purge, the same in both dialects; how readers are woken is each backend's own.

/// Expands, in a backend's `inbox_events` module, to `InboxEventStore` for `$store`,
/// with the backend's own `inbox_wakeups` after the `;`.
#[macro_export]
macro_rules! inbox_event_store {
    ($store:ty $(; $($own:tt)*)?) => {
        mod shared {
            #![allow(unused_imports)]
            use super::*;
            use chrono::{DateTime, Utc};
            use sqlx::types::Json;
            use switchboard_domain::{AgentId, ChannelId, ConversationId, LabelId, MessageId, NoteId};
            use switchboard_store::{InboxEvent, InboxEventKind, InboxEventStore, InboxWakeups, Result, StoreError, TeamId};
            use uuid::Uuid;

            use $crate::rows::corrupt;
            use $crate::{DbResultExt, Ts};

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
                at: Ts,
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
                        at: r.at.0,
                    })
                }
            }

            #[$crate::reexport::async_trait]
            impl InboxEventStore for $store {
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
                    let mut w = self.write_conn().await?;
                    let n = sqlx::query(
                        "DELETE FROM inbox_events WHERE id IN \
                           (SELECT id FROM inbox_events WHERE at < $1 ORDER BY at LIMIT $2)",
                    )
                    .bind(Ts(before))
                    .bind(i64::from(limit))
                    .execute(&mut *w)
                    .await
                    .db()?;
                    Ok(n.rows_affected())
                }

                $($($own)*)?
            }
        }
    };
}
