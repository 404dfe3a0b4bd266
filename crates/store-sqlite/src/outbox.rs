//! The transactional outbox: every message Switchboard sends, as a `queued` message plus
//! a job, claimed by senders with a lease.
//!
//! - A sent job is deleted; the message row keeps the history. Dead and failed jobs are
//!   kept until an admin requeues them.
//! - One conversation's jobs go out in id order: a job is claimable only if no other
//!   `ready` job of its conversation is older or leased (so a job waiting for a retry
//!   holds back the ones behind it, and a conversation never has two jobs in flight).
//! - The claim looks for candidates on a reader, without the write gate (an idle poll
//!   writes nothing), then leases them with one `UPDATE … RETURNING` that checks every
//!   condition again: that statement is the one that decides.
//! - A claim's token is its `locked_until` (a later claim always leases until later). A
//!   sender whose lease expired may still report an outcome: `Retry` and `Failed` apply
//!   only to a job still `ready` and leased by the claim they carry, so a late one never
//!   undoes a later claim. A `Sent` applies to a job that still exists, whoever holds it
//!   (it is deleted, so a second `Sent`, a duplicate send, changes nothing and keeps the
//!   first wamid): Meta has the message, so the job is deleted even if another sender
//!   had marked it failed or dead meanwhile (the message then stays `failed`, forward
//!   only, but gets its wamid and `sent_at`).
//! - A job whose lease expired is claimed again only a grace period later: the sender
//!   may have died after Meta accepted the message, whose status webhook, naming the
//!   message in its callback data, then completes the job ([`reconcile_sent`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;
use sqlx::types::Json;
use switchboard_domain::inbound::StatusReport;
use switchboard_domain::{AgentId, ChannelId, DeliveryState, Direction, JobId, MessageId, Wamid};
use switchboard_store::{
    Enqueued, NewOutbound, OutboxDepth, OutboxEntry, OutboxJob, OutboxState, OutboxStore, Result, SendOutcome,
    SendResult, StatusOutcome, StoreError,
};
use uuid::Uuid;

use crate::SqliteStore;
use crate::error::DbResultExt;
use crate::ingest::{take_pending_statuses, update_delivery};
use crate::nul::{json, opt_text, text};
use crate::rows::{ClaimedRow, DeliveryRow, OutboxEntryRow, Values, corrupt, ms};
use crate::views::apply_sent;

/// The conditions that make outbox row `o` claimable at `?1` (now), the lease ends
/// before `$expired` counting as run out (now less the grace): ready, due, not leased,
/// and no other ready job of its conversation older or leased.
macro_rules! claimable {
    ($expired:literal) => {
        concat!(
            "o.state = 'ready' AND o.run_at <= ?1 AND (o.locked_until IS NULL OR o.locked_until < ",
            $expired,
            ") AND NOT EXISTS (SELECT 1 FROM outbox p \
               WHERE p.conversation_id = o.conversation_id AND p.state = 'ready' AND p.id <> o.id \
                 AND (p.id < o.id OR p.locked_until >= ",
            $expired,
            "))"
        )
    };
}

async fn message_by_key(conn: &mut SqliteConnection, agent: AgentId, key: &str) -> Result<Option<MessageId>> {
    let id: Option<Uuid> = sqlx::query_scalar("SELECT id FROM messages WHERE sent_by = ?1 AND idempotency_key = ?2")
        .bind(agent.as_uuid())
        .bind(text(key))
        .fetch_optional(conn)
        .await
        .db()?;
    Ok(id.map(MessageId::from_uuid))
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn enqueue_outbound(&self, m: &NewOutbound<'_>) -> Result<Enqueued> {
        let mut w = self.begin_write().await?;
        match insert_outbound(w.conn(), m, None).await? {
            Inserted::Created(message_id) => {
                w.commit().await?;
                Ok(Enqueued { message_id, created: true })
            }
            Inserted::Existing(message_id) => {
                w.rollback().await?;
                Ok(Enqueued { message_id, created: false })
            }
        }
    }

    async fn claim_outbox_reconciling(
        &self,
        limit: u32,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        grace: chrono::Duration,
    ) -> Result<Vec<OutboxJob>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Candidates from a reader: scanning a backlog never holds the write gate. Their
        // number and recipient too (a conversation's channel and contact never change):
        // SQLite runs a correlated subquery in RETURNING as a scan.
        let candidates: Vec<(i64, String, String, bool)> = sqlx::query_as(concat!(
            "SELECT o.id, ch.phone_number_id, ct.wa_id, ",
            switchboard_store_sql::withheld_by_consent!(),
            " FROM outbox o \
             JOIN channels ch ON ch.id = o.channel_id \
             JOIN conversations c ON c.id = o.conversation_id \
             JOIN contacts ct ON ct.id = c.contact_id \
             WHERE ",
            claimable!("?3"),
            " ORDER BY o.id LIMIT ?2"
        ))
        .bind(ms(now))
        .bind(i64::from(limit))
        .bind(ms(now - grace))
        .fetch_all(self.pool())
        .await
        .db()?;
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        // The lease: one statement that checks everything again, on the current data.
        let ids: Vec<i64> = candidates.iter().map(|c| c.0).collect();
        let mut w = self.write_conn().await?;
        let rows: Vec<ClaimedRow> = sqlx::query_as(concat!(
            "UPDATE outbox AS o SET locked_until = ?2, attempts = attempts + 1, updated_at = ?1 \
             WHERE o.id IN (SELECT value FROM json_each(?3)) AND ",
            claimable!("?4"),
            " RETURNING id, message_id, conversation_id, channel_id, request, attempts, created_at, locked_until"
        ))
        .bind(ms(now))
        .bind(ms(lease_until))
        .bind(Json(&ids))
        .bind(ms(now - grace))
        .fetch_all(&mut *w)
        .await
        .db()?;
        drop(w);
        let mut jobs = rows
            .into_iter()
            .map(|r| {
                let (_, phone_number_id, wa_id, withheld) = candidates
                    .iter()
                    .find(|c| c.0 == r.id)
                    .ok_or_else(|| corrupt("the claim leased a job it was not offered"))?;
                r.job(phone_number_id, wa_id, *withheld)
            })
            .collect::<Result<Vec<OutboxJob>>>()?;
        jobs.sort_by_key(|j| j.id);
        Ok(jobs)
    }

    async fn complete_outbox(&self, results: &[SendResult], at: DateTime<Utc>) -> Result<()> {
        if results.is_empty() {
            return Ok(());
        }
        let mut ordered: Vec<&SendResult> = results.iter().collect();
        ordered.sort_by_key(|r| r.job_id);
        let mut w = self.begin_write().await?;
        let sent: Vec<(i64, MessageId, &Wamid)> =
            ordered.iter().filter_map(|r| r.sent()).map(|(job, message, wamid)| (job.get(), message, wamid)).collect();
        complete_sent(w.conn(), &sent, at).await?;
        for r in ordered.into_iter().filter(|r| !matches!(r.outcome, SendOutcome::Sent { .. })) {
            complete_one(w.conn(), r, at).await?;
        }
        w.commit().await
    }

    async fn list_outbox(&self, state: OutboxState, limit: u32) -> Result<Vec<OutboxEntry>> {
        let rows: Vec<OutboxEntryRow> = sqlx::query_as(
            "SELECT id, message_id, conversation_id, state, attempts, run_at, last_error, created_at \
             FROM outbox WHERE state = ?1 ORDER BY id LIMIT ?2",
        )
        .bind(state.as_str())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .db()?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn outbox_depth(&self) -> Result<OutboxDepth> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetch_all(self.pool()).await.db()?;
        Ok(OutboxDepth::from_counts(rows))
    }

    async fn requeue_outbox(&self, id: JobId, now: DateTime<Utc>) -> Result<()> {
        let mut w = self.begin_write().await?;
        let conn = w.conn();
        // A fresh job: attempts and age start again (the sender's age limit counts from
        // `created_at`); the last error stays for reference.
        let message: Option<Uuid> = sqlx::query_scalar(
            "UPDATE outbox SET state = 'ready', attempts = 0, run_at = ?1, locked_until = NULL, \
               created_at = ?1, updated_at = ?1 \
             WHERE id = ?2 AND state IN ('dead', 'failed') RETURNING message_id",
        )
        .bind(ms(now))
        .bind(id.get())
        .fetch_optional(&mut *conn)
        .await
        .db()?;
        let message = message.ok_or(StoreError::NotFound)?;
        sqlx::query(
            "UPDATE messages SET state = ?1, failed_at = NULL, error_code = NULL, error_title = NULL, \
               error_details = NULL \
             WHERE id = ?2",
        )
        .bind(DeliveryState::Queued.as_str())
        .bind(message)
        .execute(&mut *conn)
        .await
        .db()?;
        w.commit().await
    }

    async fn requeue_all_outbox(&self, state: Option<OutboxState>, now: DateTime<Utc>) -> Result<u64> {
        let mut w = self.begin_write().await?;
        let conn = w.conn();
        let state = state.map(OutboxState::as_str);
        // The messages first, while their jobs are still dead or failed (one writer: the
        // set cannot change in between).
        sqlx::query(
            "UPDATE messages SET state = ?1, failed_at = NULL, error_code = NULL, error_title = NULL, \
               error_details = NULL \
             WHERE id IN (SELECT message_id FROM outbox \
                          WHERE state IN ('dead', 'failed') AND (?2 IS NULL OR state = ?2))",
        )
        .bind(DeliveryState::Queued.as_str())
        .bind(state)
        .execute(&mut *conn)
        .await
        .db()?;
        let n = sqlx::query(
            "UPDATE outbox SET state = 'ready', attempts = 0, run_at = ?1, locked_until = NULL, \
               created_at = ?1, updated_at = ?1 \
             WHERE state IN ('dead', 'failed') AND (?2 IS NULL OR state = ?2)",
        )
        .bind(ms(now))
        .bind(state)
        .execute(&mut *conn)
        .await
        .db()?
        .rows_affected();
        w.commit().await?;
        Ok(n)
    }
}

/// What [`insert_outbound`] did.
pub(crate) enum Inserted {
    Created(MessageId),
    /// An earlier request with the same idempotency key created this one: nothing was
    /// written (the caller rolls back).
    Existing(MessageId),
}

/// Records an outbound message (state `queued`, `auto_rule` when a rule sent it: the
/// auto-reply log follows from the insert) and its outbox job inside the caller's write
/// transaction. `NotFound` if the conversation does
/// not exist. Shared by agents' replies and the ingest worker's auto-replies.
pub(crate) async fn insert_outbound(
    conn: &mut SqliteConnection,
    m: &NewOutbound<'_>,
    auto_rule: Option<&str>,
) -> Result<Inserted> {
    // A key is scoped to an agent; without one it has no scope and is not kept.
    let key = m.sent_by.zip(m.idempotency_key);
    if let Some((agent, key)) = key
        && let Some(existing) = message_by_key(conn, agent, key).await?
    {
        return Ok(Inserted::Existing(existing));
    }

    // A person's message: what it answers, read before its insert clears `waiting_since`.
    let facts = match m.sent_by {
        Some(_) => crate::kpis::reply_facts(conn, m.conversation_id).await?,
        None => None,
    };

    // The conversation's channel is read by the insert itself (one statement).
    let id = MessageId::new();
    let inserted: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO messages (id, conversation_id, channel_id, direction, kind, text, content, \
           media_id, state, sent_by, idempotency_key, timestamp, created_at, auto_rule) \
         SELECT ?1, c.id, c.channel_id, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12 \
         FROM conversations c WHERE c.id = ?2 \
         ON CONFLICT (sent_by, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING \
         RETURNING channel_id",
    )
    .bind(id.as_uuid())
    .bind(m.conversation_id.as_uuid())
    .bind(Direction::Outbound.as_str())
    .bind(m.content.kind().as_str())
    .bind(opt_text(m.content.text()))
    .bind(json(m.content)?)
    .bind(opt_text(m.content.media().and_then(|m| m.id.as_deref())))
    .bind(DeliveryState::Queued.as_str())
    .bind(m.sent_by.map(|a| *a.as_uuid()))
    .bind(key.map(|(_, k)| text(k)))
    .bind(ms(m.at))
    .bind(auto_rule.map(text))
    .fetch_optional(&mut *conn)
    .await
    .db()?;
    let Some(channel) = inserted else {
        // Another writer (another process on this file) stored the key first, or the
        // conversation does not exist.
        let existing = match key {
            Some((agent, key)) => message_by_key(conn, agent, key).await?,
            None => None,
        };
        return existing.map(Inserted::Existing).ok_or(StoreError::NotFound);
    };

    // The conversation's last activity and count (and the auto-reply log for `auto_rule`)
    // follow from the insert: triggers `messages_outbound_conversation` and
    // `messages_auto_reply_log`.
    sqlx::query(
        "INSERT INTO outbox (message_id, conversation_id, channel_id, state, attempts, run_at, \
           request, created_at, updated_at) \
         VALUES (?1, ?2, ?3, 'ready', 0, ?4, ?5, ?4, ?4)",
    )
    .bind(id.as_uuid())
    .bind(m.conversation_id.as_uuid())
    .bind(channel)
    .bind(ms(m.at))
    .bind(json(m.request)?)
    .execute(&mut *conn)
    .await
    .db()?;
    if let (Some(agent), Some(facts)) = (m.sent_by, &facts) {
        crate::kpis::record_reply(conn, m.conversation_id, facts, id, agent, m.at).await?;
    }
    Ok(Inserted::Created(id))
}

/// The sent jobs `(job id, message id, wamid)` as rows ([`Values`]): delete the jobs
/// still there, then mark their messages sent, unless a status report for the wamid is
/// parked (those go through `apply_sent`, one by one).
static DELETE_SENT: Values = Values::new(
    3,
    0,
    "DELETE FROM outbox WHERE (id, message_id) IN (SELECT j.c0, j.c1 FROM j WHERE j.c0 IS NOT NULL) RETURNING id",
);
static MARK_SENT: Values = Values::new(
    3,
    1,
    "UPDATE messages SET wamid = j.c2, state = 'sent', sent_at = COALESCE(messages.sent_at, ?) \
     FROM j \
     WHERE j.c0 IS NOT NULL AND messages.id = j.c1 AND messages.direction = 'outbound' \
       AND messages.state = 'queued' \
       AND NOT EXISTS (SELECT 1 FROM pending_statuses p WHERE p.channel_id = messages.channel_id AND p.wamid = j.c2) \
     RETURNING messages.id",
);

/// Records the `Sent` outcomes of a batch set-wise: two statements whatever its size,
/// instead of five per job. Deletes the jobs that still exist (a job already completed
/// was sent twice: logged, its first wamid kept); marks their messages `sent` with their
/// wamid when they are simply `queued` with no status report waiting for them (the
/// common case); and folds everything else in message by message, as a status report
/// would ([`apply_sent`]).
async fn complete_sent(
    conn: &mut SqliteConnection,
    sent: &[(i64, MessageId, &Wamid)],
    at: DateTime<Utc>,
) -> Result<()> {
    if sent.is_empty() {
        return Ok(());
    }
    let rows = |which: &dyn Fn(i64) -> bool| -> Vec<(i64, Uuid, &str)> {
        sent.iter()
            .filter(|s| which(s.0))
            .map(|(job, message, wamid)| (*job, *message.as_uuid(), wamid.as_str()))
            .collect()
    };
    let done: Vec<i64> = DELETE_SENT
        .fetch_all::<_, _, (i64,)>(&mut *conn, (), rows(&|_| true))
        .await?
        .into_iter()
        .map(|r| r.0)
        .collect();
    for (job, message, wamid) in sent.iter().filter(|s| !done.contains(&s.0)) {
        let recorded: Option<Option<String>> = sqlx::query_scalar("SELECT wamid FROM messages WHERE id = ?1")
            .bind(message.as_uuid())
            .fetch_optional(&mut *conn)
            .await
            .db()?;
        if recorded.flatten().as_deref() == Some(wamid.as_str()) {
            tracing::debug!(job, message_id = %message, %wamid, "send already recorded from its status webhook");
        } else {
            tracing::warn!(job, message_id = %message, %wamid,
                "sent a job that was already completed (its lease had expired): a duplicate send");
        }
    }
    if done.is_empty() {
        return Ok(());
    }
    let fast: Vec<(Uuid,)> = MARK_SENT.fetch_all(&mut *conn, (ms(at),), rows(&|job| done.contains(&job))).await?;
    for (_, message, wamid) in sent.iter().filter(|s| done.contains(&s.0)) {
        if !fast.iter().any(|(id,)| id == message.as_uuid()) {
            apply_sent(conn, *message, wamid, at).await?;
        }
    }
    Ok(())
}

/// A status report for wamid `report.wamid`, which no message has, naming message `id`
/// in its callback data (see `IngestTx::apply_status`): if that message is outbound on
/// `channel` and has no wamid, Meta accepted a send whose outcome was never recorded.
/// Records it as a `Sent` outcome would (the job deleted, whatever its state; the
/// message takes the wamid and `sent`, then the reports of that wamid, this one last).
/// `None` if the message is not such a message.
pub(crate) async fn reconcile_sent(
    conn: &mut SqliteConnection,
    channel: ChannelId,
    id: MessageId,
    report: &StatusReport,
    state: DeliveryState,
) -> Result<Option<StatusOutcome>> {
    let row: Option<DeliveryRow> = sqlx::query_as(
        "SELECT id, channel_id, state, sent_at, delivered_at, read_at, failed_at \
         FROM messages WHERE id = ?1 AND channel_id = ?2 AND direction = 'outbound' AND wamid IS NULL",
    )
    .bind(id.as_uuid())
    .bind(channel.as_uuid())
    .fetch_optional(&mut *conn)
    .await
    .db()?;
    let Some(row) = row else { return Ok(None) };
    sqlx::query("DELETE FROM outbox WHERE message_id = ?1").bind(id.as_uuid()).execute(&mut *conn).await.db()?;
    let before = row.delivery()?;
    let mut after = before.clone();
    after.apply(DeliveryState::Sent, report.timestamp, &[]);
    take_pending_statuses(conn, row.channel_id, &report.wamid, &mut after).await?;
    after.apply(state, report.timestamp, &report.errors);
    update_delivery(conn, row.id, Some(&report.wamid), &after).await?;
    tracing::info!(message_id = %id, wamid = %report.wamid, "send recorded from its status webhook");
    Ok(Some(if after.state == before.state {
        StatusOutcome::Stale { message_id: id }
    } else {
        StatusOutcome::Applied { message_id: id, from: before.state, to: after.state }
    }))
}

switchboard_store_sql::outbox_failures!(SqliteConnection);

/// The write gate keeps a message read before its delivery is updated from changing.
const MESSAGE_LOCK: &str = "";
