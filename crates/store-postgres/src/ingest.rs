//! Claiming pending events and applying them, in one transaction per batch.

use std::borrow::Cow;
use std::sync::LazyLock;

use anyhow::anyhow;
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, Postgres, Transaction};
use switchboard_domain::autoreply::RuleRef;
use switchboard_domain::inbound::{StatusReport, StatusValue};
use switchboard_domain::{AgentId, TeamId};
use switchboard_domain::{
    ChannelId, ContactId, ConversationId, ConversationStatus, DeliveryState, Direction, EventId, MessageId,
    PhoneNumberId, StatusError, Wamid,
};
use switchboard_store::{AutoReplyFacts, IngestBatch, NewAutoReply, StoredChange, UnroutedChange};
use switchboard_store::{
    ChannelInfo, INGEST_BATCH_BYTES, InboundOutcome, IngestStore, IngestTx, Lease, NewInbound, PendingEvent,
    QueuedReply, RecordReason, RecordedChange, Result, StatusOutcome, StoreError,
};
use uuid::Uuid;

use crate::error::DbResultExt;
use crate::nul::{Jsonb, opt_text, text};
use crate::outbox::reconcile_sent;
use crate::rows::{ChannelRow, PendingEventRow, PendingStatusRow, StatusRow, delivery_state};
use crate::status::{advancing_from, stamps};
use crate::{INGEST_LOCK, PgStore, WAMID_LOCK_CLASS};
use switchboard_domain::Delivery;

/// `apply_inbound_batch` in one round trip, whatever the batch's length. The messages
/// arrive as one array per column, unnested in input order (`n`, the ordinality); each
/// step feeds the next through RETURNING, joined back to its input row by the contact's
/// wa_id and the channel (unique within a batch, which the caller guarantees: an upsert
/// cannot touch one row twice in a statement). `fresh` drops the rows whose wamid is
/// already stored, so a redelivered message touches neither the contact nor the
/// conversation; a row not returned is a `Duplicate`. The status an existing
/// conversation takes is `ConversationStatus::on_inbound`, spelled out as a CASE from
/// the domain rule.
static APPLY_INBOUND: LazyLock<String> = LazyLock::new(|| {
    let mut case = String::from("CASE cv.status");
    for s in [
        ConversationStatus::Open,
        ConversationStatus::Pending,
        ConversationStatus::Snoozed,
        ConversationStatus::Resolved,
    ] {
        case.push_str(&format!(" WHEN '{}' THEN '{}'", s.as_str(), s.on_inbound().as_str()));
    }
    case.push_str(" ELSE cv.status END");
    format!(
        "WITH fresh AS ( \
           SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[], \
             $7::text[], $8::text[], $9::timestamptz[], $10::uuid[], $11::timestamptz[], $12::timestamptz[], \
             $13::jsonb[], $14::uuid[], $15::text[], $16::text[], $17::jsonb[], $18::text[], $19::jsonb[], \
             $20::jsonb[], $21::jsonb[], $22::bigint[]) WITH ORDINALITY \
             AS i (channel_id, wamid, contact_id, wa_id, profile_name, user_id, parent_user_id, username, \
               received_at, conversation_id, window_closes_at, timestamp, referral, message_id, kind, text, \
               content, media_id, context, errors, raw, event_id, n) \
           WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.channel_id = i.channel_id AND m.wamid = i.wamid) \
         ), contact AS ( \
           INSERT INTO contacts AS ct (id, wa_id, profile_name, user_id, parent_user_id, username, created_at, updated_at) \
           SELECT contact_id, wa_id, profile_name, user_id, parent_user_id, username, received_at, received_at \
           FROM fresh \
           ON CONFLICT (wa_id) DO UPDATE SET \
             profile_name = COALESCE(EXCLUDED.profile_name, ct.profile_name), \
             user_id = COALESCE(EXCLUDED.user_id, ct.user_id), \
             parent_user_id = COALESCE(EXCLUDED.parent_user_id, ct.parent_user_id), \
             username = COALESCE(EXCLUDED.username, ct.username), \
             updated_at = EXCLUDED.updated_at \
           RETURNING ct.id, ct.wa_id \
         ), conversation AS ( \
           INSERT INTO conversations AS cv (id, channel_id, contact_id, status, window_closes_at, \
             last_inbound_at, last_message_at, message_count, referral, created_at) \
           SELECT f.conversation_id, f.channel_id, contact.id, $23, f.window_closes_at, f.timestamp, f.timestamp, \
             1, f.referral, f.received_at \
           FROM fresh f JOIN contact ON contact.wa_id = f.wa_id \
           ON CONFLICT (channel_id, contact_id) WHERE status <> 'resolved' DO UPDATE SET \
             status = {case}, \
             window_closes_at = GREATEST(cv.window_closes_at, EXCLUDED.window_closes_at), \
             last_inbound_at = GREATEST(cv.last_inbound_at, EXCLUDED.last_inbound_at), \
             last_message_at = GREATEST(cv.last_message_at, EXCLUDED.last_message_at), \
             message_count = cv.message_count + 1 \
           RETURNING cv.id, cv.channel_id, cv.contact_id \
         ), stored AS ( \
           SELECT f.*, contact.id AS stored_contact_id, conversation.id AS stored_conversation_id \
           FROM fresh f JOIN contact ON contact.wa_id = f.wa_id \
           JOIN conversation ON conversation.contact_id = contact.id AND conversation.channel_id = f.channel_id \
         ), message AS ( \
           INSERT INTO messages (id, conversation_id, channel_id, direction, wamid, kind, text, content, \
             media_id, context, referral, errors, raw, state, timestamp, created_at, event_id) \
           SELECT message_id, stored_conversation_id, channel_id, $24, wamid, kind, text, content, media_id, \
             context, referral, errors, raw, $25, timestamp, received_at, event_id \
           FROM stored \
           RETURNING id \
         ) \
         SELECT stored.n, stored.stored_contact_id, stored.stored_conversation_id \
         FROM stored JOIN message ON message.id = stored.message_id"
    )
});

/// The columns of `APPLY_INBOUND`'s input, one array per column (`$1`..`$22`), with the
/// ids generated for each message and for the contact and conversation it starts, if it
/// does. Text and JSON go through `nul.rs`, borrowed from the batch when they hold no NUL.
struct InboundColumns<'a> {
    channel: Vec<Uuid>,
    wamid: Vec<&'a str>,
    contact_id: Vec<Uuid>,
    wa_id: Vec<&'a str>,
    profile_name: Vec<Option<Cow<'a, str>>>,
    user_id: Vec<Option<Cow<'a, str>>>,
    parent_user_id: Vec<Option<Cow<'a, str>>>,
    username: Vec<Option<Cow<'a, str>>>,
    received_at: Vec<DateTime<Utc>>,
    conversation_id: Vec<Uuid>,
    window_closes_at: Vec<Option<DateTime<Utc>>>,
    timestamp: Vec<DateTime<Utc>>,
    referral: Vec<Option<Jsonb>>,
    message_id: Vec<Uuid>,
    kind: Vec<&'static str>,
    text: Vec<Option<Cow<'a, str>>>,
    content: Vec<Jsonb>,
    media_id: Vec<Option<Cow<'a, str>>>,
    context: Vec<Option<Jsonb>>,
    errors: Vec<Option<Jsonb>>,
    raw: Vec<Jsonb>,
    event_id: Vec<i64>,
}

impl<'a> InboundColumns<'a> {
    fn new(batch: &'a [NewInbound<'a>]) -> Result<Self> {
        let n = batch.len();
        let mut c = Self {
            channel: Vec::with_capacity(n),
            wamid: Vec::with_capacity(n),
            contact_id: Vec::with_capacity(n),
            wa_id: Vec::with_capacity(n),
            profile_name: Vec::with_capacity(n),
            user_id: Vec::with_capacity(n),
            parent_user_id: Vec::with_capacity(n),
            username: Vec::with_capacity(n),
            received_at: Vec::with_capacity(n),
            conversation_id: Vec::with_capacity(n),
            window_closes_at: Vec::with_capacity(n),
            timestamp: Vec::with_capacity(n),
            referral: Vec::with_capacity(n),
            message_id: Vec::with_capacity(n),
            kind: Vec::with_capacity(n),
            text: Vec::with_capacity(n),
            content: Vec::with_capacity(n),
            media_id: Vec::with_capacity(n),
            context: Vec::with_capacity(n),
            errors: Vec::with_capacity(n),
            raw: Vec::with_capacity(n),
            event_id: Vec::with_capacity(n),
        };
        for m in batch {
            let (msg, ct) = (m.message, m.contact);
            c.channel.push(*m.channel.as_uuid());
            c.wamid.push(msg.wamid.as_str());
            c.contact_id.push(*ContactId::new().as_uuid());
            c.wa_id.push(ct.wa_id.as_str());
            c.profile_name.push(opt_text(ct.profile_name.as_deref()));
            c.user_id.push(opt_text(ct.user_id.as_deref()));
            c.parent_user_id.push(opt_text(ct.parent_user_id.as_deref()));
            c.username.push(opt_text(ct.username.as_deref()));
            c.received_at.push(m.received_at);
            c.conversation_id.push(*ConversationId::new().as_uuid());
            c.window_closes_at.push(m.window_closes_at);
            c.timestamp.push(msg.timestamp);
            c.referral.push(Jsonb::opt(msg.referral.as_ref())?);
            c.message_id.push(*MessageId::new().as_uuid());
            c.kind.push(msg.content.kind().as_str());
            c.text.push(opt_text(msg.content.text()));
            c.content.push(Jsonb::new(&msg.content)?);
            c.media_id.push(opt_text(msg.content.media().and_then(|m| m.id.as_deref())));
            c.context.push(Jsonb::opt(msg.context.as_ref())?);
            c.errors.push(Jsonb::opt((!msg.errors.is_empty()).then_some(&msg.errors))?);
            c.raw.push(Jsonb::new(&msg.raw)?);
            c.event_id.push(m.event_id.get());
        }
        Ok(c)
    }
}

/// `apply_status` for a known wamid in one round trip: locks the message, moves the
/// state if the report advances it (`$3` lists the states it advances from, computed
/// from `DeliveryState::advances_to`), fills the report's timestamp column if empty, and
/// records a failure's error when the failure is applied.
const APPLY_STATUS: &str = "WITH old AS ( \
      SELECT id, state FROM messages WHERE channel_id = $1 AND wamid = $2 FOR UPDATE \
    ) \
    UPDATE messages m SET \
      state = CASE WHEN old.state = ANY($3) THEN $4 ELSE m.state END, \
      sent_at = COALESCE(m.sent_at, $5), \
      delivered_at = COALESCE(m.delivered_at, $6), \
      read_at = COALESCE(m.read_at, $7), \
      failed_at = COALESCE(m.failed_at, $8), \
      error_code = CASE WHEN old.state = ANY($3) AND $9::bigint IS NOT NULL THEN $9 ELSE m.error_code END, \
      error_title = CASE WHEN old.state = ANY($3) AND $9::bigint IS NOT NULL THEN $10 ELSE m.error_title END, \
      error_details = CASE WHEN old.state = ANY($3) AND $9::bigint IS NOT NULL THEN $11 ELSE m.error_details END \
    FROM old WHERE m.id = old.id \
    RETURNING m.id, old.state AS from_state, m.state AS to_state";

/// The write transaction of one ingest batch; it holds the ingest advisory lock.
pub(crate) struct PgIngestTx {
    tx: Transaction<'static, Postgres>,
}

/// What the per-wamid advisory lock hashes: `channel:wamid`.
pub(crate) fn wamid_lock_key(channel: Uuid, wamid: &Wamid) -> String {
    format!("{channel}:{}", wamid.as_str())
}

/// Takes the per-wamid advisory lock (see the crate docs).
pub(crate) async fn lock_wamid(conn: &mut PgConnection, channel: Uuid, wamid: &Wamid) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(WAMID_LOCK_CLASS)
        .bind(wamid_lock_key(channel, wamid))
        .execute(conn)
        .await
        .db()?;
    Ok(())
}

#[async_trait]
impl IngestStore for PgStore {
    async fn begin_ingest(&self, limit: u32) -> Result<Option<IngestBatch>> {
        // An idle poll takes neither a transaction nor the lock.
        let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM webhook_events WHERE state = 'pending')")
            .fetch_one(self.pool())
            .await
            .db()?;
        if !any {
            return Ok(None);
        }
        let mut tx = self.pool().begin().await.db()?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(INGEST_LOCK).execute(&mut *tx).await.db()?;
        // READ COMMITTED: this statement's snapshot is taken now, after the lock, so it
        // sees everything the previous holder committed.
        let rows: Vec<PendingEventRow> = sqlx::query_as(
            "WITH claimed AS (SELECT id, octet_length(body) AS size FROM webhook_events \
               WHERE state = 'pending' ORDER BY id LIMIT $1), \
             sized AS (SELECT id, SUM(COALESCE(size, 0)) OVER (ORDER BY id) - COALESCE(size, 0) AS before \
               FROM claimed) \
             SELECT e.id, e.body, e.received_at FROM sized s JOIN webhook_events e ON e.id = s.id \
             WHERE s.before < $2 ORDER BY e.id",
        )
        .bind(i64::from(limit))
        .bind(INGEST_BATCH_BYTES)
        .fetch_all(&mut *tx)
        .await
        .db()?;
        if rows.is_empty() {
            tx.rollback().await.db()?;
            return Ok(None);
        }
        let events = rows
            .into_iter()
            .map(|r| PendingEvent {
                id: EventId::new(r.id),
                // Bodies are purged only once applied; an empty body fails to parse and
                // is then marked failed instead of blocking the log.
                body: r.body.map(Bytes::from).unwrap_or_default(),
                received_at: r.received_at.0,
            })
            .collect();
        Ok(Some(IngestBatch { tx: Box::new(PgIngestTx { tx }), events }))
    }

    async fn mark_event_failed(&self, id: EventId, error: &str, at: DateTime<Utc>) -> Result<()> {
        let n = sqlx::query("UPDATE webhook_events SET state = 'failed', error = $1, applied_at = $2 WHERE id = $3")
            .bind(text(error))
            .bind(at)
            .bind(id.get())
            .execute(self.pool())
            .await
            .db()?
            .rows_affected();
        if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn upsert_channel(
        &self,
        phone_number_id: &PhoneNumberId,
        name: &str,
        at: DateTime<Utc>,
    ) -> Result<ChannelInfo> {
        let row: ChannelRow = sqlx::query_as(
            "INSERT INTO channels (id, phone_number_id, name, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (phone_number_id) DO UPDATE SET name = EXCLUDED.name \
             RETURNING id, phone_number_id, name",
        )
        .bind(ChannelId::new().as_uuid())
        .bind(phone_number_id.as_str())
        .bind(text(name))
        .bind(at)
        .fetch_one(self.pool())
        .await
        .db()?;
        row.try_into()
    }

    async fn channels(&self) -> Result<Vec<ChannelInfo>> {
        let rows: Vec<ChannelRow> =
            sqlx::query_as("SELECT id, phone_number_id, name FROM channels ORDER BY created_at, id")
                .fetch_all(self.pool())
                .await
                .db()?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn unrouted_changes(&self, phone_number_id: &PhoneNumberId, limit: u32) -> Result<Vec<UnroutedChange>> {
        let rows: Vec<(i64, Json<serde_json::Value>)> = sqlx::query_as(
            "SELECT id, value FROM recorded_changes WHERE reason = $1 AND phone_number_id = $2 ORDER BY id LIMIT $3",
        )
        .bind(RecordReason::NoChannel.as_str())
        .bind(phone_number_id.as_str())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .db()?;
        Ok(rows.into_iter().map(|(id, value)| UnroutedChange { id, value: value.0 }).collect())
    }

    async fn delete_recorded_changes(&self, ids: &[i64]) -> Result<()> {
        sqlx::query("DELETE FROM recorded_changes WHERE id = ANY($1)").bind(ids).execute(self.pool()).await.db()?;
        Ok(())
    }

    async fn recorded_changes(&self, reason: RecordReason, limit: u32) -> Result<Vec<StoredChange>> {
        let rows: Vec<(i64, String, Json<serde_json::Value>)> = sqlx::query_as(
            "SELECT event_id, field, value FROM recorded_changes WHERE reason = $1 ORDER BY id LIMIT $2",
        )
        .bind(reason.as_str())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .db()?;
        Ok(rows
            .into_iter()
            .map(|(id, field, value)| StoredChange { event_id: EventId::new(id), field, value: value.0 })
            .collect())
    }
}

#[async_trait]
impl IngestTx for PgIngestTx {
    async fn apply_inbound_batch(&mut self, batch: &[NewInbound<'_>]) -> Result<Vec<InboundOutcome>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let c = InboundColumns::new(batch)?;
        let rows: Vec<(i64, Uuid, Uuid)> = sqlx::query_as(APPLY_INBOUND.as_str())
            .bind(&c.channel) // $1
            .bind(&c.wamid)
            .bind(&c.contact_id)
            .bind(&c.wa_id)
            .bind(&c.profile_name) // $5
            .bind(&c.user_id)
            .bind(&c.parent_user_id)
            .bind(&c.username)
            .bind(&c.received_at)
            .bind(&c.conversation_id) // $10
            .bind(&c.window_closes_at)
            .bind(&c.timestamp)
            .bind(&c.referral)
            .bind(&c.message_id)
            .bind(&c.kind) // $15
            .bind(&c.text)
            .bind(&c.content)
            .bind(&c.media_id)
            .bind(&c.context)
            .bind(&c.errors) // $20
            .bind(&c.raw)
            .bind(&c.event_id)
            .bind(ConversationStatus::Open.as_str())
            .bind(Direction::Inbound.as_str())
            .bind(DeliveryState::Received.as_str()) // $25
            .fetch_all(&mut *self.tx)
            .await
            .db()?;
        let mut outcomes = vec![InboundOutcome::Duplicate; batch.len()];
        for (n, contact, conversation) in rows {
            let i = usize::try_from(n - 1)
                .ok()
                .filter(|&i| i < batch.len())
                .ok_or_else(|| StoreError::Other(anyhow!("apply_inbound_batch returned row {n}")))?;
            outcomes[i] = InboundOutcome::Stored {
                message_id: MessageId::from_uuid(c.message_id[i]),
                conversation_id: ConversationId::from_uuid(conversation),
                contact_id: ContactId::from_uuid(contact),
                new_contact: contact == c.contact_id[i],
                new_conversation: conversation == c.conversation_id[i],
            };
        }
        Ok(outcomes)
    }

    async fn apply_status(
        &mut self,
        channel: ChannelId,
        report: &StatusReport,
        sent_as: Option<MessageId>,
        received_at: DateTime<Utc>,
    ) -> Result<StatusOutcome> {
        let StatusValue::Known(state) = report.state else {
            return Err(StoreError::Other(anyhow!("apply_status got an unknown status value")));
        };
        let conn = &mut *self.tx;
        if let Some(outcome) = apply_known_status(conn, channel, report, state).await? {
            return Ok(outcome);
        }
        // Unknown wamid. Under the wamid lock, look again (the message may have been
        // committed since), then park the report.
        lock_wamid(conn, *channel.as_uuid(), &report.wamid).await?;
        if let Some(outcome) = apply_known_status(conn, channel, report, state).await? {
            return Ok(outcome);
        }
        if let Some(id) = sent_as
            && let Some(outcome) = reconcile_sent(conn, channel, id, report, state).await?
        {
            return Ok(outcome);
        }
        sqlx::query(
            "INSERT INTO pending_statuses (channel_id, wamid, status, timestamp, errors, recipient_id, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(channel.as_uuid())
        .bind(report.wamid.as_str())
        .bind(state.as_str())
        .bind(report.timestamp)
        .bind(Jsonb::opt((!report.errors.is_empty()).then_some(&report.errors))?)
        .bind(opt_text(report.recipient_id.as_deref()))
        .bind(received_at)
        .execute(&mut *conn)
        .await
        .db()?;
        Ok(StatusOutcome::Pending)
    }

    async fn record_change(&mut self, change: &RecordedChange<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO recorded_changes (event_id, reason, field, phone_number_id, waba_id, value, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(change.event_id.get())
        .bind(change.reason.as_str())
        .bind(text(change.field))
        .bind(opt_text(change.phone_number_id))
        .bind(opt_text(change.waba_id))
        .bind(Jsonb::new(change.value)?)
        .bind(change.at)
        .execute(&mut *self.tx)
        .await
        .db()?;
        Ok(())
    }

    async fn mark_applied(&mut self, events: &[EventId], at: DateTime<Utc>) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = events.iter().map(|e| e.get()).collect();
        sqlx::query(
            "UPDATE webhook_events SET state = 'applied', applied_at = $1 WHERE id = ANY($2) AND state = 'pending'",
        )
        .bind(at)
        .bind(&ids)
        .execute(&mut *self.tx)
        .await
        .db()?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.tx.commit().await.db()
    }

    async fn auto_reply_facts_batch(
        &mut self,
        of: &[(ConversationId, ContactId, MessageId)],
        now: DateTime<Utc>,
    ) -> Result<Vec<AutoReplyFacts>> {
        crate::autoreply::facts(&mut self.tx, of, now).await
    }

    async fn enqueue_auto_replies_leasing(
        &mut self,
        replies: &[NewAutoReply<'_>],
        lease: Lease,
    ) -> Result<Vec<QueuedReply>> {
        crate::autoreply::enqueue_auto_replies(&mut self.tx, replies, lease).await
    }

    async fn assign_conversation(
        &mut self,
        conversation: ConversationId,
        agent: AgentId,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        crate::autoreply::assign_conversation(&mut self.tx, conversation, agent, at).await
    }

    async fn team_assignee(&mut self, conversation: ConversationId, team: TeamId) -> Result<Option<AgentId>> {
        crate::assignment::team_assignee(&mut self.tx, conversation, team).await
    }

    async fn route_to_team(&mut self, conversation: ConversationId, team: TeamId, at: DateTime<Utc>) -> Result<bool> {
        crate::queue::route_to_team(&mut self.tx, conversation, team, at).await
    }

    async fn team_pool(&mut self, team: TeamId) -> Result<Vec<switchboard_store::PoolAgent>> {
        crate::assignment::team_pool(&mut self.tx, team).await
    }

    async fn record_rule_fired(
        &mut self,
        conversation: ConversationId,
        rule: RuleRef,
        at: DateTime<Utc>,
    ) -> Result<()> {
        crate::autoreply::record_rule_fired(&mut self.tx, conversation, rule, at).await
    }

    async fn attribute_conversation(
        &mut self,
        a: &switchboard_store::Attribution<'_>,
    ) -> Result<Option<switchboard_domain::LinkId>> {
        crate::links::attribute(&mut self.tx, a).await
    }

    async fn record_csat_answer(
        &mut self,
        a: &switchboard_store::CsatAnswerIn<'_>,
    ) -> Result<switchboard_store::CsatAnswerOutcome> {
        crate::csat::record_answer(&mut self.tx, a).await
    }

    async fn start_sla(&mut self, conversations: &[ConversationId]) -> Result<()> {
        crate::sla::start_sla(&mut self.tx, conversations).await
    }

    async fn csat_comment_asked(&mut self, conversation: ConversationId, at: DateTime<Utc>) -> Result<()> {
        crate::csat::comment_asked(&mut self.tx, conversation, at).await
    }

    async fn csat_comments_awaited(
        &mut self,
        wa_ids: &[&switchboard_domain::WaId],
        now: DateTime<Utc>,
    ) -> Result<Vec<(ChannelId, switchboard_domain::WaId)>> {
        crate::csat::comments_awaited(&mut self.tx, wa_ids, now).await
    }

    async fn record_csat_comment(
        &mut self,
        c: &switchboard_store::CsatCommentIn<'_>,
    ) -> Result<Option<ConversationId>> {
        crate::csat::record_comment(&mut self.tx, c).await
    }

    async fn record_consent(
        &mut self,
        c: &switchboard_store::NewConsent<'_>,
    ) -> Result<switchboard_store::ConsentChange> {
        crate::consent::record(&mut self.tx, c).await
    }

    async fn add_labels(
        &mut self,
        conversation: ConversationId,
        labels: &[switchboard_domain::LabelId],
        at: DateTime<Utc>,
    ) -> Result<()> {
        crate::labels::add_labels(&mut self.tx, conversation, labels, None, at).await.map(|_| ())
    }
}

/// Applies a report to the message with its wamid; `None` if there is no such message.
async fn apply_known_status(
    conn: &mut PgConnection,
    channel: ChannelId,
    report: &StatusReport,
    state: DeliveryState,
) -> Result<Option<StatusOutcome>> {
    let [sent, delivered, read, failed] = stamps(state, report.timestamp);
    let error = (state == DeliveryState::Failed).then(|| report.errors.first()).flatten();
    let row: Option<StatusRow> = sqlx::query_as(APPLY_STATUS)
        .bind(channel.as_uuid())
        .bind(report.wamid.as_str())
        .bind(advancing_from(state))
        .bind(state.as_str())
        .bind(sent)
        .bind(delivered)
        .bind(read)
        .bind(failed)
        .bind(error.map(|e| e.code))
        .bind(error.map(|e| text(&e.title)))
        .bind(opt_text(error.and_then(|e| e.details.as_deref())))
        .fetch_optional(conn)
        .await
        .db()?;
    let Some(row) = row else { return Ok(None) };
    let message_id = MessageId::from_uuid(row.id);
    Ok(Some(if row.from_state == row.to_state {
        StatusOutcome::Stale { message_id }
    } else {
        StatusOutcome::Applied {
            message_id,
            from: delivery_state(&row.from_state)?,
            to: delivery_state(&row.to_state)?,
        }
    }))
}

/// Writes a message's delivery columns (and its wamid, when given).
pub(crate) async fn update_delivery(
    conn: &mut PgConnection,
    id: Uuid,
    wamid: Option<&Wamid>,
    d: &Delivery,
) -> Result<()> {
    let e = d.error.as_ref();
    sqlx::query(
        "UPDATE messages SET wamid = COALESCE($1, wamid), state = $2, \
           sent_at = $3, delivered_at = $4, read_at = $5, failed_at = $6, \
           error_code = CASE WHEN $7::bigint IS NULL THEN error_code ELSE $7 END, \
           error_title = CASE WHEN $7::bigint IS NULL THEN error_title ELSE $8 END, \
           error_details = CASE WHEN $7::bigint IS NULL THEN error_details ELSE $9 END \
         WHERE id = $10",
    )
    .bind(wamid.map(Wamid::as_str))
    .bind(d.state.as_str())
    .bind(d.sent_at)
    .bind(d.delivered_at)
    .bind(d.read_at)
    .bind(d.failed_at)
    .bind(e.map(|e| e.code))
    .bind(e.map(|e| text(&e.title)))
    .bind(opt_text(e.and_then(|e| e.details.as_deref())))
    .bind(id)
    .execute(conn)
    .await
    .db()?;
    Ok(())
}

/// Takes the status reports that arrived before the message with this wamid and folds
/// them into `d`, oldest first. The caller holds the wamid lock.
pub(crate) async fn take_pending_statuses(
    conn: &mut PgConnection,
    channel: Uuid,
    wamid: &Wamid,
    d: &mut Delivery,
) -> Result<()> {
    let rows: Vec<PendingStatusRow> = sqlx::query_as(
        "DELETE FROM pending_statuses WHERE channel_id = $1 AND wamid = $2 RETURNING status, timestamp, errors",
    )
    .bind(channel)
    .bind(wamid.as_str())
    .fetch_all(conn)
    .await
    .db()?;
    let mut reports = rows
        .into_iter()
        .map(|r| Ok((r.timestamp.0, delivery_state(&r.status)?, r.errors.map(|j| j.0).unwrap_or_default())))
        .collect::<Result<Vec<(DateTime<Utc>, DeliveryState, Vec<StatusError>)>>>()?;
    reports.sort_by_key(|(at, state, _)| (*at, state.report_order()));
    for (at, state, errors) in &reports {
        d.apply(*state, *at, errors);
    }
    Ok(())
}
