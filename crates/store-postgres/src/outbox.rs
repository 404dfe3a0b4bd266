//! The transactional outbox: every message Switchboard sends, as a `queued` message plus
//! a job, claimed by senders with a lease.
//!
//! - A sent job is deleted; the message row keeps the history. Dead and failed jobs are
//!   kept until an admin requeues them.
//! - One conversation's jobs go out in id order: a job is claimable only if no other
//!   `ready` job of its conversation is older or leased (so a job waiting for a retry
//!   holds back the ones behind it, and a conversation never has two jobs in flight).
//! - Several instances claim at once with one `UPDATE … WHERE id IN (SELECT … FOR UPDATE
//!   SKIP LOCKED)`. No job is claimed twice: a claimer skips rows another one has locked,
//!   and re-checks the lease of a row that was leased since its snapshot. No conversation
//!   gets two jobs in flight: the job at its head stays `ready` (leased) while it is being
//!   sent, so the jobs behind it fail the "nothing older" test in every snapshot until
//!   its outcome is committed. That needs ids to grow in commit order within a
//!   conversation, which enqueueing guarantees by locking the conversation row before
//!   taking an id (auto-replies lock all of their conversations, in id order, then take
//!   their ids in the order they are to be sent).
//! - Enqueueing and requeueing `NOTIFY` [`OUTBOX_CHANNEL`](crate::OUTBOX_CHANNEL) on
//!   commit, so idle senders of every instance wake up.
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
use sqlx::{PgConnection, PgExecutor};
use switchboard_domain::inbound::StatusReport;
use switchboard_domain::{AgentId, ChannelId, DeliveryState, Direction, JobId, MessageId, Wamid};
use switchboard_store::{
    Enqueued, NewOutbound, OutboxDepth, OutboxEntry, OutboxJob, OutboxState, OutboxStore, Result, SendOutcome,
    SendResult, StatusOutcome, StoreError,
};
use uuid::Uuid;

use crate::error::DbResultExt;
use crate::ingest::{take_pending_statuses, update_delivery, wamid_lock_key};
use crate::nul::{Jsonb, opt_text, text};
use crate::rows::{DeliveryRow, OutboxEntryRow, OutboxJobRow};
use crate::views::{apply_sent, retrying};
use crate::{OUTBOX_CHANNEL, PgStore, WAMID_LOCK_CLASS};

/// The claim. `$1` now, `$2` the lease, `$3` the limit, `$4` now less the grace (a lease
/// that ended before it has run out).
const CLAIM: &str = concat!(
    "WITH picked AS MATERIALIZED ( \
      SELECT o.id FROM outbox o \
      WHERE o.state = 'ready' AND o.run_at <= $1 AND (o.locked_until IS NULL OR o.locked_until < $4) \
        AND NOT EXISTS (SELECT 1 FROM outbox p \
          WHERE p.conversation_id = o.conversation_id AND p.state = 'ready' AND p.id <> o.id \
            AND (p.id < o.id OR p.locked_until >= $4)) \
      ORDER BY o.id LIMIT $3 \
      FOR UPDATE OF o SKIP LOCKED \
    ) \
    UPDATE outbox o SET locked_until = $2, attempts = o.attempts + 1, updated_at = $1 \
    FROM picked, channels ch, conversations c, contacts ct \
    WHERE o.id = picked.id AND ch.id = o.channel_id AND c.id = o.conversation_id AND ct.id = c.contact_id \
    RETURNING o.id, o.message_id, o.conversation_id, o.channel_id, ch.phone_number_id, ct.wa_id, \
      o.request, o.attempts, o.created_at, o.locked_until, ",
    switchboard_store_sql::withheld_by_consent!(),
    " AS withheld"
);

async fn message_by_key<'e>(db: impl PgExecutor<'e>, agent: AgentId, key: &str) -> Result<Option<MessageId>> {
    let id: Option<Uuid> = sqlx::query_scalar("SELECT id FROM messages WHERE sent_by = $1 AND idempotency_key = $2")
        .bind(agent.as_uuid())
        .bind(text(key))
        .fetch_optional(db)
        .await
        .db()?;
    Ok(id.map(MessageId::from_uuid))
}

async fn notify(conn: &mut PgConnection) -> Result<()> {
    sqlx::query("SELECT pg_notify($1, '')").bind(OUTBOX_CHANNEL).execute(conn).await.db()?;
    Ok(())
}

/// Records an agent's outbound message (state `queued`) and its outbox job inside the
/// caller's transaction, and `NOTIFY`s the senders on commit. `NotFound` if the
/// conversation does not exist; `None` if a message with the same idempotency key exists
/// (ON CONFLICT: the caller rolls back and looks it up). The ingest worker's auto-replies
/// do the same set-wise, a slice per statement (`autoreply.rs`, `ENQUEUE`).
pub(crate) async fn insert_outbound(conn: &mut PgConnection, m: &NewOutbound<'_>) -> Result<Option<MessageId>> {
    let key = m.sent_by.zip(m.idempotency_key);
    // The conversation's row lock orders its enqueues: ids are taken below, after it,
    // so they grow in commit order (see the module docs).
    let channel: Option<Uuid> = sqlx::query_scalar("SELECT channel_id FROM conversations WHERE id = $1 FOR UPDATE")
        .bind(m.conversation_id.as_uuid())
        .fetch_optional(&mut *conn)
        .await
        .db()?;
    let channel = channel.ok_or(StoreError::NotFound)?;
    // A person's message: what it answers, read before its insert clears `waiting_since`.
    let facts = match m.sent_by {
        Some(_) => crate::kpis::reply_facts(conn, m.conversation_id).await?,
        None => None,
    };

    let id = MessageId::new();
    // A concurrent request with the same key: this waits for it, then does nothing.
    let inserted: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO messages (id, conversation_id, channel_id, direction, kind, text, content, \
           media_id, state, sent_by, idempotency_key, timestamp, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) \
         ON CONFLICT (sent_by, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING \
         RETURNING id",
    )
    .bind(id.as_uuid())
    .bind(m.conversation_id.as_uuid())
    .bind(channel)
    .bind(Direction::Outbound.as_str())
    .bind(m.content.kind().as_str())
    .bind(opt_text(m.content.text()))
    .bind(Jsonb::new(m.content)?)
    .bind(opt_text(m.content.media().and_then(|m| m.id.as_deref())))
    .bind(DeliveryState::Queued.as_str())
    .bind(m.sent_by.map(|a| *a.as_uuid()))
    .bind(key.map(|(_, k)| text(k)))
    .bind(m.at)
    .fetch_optional(&mut *conn)
    .await
    .db()?;
    if inserted.is_none() {
        return Ok(None);
    }

    sqlx::query(
        "UPDATE conversations SET last_message_at = GREATEST(last_message_at, $1), \
           message_count = message_count + 1 \
         WHERE id = $2",
    )
    .bind(m.at)
    .bind(m.conversation_id.as_uuid())
    .execute(&mut *conn)
    .await
    .db()?;
    sqlx::query(
        "INSERT INTO outbox (message_id, conversation_id, channel_id, state, attempts, run_at, \
           request, created_at, updated_at) \
         VALUES ($1, $2, $3, 'ready', 0, $4, $5, $4, $4)",
    )
    .bind(id.as_uuid())
    .bind(m.conversation_id.as_uuid())
    .bind(channel)
    .bind(m.at)
    .bind(Jsonb::new(m.request)?)
    .execute(&mut *conn)
    .await
    .db()?;
    if let (Some(agent), Some(facts)) = (m.sent_by, &facts) {
        crate::kpis::record_reply(conn, m.conversation_id, facts, id, agent, m.at).await?;
    }
    notify(conn).await?;
    Ok(Some(id))
}

#[async_trait]
impl OutboxStore for PgStore {
    async fn enqueue_outbound(&self, m: &NewOutbound<'_>) -> Result<Enqueued> {
        // A key is scoped to an agent; without one it has no scope and is not kept.
        let key = m.sent_by.zip(m.idempotency_key);
        let replay = |message_id| Enqueued { message_id, created: false };
        if let Some((agent, key)) = key
            && let Some(existing) = message_by_key(self.pool(), agent, key).await?
        {
            return Ok(replay(existing));
        }
        let mut tx = self.pool().begin().await.db()?;
        let Some(id) = insert_outbound(&mut tx, m).await? else {
            tx.rollback().await.db()?;
            // The winner has committed (or ON CONFLICT would not have fired): a new
            // statement sees it.
            let existing = match key {
                Some((agent, key)) => message_by_key(self.pool(), agent, key).await?,
                None => None,
            };
            return existing.map(replay).ok_or(StoreError::Conflict { what: "idempotency key" });
        };
        tx.commit().await.db()?;
        Ok(Enqueued { message_id: id, created: true })
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
        let rows: Vec<OutboxJobRow> = sqlx::query_as(CLAIM)
            .bind(now)
            .bind(lease_until)
            .bind(i64::from(limit))
            .bind(now - grace)
            .fetch_all(self.pool())
            .await
            .db()?;
        let mut jobs = rows.into_iter().map(TryInto::try_into).collect::<Result<Vec<OutboxJob>>>()?;
        jobs.sort_by_key(|j| j.id);
        Ok(jobs)
    }

    async fn complete_outbox(&self, results: &[SendResult], at: DateTime<Utc>) -> Result<()> {
        if results.is_empty() {
            return Ok(());
        }
        let mut ordered: Vec<&SendResult> = results.iter().collect();
        ordered.sort_by_key(|r| r.job_id);
        retrying(|| self.try_complete(&ordered, at)).await
    }

    async fn list_outbox(&self, state: OutboxState, limit: u32) -> Result<Vec<OutboxEntry>> {
        let rows: Vec<OutboxEntryRow> = sqlx::query_as(
            "SELECT id, message_id, conversation_id, state, attempts, run_at, last_error, created_at \
             FROM outbox WHERE state = $1 ORDER BY id LIMIT $2",
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
        let mut tx = self.pool().begin().await.db()?;
        let conn = &mut *tx;
        // A fresh job: attempts and age start again (the sender's age limit counts from
        // `created_at`); the last error stays for reference.
        let message: Option<Uuid> = sqlx::query_scalar(
            "UPDATE outbox SET state = 'ready', attempts = 0, run_at = $1, locked_until = NULL, \
               created_at = $1, updated_at = $1 \
             WHERE id = $2 AND state IN ('dead', 'failed') RETURNING message_id",
        )
        .bind(now)
        .bind(id.get())
        .fetch_optional(&mut *conn)
        .await
        .db()?;
        let message = message.ok_or(StoreError::NotFound)?;
        sqlx::query(
            "UPDATE messages SET state = $1, failed_at = NULL, error_code = NULL, error_title = NULL, \
               error_details = NULL \
             WHERE id = $2",
        )
        .bind(DeliveryState::Queued.as_str())
        .bind(message)
        .execute(&mut *conn)
        .await
        .db()?;
        notify(conn).await?;
        tx.commit().await.db()
    }

    async fn requeue_all_outbox(&self, state: Option<OutboxState>, now: DateTime<Utc>) -> Result<u64> {
        let mut tx = self.pool().begin().await.db()?;
        let conn = &mut *tx;
        // The jobs first (their rows locked by the update), then exactly their messages.
        let messages: Vec<Uuid> = sqlx::query_scalar(
            "UPDATE outbox SET state = 'ready', attempts = 0, run_at = $1, locked_until = NULL, \
               created_at = $1, updated_at = $1 \
             WHERE state IN ('dead', 'failed') AND ($2::text IS NULL OR state = $2) RETURNING message_id",
        )
        .bind(now)
        .bind(state.map(OutboxState::as_str))
        .fetch_all(&mut *conn)
        .await
        .db()?;
        if messages.is_empty() {
            return Ok(0);
        }
        sqlx::query(
            "UPDATE messages SET state = $1, failed_at = NULL, error_code = NULL, error_title = NULL, \
               error_details = NULL \
             WHERE id = ANY($2)",
        )
        .bind(DeliveryState::Queued.as_str())
        .bind(&messages)
        .execute(&mut *conn)
        .await
        .db()?;
        notify(conn).await?;
        tx.commit().await.db()?;
        Ok(messages.len() as u64)
    }
}

impl PgStore {
    async fn try_complete(&self, results: &[&SendResult], at: DateTime<Utc>) -> Result<()> {
        let mut tx = self.pool().begin().await.db()?;
        let conn = &mut *tx;
        let sent: Vec<(i64, MessageId, &Wamid)> =
            results.iter().filter_map(|r| r.sent()).map(|(job, message, wamid)| (job.get(), message, wamid)).collect();
        complete_sent(conn, &sent, at).await?;
        for r in results.iter().filter(|r| !matches!(r.outcome, SendOutcome::Sent { .. })) {
            complete_one(conn, r, at).await?;
        }
        tx.commit().await.db()
    }
}

/// Records the `Sent` outcomes of a batch set-wise: four statements whatever its size,
/// instead of five per job. Takes the wamid locks of every send first, before any row
/// lock (see the crate docs), in one order so that two batches cannot deadlock on them;
/// deletes the jobs that still exist (a job already completed was sent twice: logged,
/// its first wamid kept); marks their messages `sent` with their wamid when they are
/// simply `queued` with no status report waiting for them (the common case); and folds
/// everything else in message by message, as a status report would ([`apply_sent`]).
async fn complete_sent(conn: &mut PgConnection, sent: &[(i64, MessageId, &Wamid)], at: DateTime<Utc>) -> Result<()> {
    if sent.is_empty() {
        return Ok(());
    }
    let jobs: Vec<i64> = sent.iter().map(|(job, _, _)| *job).collect();
    let messages: Vec<Uuid> = sent.iter().map(|(_, message, _)| *message.as_uuid()).collect();
    let channels: Vec<(i64, Uuid)> = sqlx::query_as("SELECT id, channel_id FROM outbox WHERE id = ANY($1)")
        .bind(&jobs)
        .fetch_all(&mut *conn)
        .await
        .db()?;
    let mut locks: Vec<String> = sent
        .iter()
        .filter_map(|(job, _, wamid)| {
            channels.iter().find(|(id, _)| id == job).map(|(_, channel)| wamid_lock_key(*channel, wamid))
        })
        .collect();
    locks.sort_unstable();
    locks.dedup();
    // Taken in array order: the function is volatile, so it runs row by row as the
    // rows come, after `ORDER BY`.
    sqlx::query(
        "SELECT pg_advisory_xact_lock($1, hashtext(k)) FROM unnest($2::text[]) WITH ORDINALITY AS l (k, n) \
         ORDER BY n",
    )
    .bind(WAMID_LOCK_CLASS)
    .bind(&locks)
    .execute(&mut *conn)
    .await
    .db()?;
    let done: Vec<i64> = sqlx::query_scalar(
        "DELETE FROM outbox WHERE (id, message_id) IN (SELECT * FROM unnest($1::bigint[], $2::uuid[])) RETURNING id",
    )
    .bind(&jobs)
    .bind(&messages)
    .fetch_all(&mut *conn)
    .await
    .db()?;
    for (job, message, wamid) in sent.iter().filter(|(job, _, _)| !done.contains(job)) {
        let recorded: Option<Option<String>> = sqlx::query_scalar("SELECT wamid FROM messages WHERE id = $1")
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
    let done: Vec<&(i64, MessageId, &Wamid)> = sent.iter().filter(|(job, _, _)| done.contains(job)).collect();
    if done.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = done.iter().map(|(_, message, _)| *message.as_uuid()).collect();
    let wamids: Vec<&str> = done.iter().map(|(_, _, wamid)| wamid.as_str()).collect();
    let fast: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE messages m SET wamid = s.wamid, state = 'sent', sent_at = COALESCE(m.sent_at, $3) \
         FROM unnest($1::uuid[], $2::text[]) AS s (id, wamid) \
         WHERE m.id = s.id AND m.direction = 'outbound' AND m.state = 'queued' \
           AND NOT EXISTS (SELECT 1 FROM pending_statuses p WHERE p.channel_id = m.channel_id AND p.wamid = s.wamid) \
         RETURNING m.id",
    )
    .bind(&ids)
    .bind(&wamids)
    .bind(at)
    .fetch_all(&mut *conn)
    .await
    .db()?;
    for (_, message, wamid) in done {
        if !fast.contains(message.as_uuid()) {
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
/// `None` if the message is not such a message. The caller holds the wamid lock; the
/// job's row is locked before the message's, in the order `complete_sent` takes them.
pub(crate) async fn reconcile_sent(
    conn: &mut PgConnection,
    channel: ChannelId,
    id: MessageId,
    report: &StatusReport,
    state: DeliveryState,
) -> Result<Option<StatusOutcome>> {
    sqlx::query(
        "DELETE FROM outbox o USING messages m \
         WHERE o.message_id = $1 AND m.id = o.message_id AND m.channel_id = $2 AND m.wamid IS NULL",
    )
    .bind(id.as_uuid())
    .bind(channel.as_uuid())
    .execute(&mut *conn)
    .await
    .db()?;
    let row: Option<DeliveryRow> = sqlx::query_as(
        "SELECT id, channel_id, state, sent_at, delivered_at, read_at, failed_at \
         FROM messages WHERE id = $1 AND channel_id = $2 AND direction = 'outbound' AND wamid IS NULL FOR UPDATE",
    )
    .bind(id.as_uuid())
    .bind(channel.as_uuid())
    .fetch_optional(&mut *conn)
    .await
    .db()?;
    let Some(row) = row else { return Ok(None) };
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

switchboard_store_sql::outbox_failures!(PgConnection);

/// A message read before its delivery is updated is locked until the transaction ends.
const MESSAGE_LOCK: &str = " FOR UPDATE";
