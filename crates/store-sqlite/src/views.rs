//! Conversations and messages as the inbox shows them (`switchboard_store_sql::
//! conversations` and `messages`); here, the statements SQLite words its own way and
//! outbound messages.

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use switchboard_domain::{ConversationId, DeliveryState, Direction, MessageId, Wamid};
use switchboard_store::{AssigneeFilter, NewOutboundMessage, Result, StoreError, ViewQuery, ViewSort};
use uuid::Uuid;

use crate::error::DbResultExt;
use crate::ingest::{take_pending_statuses, update_delivery};
use crate::nul::{json, opt_text, text};
use crate::rows::{DeliveryRow, ms};
use switchboard_domain::Delivery;

switchboard_store_sql::conversation_store!(crate::SqliteStore, Sqlite);

switchboard_store_sql::message_store!(crate::SqliteStore;
    async fn insert_outbound(&self, m: &NewOutboundMessage) -> Result<MessageId> {
        let mut w = self.begin_write().await?;
        let conn = w.conn();
        // The conversation's last activity and count follow from the insert (trigger
        // `messages_outbound_conversation`).
        let channel: Option<Uuid> = sqlx::query_scalar("SELECT channel_id FROM conversations WHERE id = ?1")
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
);

/// The list statements, by `usize::from(status filter) + 2 * usize::from(cursor)`: `?1`
/// status, `?2`/`?3` cursor, `?4` limit; four fixed statements so each uses its index.
const LIST_CONVERSATIONS: [&str; 4] = [
    concat!(
        switchboard_store_sql::conversation_select!(),
        "WHERE ?1 IS NULL AND ?2 IS NULL AND ?3 IS NULL ORDER BY c.last_message_at DESC, c.id DESC LIMIT ?4"
    ),
    concat!(
        switchboard_store_sql::conversation_select!(),
        "WHERE c.status = ?1 AND ?2 IS NULL AND ?3 IS NULL ORDER BY c.last_message_at DESC, c.id DESC LIMIT ?4"
    ),
    concat!(
        switchboard_store_sql::conversation_select!(),
        "WHERE ?1 IS NULL AND (c.last_message_at < ?2 OR (c.last_message_at = ?2 AND c.id < ?3)) ORDER BY c.last_message_at DESC, c.id DESC LIMIT ?4"
    ),
    concat!(
        switchboard_store_sql::conversation_select!(),
        "WHERE c.status = ?1 AND (c.last_message_at < ?2 OR (c.last_message_at = ?2 AND c.id < ?3)) ORDER BY c.last_message_at DESC, c.id DESC LIMIT ?4"
    ),
];

/// The view counts, around the agent's id.
const VIEW_COUNTS: [&str; 2] = [
    "SELECT \
       COALESCE(SUM(CASE WHEN c.status = 'open' AND c.assignee_id = ",
    " THEN 1 ELSE 0 END), 0), \
       COALESCE(SUM(CASE WHEN c.status = 'open' AND c.assignee_id IS NULL THEN 1 ELSE 0 END), 0), \
       COALESCE(SUM(CASE WHEN c.status = 'open' AND c.assignee_id IS NULL AND c.waiting_since IS NOT NULL \
         THEN 1 ELSE 0 END), 0), \
       COALESCE(SUM(CASE WHEN c.status = 'open' THEN 1 ELSE 0 END), 0), \
       COALESCE(SUM(CASE WHEN c.status = 'pending' THEN 1 ELSE 0 END), 0), \
       COALESCE(SUM(CASE WHEN c.status = 'snoozed' THEN 1 ELSE 0 END), 0) \
     FROM conversations c WHERE c.status IN ('open', 'pending', 'snoozed')",
];

/// The `FROM` of a view query. Without statistics SQLite would rather take the status
/// index and sort:
/// - the queue view walks the queue's own index in order (as claim-next does);
/// - a view of several statuses by last activity, narrowed by nothing more selective
///   (an agent, labels, a contact, a search), walks the activity index in order and stops
///   at the page's end, instead of reading every conversation of those statuses and
///   sorting them (open and pending: 55,000 of 100,000, 210 ms);
/// - the SLA sort's first part, narrowed likewise by nothing more selective, walks the
///   SLA due index in order (only conversations with something due are in it).
fn view_from(q: &ViewQuery, queue_view: bool, sla_walk: bool) -> &'static str {
    let walk_activity = q.sort == ViewSort::LastActivity
        && q.statuses.len() > 1
        && !matches!(q.assignee, Some(AssigneeFilter::Agent(_)))
        && q.labels.is_empty()
        && q.contact.is_none()
        && q.search.is_none();
    let walk_sla = sla_walk
        && !matches!(q.assignee, Some(AssigneeFilter::Agent(_)))
        && q.labels.is_empty()
        && q.contact.is_none()
        && q.search.is_none();
    if queue_view {
        "FROM conversations c INDEXED BY conversations_queue "
    } else if walk_sla {
        "FROM conversations c INDEXED BY conversations_sla_due "
    } else if walk_activity {
        "FROM conversations c INDEXED BY conversations_activity "
    } else {
        "FROM conversations c "
    }
}

/// Conversations whose contact or messages contain `search` (the FTS indexes are brought
/// up to date first: `index_search`).
fn push_search(qb: &mut QueryBuilder<'_, Sqlite>, search: &str) {
    let phrase = fts_phrase(search);
    qb.push(
        " AND (c.contact_id IN (SELECT sct.id FROM contacts sct WHERE sct.rowid IN \
               (SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ",
    );
    qb.push_bind(phrase.clone());
    qb.push(
        ")) OR c.id IN (SELECT sm.conversation_id FROM messages sm WHERE sm.rowid IN \
               (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ",
    );
    qb.push_bind(phrase).push(")))");
}

/// `text` as one FTS5 phrase: with the trigram tokenizer, a case-insensitive substring.
pub(crate) fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", crate::nul::text(text).replace('"', "\"\""))
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

/// Whether the conversation exists, inside a write transaction (the write gate keeps it
/// from being deleted until the transaction ends).
pub(crate) async fn hold_conversation(conn: &mut SqliteConnection, id: ConversationId) -> Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM conversations WHERE id = $1)")
        .bind(id.as_uuid())
        .fetch_one(conn)
        .await
        .db()
}
