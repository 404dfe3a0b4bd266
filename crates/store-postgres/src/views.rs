//! Conversations and messages as the inbox shows them (`switchboard_store_sql::
//! conversations` and `messages`); here, the statements PostgreSQL words its own way
//! and outbound messages.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use switchboard_domain::{ConversationId, DeliveryState, Direction, MessageId, Wamid};
use switchboard_store::{NewOutboundMessage, Result, StoreError};
use uuid::Uuid;

use crate::PgStore;
use crate::error::{DbResultExt, is_retryable_store};
use crate::ingest::{lock_wamid, take_pending_statuses, update_delivery};
use crate::nul::{Jsonb, opt_text, text};
use crate::rows::DeliveryRow;
use switchboard_domain::Delivery;

switchboard_store_sql::conversation_store!(crate::PgStore, Postgres);

switchboard_store_sql::message_store!(crate::PgStore;
    async fn insert_outbound(&self, m: &NewOutboundMessage) -> Result<MessageId> {
        let id = MessageId::new();
        retrying(|| self.try_insert_outbound(m, id)).await?;
        Ok(id)
    }

    async fn record_sent(&self, id: MessageId, wamid: &Wamid, at: DateTime<Utc>) -> Result<()> {
        retrying(|| self.try_record_sent(id, wamid, at)).await
    }
);

/// The list statements, by `usize::from(status filter) + 2 * usize::from(cursor)`: `$1`
/// status, `$2`/`$3` cursor, `$4` limit; four fixed statements so each uses its index.
const LIST_CONVERSATIONS: [&str; 4] = [
    concat!(
        switchboard_store_sql::conversation_select!(),
        "WHERE $1::text IS NULL AND $2::timestamptz IS NULL AND $3::uuid IS NULL ORDER BY c.last_message_at DESC, c.id DESC LIMIT $4"
    ),
    concat!(
        switchboard_store_sql::conversation_select!(),
        "WHERE c.status = $1 AND $2::timestamptz IS NULL AND $3::uuid IS NULL ORDER BY c.last_message_at DESC, c.id DESC LIMIT $4"
    ),
    concat!(
        switchboard_store_sql::conversation_select!(),
        "WHERE $1::text IS NULL AND (c.last_message_at, c.id) < ($2, $3) ORDER BY c.last_message_at DESC, c.id DESC LIMIT $4"
    ),
    concat!(
        switchboard_store_sql::conversation_select!(),
        "WHERE c.status = $1 AND (c.last_message_at, c.id) < ($2, $3) ORDER BY c.last_message_at DESC, c.id DESC LIMIT $4"
    ),
];

/// The view counts, around the agent's id.
const VIEW_COUNTS: [&str; 2] = [
    "SELECT COUNT(*) FILTER (WHERE c.status = 'open' AND c.assignee_id = ",
    "), \
       COUNT(*) FILTER (WHERE c.status = 'open' AND c.assignee_id IS NULL), \
       COUNT(*) FILTER (WHERE c.status = 'open' AND c.assignee_id IS NULL AND c.waiting_since IS NOT NULL), \
       COUNT(*) FILTER (WHERE c.status = 'open'), \
       COUNT(*) FILTER (WHERE c.status = 'pending'), \
       COUNT(*) FILTER (WHERE c.status = 'snoozed') \
     FROM conversations c WHERE c.status IN ('open', 'pending', 'snoozed')",
];

/// The `FROM` of a view query (the planner picks the queue's index by itself).
const fn view_from(_: &switchboard_store::ViewQuery, _queue_view: bool, _sla_walk: bool) -> &'static str {
    "FROM conversations c "
}

/// Conversations whose contact or messages contain `search` (served by trigram indexes).
fn push_search(qb: &mut QueryBuilder<'_, Postgres>, search: &str) {
    let pattern = like_pattern(search);
    qb.push(" AND (c.contact_id IN (SELECT sct.id FROM contacts sct WHERE ");
    qb.push(CONTACT_SEARCH_TEXT).push(" ILIKE ").push_bind(pattern.clone());
    // Automatic replies are not searched (the partial index leaves them out too).
    qb.push(") OR c.id IN (SELECT sm.conversation_id FROM messages sm WHERE sm.auto_rule IS NULL AND sm.text ILIKE ");
    qb.push_bind(pattern).push("))");
}

impl PgStore {
    /// The trigram indexes are always up to date: nothing to do (SQLite's FTS indexes
    /// catch up here).
    #[allow(clippy::unused_async)]
    pub(crate) async fn index_search(&self) -> Result<()> {
        Ok(())
    }
}

/// The contact text the `contacts_search_trgm` index holds (the expression must match
/// it exactly for the index to serve).
pub(crate) const CONTACT_SEARCH_TEXT: &str =
    "(sct.wa_id || ' ' || coalesce(sct.profile_name, '') || ' ' || coalesce(sct.name, ''))";

/// `text` as an ILIKE pattern matching it as a substring (`%`, `_` and `\` escaped).
pub(crate) fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for ch in crate::nul::text(text).chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

/// Runs a transaction again (twice at most) if it lost a deadlock: the per-wamid lock is
/// taken first here, but an ingest batch may already hold a conversation row and then
/// wait for that lock.
pub(crate) async fn retrying<T, F: Future<Output = Result<T>>>(mut attempt: impl FnMut() -> F) -> Result<T> {
    const ATTEMPTS: usize = 3;
    let mut n = 1;
    loop {
        match attempt().await {
            Err(e) if n < ATTEMPTS && is_retryable_store(&e) => n += 1,
            other => return other,
        }
    }
}

impl PgStore {
    async fn try_insert_outbound(&self, m: &NewOutboundMessage, id: MessageId) -> Result<()> {
        let mut tx = self.pool().begin().await.db()?;
        let conn = &mut *tx;
        let mut d = Delivery::new(m.state, m.at);
        if let Some(wamid) = &m.wamid {
            // The wamid lock before any row lock (see the crate docs).
            let channel: Option<Uuid> = sqlx::query_scalar("SELECT channel_id FROM conversations WHERE id = $1")
                .bind(m.conversation_id.as_uuid())
                .fetch_optional(&mut *conn)
                .await
                .db()?;
            let channel = channel.ok_or(StoreError::NotFound)?;
            lock_wamid(conn, channel, wamid).await?;
            take_pending_statuses(conn, channel, wamid, &mut d).await?;
        }
        let channel: Option<Uuid> = sqlx::query_scalar(
            "UPDATE conversations SET last_message_at = GREATEST(last_message_at, $1), message_count = message_count + 1 \
             WHERE id = $2 RETURNING channel_id",
        )
        .bind(m.at)
        .bind(m.conversation_id.as_uuid())
        .fetch_optional(&mut *conn)
        .await
        .db()?;
        let channel = channel.ok_or(StoreError::NotFound)?;
        let e = d.error.as_ref();
        sqlx::query(
            "INSERT INTO messages (id, conversation_id, channel_id, direction, wamid, kind, text, content, \
               media_id, state, sent_by, timestamp, created_at, sent_at, delivered_at, read_at, failed_at, \
               error_code, error_title, error_details) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, $15, $16, $17, $18, $19)",
        )
        .bind(id.as_uuid())
        .bind(m.conversation_id.as_uuid())
        .bind(channel)
        .bind(Direction::Outbound.as_str())
        .bind(m.wamid.as_ref().map(Wamid::as_str))
        .bind(m.content.kind().as_str())
        .bind(opt_text(m.content.text()))
        .bind(Jsonb::new(&m.content)?)
        .bind(opt_text(m.content.media().and_then(|m| m.id.as_deref())))
        .bind(d.state.as_str())
        .bind(m.sent_by.map(|a| *a.as_uuid()))
        .bind(m.at)
        .bind(d.sent_at)
        .bind(d.delivered_at)
        .bind(d.read_at)
        .bind(d.failed_at)
        .bind(e.map(|e| e.code))
        .bind(e.map(|e| text(&e.title)))
        .bind(opt_text(e.and_then(|e| e.details.as_deref())))
        .execute(&mut *conn)
        .await
        .db()?;
        tx.commit().await.db()
    }

    async fn try_record_sent(&self, id: MessageId, wamid: &Wamid, at: DateTime<Utc>) -> Result<()> {
        let mut tx = self.pool().begin().await.db()?;
        let conn = &mut *tx;
        // The wamid lock before the message's row lock (see the crate docs).
        let channel: Option<Uuid> =
            sqlx::query_scalar("SELECT channel_id FROM messages WHERE id = $1 AND direction = 'outbound'")
                .bind(id.as_uuid())
                .fetch_optional(&mut *conn)
                .await
                .db()?;
        let channel = channel.ok_or(StoreError::NotFound)?;
        lock_wamid(conn, channel, wamid).await?;
        apply_sent(conn, id, wamid, at).await?;
        tx.commit().await.db()
    }
}

/// Records that Meta accepted outbound message `id` (`record_sent`, and a `Sent` outcome
/// of the outbox): its wamid, state `sent` if that moves it forward, `sent_at`, then the
/// status reports that arrived before it. The caller holds the wamid lock (taken before
/// any row lock, see the crate docs). `NotFound` if there is no such message.
pub(crate) async fn apply_sent(conn: &mut PgConnection, id: MessageId, wamid: &Wamid, at: DateTime<Utc>) -> Result<()> {
    let row: Option<DeliveryRow> = sqlx::query_as(
        "SELECT id, channel_id, state, sent_at, delivered_at, read_at, failed_at \
         FROM messages WHERE id = $1 AND direction = 'outbound' FOR UPDATE",
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

/// Whether the conversation exists, locking it against a concurrent delete until the
/// transaction ends.
pub(crate) async fn hold_conversation(conn: &mut PgConnection, id: ConversationId) -> Result<bool> {
    let row: Option<Uuid> = sqlx::query_scalar("SELECT id FROM conversations WHERE id = $1 FOR SHARE")
        .bind(id.as_uuid())
        .fetch_optional(conn)
        .await
        .db()?;
    Ok(row.is_some())
}
