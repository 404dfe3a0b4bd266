//! Auto-replies: the configuration admins write, and the ingest transaction's part (the
//! engine's facts, queueing an auto-reply, a rule's assignment).

use std::borrow::Cow;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::de::DeserializeOwned;
use sqlx::SqliteConnection;
use sqlx::types::Json;
use switchboard_domain::autoreply::{AutoReplyConfig, QuickReply, RuleFiring, RuleRef, Shortcut};
use switchboard_domain::{
    AgentId, ChannelId, ContactId, ConversationId, DeliveryState, Direction, JobId, MessageId, QuickReplyId, RuleId,
};
use switchboard_store::{
    AutoReplyFacts, AutoReplyStore, ChannelAutoReplies, ChannelAutoRepliesPatch, Lease, NewAutoReply, QueuedReply,
    Result, StoreError, StoredRule,
};
use uuid::Uuid;

use crate::SqliteStore;
use crate::error::DbResultExt;
use crate::nul::{json, opt_json, opt_text};
use crate::rows::{Values, corrupt, ms, time};

/// The messages' `(conversation, contact, inbound message)` as rows ([`Values`]), its parameter an
/// hour before now; one row per message, in order.
///
/// - The contact's previous activity: the message stored before this one in this
///   conversation (ids are time-ordered), and the last activity of their other
///   conversations (`conversations_contact`).
/// - An agent's last message: `messages_agent_activity`, a partial index of agents'
///   messages only.
/// - The rules' last firing and the hourly count: `auto_replies_conversation_rule` and
///   `auto_replies_contact`.
static FACTS: Values = Values::new(
    3,
    1,
    "SELECT \
      (SELECT MAX(t) FROM ( \
         SELECT (SELECT timestamp FROM messages WHERE conversation_id = j.c0 AND id < j.c2 ORDER BY id DESC LIMIT 1) AS t \
         UNION ALL \
         SELECT MAX(last_message_at) FROM conversations WHERE contact_id = j.c1 AND id <> j.c0)) AS last_activity, \
      (SELECT timestamp FROM messages WHERE conversation_id = j.c0 AND sent_by IS NOT NULL \
         ORDER BY timestamp DESC LIMIT 1) AS last_agent, \
      (SELECT COUNT(*) FROM auto_replies WHERE contact_id = j.c1 AND sent_at > ? AND message_id IS NOT NULL) AS last_hour, \
      (SELECT json_group_array(json_array(rule, last)) FROM ( \
         SELECT rule, MAX(sent_at) AS last FROM auto_replies WHERE conversation_id = j.c0 GROUP BY rule)) AS fired, \
      (SELECT json_extract(attributes, '$.language') FROM contacts \
         WHERE id = j.c1 AND json_type(attributes, '$.language') = 'text') AS language, \
      EXISTS (SELECT 1 FROM contacts WHERE id = j.c1 AND opted_out_at IS NOT NULL) AS opted_out \
    FROM j WHERE j.c0 IS NOT NULL ORDER BY j.k",
);

/// The last activity, the agent's last message, the hourly count, `[[rule, ms]]`, and
/// the contact's language and consent.
type FactsRow = (Option<i64>, Option<i64>, i64, Json<Vec<(String, i64)>>, Option<String>, bool);

pub(crate) async fn facts(
    conn: &mut SqliteConnection,
    of: &[(ConversationId, ContactId, MessageId)],
    now: DateTime<Utc>,
) -> Result<Vec<AutoReplyFacts>> {
    if of.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(Uuid, Uuid, Uuid)> =
        of.iter().map(|(cv, ct, m)| (*cv.as_uuid(), *ct.as_uuid(), *m.as_uuid())).collect();
    let found: Vec<FactsRow> = FACTS.fetch_all(conn, (ms(now - Duration::hours(1)),), rows).await?;
    found
        .into_iter()
        .map(|(last_activity, last_agent, last_hour, fired, language, opted_out)| {
            Ok(AutoReplyFacts {
                contact_last_activity: last_activity.map(time).transpose()?,
                last_agent_message: last_agent.map(time).transpose()?,
                // A rule string that is no `RuleRef` (written by a newer version?) is skipped.
                rules_last_fired: fired
                    .0
                    .into_iter()
                    .filter_map(|(rule, at)| match time(at) {
                        Ok(at) => RuleRef::parse(&rule).ok().map(|rule| Ok(RuleFiring { rule, at })),
                        Err(e) => Some(Err(e)),
                    })
                    .collect::<Result<_>>()?,
                auto_replies_last_hour: u32::try_from(last_hour).unwrap_or(u32::MAX),
                contact_language: language,
                contact_opted_out: opted_out,
            })
        })
        .collect()
}

/// The two statements of `enqueue_auto_replies`, over the replies as rows ([`Values`]).
/// `CROSS JOIN` keeps the rows the outer loop, read as they are bound: SQLite neither
/// copies them into a temporary table nor sorts the messages (their order does not
/// matter: their ids are time-ordered); the jobs are sorted, their ids must follow the
/// rows. The conversation's last activity and count and the auto-reply log follow
/// from the message insert (triggers `messages_outbound_conversation` and
/// `messages_auto_reply_log`); the conversation's channel is read by the inserts.
static INSERT_AUTO_REPLIES: Values = Values::new(
    8,
    2,
    "INSERT INTO messages (id, conversation_id, channel_id, direction, kind, text, \
       content, media_id, state, timestamp, created_at, auto_rule) \
     SELECT j.c0, c.id, c.channel_id, ?, j.c2, j.c3, j.c4, j.c5, ?, j.c6, j.c6, j.c7 \
     FROM j CROSS JOIN conversations c ON c.id = j.c1 WHERE j.c0 IS NOT NULL",
);
/// Of the conversations given as rows, those with a job ready to go (queued, retrying
/// or leased): a job queued for them now waits its turn.
static BUSY: Values = Values::new(
    1,
    0,
    "SELECT j.c0 FROM j WHERE j.c0 IS NOT NULL \
       AND EXISTS (SELECT 1 FROM outbox p WHERE p.conversation_id = j.c0 AND p.state = 'ready')",
);

/// The jobs: message id, conversation id, at, request, and whether the job is leased
/// at insert (its parameter: the lease's end), as a claim would lease it (attempt 1).
static INSERT_AUTO_REPLY_JOBS: Values = Values::new(
    5,
    1,
    "INSERT INTO outbox (message_id, conversation_id, channel_id, state, attempts, \
       run_at, request, created_at, updated_at, locked_until) \
     SELECT j.c0, c.id, c.channel_id, 'ready', j.c4 IS NOT NULL, j.c2, j.c3, j.c2, j.c2, \
       CASE WHEN j.c4 IS NOT NULL THEN ? END \
     FROM j CROSS JOIN conversations c ON c.id = j.c1 WHERE j.c0 IS NOT NULL \
     ORDER BY j.k",
);

/// A row of `INSERT_AUTO_REPLIES`: message id, conversation id, kind, text, content,
/// media id, at, rule.
type AutoReplyRow<'a> = (Uuid, Uuid, &'static str, Option<Cow<'a, str>>, String, Option<Cow<'a, str>>, i64, String);

/// Queues auto-replies set-wise, leasing what `lease` allows: two statements whatever
/// their number (three when some may be leased: `BUSY` first). A missing conversation
/// is `NotFound` (the caller rolls back).
pub(crate) async fn enqueue_auto_replies(
    conn: &mut SqliteConnection,
    replies: &[NewAutoReply<'_>],
    lease: Lease,
) -> Result<Vec<QueuedReply>> {
    if replies.is_empty() {
        return Ok(Vec::new());
    }
    if replies.iter().any(|r| r.message.idempotency_key.is_some() || r.message.sent_by.is_some()) {
        return Err(StoreError::Other(anyhow::anyhow!("an auto-reply has no idempotency key and no agent")));
    }
    let ids: Vec<MessageId> = replies.iter().map(|_| MessageId::new()).collect();
    let rows = replies
        .iter()
        .zip(&ids)
        .map(|(NewAutoReply { message: m, rule }, id)| {
            Ok((
                *id.as_uuid(),
                *m.conversation_id.as_uuid(),
                m.content.kind().as_str(),
                opt_text(m.content.text()),
                json(m.content)?,
                opt_text(m.content.media().and_then(|m| m.id.as_deref())),
                ms(m.at),
                rule.to_string(),
            ))
        })
        .collect::<Result<Vec<AutoReplyRow<'_>>>>()?;
    // Leased: the first reply of its conversation here (`candidates`), when nothing of
    // the conversation is ready already.
    let mut leased = lease.candidates(replies);
    let of: Vec<(Uuid,)> = replies
        .iter()
        .zip(&leased)
        .filter(|(_, c)| **c)
        .map(|(r, _)| (*r.message.conversation_id.as_uuid(),))
        .collect();
    if !of.is_empty() {
        let busy: Vec<(Uuid,)> = BUSY.fetch_all(&mut *conn, (), of).await?;
        for (r, leased) in replies.iter().zip(&mut leased) {
            *leased &= !busy.iter().any(|(c,)| c == r.message.conversation_id.as_uuid());
        }
    }
    let jobs = replies
        .iter()
        .zip(&ids)
        .zip(&leased)
        .map(|((NewAutoReply { message: m, .. }, id), leased)| {
            Ok((*id.as_uuid(), *m.conversation_id.as_uuid(), ms(m.at), json(m.request)?, leased.then_some(1)))
        })
        .collect::<Result<Vec<_>>>()?;
    let inserted = INSERT_AUTO_REPLIES
        .execute(&mut *conn, (Direction::Outbound.as_str(), DeliveryState::Queued.as_str()), rows)
        .await?;
    if inserted != replies.len() as u64 {
        return Err(StoreError::NotFound);
    }
    let jobs =
        INSERT_AUTO_REPLY_JOBS.insert_ids(&mut *conn, (ms(lease.until),), jobs).await?.ok_or(StoreError::NotFound)?;
    Ok(ids
        .into_iter()
        .zip(jobs.into_iter().zip(leased))
        .map(|(message_id, (job, leased))| QueuedReply { message_id, leased_job: leased.then_some(JobId::new(job)) })
        .collect())
}

pub(crate) async fn record_rule_fired(
    conn: &mut SqliteConnection,
    conversation: ConversationId,
    rule: RuleRef,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO auto_replies (conversation_id, contact_id, rule, message_id, sent_at) \
         SELECT id, contact_id, ?2, NULL, ?3 FROM conversations WHERE id = ?1",
    )
    .bind(conversation.as_uuid())
    .bind(rule.to_string())
    .bind(ms(at))
    .execute(conn)
    .await
    .db()?;
    Ok(())
}

pub(crate) async fn assign_conversation(
    conn: &mut SqliteConnection,
    conversation: ConversationId,
    agent: AgentId,
    at: DateTime<Utc>,
) -> Result<bool> {
    // Who had it, for the history.
    let previous: Option<Uuid> = sqlx::query_scalar("SELECT assignee_id FROM conversations WHERE id = ?1")
        .bind(conversation.as_uuid())
        .fetch_optional(&mut *conn)
        .await
        .db()?
        .flatten();
    let n = sqlx::query(
        "UPDATE conversations SET assignee_id = ?2 \
         WHERE id = ?1 AND EXISTS (SELECT 1 FROM agents WHERE id = ?2 AND active)",
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
fn decode<T: DeserializeOwned>(what: &str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| corrupt(format!("{what}: {e}")))
}

fn decode_opt<T: DeserializeOwned>(what: &str, s: Option<&str>) -> Result<Option<T>> {
    s.map(|s| decode(what, s)).transpose()
}

/// Bumps the configuration version (inside the caller's write transaction).
async fn bump_version(conn: &mut SqliteConnection) -> Result<i64> {
    sqlx::query_scalar("UPDATE auto_reply_version SET version = version + 1 WHERE id = 1 RETURNING version")
        .fetch_one(conn)
        .await
        .db()
}

/// Fails with `NotFound` unless the channel exists.
async fn require_channel(conn: &mut SqliteConnection, channel: ChannelId) -> Result<String> {
    let name: Option<String> = sqlx::query_scalar("SELECT name FROM channels WHERE id = ?1")
        .bind(channel.as_uuid())
        .fetch_optional(conn)
        .await
        .db()?;
    name.ok_or(StoreError::NotFound)
}

type SettingsRow = (Option<String>, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>);

fn settings(row: Option<SettingsRow>) -> Result<ChannelAutoReplies> {
    let Some((business_name, locale, hours, greeting, away, limits)) = row else {
        return Ok(ChannelAutoReplies::default());
    };
    Ok(ChannelAutoReplies {
        business_name,
        locale: decode_opt("locale", locale.as_deref())?,
        hours: decode_opt("hours", hours.as_deref())?,
        greeting: decode_opt("greeting", greeting.as_deref())?,
        away: decode_opt("away", away.as_deref())?,
        limits: decode_opt("limits", limits.as_deref())?,
    })
}

async fn read_settings(conn: &mut SqliteConnection, channel: ChannelId) -> Result<ChannelAutoReplies> {
    let row: Option<SettingsRow> = sqlx::query_as(
        "SELECT business_name, locale, hours, greeting, away, limits FROM auto_reply_settings WHERE channel_id = ?1",
    )
    .bind(channel.as_uuid())
    .fetch_optional(conn)
    .await
    .db()?;
    settings(row)
}

fn rule_row((channel, spec): (Option<Uuid>, String)) -> Result<StoredRule> {
    Ok(StoredRule { channel: channel.map(ChannelId::from_uuid), rule: decode("keyword rule", &spec)? })
}

/// A uniqueness conflict on `quick_replies` is the shortcut's (ids are checked first).
fn shortcut_conflict(e: StoreError) -> StoreError {
    match e {
        StoreError::Conflict { .. } => StoreError::Conflict { what: "quick reply shortcut" },
        e => e,
    }
}

#[async_trait]
impl AutoReplyStore for SqliteStore {
    async fn channel_auto_replies(&self, channel: ChannelId) -> Result<ChannelAutoReplies> {
        let mut conn = self.pool().acquire().await.db()?;
        require_channel(&mut conn, channel).await?;
        read_settings(&mut conn, channel).await
    }

    async fn patch_channel_auto_replies(
        &self,
        channel: ChannelId,
        patch: &ChannelAutoRepliesPatch<'_>,
        at: DateTime<Utc>,
    ) -> Result<i64> {
        let mut w = self.begin_write().await?;
        let conn = w.conn();
        require_channel(&mut *conn, channel).await?;
        // Unset fields of a first write are NULL; afterwards each column changes only if
        // the patch names it (?9..?14).
        sqlx::query(
            "INSERT INTO auto_reply_settings \
               (channel_id, business_name, locale, hours, greeting, away, limits, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (channel_id) DO UPDATE SET \
               business_name = CASE WHEN ?9 THEN excluded.business_name ELSE business_name END, \
               locale = CASE WHEN ?10 THEN excluded.locale ELSE locale END, \
               hours = CASE WHEN ?11 THEN excluded.hours ELSE hours END, \
               greeting = CASE WHEN ?12 THEN excluded.greeting ELSE greeting END, \
               away = CASE WHEN ?13 THEN excluded.away ELSE away END, \
               limits = CASE WHEN ?14 THEN excluded.limits ELSE limits END, \
               updated_at = excluded.updated_at",
        )
        .bind(channel.as_uuid())
        .bind(opt_text(patch.business_name.flatten()))
        .bind(opt_json(patch.locale.flatten())?)
        .bind(opt_json(patch.hours.flatten())?)
        .bind(opt_json(patch.greeting.flatten())?)
        .bind(opt_json(patch.away.flatten())?)
        .bind(opt_json(patch.limits.flatten())?)
        .bind(ms(at))
        .bind(patch.business_name.is_some())
        .bind(patch.locale.is_some())
        .bind(patch.hours.is_some())
        .bind(patch.greeting.is_some())
        .bind(patch.away.is_some())
        .bind(patch.limits.is_some())
        .execute(&mut *conn)
        .await
        .db()?;
        let version = bump_version(conn).await?;
        w.commit().await?;
        Ok(version)
    }

    async fn quick_replies(&self) -> Result<Vec<QuickReply>> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT body FROM quick_replies ORDER BY shortcut").fetch_all(self.pool()).await.db()?;
        rows.iter().map(|b| decode("quick reply", b)).collect()
    }

    async fn quick_reply(&self, id: QuickReplyId) -> Result<Option<QuickReply>> {
        let row: Option<String> = sqlx::query_scalar("SELECT body FROM quick_replies WHERE id = ?1")
            .bind(id.as_uuid())
            .fetch_optional(self.pool())
            .await
            .db()?;
        row.map(|b| decode("quick reply", &b)).transpose()
    }

    async fn quick_reply_by_shortcut(&self, shortcut: &Shortcut) -> Result<Option<QuickReply>> {
        let row: Option<String> = sqlx::query_scalar("SELECT body FROM quick_replies WHERE shortcut = ?1")
            .bind(shortcut.as_str())
            .fetch_optional(self.pool())
            .await
            .db()?;
        row.map(|b| decode("quick reply", &b)).transpose()
    }

    async fn create_quick_reply(&self, qr: &QuickReply, at: DateTime<Utc>) -> Result<()> {
        let mut w = self.begin_write().await?;
        let conn = w.conn();
        let taken: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM quick_replies WHERE id = ?1)")
            .bind(qr.id.as_uuid())
            .fetch_one(&mut *conn)
            .await
            .db()?;
        if taken {
            return Err(StoreError::Conflict { what: "quick reply" });
        }
        sqlx::query(
            "INSERT INTO quick_replies (id, shortcut, body, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
        )
        .bind(qr.id.as_uuid())
        .bind(qr.shortcut.as_str())
        .bind(json(qr)?)
        .bind(ms(at))
        .execute(&mut *conn)
        .await
        .db()
        .map_err(shortcut_conflict)?;
        bump_version(conn).await?;
        w.commit().await
    }

    async fn update_quick_reply(&self, qr: &QuickReply, at: DateTime<Utc>) -> Result<()> {
        let mut w = self.begin_write().await?;
        let conn = w.conn();
        let n = sqlx::query("UPDATE quick_replies SET shortcut = ?2, body = ?3, updated_at = ?4 WHERE id = ?1")
            .bind(qr.id.as_uuid())
            .bind(qr.shortcut.as_str())
            .bind(json(qr)?)
            .bind(ms(at))
            .execute(&mut *conn)
            .await
            .db()
            .map_err(shortcut_conflict)?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        bump_version(conn).await?;
        w.commit().await
    }

    async fn delete_quick_reply(&self, id: QuickReplyId, _at: DateTime<Utc>) -> Result<()> {
        let mut w = self.begin_write().await?;
        let conn = w.conn();
        let n = sqlx::query("DELETE FROM quick_replies WHERE id = ?1")
            .bind(id.as_uuid())
            .execute(&mut *conn)
            .await
            .db()?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        bump_version(conn).await?;
        w.commit().await
    }

    async fn keyword_rules(&self) -> Result<Vec<StoredRule>> {
        let rows: Vec<(Option<Uuid>, String)> =
            sqlx::query_as("SELECT channel_id, spec FROM keyword_rules ORDER BY position, id")
                .fetch_all(self.pool())
                .await
                .db()?;
        rows.into_iter().map(rule_row).collect()
    }

    async fn keyword_rule(&self, id: RuleId) -> Result<Option<StoredRule>> {
        let row: Option<(Option<Uuid>, String)> =
            sqlx::query_as("SELECT channel_id, spec FROM keyword_rules WHERE id = ?1")
                .bind(id.as_uuid())
                .fetch_optional(self.pool())
                .await
                .db()?;
        row.map(rule_row).transpose()
    }

    async fn create_keyword_rule(&self, rule: &StoredRule, at: DateTime<Utc>) -> Result<()> {
        let mut w = self.begin_write().await?;
        let conn = w.conn();
        if let Some(channel) = rule.channel {
            require_channel(&mut *conn, channel).await?;
        }
        sqlx::query(
            "INSERT INTO keyword_rules (id, channel_id, position, spec, created_at, updated_at) \
             VALUES (?1, ?2, (SELECT COALESCE(MAX(position) + 1, 0) FROM keyword_rules), ?3, ?4, ?4)",
        )
        .bind(rule.rule.id.as_uuid())
        .bind(rule.channel.map(|c| *c.as_uuid()))
        .bind(json(&rule.rule)?)
        .bind(ms(at))
        .execute(&mut *conn)
        .await
        .db()
        .map_err(|e| match e {
            StoreError::Conflict { .. } => StoreError::Conflict { what: "rule" },
            e => e,
        })?;
        bump_version(conn).await?;
        w.commit().await
    }

    async fn update_keyword_rule(&self, rule: &StoredRule, at: DateTime<Utc>) -> Result<()> {
        let mut w = self.begin_write().await?;
        let conn = w.conn();
        if let Some(channel) = rule.channel {
            require_channel(&mut *conn, channel).await?;
        }
        let n = sqlx::query("UPDATE keyword_rules SET channel_id = ?2, spec = ?3, updated_at = ?4 WHERE id = ?1")
            .bind(rule.rule.id.as_uuid())
            .bind(rule.channel.map(|c| *c.as_uuid()))
            .bind(json(&rule.rule)?)
            .bind(ms(at))
            .execute(&mut *conn)
            .await
            .db()?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        bump_version(conn).await?;
        w.commit().await
    }

    async fn delete_keyword_rule(&self, id: RuleId, _at: DateTime<Utc>) -> Result<()> {
        let mut w = self.begin_write().await?;
        let conn = w.conn();
        let n = sqlx::query("DELETE FROM keyword_rules WHERE id = ?1")
            .bind(id.as_uuid())
            .execute(&mut *conn)
            .await
            .db()?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        bump_version(conn).await?;
        w.commit().await
    }

    async fn reorder_keyword_rules(&self, order: &[RuleId], at: DateTime<Utc>) -> Result<()> {
        let mut w = self.begin_write().await?;
        let conn = w.conn();
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM keyword_rules").fetch_one(&mut *conn).await.db()?;
        let distinct: std::collections::HashSet<&RuleId> = order.iter().collect();
        if distinct.len() != order.len() || usize::try_from(total).ok() != Some(order.len()) {
            return Err(StoreError::Conflict { what: "rule order" });
        }
        for (position, id) in order.iter().enumerate() {
            let n = sqlx::query("UPDATE keyword_rules SET position = ?2, updated_at = ?3 WHERE id = ?1")
                .bind(id.as_uuid())
                .bind(i64::try_from(position).unwrap_or(i64::MAX))
                .bind(ms(at))
                .execute(&mut *conn)
                .await
                .db()?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound);
            }
        }
        bump_version(conn).await?;
        w.commit().await
    }

    async fn auto_reply_config(&self, channel: ChannelId) -> Result<AutoReplyConfig> {
        // One read transaction: a consistent snapshot of every piece.
        let mut tx = self.pool().begin().await.db()?;
        let channel_name = require_channel(&mut tx, channel).await?;
        let s = read_settings(&mut tx, channel).await?;
        let quick_replies: Vec<String> =
            sqlx::query_scalar("SELECT body FROM quick_replies ORDER BY shortcut").fetch_all(&mut *tx).await.db()?;
        let rules: Vec<String> = sqlx::query_scalar(
            "SELECT spec FROM keyword_rules WHERE channel_id IS NULL OR channel_id = ?1 ORDER BY position, id",
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
            quick_replies: quick_replies.iter().map(|b| decode("quick reply", b)).collect::<Result<_>>()?,
            rules: rules.iter().map(|r| decode("keyword rule", r)).collect::<Result<_>>()?,
            limits: s.limits.unwrap_or_default(),
        })
    }

    async fn auto_reply_config_version(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT version FROM auto_reply_version WHERE id = 1").fetch_one(self.pool()).await.db()
    }
}
