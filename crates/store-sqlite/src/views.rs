//! Conversations and messages as the inbox shows them; outbound messages.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;
use switchboard_domain::{ConversationId, DeliveryState, Direction, MessageId, Wamid};
use switchboard_store::{
    ConversationCursor, ConversationQuery, ConversationStore, ConversationView, MessageCursor, MessageQuery,
    MessageStore, MessageView, NewOutboundMessage, Page, Result, StoreError, page_size,
};
use uuid::Uuid;

use crate::SqliteStore;
use crate::error::DbResultExt;
use crate::ingest::{take_pending_statuses, update_delivery};
use crate::nul::{json, opt_text, text};
use crate::rows::{ConversationRow, DeliveryRow, MessageRow, ms};
use switchboard_domain::Delivery;

macro_rules! conversation_select {
    () => {
        "SELECT c.id, c.channel_id, ch.phone_number_id, c.contact_id, ct.wa_id, ct.profile_name, \
           ct.user_id, ct.username, c.status, c.assignee_id, c.window_closes_at, c.last_inbound_at, \
           c.last_message_at, c.created_at, c.resolved_at, c.message_count \
         FROM conversations c \
         JOIN contacts ct ON ct.id = c.contact_id \
         JOIN channels ch ON ch.id = c.channel_id "
    };
}

macro_rules! message_select {
    () => {
        "SELECT id, conversation_id, direction, wamid, content, text, context, referral, errors, state, \
           timestamp, created_at, sent_at, delivered_at, read_at, failed_at, error_code, error_title, \
           error_details, sent_by, auto_rule \
         FROM messages "
    };
}

/// Page sizes are 1..=500.

#[async_trait]
impl ConversationStore for SqliteStore {
    async fn list_conversations(&self, q: &ConversationQuery) -> Result<Page<ConversationView, ConversationCursor>> {
        let limit = page_size(q.limit);
        // ?1 status, ?2/?3 cursor, ?4 limit; four fixed statements so each uses its index.
        let sql = match (q.status.is_some(), q.after.is_some()) {
            (false, false) => concat!(
                conversation_select!(),
                "WHERE ?1 IS NULL AND ?2 IS NULL AND ?3 IS NULL ORDER BY c.last_message_at DESC, c.id DESC LIMIT ?4"
            ),
            (true, false) => concat!(
                conversation_select!(),
                "WHERE c.status = ?1 AND ?2 IS NULL AND ?3 IS NULL ORDER BY c.last_message_at DESC, c.id DESC LIMIT ?4"
            ),
            (false, true) => concat!(
                conversation_select!(),
                "WHERE ?1 IS NULL AND (c.last_message_at < ?2 OR (c.last_message_at = ?2 AND c.id < ?3)) ORDER BY c.last_message_at DESC, c.id DESC LIMIT ?4"
            ),
            (true, true) => concat!(
                conversation_select!(),
                "WHERE c.status = ?1 AND (c.last_message_at < ?2 OR (c.last_message_at = ?2 AND c.id < ?3)) ORDER BY c.last_message_at DESC, c.id DESC LIMIT ?4"
            ),
        };
        let rows: Vec<ConversationRow> = sqlx::query_as(sql)
            .bind(q.status.map(|s| s.as_str()))
            .bind(q.after.map(|a| ms(a.last_message_at)))
            .bind(q.after.map(|a| *a.id.as_uuid()))
            .bind(i64::from(limit) + 1)
            .fetch_all(self.pool())
            .await
            .db()?;
        let items = rows.into_iter().map(TryInto::try_into).collect::<Result<Vec<ConversationView>>>()?;
        Ok(Page::from_fetch(items, limit, |c| ConversationCursor { last_message_at: c.last_message_at, id: c.id }))
    }

    async fn conversation(&self, id: ConversationId) -> Result<Option<ConversationView>> {
        let row: Option<ConversationRow> = sqlx::query_as(concat!(conversation_select!(), "WHERE c.id = ?1"))
            .bind(id.as_uuid())
            .fetch_optional(self.pool())
            .await
            .db()?;
        row.map(TryInto::try_into).transpose()
    }
}

#[async_trait]
impl MessageStore for SqliteStore {
    async fn list_messages(
        &self,
        conversation: ConversationId,
        q: &MessageQuery,
    ) -> Result<Page<MessageView, MessageCursor>> {
        let limit = page_size(q.limit);
        let sql = if q.after.is_some() {
            concat!(message_select!(), "WHERE conversation_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3")
        } else {
            concat!(message_select!(), "WHERE conversation_id = ?1 AND ?2 IS NULL ORDER BY id LIMIT ?3")
        };
        let rows: Vec<MessageRow> = sqlx::query_as(sql)
            .bind(conversation.as_uuid())
            .bind(q.after.map(|a| *a.id.as_uuid()))
            .bind(i64::from(limit) + 1)
            .fetch_all(self.pool())
            .await
            .db()?;
        if rows.is_empty() {
            // An empty page of a conversation, or no conversation at all?
            let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM conversations WHERE id = ?1)")
                .bind(conversation.as_uuid())
                .fetch_one(self.pool())
                .await
                .db()?;
            if !exists {
                return Err(StoreError::NotFound);
            }
        }
        let items = rows.into_iter().map(TryInto::try_into).collect::<Result<Vec<MessageView>>>()?;
        Ok(Page::from_fetch(items, limit, |m| MessageCursor { id: m.id }))
    }

    async fn message(&self, id: MessageId) -> Result<Option<MessageView>> {
        let row: Option<MessageRow> = sqlx::query_as(concat!(message_select!(), "WHERE id = ?1"))
            .bind(id.as_uuid())
            .fetch_optional(self.pool())
            .await
            .db()?;
        row.map(TryInto::try_into).transpose()
    }

    async fn last_inbound(&self, conversation: ConversationId) -> Result<Option<MessageView>> {
        let row: Option<MessageRow> = sqlx::query_as(concat!(
            message_select!(),
            "WHERE conversation_id = ?1 AND direction = 'inbound' ORDER BY id DESC LIMIT 1"
        ))
        .bind(conversation.as_uuid())
        .fetch_optional(self.pool())
        .await
        .db()?;
        row.map(TryInto::try_into).transpose()
    }

    async fn insert_outbound(&self, m: &NewOutboundMessage) -> Result<MessageId> {
        let mut w = self.begin_write().await?;
        let conn = w.conn();
        let channel: Option<Uuid> = sqlx::query_scalar(
            "UPDATE conversations SET last_message_at = MAX(last_message_at, ?1), message_count = message_count + 1 \
             WHERE id = ?2 RETURNING channel_id",
        )
        .bind(ms(m.at))
        .bind(m.conversation_id.as_uuid())
        .fetch_optional(&mut *conn)
        .await
        .db()?;
        let channel = channel.ok_or(StoreError::NotFound)?;

        let mut d = Delivery::new(m.state, m.at);
        if let Some(wamid) = &m.wamid {
            take_pending_statuses(conn, channel, wamid, &mut d).await?;
        }
        let id = MessageId::new();
        let e = d.error.as_ref();
        sqlx::query(
            "INSERT INTO messages (id, conversation_id, channel_id, direction, wamid, kind, text, content, \
               media_id, state, sent_by, timestamp, created_at, sent_at, delivered_at, read_at, failed_at, \
               error_code, error_title, error_details) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
        )
        .bind(id.as_uuid())
        .bind(m.conversation_id.as_uuid())
        .bind(channel)
        .bind(Direction::Outbound.as_str())
        .bind(m.wamid.as_ref().map(Wamid::as_str))
        .bind(m.content.kind().as_str())
        .bind(opt_text(m.content.text()))
        .bind(json(&m.content)?)
        .bind(opt_text(m.content.media().and_then(|m| m.id.as_deref())))
        .bind(d.state.as_str())
        .bind(m.sent_by.map(|a| *a.as_uuid()))
        .bind(ms(m.at))
        .bind(d.sent_at.map(ms))
        .bind(d.delivered_at.map(ms))
        .bind(d.read_at.map(ms))
        .bind(d.failed_at.map(ms))
        .bind(e.map(|e| e.code))
        .bind(e.map(|e| text(&e.title)))
        .bind(opt_text(e.and_then(|e| e.details.as_deref())))
        .execute(&mut *conn)
        .await
        .db()?;
        w.commit().await?;
        Ok(id)
    }

    async fn record_sent(&self, id: MessageId, wamid: &Wamid, at: DateTime<Utc>) -> Result<()> {
        let mut w = self.begin_write().await?;
        apply_sent(w.conn(), id, wamid, at).await?;
        w.commit().await
    }
}

/// Records that Meta accepted outbound message `id` (`record_sent`, and a `Sent` outcome
/// of the outbox): its wamid, state `sent` if that moves it forward, `sent_at`, then the
/// status reports that arrived before it. `NotFound` if there is no such message.
pub(crate) async fn apply_sent(
    conn: &mut SqliteConnection,
    id: MessageId,
    wamid: &Wamid,
    at: DateTime<Utc>,
) -> Result<()> {
    let row: Option<DeliveryRow> = sqlx::query_as(
        "SELECT id, channel_id, state, sent_at, delivered_at, read_at, failed_at \
         FROM messages WHERE id = ?1 AND direction = 'outbound'",
    )
    .bind(id.as_uuid())
    .fetch_optional(&mut *conn)
    .await
    .db()?;
    let row = row.ok_or(StoreError::NotFound)?;
    let mut d = row.delivery()?;
    d.apply(DeliveryState::Sent, at, &[]);
    take_pending_statuses(conn, row.channel_id, wamid, &mut d).await?;
    update_delivery(conn, row.id, Some(wamid), &d).await
}
