//! Auto-replies: the configuration admins write, and the ingest transaction's part (the
//! engine's facts, queueing an auto-reply, a rule's assignment).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::de::DeserializeOwned;
use sqlx::types::Json;
use sqlx::{PgConnection, PgExecutor};
use switchboard_domain::autoreply::{AutoReplyConfig, QuickReply, RuleFiring, RuleRef, Shortcut};
use switchboard_domain::{
    AgentId, ChannelId, ContactId, ConversationId, DeliveryState, Direction, JobId, MessageId, QuickReplyId, RuleId,
};
use switchboard_store::{
    AutoReplyFacts, AutoReplyStore, ChannelAutoReplies, ChannelAutoRepliesPatch, Lease, NewAutoReply, QueuedReply,
    Result, StoreError, StoredRule,
};
use uuid::Uuid;

use crate::error::DbResultExt;
use crate::nul::{Jsonb, opt_text};
use crate::{OUTBOX_CHANNEL, PgStore};

/// The facts of every `(conversation, contact, inbound message)` of `$1`, `$2`, `$3`
/// (one array each, unnested in input order), `$4` an hour before now. Each row's
/// subqueries are correlated to it, so each is the same index probe as for one message:
///
/// - The contact's previous activity: the message stored before this one in this
///   conversation (ids are time-ordered), and the last activity of their other
///   conversations (`conversations_contact`). `GREATEST` ignores NULLs.
/// - An agent's last message: `messages_agent_activity`, a partial index of agents'
///   messages only.
/// - The rules' last firing and the hourly count: `auto_replies_conversation_rule` and
///   `auto_replies_contact`.
const FACTS: &str = "SELECT \
      GREATEST( \
        (SELECT timestamp FROM messages WHERE conversation_id = i.conversation_id AND id < i.message_id \
           ORDER BY id DESC LIMIT 1), \
        (SELECT MAX(last_message_at) FROM conversations \
           WHERE contact_id = i.contact_id AND id <> i.conversation_id)) AS last_activity, \
      (SELECT timestamp FROM messages WHERE conversation_id = i.conversation_id AND sent_by IS NOT NULL \
         ORDER BY timestamp DESC LIMIT 1) AS last_agent, \
      (SELECT COUNT(*) FROM auto_replies \
         WHERE contact_id = i.contact_id AND sent_at > $4 AND message_id IS NOT NULL) AS last_hour, \
      f.rules, f.fired, \
      (SELECT attributes ->> 'language' FROM contacts \
         WHERE id = i.contact_id AND jsonb_typeof(attributes -> 'language') = 'string') AS language, \
      EXISTS (SELECT 1 FROM contacts WHERE id = i.contact_id AND opted_out_at IS NOT NULL) AS opted_out \
    FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) WITH ORDINALITY AS i (conversation_id, contact_id, message_id, n) \
    CROSS JOIN LATERAL (SELECT array_agg(rule) AS rules, array_agg(last) AS fired FROM ( \
        SELECT rule, MAX(sent_at) AS last FROM auto_replies WHERE conversation_id = i.conversation_id \
        GROUP BY rule) g) f \
    ORDER BY i.n";

type FactsRow = (
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    i64,
    Option<Vec<String>>,
    Option<Vec<DateTime<Utc>>>,
    Option<String>,
    bool,
);

/// See `IngestTx::auto_reply_facts_batch`: one statement for the whole slice.
pub(crate) async fn facts(
    conn: &mut PgConnection,
    of: &[(ConversationId, ContactId, MessageId)],
    now: DateTime<Utc>,
) -> Result<Vec<AutoReplyFacts>> {
    if of.is_empty() {
        return Ok(Vec::new());
    }
    let mut conversations = Vec::with_capacity(of.len());
    let mut contacts = Vec::with_capacity(of.len());
    let mut messages = Vec::with_capacity(of.len());
    for (conversation, contact, message) in of {
        conversations.push(*conversation.as_uuid());
        contacts.push(*contact.as_uuid());
        messages.push(*message.as_uuid());
    }
    let rows: Vec<FactsRow> = sqlx::query_as(FACTS)
        .bind(conversations)
        .bind(contacts)
        .bind(messages)
        .bind(now - Duration::hours(1))
        .fetch_all(conn)
        .await
        .db()?;
    if rows.len() != of.len() {
        return Err(StoreError::Other(anyhow::anyhow!("{} facts for {} messages", rows.len(), of.len())));
    }
    Ok(rows
        .into_iter()
        .map(|(last_activity, last_agent, last_hour, rules, fired, language, opted_out)| AutoReplyFacts {
            contact_last_activity: last_activity,
            last_agent_message: last_agent,
            // A rule string that is no `RuleRef` (written by a newer version?) is skipped.
            rules_last_fired: rules
                .unwrap_or_default()
                .into_iter()
                .zip(fired.unwrap_or_default())
                .filter_map(|(rule, at)| RuleRef::parse(&rule).ok().map(|rule| RuleFiring { rule, at }))
                .collect(),
            auto_replies_last_hour: u32::try_from(last_hour).unwrap_or(u32::MAX),
            contact_language: language,
            contact_opted_out: opted_out,
        })
        .collect())
}

/// Locks the conversations auto-replies go to, in id order so that two transactions
/// locking several never deadlock, before `ENQUEUE` takes any outbox id (see `outbox.rs`
/// on why ids must grow in commit order within a conversation). Answers each one's
/// channel and contact, for the messages, jobs and log rows.
const LOCK_CONVERSATIONS: &str =
    "SELECT id, channel_id, contact_id FROM conversations WHERE id = ANY($1) ORDER BY id FOR UPDATE";

/// `insert_outbound` (see `outbox.rs`) for a slice of auto-replies in one round trip,
/// plus their auto-reply log rows, once `LOCK_CONVERSATIONS` holds their conversations.
/// One array per column (`$1`..`$11`, `$15`), unnested in slice order (`n`). The jobs are
/// inserted `ORDER BY n`, so their ids (taken row by row as the sorted rows arrive) grow
/// in slice order: two replies to one conversation (greeting, then away) go out in that
/// order. Each conversation moves forward once, by all of its replies. No idempotency
/// key, so no conflict to handle.
///
/// A lease candidate (`$15`, `Lease::candidates`) is inserted leased until `$16`, as a
/// claim would lease it (attempt 1), when its conversation has no other job ready: the
/// statement's snapshot holds every job queued before (the conversation is locked), and
/// `candidates` takes care of those of the same statement. Answers the leased jobs (one
/// row of NULLs if none), and `NOTIFY`s the senders on commit if any job is not leased.
const ENQUEUE: &str = "WITH input AS ( \
      SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], \
        $7::jsonb[], $8::text[], $9::timestamptz[], $10::text[], $11::jsonb[]) WITH ORDINALITY \
        AS i (message_id, conversation_id, channel_id, contact_id, kind, text, content, media_id, at, rule, \
          request, n) \
    ), message AS ( \
      INSERT INTO messages (id, conversation_id, channel_id, direction, kind, text, content, media_id, state, \
        timestamp, created_at, auto_rule) \
      SELECT message_id, conversation_id, channel_id, $12, kind, text, content, media_id, $13, at, at, rule \
      FROM input \
    ), bumped AS ( \
      UPDATE conversations c SET last_message_at = GREATEST(c.last_message_at, g.at), \
        message_count = c.message_count + g.replies \
      FROM (SELECT conversation_id, MAX(at) AS at, COUNT(*) AS replies FROM input GROUP BY conversation_id) g \
      WHERE c.id = g.conversation_id \
    ), job AS ( \
      INSERT INTO outbox (message_id, conversation_id, channel_id, state, attempts, run_at, request, \
        created_at, updated_at, locked_until) \
      SELECT message_id, conversation_id, channel_id, 'ready', CASE WHEN leased THEN 1 ELSE 0 END, at, request, \
        at, at, CASE WHEN leased THEN $16::timestamptz END \
      FROM (SELECT i.*, c.candidate AND NOT EXISTS (SELECT 1 FROM outbox p \
              WHERE p.conversation_id = i.conversation_id AND p.state = 'ready') AS leased \
            FROM input i JOIN unnest($15::bool[]) WITH ORDINALITY AS c (candidate, n) ON c.n = i.n) x \
      ORDER BY n \
      RETURNING message_id, id, attempts \
    ), logged AS ( \
      INSERT INTO auto_replies (conversation_id, contact_id, rule, message_id, sent_at) \
      SELECT conversation_id, contact_id, rule, message_id, at FROM input \
    ), notified AS ( \
      SELECT pg_notify($14, '') FROM (SELECT 1 FROM job WHERE attempts = 0 LIMIT 1) unleased \
    ) \
    SELECT job.message_id, job.id FROM (SELECT count(*) FROM notified) once \
    LEFT JOIN job ON job.attempts > 0";

/// See `IngestTx::enqueue_auto_replies_leasing`: two statements for the whole slice.
pub(crate) async fn enqueue_auto_replies(
    conn: &mut PgConnection,
    replies: &[NewAutoReply<'_>],
    lease: Lease,
) -> Result<Vec<QueuedReply>> {
    if replies.iter().any(|r| r.message.idempotency_key.is_some() || r.message.sent_by.is_some()) {
        return Err(StoreError::Other(anyhow::anyhow!("an auto-reply has no idempotency key and no agent")));
    }
    if replies.is_empty() {
        return Ok(Vec::new());
    }
    let n = replies.len();
    let mut conversation_id = Vec::with_capacity(n);
    conversation_id.extend(replies.iter().map(|r| *r.message.conversation_id.as_uuid()));
    let mut locked: Vec<(Uuid, Uuid, Uuid)> =
        sqlx::query_as(LOCK_CONVERSATIONS).bind(&conversation_id).fetch_all(&mut *conn).await.db()?;
    // Already in this order (uuid compares bytewise on both sides); sorting a sorted
    // slice is one pass, and keeps the lookup below right whatever the collation.
    locked.sort_unstable_by_key(|(id, _, _)| *id);

    let mut ids = Vec::with_capacity(n);
    let mut message_id = Vec::with_capacity(n);
    let mut channel_id = Vec::with_capacity(n);
    let mut contact_id = Vec::with_capacity(n);
    let mut kind = Vec::with_capacity(n);
    let mut body = Vec::with_capacity(n);
    let mut content = Vec::with_capacity(n);
    let mut media_id = Vec::with_capacity(n);
    let mut at = Vec::with_capacity(n);
    let mut rules = Vec::with_capacity(n);
    let mut request = Vec::with_capacity(n);
    for NewAutoReply { message: m, rule } in replies {
        let i = locked.binary_search_by_key(m.conversation_id.as_uuid(), |(id, _, _)| *id);
        let (_, channel, contact) = locked[i.map_err(|_| StoreError::NotFound)?];
        let id = MessageId::new();
        ids.push(id);
        message_id.push(*id.as_uuid());
        channel_id.push(channel);
        contact_id.push(contact);
        kind.push(m.content.kind().as_str());
        body.push(opt_text(m.content.text()));
        content.push(Jsonb::new(m.content)?);
        media_id.push(opt_text(m.content.media().and_then(|m| m.id.as_deref())));
        at.push(m.at);
        rules.push(rule.to_string());
        request.push(Jsonb::new(m.request)?);
    }
    let leased: Vec<(Option<Uuid>, Option<i64>)> = sqlx::query_as(ENQUEUE)
        .bind(message_id) // $1
        .bind(conversation_id)
        .bind(channel_id)
        .bind(contact_id)
        .bind(kind) // $5
        .bind(body)
        .bind(content)
        .bind(media_id)
        .bind(at)
        .bind(rules) // $10
        .bind(request)
        .bind(Direction::Outbound.as_str())
        .bind(DeliveryState::Queued.as_str())
        .bind(OUTBOX_CHANNEL) // $14
        .bind(lease.candidates(replies))
        .bind(lease.until)
        .fetch_all(conn)
        .await
        .db()?;
    let leased: HashMap<Uuid, JobId> =
        leased.into_iter().filter_map(|(message, job)| message.zip(job.map(JobId::new))).collect();
    Ok(ids
        .into_iter()
        .map(|message_id| QueuedReply { message_id, leased_job: leased.get(message_id.as_uuid()).copied() })
        .collect())
}

pub(crate) async fn record_rule_fired(
    conn: &mut PgConnection,
    conversation: ConversationId,
    rule: RuleRef,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO auto_replies (conversation_id, contact_id, rule, message_id, sent_at) \
         SELECT id, contact_id, $2, NULL, $3 FROM conversations WHERE id = $1",
    )
    .bind(conversation.as_uuid())
    .bind(rule.to_string())
    .bind(at)
    .execute(conn)
    .await
    .db()?;
    Ok(())
}

pub(crate) async fn assign_conversation(
    conn: &mut PgConnection,
    conversation: ConversationId,
    agent: AgentId,
    at: DateTime<Utc>,
) -> Result<bool> {
    // Who had it, for the history.
    let previous: Option<Uuid> = sqlx::query_scalar("SELECT assignee_id FROM conversations WHERE id = $1")
        .bind(conversation.as_uuid())
        .fetch_optional(&mut *conn)
        .await
        .db()?
        .flatten();
    let n = sqlx::query(
        "UPDATE conversations SET assignee_id = $2 \
         WHERE id = $1 AND EXISTS (SELECT 1 FROM agents WHERE id = $2 AND active)",
    )
    .bind(conversation.as_uuid())
    .bind(agent.as_uuid())
    .execute(&mut *conn)
    .await
    .db()?
    .rows_affected();
    if n > 0 && previous != Some(*agent.as_uuid()) {
        let data = serde_json::json!({ "agent_id": agent, "previous_agent_id": previous, "via": "rule" });
        crate::queue::record_history(conn, conversation, switchboard_store::HistoryKind::Assigned, None, &data, at)
            .await?;
    }
    Ok(n > 0)
}

/// A stored JSON document as the domain type it was written from.
fn decode<T: DeserializeOwned>(what: &str, v: serde_json::Value) -> Result<T> {
    serde_json::from_value(v).map_err(|e| StoreError::corrupt(format!("{what}: {e}")))
}

fn decode_opt<T: DeserializeOwned>(what: &str, v: Option<Json<serde_json::Value>>) -> Result<Option<T>> {
    v.map(|v| decode(what, v.0)).transpose()
}

/// Bumps the configuration version inside the caller's transaction. Every write does this
/// FIRST: the version row's lock then serialises all configuration writes until commit,
/// so two new rules never take the same position, a reorder never misses a rule added
/// meanwhile, and writes never deadlock on each other's rows. A write that fails rolls
/// the bump back.
async fn bump_version(conn: &mut PgConnection) -> Result<i64> {
    sqlx::query_scalar("UPDATE auto_reply_version SET version = version + 1 WHERE id = 1 RETURNING version")
        .fetch_one(conn)
        .await
        .db()
}

/// Fails with `NotFound` unless the channel exists; its name.
async fn require_channel<'e>(db: impl PgExecutor<'e>, channel: ChannelId) -> Result<String> {
    let name: Option<String> = sqlx::query_scalar("SELECT name FROM channels WHERE id = $1")
        .bind(channel.as_uuid())
        .fetch_optional(db)
        .await
        .db()?;
    name.ok_or(StoreError::NotFound)
}

type Doc = Option<Json<serde_json::Value>>;
type SettingsRow = (Option<String>, Doc, Doc, Doc, Doc, Doc);

async fn read_settings<'e>(db: impl PgExecutor<'e>, channel: ChannelId) -> Result<ChannelAutoReplies> {
    let row: Option<SettingsRow> = sqlx::query_as(
        "SELECT business_name, locale, hours, greeting, away, limits FROM auto_reply_settings WHERE channel_id = $1",
    )
    .bind(channel.as_uuid())
    .fetch_optional(db)
    .await
    .db()?;
    let Some((business_name, locale, hours, greeting, away, limits)) = row else {
        return Ok(ChannelAutoReplies::default());
    };
    Ok(ChannelAutoReplies {
        business_name,
        locale: decode_opt("locale", locale)?,
        hours: decode_opt("hours", hours)?,
        greeting: decode_opt("greeting", greeting)?,
        away: decode_opt("away", away)?,
        limits: decode_opt("limits", limits)?,
    })
}

fn rule_row((channel, spec): (Option<Uuid>, Json<serde_json::Value>)) -> Result<StoredRule> {
    Ok(StoredRule { channel: channel.map(ChannelId::from_uuid), rule: decode("keyword rule", spec.0)? })
}

fn quick_reply_row(body: Json<serde_json::Value>) -> Result<QuickReply> {
    decode("quick reply", body.0)
}

/// A uniqueness conflict on `quick_replies` is the shortcut's (ids are checked first).
fn shortcut_conflict(e: StoreError) -> StoreError {
    match e {
        StoreError::Conflict { .. } => StoreError::Conflict { what: "quick reply shortcut" },
        e => e,
    }
}

#[async_trait]
impl AutoReplyStore for PgStore {
    async fn channel_auto_replies(&self, channel: ChannelId) -> Result<ChannelAutoReplies> {
        require_channel(self.pool(), channel).await?;
        read_settings(self.pool(), channel).await
    }

    async fn patch_channel_auto_replies(
        &self,
        channel: ChannelId,
        patch: &ChannelAutoRepliesPatch<'_>,
        at: DateTime<Utc>,
    ) -> Result<i64> {
        let mut tx = self.pool().begin().await.db()?;
        let version = bump_version(&mut tx).await?;
        require_channel(&mut *tx, channel).await?;
        // Unset fields of a first write are NULL; afterwards each column changes only if
        // the patch names it ($9..$14).
        sqlx::query(
            "INSERT INTO auto_reply_settings AS s \
               (channel_id, business_name, locale, hours, greeting, away, limits, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (channel_id) DO UPDATE SET \
               business_name = CASE WHEN $9 THEN excluded.business_name ELSE s.business_name END, \
               locale = CASE WHEN $10 THEN excluded.locale ELSE s.locale END, \
               hours = CASE WHEN $11 THEN excluded.hours ELSE s.hours END, \
               greeting = CASE WHEN $12 THEN excluded.greeting ELSE s.greeting END, \
               away = CASE WHEN $13 THEN excluded.away ELSE s.away END, \
               limits = CASE WHEN $14 THEN excluded.limits ELSE s.limits END, \
               updated_at = excluded.updated_at",
        )
        .bind(channel.as_uuid())
        .bind(opt_text(patch.business_name.flatten()))
        .bind(Jsonb::opt(patch.locale.flatten())?)
        .bind(Jsonb::opt(patch.hours.flatten())?)
        .bind(Jsonb::opt(patch.greeting.flatten())?)
        .bind(Jsonb::opt(patch.away.flatten())?)
        .bind(Jsonb::opt(patch.limits.flatten())?)
        .bind(at)
        .bind(patch.business_name.is_some())
        .bind(patch.locale.is_some())
        .bind(patch.hours.is_some())
        .bind(patch.greeting.is_some())
        .bind(patch.away.is_some())
        .bind(patch.limits.is_some())
        .execute(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()?;
        Ok(version)
    }

    async fn quick_replies(&self) -> Result<Vec<QuickReply>> {
        let rows: Vec<Json<serde_json::Value>> =
            sqlx::query_scalar("SELECT body FROM quick_replies ORDER BY shortcut").fetch_all(self.pool()).await.db()?;
        rows.into_iter().map(quick_reply_row).collect()
    }

    async fn quick_reply(&self, id: QuickReplyId) -> Result<Option<QuickReply>> {
        let row: Option<Json<serde_json::Value>> = sqlx::query_scalar("SELECT body FROM quick_replies WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_optional(self.pool())
            .await
            .db()?;
        row.map(quick_reply_row).transpose()
    }

    async fn quick_reply_by_shortcut(&self, shortcut: &Shortcut) -> Result<Option<QuickReply>> {
        let row: Option<Json<serde_json::Value>> =
            sqlx::query_scalar("SELECT body FROM quick_replies WHERE shortcut = $1")
                .bind(shortcut.as_str())
                .fetch_optional(self.pool())
                .await
                .db()?;
        row.map(quick_reply_row).transpose()
    }

    async fn create_quick_reply(&self, qr: &QuickReply, at: DateTime<Utc>) -> Result<()> {
        let mut tx = self.pool().begin().await.db()?;
        bump_version(&mut tx).await?;
        let taken: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM quick_replies WHERE id = $1)")
            .bind(qr.id.as_uuid())
            .fetch_one(&mut *tx)
            .await
            .db()?;
        if taken {
            return Err(StoreError::Conflict { what: "quick reply" });
        }
        sqlx::query(
            "INSERT INTO quick_replies (id, shortcut, body, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(qr.id.as_uuid())
        .bind(qr.shortcut.as_str())
        .bind(Jsonb::new(qr)?)
        .bind(at)
        .execute(&mut *tx)
        .await
        .db()
        .map_err(shortcut_conflict)?;
        tx.commit().await.db()
    }

    async fn update_quick_reply(&self, qr: &QuickReply, at: DateTime<Utc>) -> Result<()> {
        let mut tx = self.pool().begin().await.db()?;
        bump_version(&mut tx).await?;
        let n = sqlx::query("UPDATE quick_replies SET shortcut = $2, body = $3, updated_at = $4 WHERE id = $1")
            .bind(qr.id.as_uuid())
            .bind(qr.shortcut.as_str())
            .bind(Jsonb::new(qr)?)
            .bind(at)
            .execute(&mut *tx)
            .await
            .db()
            .map_err(shortcut_conflict)?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.db()
    }

    async fn delete_quick_reply(&self, id: QuickReplyId, _at: DateTime<Utc>) -> Result<()> {
        let mut tx = self.pool().begin().await.db()?;
        bump_version(&mut tx).await?;
        let n = sqlx::query("DELETE FROM quick_replies WHERE id = $1")
            .bind(id.as_uuid())
            .execute(&mut *tx)
            .await
            .db()?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.db()
    }

    async fn keyword_rules(&self) -> Result<Vec<StoredRule>> {
        let rows: Vec<(Option<Uuid>, Json<serde_json::Value>)> =
            sqlx::query_as("SELECT channel_id, spec FROM keyword_rules ORDER BY position, id")
                .fetch_all(self.pool())
                .await
                .db()?;
        rows.into_iter().map(rule_row).collect()
    }

    async fn keyword_rule(&self, id: RuleId) -> Result<Option<StoredRule>> {
        let row: Option<(Option<Uuid>, Json<serde_json::Value>)> =
            sqlx::query_as("SELECT channel_id, spec FROM keyword_rules WHERE id = $1")
                .bind(id.as_uuid())
                .fetch_optional(self.pool())
                .await
                .db()?;
        row.map(rule_row).transpose()
    }

    async fn create_keyword_rule(&self, rule: &StoredRule, at: DateTime<Utc>) -> Result<()> {
        let mut tx = self.pool().begin().await.db()?;
        bump_version(&mut tx).await?;
        if let Some(channel) = rule.channel {
            require_channel(&mut *tx, channel).await?;
        }
        sqlx::query(
            "INSERT INTO keyword_rules (id, channel_id, position, spec, created_at, updated_at) \
             VALUES ($1, $2, (SELECT COALESCE(MAX(position) + 1, 0) FROM keyword_rules), $3, $4, $4)",
        )
        .bind(rule.rule.id.as_uuid())
        .bind(rule.channel.map(|c| *c.as_uuid()))
        .bind(Jsonb::new(&rule.rule)?)
        .bind(at)
        .execute(&mut *tx)
        .await
        .db()
        .map_err(|e| match e {
            StoreError::Conflict { .. } => StoreError::Conflict { what: "rule" },
            e => e,
        })?;
        tx.commit().await.db()
    }

    async fn update_keyword_rule(&self, rule: &StoredRule, at: DateTime<Utc>) -> Result<()> {
        let mut tx = self.pool().begin().await.db()?;
        bump_version(&mut tx).await?;
        if let Some(channel) = rule.channel {
            require_channel(&mut *tx, channel).await?;
        }
        let n = sqlx::query("UPDATE keyword_rules SET channel_id = $2, spec = $3, updated_at = $4 WHERE id = $1")
            .bind(rule.rule.id.as_uuid())
            .bind(rule.channel.map(|c| *c.as_uuid()))
            .bind(Jsonb::new(&rule.rule)?)
            .bind(at)
            .execute(&mut *tx)
            .await
            .db()?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.db()
    }

    async fn delete_keyword_rule(&self, id: RuleId, _at: DateTime<Utc>) -> Result<()> {
        let mut tx = self.pool().begin().await.db()?;
        bump_version(&mut tx).await?;
        let n = sqlx::query("DELETE FROM keyword_rules WHERE id = $1")
            .bind(id.as_uuid())
            .execute(&mut *tx)
            .await
            .db()?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.db()
    }

    async fn reorder_keyword_rules(&self, order: &[RuleId], at: DateTime<Utc>) -> Result<()> {
        let mut tx = self.pool().begin().await.db()?;
        bump_version(&mut tx).await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM keyword_rules").fetch_one(&mut *tx).await.db()?;
        let distinct: std::collections::HashSet<&RuleId> = order.iter().collect();
        if distinct.len() != order.len() || usize::try_from(total).ok() != Some(order.len()) {
            return Err(StoreError::Conflict { what: "rule order" });
        }
        let ids: Vec<Uuid> = order.iter().map(|id| *id.as_uuid()).collect();
        let n = sqlx::query(
            "UPDATE keyword_rules r SET position = o.position - 1, updated_at = $2 \
             FROM unnest($1::uuid[]) WITH ORDINALITY AS o (id, position) WHERE r.id = o.id",
        )
        .bind(&ids)
        .bind(at)
        .execute(&mut *tx)
        .await
        .db()?
        .rows_affected();
        if usize::try_from(n).ok() != Some(order.len()) {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.db()
    }

    async fn auto_reply_config(&self, channel: ChannelId) -> Result<AutoReplyConfig> {
        // One REPEATABLE READ snapshot: every piece as of the same moment.
        let mut tx = self.pool().begin().await.db()?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await.db()?;
        let channel_name = require_channel(&mut *tx, channel).await?;
        let s = read_settings(&mut *tx, channel).await?;
        let quick_replies: Vec<Json<serde_json::Value>> =
            sqlx::query_scalar("SELECT body FROM quick_replies ORDER BY shortcut").fetch_all(&mut *tx).await.db()?;
        let rules: Vec<Json<serde_json::Value>> = sqlx::query_scalar(
            "SELECT spec FROM keyword_rules WHERE channel_id IS NULL OR channel_id = $1 ORDER BY position, id",
        )
        .bind(channel.as_uuid())
        .fetch_all(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()?;
        Ok(AutoReplyConfig {
            business_name: s.business_name.unwrap_or(channel_name),
            locale: s.locale.unwrap_or_default(),
            hours: s.hours,
            greeting: s.greeting,
            away: s.away,
            quick_replies: quick_replies.into_iter().map(quick_reply_row).collect::<Result<_>>()?,
            rules: rules.into_iter().map(|r| decode("keyword rule", r.0)).collect::<Result<_>>()?,
            limits: s.limits.unwrap_or_default(),
        })
    }

    async fn auto_reply_config_version(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT version FROM auto_reply_version WHERE id = 1").fetch_one(self.pool()).await.db()
    }
}
