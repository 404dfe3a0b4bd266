//! Claiming pending events and applying them, in one transaction per batch.

use std::sync::LazyLock;

use anyhow::anyhow;
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, Postgres, Transaction};
use switchboard_domain::inbound::{StatusReport, StatusValue};
use switchboard_domain::{AgentId, TeamId};
use switchboard_domain::{
    ChannelId, ContactId, ConversationId, ConversationStatus, DeliveryState, Direction, EventId, MessageId,
    PhoneNumberId, StatusError, Wamid,
};
use switchboard_store::{AutoReplyFacts, NewOutbound};
use switchboard_store::{
    ChannelInfo, InboundOutcome, IngestStore, IngestTx, NewInbound, PendingEvent, RecordReason, RecordedChange, Result,
    StatusOutcome, StoreError,
};
use uuid::Uuid;

use crate::error::DbResultExt;
use crate::nul::{Jsonb, opt_text, text};
use crate::rows::{ChannelRow, PendingEventRow, PendingStatusRow, StatusRow, delivery_state};
use crate::status::{advancing_from, stamps};
use crate::{INGEST_LOCK, PgStore, WAMID_LOCK_CLASS};
use switchboard_domain::Delivery;

/// `apply_inbound` in one round trip. Each step feeds the next through RETURNING, and
/// nothing happens when the wamid is already stored (`known`), so a redelivered message
/// touches neither the contact nor the conversation; no row back means `Duplicate`.
/// The status an existing conversation takes is `ConversationStatus::on_inbound`,
/// spelled out as a CASE from the domain rule.
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
        "WITH known AS ( \
           SELECT 1 FROM messages WHERE channel_id = $1 AND wamid = $2 \
         ), contact AS ( \
           INSERT INTO contacts AS ct (id, wa_id, profile_name, user_id, parent_user_id, username, created_at, updated_at) \
           SELECT $3, $4, $5, $6, $7, $8, $9, $9 WHERE NOT EXISTS (SELECT 1 FROM known) \
           ON CONFLICT (wa_id) DO UPDATE SET \
             profile_name = COALESCE(EXCLUDED.profile_name, ct.profile_name), \
             user_id = COALESCE(EXCLUDED.user_id, ct.user_id), \
             parent_user_id = COALESCE(EXCLUDED.parent_user_id, ct.parent_user_id), \
             username = COALESCE(EXCLUDED.username, ct.username), \
             updated_at = EXCLUDED.updated_at \
           RETURNING ct.id \
         ), conversation AS ( \
           INSERT INTO conversations AS cv (id, channel_id, contact_id, status, window_closes_at, \
             last_inbound_at, last_message_at, message_count, referral, created_at) \
           SELECT $10, $1, contact.id, $11, $12, $13, $13, 1, $14, $9 FROM contact \
           ON CONFLICT (channel_id, contact_id) WHERE status <> 'resolved' DO UPDATE SET \
             status = {case}, \
             window_closes_at = GREATEST(cv.window_closes_at, EXCLUDED.window_closes_at), \
             last_inbound_at = GREATEST(cv.last_inbound_at, EXCLUDED.last_inbound_at), \
             last_message_at = GREATEST(cv.last_message_at, EXCLUDED.last_message_at), \
             message_count = cv.message_count + 1 \
           RETURNING cv.id \
         ), message AS ( \
           INSERT INTO messages (id, conversation_id, channel_id, direction, wamid, kind, text, content, \
             media_id, context, referral, errors, raw, state, timestamp, created_at, event_id) \
           SELECT $15, conversation.id, $1, $16, $2, $17, $18, $19, $20, $21, $14, $22, $23, $24, $13, $9, $25 \
           FROM conversation \
           RETURNING id \
         ) \
         SELECT contact.id AS contact_id, conversation.id AS conversation_id \
         FROM contact, conversation, message"
    )
});

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

/// Takes the per-wamid advisory lock (see the crate docs).
pub(crate) async fn lock_wamid(conn: &mut PgConnection, channel: Uuid, wamid: &Wamid) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(WAMID_LOCK_CLASS)
        .bind(format!("{channel}:{}", wamid.as_str()))
        .execute(conn)
        .await
        .db()?;
    Ok(())
}

#[async_trait]
impl IngestStore for PgStore {
    async fn begin_ingest(&self, limit: u32) -> Result<Option<(Box<dyn IngestTx>, Vec<PendingEvent>)>> {
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
            "SELECT id, body, received_at FROM webhook_events WHERE state = 'pending' ORDER BY id LIMIT $1",
        )
        .bind(i64::from(limit))
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
                received_at: r.received_at,
            })
            .collect();
        Ok(Some((Box::new(PgIngestTx { tx }), events)))
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

    async fn unrouted_changes(
        &self,
        phone_number_id: &PhoneNumberId,
        limit: u32,
    ) -> Result<Vec<(i64, serde_json::Value)>> {
        let rows: Vec<(i64, Json<serde_json::Value>)> = sqlx::query_as(
            "SELECT id, value FROM recorded_changes WHERE reason = $1 AND phone_number_id = $2 ORDER BY id LIMIT $3",
        )
        .bind(RecordReason::NoChannel.as_str())
        .bind(phone_number_id.as_str())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .db()?;
        Ok(rows.into_iter().map(|(id, value)| (id, value.0)).collect())
    }

    async fn delete_recorded_changes(&self, ids: &[i64]) -> Result<()> {
        sqlx::query("DELETE FROM recorded_changes WHERE id = ANY($1)").bind(ids).execute(self.pool()).await.db()?;
        Ok(())
    }

    async fn recorded_changes(
        &self,
        reason: RecordReason,
        limit: u32,
    ) -> Result<Vec<(EventId, String, serde_json::Value)>> {
        let rows: Vec<(i64, String, Json<serde_json::Value>)> = sqlx::query_as(
            "SELECT event_id, field, value FROM recorded_changes WHERE reason = $1 ORDER BY id LIMIT $2",
        )
        .bind(reason.as_str())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .db()?;
        Ok(rows.into_iter().map(|(id, field, value)| (EventId::new(id), field, value.0)).collect())
    }
}

#[async_trait]
impl IngestTx for PgIngestTx {
    async fn apply_inbound(&mut self, m: &NewInbound<'_>) -> Result<InboundOutcome> {
        let msg = m.message;
        let c = m.contact;
        let new_contact_id = ContactId::new();
        let new_conversation_id = ConversationId::new();
        let message_id = MessageId::new();
        let row: Option<(Uuid, Uuid)> = sqlx::query_as(APPLY_INBOUND.as_str())
            .bind(m.channel.as_uuid()) // $1
            .bind(msg.wamid.as_str())
            .bind(new_contact_id.as_uuid())
            .bind(c.wa_id.as_str())
            .bind(opt_text(c.profile_name.as_deref())) // $5
            .bind(opt_text(c.user_id.as_deref()))
            .bind(opt_text(c.parent_user_id.as_deref()))
            .bind(opt_text(c.username.as_deref()))
            .bind(m.received_at)
            .bind(new_conversation_id.as_uuid()) // $10
            .bind(ConversationStatus::Open.as_str())
            .bind(m.window_closes_at)
            .bind(msg.timestamp)
            .bind(Jsonb::opt(msg.referral.as_ref())?)
            .bind(message_id.as_uuid()) // $15
            .bind(Direction::Inbound.as_str())
            .bind(msg.content.kind().as_str())
            .bind(opt_text(msg.content.text()))
            .bind(Jsonb::new(&msg.content)?)
            .bind(opt_text(msg.content.media().and_then(|m| m.id.as_deref()))) // $20
            .bind(Jsonb::opt(msg.context.as_ref())?)
            .bind(Jsonb::opt((!msg.errors.is_empty()).then_some(&msg.errors))?)
            .bind(Jsonb::new(&msg.raw)?)
            .bind(DeliveryState::Received.as_str())
            .bind(m.event_id.get()) // $25
            .fetch_optional(&mut *self.tx)
            .await
            .db()?;
        let Some((contact, conversation)) = row else {
            return Ok(InboundOutcome::Duplicate);
        };
        Ok(InboundOutcome::Stored {
            message_id,
            conversation_id: ConversationId::from_uuid(conversation),
            contact_id: ContactId::from_uuid(contact),
            new_contact: contact == *new_contact_id.as_uuid(),
            new_conversation: conversation == *new_conversation_id.as_uuid(),
        })
    }

    async fn apply_status(
        &mut self,
        channel: ChannelId,
        report: &StatusReport,
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

    async fn auto_reply_facts(
        &mut self,
        conversation: ConversationId,
        contact: ContactId,
        message: MessageId,
        now: DateTime<Utc>,
    ) -> Result<AutoReplyFacts> {
        crate::autoreply::facts(&mut self.tx, conversation, contact, message, now).await
    }

    async fn enqueue_auto_reply(&mut self, m: &NewOutbound<'_>, rule: &str) -> Result<MessageId> {
        crate::autoreply::enqueue_auto_reply(&mut self.tx, m, rule).await
    }

    async fn assign_conversation(
        &mut self,
        conversation: ConversationId,
        agent: AgentId,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        crate::autoreply::assign_conversation(&mut self.tx, conversation, agent, at).await
    }

    async fn assign_to_team(
        &mut self,
        conversation: ConversationId,
        team: TeamId,
        at: DateTime<Utc>,
    ) -> Result<Option<AgentId>> {
        crate::autoreply::assign_to_team(&mut self.tx, conversation, team, at).await
    }

    async fn record_rule_fired(&mut self, conversation: ConversationId, rule: &str, at: DateTime<Utc>) -> Result<()> {
        crate::autoreply::record_rule_fired(&mut self.tx, conversation, rule, at).await
    }

    async fn attribute_conversation(
        &mut self,
        a: &switchboard_store::Attribution<'_>,
    ) -> Result<Option<switchboard_domain::LinkId>> {
        crate::links::attribute(&mut self.tx, a).await
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
        .map(|r| Ok((r.timestamp, delivery_state(&r.status)?, r.errors.map(|j| j.0).unwrap_or_default())))
        .collect::<Result<Vec<(DateTime<Utc>, DeliveryState, Vec<StatusError>)>>>()?;
    reports.sort_by_key(|(at, state, _)| (*at, state.report_order()));
    for (at, state, errors) in &reports {
        d.apply(*state, *at, errors);
    }
    Ok(())
}
