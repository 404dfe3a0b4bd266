//! Conversations and messages as the inbox shows them; outbound messages.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use switchboard_domain::{AgentId, ConversationId, DeliveryState, Direction, MessageId, Wamid};
use switchboard_store::{
    AssigneeFilter, ConversationCursor, ConversationQuery, ConversationStore, ConversationView, MessageCursor,
    MessageQuery, MessageStore, MessageView, NewOutboundMessage, Page, Result, StoreError, ViewCounts, ViewCursor,
    ViewQuery, ViewSort, Visibility, WindowFilter, page_size,
};
use uuid::Uuid;

use crate::PgStore;
use crate::error::{DbResultExt, is_retryable_store};
use crate::ingest::{lock_wamid, take_pending_statuses, update_delivery};
use crate::nul::{Jsonb, opt_text, text};
use crate::rows::{ConversationRow, DeliveryRow, MessageRow};
use switchboard_domain::Delivery;

macro_rules! conversation_columns {
    () => {
        "SELECT c.id, c.channel_id, ch.phone_number_id, c.contact_id, ct.wa_id, ct.profile_name, \
           ct.user_id, ct.username, c.status, c.assignee_id, c.window_closes_at, c.last_inbound_at, \
           c.last_message_at, c.created_at, c.resolved_at, c.message_count, ct.name AS contact_name, \
           ch.team_id, c.waiting_since, CASE WHEN c.status = 'snoozed' THEN c.snoozed_until END AS snoozed_until, \
           c.link_id "
    };
}

macro_rules! conversation_select {
    () => {
        concat!(
            conversation_columns!(),
            "FROM conversations c \
             JOIN contacts ct ON ct.id = c.contact_id \
             JOIN channels ch ON ch.id = c.channel_id "
        )
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
impl ConversationStore for PgStore {
    async fn list_conversations(&self, q: &ConversationQuery) -> Result<Page<ConversationView, ConversationCursor>> {
        let limit = page_size(q.limit);
        // $1 status, $2/$3 cursor, $4 limit; four fixed statements so each uses its index.
        let sql = match (q.status.is_some(), q.after.is_some()) {
            (false, false) => concat!(
                conversation_select!(),
                "WHERE $1::text IS NULL AND $2::timestamptz IS NULL AND $3::uuid IS NULL ORDER BY c.last_message_at DESC, c.id DESC LIMIT $4"
            ),
            (true, false) => concat!(
                conversation_select!(),
                "WHERE c.status = $1 AND $2::timestamptz IS NULL AND $3::uuid IS NULL ORDER BY c.last_message_at DESC, c.id DESC LIMIT $4"
            ),
            (false, true) => concat!(
                conversation_select!(),
                "WHERE $1::text IS NULL AND (c.last_message_at, c.id) < ($2, $3) ORDER BY c.last_message_at DESC, c.id DESC LIMIT $4"
            ),
            (true, true) => concat!(
                conversation_select!(),
                "WHERE c.status = $1 AND (c.last_message_at, c.id) < ($2, $3) ORDER BY c.last_message_at DESC, c.id DESC LIMIT $4"
            ),
        };
        let rows: Vec<ConversationRow> = sqlx::query_as(sql)
            .bind(q.status.map(|s| s.as_str()))
            .bind(q.after.map(|a| a.last_message_at))
            .bind(q.after.map(|a| *a.id.as_uuid()))
            .bind(i64::from(limit) + 1)
            .fetch_all(self.pool())
            .await
            .db()?;
        let items = rows.into_iter().map(TryInto::try_into).collect::<Result<Vec<ConversationView>>>()?;
        Ok(Page::from_fetch(items, limit, |c| ConversationCursor { last_message_at: c.last_message_at, id: c.id }))
    }

    async fn conversation(&self, id: ConversationId) -> Result<Option<ConversationView>> {
        let row: Option<ConversationRow> = sqlx::query_as(concat!(conversation_select!(), "WHERE c.id = $1"))
            .bind(id.as_uuid())
            .fetch_optional(self.pool())
            .await
            .db()?;
        row.map(TryInto::try_into).transpose()
    }

    async fn view_conversations(&self, q: &ViewQuery) -> Result<Page<ConversationView, ViewCursor>> {
        let limit = page_size(q.limit);
        let want = i64::from(limit) + 1;
        let after = q.after.filter(|a| a.sort() == q.sort);
        let mut rows = Vec::new();
        if q.sort == ViewSort::Waiting {
            // Waiting conversations first (the queue's order), then the others by id.
            let in_waiting = !matches!(after, Some(ViewCursor::Waiting { waiting_since: None, .. }));
            if in_waiting {
                rows = fetch_view(self, q, after, Phase::Waiting, want).await?;
            }
            let got = i64::try_from(rows.len()).unwrap_or(i64::MAX);
            if got < want {
                let after_idle = if in_waiting { None } else { after };
                rows.extend(fetch_view(self, q, after_idle, Phase::Idle, want - got).await?);
            }
        } else {
            rows = fetch_view(self, q, after, Phase::Idle, want).await?;
        }
        let items = rows.into_iter().map(TryInto::try_into).collect::<Result<Vec<ConversationView>>>()?;
        Ok(Page::from_fetch(items, limit, |c| ViewCursor::after(q.sort, c)))
    }

    async fn view_counts(&self, me: AgentId, viewer: Visibility) -> Result<ViewCounts> {
        let mut qb =
            QueryBuilder::<Postgres>::new("SELECT COUNT(*) FILTER (WHERE c.status = 'open' AND c.assignee_id = ");
        qb.push_bind(*me.as_uuid());
        qb.push(
            "), \
               COUNT(*) FILTER (WHERE c.status = 'open' AND c.assignee_id IS NULL), \
               COUNT(*) FILTER (WHERE c.status = 'open' AND c.assignee_id IS NULL AND c.waiting_since IS NOT NULL), \
               COUNT(*) FILTER (WHERE c.status = 'open'), \
               COUNT(*) FILTER (WHERE c.status = 'pending'), \
               COUNT(*) FILTER (WHERE c.status = 'snoozed') \
             FROM conversations c WHERE c.status IN ('open', 'pending', 'snoozed')",
        );
        push_visibility(&mut qb, viewer);
        let (mine, unassigned, queue, open, pending, snoozed): (i64, i64, i64, i64, i64, i64) =
            qb.build_query_as().fetch_one(self.pool()).await.db()?;
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(ViewCounts {
            mine: n(mine),
            unassigned: n(unassigned),
            queue: n(queue),
            open: n(open),
            pending: n(pending),
            snoozed: n(snoozed),
        })
    }

    async fn may_see_conversation(&self, viewer: Visibility, id: ConversationId) -> Result<bool> {
        let mut qb = QueryBuilder::<Postgres>::new("SELECT EXISTS (SELECT 1 FROM conversations c WHERE c.id = ");
        qb.push_bind(*id.as_uuid());
        push_visibility(&mut qb, viewer);
        qb.push(")");
        qb.build_query_scalar().fetch_one(self.pool()).await.db()
    }
}

/// Which part of the waiting sort a query reads (the other sorts read one part).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `waiting_since IS NOT NULL`, oldest first.
    Waiting,
    /// Everything else: for the waiting sort, `waiting_since IS NULL` by id.
    Idle,
}

async fn fetch_view(
    store: &PgStore,
    q: &ViewQuery,
    after: Option<ViewCursor>,
    phase: Phase,
    limit: i64,
) -> Result<Vec<ConversationRow>> {
    let mut qb = QueryBuilder::<Postgres>::new(conversation_select!());
    qb.push("WHERE 1 = 1");
    push_filters(&mut qb, q);
    push_visibility(&mut qb, q.viewer);
    match (q.sort, phase) {
        (ViewSort::Waiting, Phase::Waiting) => {
            qb.push(" AND c.waiting_since IS NOT NULL");
            if let Some(ViewCursor::Waiting { waiting_since: Some(w), id }) = after {
                qb.push(" AND (c.waiting_since, c.id) > (").push_bind(w).push(", ");
                qb.push_bind(*id.as_uuid()).push(")");
            }
            qb.push(" ORDER BY c.waiting_since, c.id");
        }
        (ViewSort::Waiting, Phase::Idle) => {
            qb.push(" AND c.waiting_since IS NULL");
            if let Some(ViewCursor::Waiting { id, .. }) = after {
                qb.push(" AND c.id > ").push_bind(*id.as_uuid());
            }
            qb.push(" ORDER BY c.id");
        }
        (ViewSort::LastActivity, _) => {
            if let Some(ViewCursor::LastActivity { last_message_at, id }) = after {
                qb.push(" AND (c.last_message_at, c.id) < (").push_bind(last_message_at).push(", ");
                qb.push_bind(*id.as_uuid()).push(")");
            }
            qb.push(" ORDER BY c.last_message_at DESC, c.id DESC");
        }
        (ViewSort::Newest, _) => {
            if let Some(ViewCursor::Newest { created_at, id }) = after {
                qb.push(" AND (c.created_at, c.id) < (").push_bind(created_at).push(", ");
                qb.push_bind(*id.as_uuid()).push(")");
            }
            qb.push(" ORDER BY c.created_at DESC, c.id DESC");
        }
        (ViewSort::WindowClosing, _) => {
            qb.push(" AND c.window_closes_at > ").push_bind(q.now);
            if let Some(ViewCursor::WindowClosing { window_closes_at, id }) = after {
                qb.push(" AND (c.window_closes_at, c.id) > (").push_bind(window_closes_at).push(", ");
                qb.push_bind(*id.as_uuid()).push(")");
            }
            qb.push(" ORDER BY c.window_closes_at, c.id");
        }
    }
    qb.push(" LIMIT ").push_bind(limit);
    qb.build_query_as().fetch_all(store.pool()).await.db()
}

/// The view's filters, as ` AND …` terms on `c` (conversations).
fn push_filters(qb: &mut QueryBuilder<'_, Postgres>, q: &ViewQuery) {
    // Statuses are literals (a closed set) so the planner can match partial indexes.
    match q.statuses.as_slice() {
        [] => {}
        [one] => {
            qb.push(format_args!(" AND c.status = '{}'", one.as_str()));
        }
        many => {
            let list: Vec<String> = many.iter().map(|s| format!("'{}'", s.as_str())).collect();
            qb.push(format_args!(" AND c.status IN ({})", list.join(", ")));
        }
    }
    match q.assignee {
        None => {}
        Some(AssigneeFilter::Unassigned) => {
            qb.push(" AND c.assignee_id IS NULL");
        }
        Some(AssigneeFilter::Agent(a)) => {
            qb.push(" AND c.assignee_id = ").push_bind(*a.as_uuid());
        }
    }
    if let Some(team) = q.team {
        qb.push(" AND c.channel_id IN (SELECT tch.id FROM channels tch WHERE tch.team_id = ");
        qb.push_bind(*team.as_uuid()).push(")");
    }
    for label in &q.labels {
        qb.push(" AND EXISTS (SELECT 1 FROM conversation_labels cl WHERE cl.conversation_id = c.id AND cl.label_id = ");
        qb.push_bind(*label.as_uuid()).push(")");
    }
    if let Some(channel) = q.channel {
        qb.push(" AND c.channel_id = ").push_bind(*channel.as_uuid());
    }
    if let Some(contact) = q.contact {
        qb.push(" AND c.contact_id = ").push_bind(*contact.as_uuid());
    }
    match q.window {
        None => {}
        Some(WindowFilter::Open) => {
            qb.push(" AND c.window_closes_at > ").push_bind(q.now);
        }
        Some(WindowFilter::Closed) => {
            qb.push(" AND (c.window_closes_at IS NULL OR c.window_closes_at <= ").push_bind(q.now).push(")");
        }
    }
    if let Some(search) = &q.search {
        let pattern = like_pattern(search);
        qb.push(" AND (c.contact_id IN (SELECT sct.id FROM contacts sct WHERE ");
        qb.push(CONTACT_SEARCH_TEXT).push(" ILIKE ").push_bind(pattern.clone());
        // Automatic replies are not searched (the partial index leaves them out too).
        qb.push(
            ") OR c.id IN (SELECT sm.conversation_id FROM messages sm WHERE sm.auto_rule IS NULL AND sm.text ILIKE ",
        );
        qb.push_bind(pattern).push("))");
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

/// Restricts `c` (conversations) to what `viewer` may see: admins everything; an agent
/// what is assigned to them, or on a channel routed to one of their teams or to none.
pub(crate) fn push_visibility(qb: &mut QueryBuilder<'_, Postgres>, viewer: Visibility) {
    if let Visibility::Agent(agent) = viewer {
        qb.push(" AND (c.assignee_id = ").push_bind(*agent.as_uuid());
        qb.push(
            " OR c.channel_id IN (SELECT vch.id FROM channels vch WHERE vch.team_id IS NULL \
               OR vch.team_id IN (SELECT vtm.team_id FROM team_members vtm WHERE vtm.agent_id = ",
        );
        qb.push_bind(*agent.as_uuid()).push(")))");
    }
}

#[async_trait]
impl MessageStore for PgStore {
    async fn list_messages(
        &self,
        conversation: ConversationId,
        q: &MessageQuery,
    ) -> Result<Page<MessageView, MessageCursor>> {
        let limit = page_size(q.limit);
        let sql = if q.after.is_some() {
            concat!(message_select!(), "WHERE conversation_id = $1 AND id > $2 ORDER BY id LIMIT $3")
        } else {
            concat!(message_select!(), "WHERE conversation_id = $1 AND $2::uuid IS NULL ORDER BY id LIMIT $3")
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
            let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM conversations WHERE id = $1)")
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
        let row: Option<MessageRow> = sqlx::query_as(concat!(message_select!(), "WHERE id = $1"))
            .bind(id.as_uuid())
            .fetch_optional(self.pool())
            .await
            .db()?;
        row.map(TryInto::try_into).transpose()
    }

    async fn last_inbound(&self, conversation: ConversationId) -> Result<Option<MessageView>> {
        let row: Option<MessageRow> = sqlx::query_as(concat!(
            message_select!(),
            "WHERE conversation_id = $1 AND direction = 'inbound' ORDER BY id DESC LIMIT 1"
        ))
        .bind(conversation.as_uuid())
        .fetch_optional(self.pool())
        .await
        .db()?;
        row.map(TryInto::try_into).transpose()
    }

    async fn insert_outbound(&self, m: &NewOutboundMessage) -> Result<MessageId> {
        let id = MessageId::new();
        retrying(|| self.try_insert_outbound(m, id)).await?;
        Ok(id)
    }

    async fn record_sent(&self, id: MessageId, wamid: &Wamid, at: DateTime<Utc>) -> Result<()> {
        retrying(|| self.try_record_sent(id, wamid, at)).await
    }
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
