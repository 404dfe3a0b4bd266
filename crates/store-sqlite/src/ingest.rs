//! Claiming pending events and applying them, in one write transaction per batch.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

use anyhow::anyhow;
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;
use sqlx::types::Json;
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
use crate::nul::{json, opt_json, opt_text, text};
use crate::outbox::reconcile_sent;
use crate::rows::{ChannelRow, DeliveryRow, PendingEventRow, PendingStatusRow, Values, delivery_state, ms};
use crate::{SqliteStore, WriteTx};
use switchboard_domain::Delivery;

/// The three statements of `apply_inbound_batch`, each over the round's rows bound as
/// one `VALUES` list ([`Values`]): a round costs three statements whatever its length.
///
/// The contact upsert skips messages whose wamid is already stored: no row back for a
/// contact means its message is a duplicate, and then nothing changes, not even the
/// contact. (`WHERE` also keeps SQLite from reading `ON CONFLICT` as a join.)
static UPSERT_CONTACTS: Values = Values::new(
    9,
    0,
    "INSERT INTO contacts (id, wa_id, profile_name, user_id, parent_user_id, username, created_at, updated_at) \
     SELECT j.c0, j.c1, j.c2, j.c3, j.c4, j.c5, j.c6, j.c6 FROM j \
     WHERE j.c0 IS NOT NULL AND NOT EXISTS (SELECT 1 FROM messages WHERE channel_id = j.c7 AND wamid = j.c8) \
     ON CONFLICT (wa_id) DO UPDATE SET \
       profile_name = COALESCE(excluded.profile_name, profile_name), \
       user_id = COALESCE(excluded.user_id, user_id), \
       parent_user_id = COALESCE(excluded.parent_user_id, parent_user_id), \
       username = COALESCE(excluded.username, username), \
       updated_at = excluded.updated_at \
     RETURNING id, wa_id",
);

/// The conversation upsert: the status an existing conversation takes is
/// `ConversationStatus::on_inbound`, spelled out as a CASE from the domain rule. It also
/// sets `waiting_since` as the message's insert would (trigger `messages_waiting_inbound`,
/// which then finds nothing to change): one write of the conversation row instead of two.
static UPSERT_CONVERSATIONS: LazyLock<Values> = LazyLock::new(|| {
    let mut case = String::from("CASE status");
    for s in [
        ConversationStatus::Open,
        ConversationStatus::Pending,
        ConversationStatus::Snoozed,
        ConversationStatus::Resolved,
    ] {
        case.push_str(&format!(" WHEN '{}' THEN '{}'", s.as_str(), s.on_inbound().as_str()));
    }
    case.push_str(" ELSE status END");
    let body = format!(
        "INSERT INTO conversations (id, channel_id, contact_id, status, window_closes_at, \
           last_inbound_at, last_message_at, message_count, referral, created_at, waiting_since) \
         SELECT j.c0, j.c1, j.c2, ?, j.c3, j.c4, j.c4, 1, j.c5, j.c6, j.c4 \
         FROM j WHERE j.c0 IS NOT NULL \
         ON CONFLICT (channel_id, contact_id) WHERE status <> 'resolved' DO UPDATE SET \
           status = {case}, \
           window_closes_at = MAX(COALESCE(window_closes_at, excluded.window_closes_at), \
                                  COALESCE(excluded.window_closes_at, window_closes_at)), \
           last_inbound_at = MAX(COALESCE(last_inbound_at, excluded.last_inbound_at), excluded.last_inbound_at), \
           last_message_at = MAX(last_message_at, excluded.last_message_at), \
           message_count = message_count + 1, \
           waiting_since = MIN(COALESCE(waiting_since, excluded.waiting_since), excluded.waiting_since) \
         RETURNING id, contact_id"
    );
    Values::new(7, 1, body.leak())
});

static INSERT_MESSAGES: Values = Values::new(
    15,
    2,
    "INSERT INTO messages (id, conversation_id, channel_id, direction, wamid, kind, \
       text, content, media_id, context, referral, errors, raw, state, timestamp, created_at, event_id) \
     SELECT j.c0, j.c1, j.c2, ?, j.c3, j.c4, j.c5, j.c6, j.c7, j.c8, j.c9, j.c10, j.c11, ?, j.c12, j.c13, j.c14 \
     FROM j WHERE j.c0 IS NOT NULL",
);

/// A contact row of `UPSERT_CONTACTS`.
type ContactRow<'a> = (
    Uuid,
    &'a str,
    Option<Cow<'a, str>>,
    Option<Cow<'a, str>>,
    Option<Cow<'a, str>>,
    Option<Cow<'a, str>>,
    i64,
    Uuid,
    &'a str,
);

/// A conversation row of `UPSERT_CONVERSATIONS`.
type ConversationRow = (Uuid, Uuid, Uuid, Option<i64>, i64, Option<String>, i64);

/// A message row of `INSERT_MESSAGES`.
type MessageRow<'a> = (
    Uuid,
    Uuid,
    Uuid,
    &'a str,
    &'static str,
    Option<Cow<'a, str>>,
    String,
    Option<Cow<'a, str>>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    i64,
    i64,
    i64,
);

/// The write transaction of one ingest batch: it holds the write gate throughout.
pub(crate) struct SqliteIngestTx {
    w: WriteTx,
}

#[async_trait]
impl IngestStore for SqliteStore {
    async fn begin_ingest(&self, limit: u32) -> Result<Option<IngestBatch>> {
        // Between batches, the search indexes catch up with what the last ones stored. A
        // failure there must not hold up messages: logged, retried at the next poll (and a
        // search catches up before it runs in any case).
        if let Err(e) = self.index_search_if_due().await {
            tracing::warn!(error = %e, "could not bring the search indexes up to date; retrying later");
        }
        // An idle poll must not take the write lock: look first, without the gate.
        let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM webhook_events WHERE state = 'pending')")
            .fetch_one(self.pool())
            .await
            .db()?;
        if !any {
            return Ok(None);
        }
        let mut w = self.begin_write().await?;
        // The sizes are summed over the claim's ids alone; the bodies are then read in id
        // order straight from the pending index, never sorted (a sort would copy them).
        let rows: Vec<PendingEventRow> = sqlx::query_as(
            "WITH claimed AS (SELECT id, length(body) AS size FROM webhook_events \
               WHERE state = 'pending' ORDER BY id LIMIT ?1), \
             sized AS (SELECT id, SUM(COALESCE(size, 0)) OVER (ORDER BY id) - COALESCE(size, 0) AS before \
               FROM claimed) \
             SELECT e.id, e.body, e.received_at FROM webhook_events e \
             WHERE e.state = 'pending' AND e.id <= (SELECT MAX(id) FROM sized WHERE before < ?2) \
             ORDER BY e.id",
        )
        .bind(i64::from(limit))
        .bind(INGEST_BATCH_BYTES)
        .fetch_all(w.conn())
        .await
        .db()?;
        if rows.is_empty() {
            w.rollback().await?;
            return Ok(None);
        }
        let events = rows
            .into_iter()
            .map(|r| {
                Ok(PendingEvent {
                    id: EventId::new(r.id),
                    // Bodies are purged only once applied; an empty body fails to parse
                    // and is then marked failed instead of blocking the log.
                    body: r.body.map(Bytes::from).unwrap_or_default(),
                    received_at: r.received_at.0,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(IngestBatch { tx: Box::new(SqliteIngestTx { w }), events }))
    }

    async fn mark_event_failed(&self, id: EventId, error: &str, at: DateTime<Utc>) -> Result<()> {
        let mut w = self.write_conn().await?;
        let n = sqlx::query("UPDATE webhook_events SET state = 'failed', error = ?1, applied_at = ?2 WHERE id = ?3")
            .bind(text(error))
            .bind(ms(at))
            .bind(id.get())
            .execute(&mut *w)
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
        let mut w = self.write_conn().await?;
        let row: ChannelRow = sqlx::query_as(
            "INSERT INTO channels (id, phone_number_id, name, created_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (phone_number_id) DO UPDATE SET name = excluded.name \
             RETURNING id, phone_number_id, name",
        )
        .bind(ChannelId::new().as_uuid())
        .bind(phone_number_id.as_str())
        .bind(text(name))
        .bind(ms(at))
        .fetch_one(&mut *w)
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
            "SELECT id, value FROM recorded_changes WHERE reason = ?1 AND phone_number_id = ?2 ORDER BY id LIMIT ?3",
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
        if ids.is_empty() {
            return Ok(());
        }
        let ids = serde_json::to_string(ids).map_err(|e| StoreError::Other(anyhow::anyhow!(e)))?;
        let mut w = self.write_conn().await?;
        sqlx::query("DELETE FROM recorded_changes WHERE id IN (SELECT value FROM json_each(?1))")
            .bind(ids)
            .execute(&mut *w)
            .await
            .db()?;
        Ok(())
    }

    async fn recorded_changes(&self, reason: RecordReason, limit: u32) -> Result<Vec<StoredChange>> {
        let rows: Vec<(i64, String, Json<serde_json::Value>)> = sqlx::query_as(
            "SELECT event_id, field, value FROM recorded_changes WHERE reason = ?1 ORDER BY id LIMIT ?2",
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
impl IngestTx for SqliteIngestTx {
    async fn apply_inbound_batch(&mut self, batch: &[NewInbound<'_>]) -> Result<Vec<InboundOutcome>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let conn = self.w.conn();
        let contact_ids: Vec<ContactId> = batch.iter().map(|_| ContactId::new()).collect();
        let rows: Vec<ContactRow<'_>> = batch
            .iter()
            .zip(&contact_ids)
            .map(|(m, id)| {
                let c = m.contact;
                (
                    *id.as_uuid(),
                    c.wa_id.as_str(),
                    opt_text(c.profile_name.as_deref()),
                    opt_text(c.user_id.as_deref()),
                    opt_text(c.parent_user_id.as_deref()),
                    opt_text(c.username.as_deref()),
                    ms(m.received_at),
                    *m.channel.as_uuid(),
                    m.message.wamid.as_str(),
                )
            })
            .collect();
        let contacts: Vec<(Uuid, String)> = UPSERT_CONTACTS.fetch_all(&mut *conn, (), rows).await?;
        // RETURNING comes in no set order: by wa_id (a round has one message per contact).
        let contacts: HashMap<String, Uuid> = contacts.into_iter().map(|(id, wa_id)| (wa_id, id)).collect();
        // Which messages are new, and their contacts.
        let stored: Vec<(usize, Uuid)> = batch
            .iter()
            .enumerate()
            .filter_map(|(i, m)| contacts.get(m.contact.wa_id.as_str()).map(|id| (i, *id)))
            .collect();
        if stored.is_empty() {
            return Ok(vec![InboundOutcome::Duplicate; batch.len()]);
        }

        let conversation_ids: Vec<ConversationId> = stored.iter().map(|_| ConversationId::new()).collect();
        let rows = stored
            .iter()
            .zip(&conversation_ids)
            .map(|(&(i, contact), id)| {
                let m = &batch[i];
                Ok((
                    *id.as_uuid(),
                    *m.channel.as_uuid(),
                    contact,
                    m.window_closes_at.map(ms),
                    ms(m.message.timestamp),
                    opt_json(m.message.referral.as_ref())?,
                    ms(m.received_at),
                ))
            })
            .collect::<Result<Vec<ConversationRow>>>()?;
        let conversations: Vec<(Uuid, Uuid)> =
            UPSERT_CONVERSATIONS.fetch_all(&mut *conn, (ConversationStatus::Open.as_str(),), rows).await?;
        let conversations: HashMap<Uuid, Uuid> = conversations.into_iter().map(|(id, contact)| (contact, id)).collect();
        let conversation_of = |contact: Uuid| {
            conversations
                .get(&contact)
                .copied()
                .ok_or_else(|| StoreError::Other(anyhow!("no conversation upserted for a contact")))
        };

        let message_ids: Vec<MessageId> = stored.iter().map(|_| MessageId::new()).collect();
        let rows = stored
            .iter()
            .zip(&message_ids)
            .map(|(&(i, contact), id)| {
                let m = &batch[i];
                let msg = m.message;
                Ok((
                    *id.as_uuid(),
                    conversation_of(contact)?,
                    *m.channel.as_uuid(),
                    msg.wamid.as_str(),
                    msg.content.kind().as_str(),
                    opt_text(msg.content.text()),
                    json(&msg.content)?,
                    opt_text(msg.content.media().and_then(|m| m.id.as_deref())),
                    opt_json(msg.context.as_ref())?,
                    opt_json(msg.referral.as_ref())?,
                    opt_json((!msg.errors.is_empty()).then_some(&msg.errors))?,
                    json(&msg.raw)?,
                    ms(msg.timestamp),
                    ms(m.received_at),
                    m.event_id.get(),
                ))
            })
            .collect::<Result<Vec<MessageRow<'_>>>>()?;
        INSERT_MESSAGES
            .execute(&mut *conn, (Direction::Inbound.as_str(), DeliveryState::Received.as_str()), rows)
            .await?;

        let mut outcomes = vec![InboundOutcome::Duplicate; batch.len()];
        for ((&(i, contact), message_id), proposed) in stored.iter().zip(message_ids).zip(&conversation_ids) {
            let conversation = conversation_of(contact)?;
            outcomes[i] = InboundOutcome::Stored {
                message_id,
                conversation_id: ConversationId::from_uuid(conversation),
                contact_id: ContactId::from_uuid(contact),
                new_contact: contact == *contact_ids[i].as_uuid(),
                new_conversation: conversation == *proposed.as_uuid(),
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
        let conn = self.w.conn();
        let row: Option<DeliveryRow> = sqlx::query_as(
            "SELECT id, channel_id, state, sent_at, delivered_at, read_at, failed_at \
             FROM messages WHERE channel_id = ?1 AND wamid = ?2",
        )
        .bind(channel.as_uuid())
        .bind(report.wamid.as_str())
        .fetch_optional(&mut *conn)
        .await
        .db()?;
        let Some(row) = row else {
            if let Some(id) = sent_as
                && let Some(outcome) = reconcile_sent(conn, channel, id, report, state).await?
            {
                return Ok(outcome);
            }
            sqlx::query(
                "INSERT INTO pending_statuses (channel_id, wamid, status, timestamp, errors, recipient_id, received_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
            )
            .bind(channel.as_uuid())
            .bind(report.wamid.as_str())
            .bind(state.as_str())
            .bind(ms(report.timestamp))
            .bind(opt_json((!report.errors.is_empty()).then_some(&report.errors))?)
            .bind(opt_text(report.recipient_id.as_deref()))
            .bind(ms(received_at))
            .execute(&mut *conn)
            .await
            .db()?;
            return Ok(StatusOutcome::Pending);
        };
        let before = row.delivery()?;
        let mut after = before.clone();
        let moved = after.apply(state, report.timestamp, &report.errors);
        if after != before {
            update_delivery(conn, row.id, None, &after).await?;
        }
        let message_id = MessageId::from_uuid(row.id);
        Ok(if moved {
            StatusOutcome::Applied { message_id, from: before.state, to: after.state }
        } else {
            StatusOutcome::Stale { message_id }
        })
    }

    async fn record_change(&mut self, change: &RecordedChange<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO recorded_changes (event_id, reason, field, phone_number_id, waba_id, value, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(change.event_id.get())
        .bind(change.reason.as_str())
        .bind(text(change.field))
        .bind(opt_text(change.phone_number_id))
        .bind(opt_text(change.waba_id))
        .bind(json(change.value)?)
        .bind(ms(change.at))
        .execute(self.w.conn())
        .await
        .db()?;
        Ok(())
    }

    async fn mark_applied(&mut self, events: &[EventId], at: DateTime<Utc>) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        // One statement whatever the batch size: the ids travel as a JSON array.
        let ids: Vec<i64> = events.iter().map(|e| e.get()).collect();
        sqlx::query(
            "UPDATE webhook_events SET state = 'applied', applied_at = ?1 \
             WHERE state = 'pending' AND id IN (SELECT value FROM json_each(?2))",
        )
        .bind(ms(at))
        .bind(Json(&ids))
        .execute(self.w.conn())
        .await
        .db()?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.w.commit().await
    }

    async fn auto_reply_facts_batch(
        &mut self,
        of: &[(ConversationId, ContactId, MessageId)],
        now: DateTime<Utc>,
    ) -> Result<Vec<AutoReplyFacts>> {
        crate::autoreply::facts(self.w.conn(), of, now).await
    }

    async fn enqueue_auto_replies_leasing(
        &mut self,
        replies: &[NewAutoReply<'_>],
        lease: Lease,
    ) -> Result<Vec<QueuedReply>> {
        crate::autoreply::enqueue_auto_replies(self.w.conn(), replies, lease).await
    }

    async fn assign_conversation(
        &mut self,
        conversation: ConversationId,
        agent: AgentId,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        crate::autoreply::assign_conversation(self.w.conn(), conversation, agent, at).await
    }

    async fn team_assignee(&mut self, conversation: ConversationId, team: TeamId) -> Result<Option<AgentId>> {
        crate::assignment::team_assignee(self.w.conn(), conversation, team).await
    }

    async fn route_to_team(&mut self, conversation: ConversationId, team: TeamId, at: DateTime<Utc>) -> Result<bool> {
        crate::queue::route_to_team(self.w.conn(), conversation, team, at).await
    }

    async fn team_pool(&mut self, team: TeamId) -> Result<Vec<switchboard_store::PoolAgent>> {
        crate::assignment::team_pool(self.w.conn(), team).await
    }

    async fn record_rule_fired(
        &mut self,
        conversation: ConversationId,
        rule: RuleRef,
        at: DateTime<Utc>,
    ) -> Result<()> {
        crate::autoreply::record_rule_fired(self.w.conn(), conversation, rule, at).await
    }

    async fn attribute_conversation(
        &mut self,
        a: &switchboard_store::Attribution<'_>,
    ) -> Result<Option<switchboard_domain::LinkId>> {
        crate::links::attribute(self.w.conn(), a).await
    }

    async fn record_csat_answer(
        &mut self,
        a: &switchboard_store::CsatAnswerIn<'_>,
    ) -> Result<switchboard_store::CsatAnswerOutcome> {
        crate::csat::record_answer(self.w.conn(), a).await
    }

    async fn start_sla(&mut self, conversations: &[ConversationId]) -> Result<()> {
        crate::sla::start_sla(self.w.conn(), conversations).await
    }

    async fn csat_comment_asked(&mut self, conversation: ConversationId, at: DateTime<Utc>) -> Result<()> {
        crate::csat::comment_asked(self.w.conn(), conversation, at).await
    }

    async fn csat_comments_awaited(
        &mut self,
        wa_ids: &[&switchboard_domain::WaId],
        now: DateTime<Utc>,
    ) -> Result<Vec<(ChannelId, switchboard_domain::WaId)>> {
        crate::csat::comments_awaited(self.w.conn(), wa_ids, now).await
    }

    async fn record_csat_comment(
        &mut self,
        c: &switchboard_store::CsatCommentIn<'_>,
    ) -> Result<Option<ConversationId>> {
        crate::csat::record_comment(self.w.conn(), c).await
    }

    async fn record_consent(
        &mut self,
        c: &switchboard_store::NewConsent<'_>,
    ) -> Result<switchboard_store::ConsentChange> {
        crate::consent::record(self.w.conn(), c).await
    }

    async fn add_labels(
        &mut self,
        conversation: ConversationId,
        labels: &[switchboard_domain::LabelId],
        at: DateTime<Utc>,
    ) -> Result<()> {
        crate::labels::add_labels(self.w.conn(), conversation, labels, None, at).await.map(|_| ())
    }
}

/// Writes a message's delivery columns (and its wamid, when given).
pub(crate) async fn update_delivery(
    conn: &mut SqliteConnection,
    id: Uuid,
    wamid: Option<&Wamid>,
    d: &Delivery,
) -> Result<()> {
    let e = d.error.as_ref();
    sqlx::query(
        "UPDATE messages SET wamid = COALESCE(?1, wamid), state = ?2, \
           sent_at = ?3, delivered_at = ?4, read_at = ?5, failed_at = ?6, \
           error_code = CASE WHEN ?7 IS NULL THEN error_code ELSE ?7 END, \
           error_title = CASE WHEN ?7 IS NULL THEN error_title ELSE ?8 END, \
           error_details = CASE WHEN ?7 IS NULL THEN error_details ELSE ?9 END \
         WHERE id = ?10",
    )
    .bind(wamid.map(Wamid::as_str))
    .bind(d.state.as_str())
    .bind(d.sent_at.map(ms))
    .bind(d.delivered_at.map(ms))
    .bind(d.read_at.map(ms))
    .bind(d.failed_at.map(ms))
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
/// them into `d`, oldest first.
pub(crate) async fn take_pending_statuses(
    conn: &mut SqliteConnection,
    channel: Uuid,
    wamid: &Wamid,
    d: &mut Delivery,
) -> Result<()> {
    let rows: Vec<PendingStatusRow> = sqlx::query_as(
        "DELETE FROM pending_statuses WHERE channel_id = ?1 AND wamid = ?2 RETURNING status, timestamp, errors",
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
