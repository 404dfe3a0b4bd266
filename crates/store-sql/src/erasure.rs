//! Erasure of one contact and retention per channel (`switchboard_store::ErasureStore`):
//! one scrub of message and conversation content, the same SQL in both dialects.
//!
//! What is removed where (keep this list whole: a table that holds text about a contact
//! gets one statement in [`erase_contact_rest`](self) and, if it hangs off conversations,
//! in the retention scrub too):
//!
//! | table | erasure | retention |
//! |---|---|---|
//! | `messages` | body, caption, content, raw, context, referral, errors, media id, wamid, idempotency key | the same |
//! | search indexes | follow `messages.text` and `contacts` by trigger; SQLite merges them after an erasure | by trigger |
//! | media cache | the files of the messages' media ids (by the caller, before the rows) | the same, and media past `media_days` |
//! | `outbox` | request bodies and errors; queued sends are cancelled | the same |
//! | `webhook_events` | raw bodies (and errors) that mention the number, applied or failed | bodies go after `webhooks.body_retention_days` anyway |
//! | `notes` | deleted | deleted |
//! | `conversations` | ad referral, CSAT comment (counts, times and KPI seconds stay) | the same |
//! | `inbox_events` | deleted (live events hold ids and states only) | pruned on their own |
//! | `pending_statuses` | statuses parked for the number | — |
//! | `recorded_changes` | changes that mention the number | — |
//! | `webhook_messages`, `webhook_attempts` | payloads and responses that mention the number or the contact id | — |
//! | `contacts` | number replaced by a random value no real number can have, names, ids and attributes removed | — |

/// The scrub of a message's content: what stays is its direction, type, state, sender
/// and times (for counts and KPIs). Its content becomes `unsupported`, which is what
/// WhatsApp's own deleted messages become.
pub const SCRUB_MESSAGE: &str = "SET text = NULL, content = '{\"type\":\"unsupported\"}', media_id = NULL, \
     context = NULL, referral = NULL, errors = NULL, raw = NULL, error_details = NULL, idempotency_key = NULL, \
     wamid = NULL";

/// The scrub of a queued or kept send: a queued one is cancelled.
pub const SCRUB_OUTBOX: &str = "SET request = '{}', last_error = NULL, locked_until = NULL, \
     state = CASE WHEN state = 'ready' THEN 'failed' ELSE state END";

/// A number WhatsApp cannot give anyone: 20 digits starting `00` (real ones are at most
/// 15, E.164), the rest random. Replaces an erased contact's number, so a later message
/// from that number finds no contact and starts a fresh one.
#[must_use]
pub fn erased_wa_id() -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 1_000_000_000_000_000_000;
    format!("00{n:018}")
}

/// `%s%`, for LIKE (the needles are digits and UUIDs: nothing to escape).
#[must_use]
pub fn contains(s: &str) -> String {
    format!("%{s}%")
}

/// Expands, in a backend's `erasure` module, to `ErasureStore` for `$store` (connection
/// `$conn`). The module provides `REMOVE_MEDIA_REF` (the `content` expression without its
/// media id) and an inherent `async fn compact(&self) -> Result<()>` for
/// `compact_after_erasure`.
#[macro_export]
macro_rules! erasure_store {
    ($store:ty, $conn:ty, $db:ty) => {
        mod shared {
            #![allow(unused_imports)]
            use super::*;
            use chrono::{DateTime, Duration, Utc};
            use switchboard_domain::{AgentId, ChannelId, ContactId, ErasureId, WaId};
            use switchboard_store::{
                ErasureJob, ErasurePhase, ErasureStore, Result, RetentionCounts, RetentionPolicy, RetentionStep,
                ScrubLimits, StoreError,
            };
            use sqlx::QueryBuilder;
            use uuid::Uuid;

            use $crate::erasure::{SCRUB_MESSAGE, SCRUB_OUTBOX, contains, erased_wa_id};
            use $crate::rows::corrupt;
            use $crate::{DbResultExt, Ts};

            const JOB: &str = "SELECT id, contact_id, requested_by, phase, message_cursor, event_cursor, messages, events, \
                   created_at, updated_at, finished_at FROM erasure_jobs ";

            /// The contact's conversations, for `IN`.
            const CONVERSATIONS: &str = "SELECT id FROM conversations WHERE contact_id = $1";

            #[derive(sqlx::FromRow)]
            struct JobRow {
                id: Uuid,
                contact_id: Uuid,
                requested_by: Option<Uuid>,
                phase: String,
                message_cursor: Option<Uuid>,
                event_cursor: i64,
                messages: i64,
                events: i64,
                created_at: Ts,
                updated_at: Ts,
                finished_at: Option<Ts>,
            }

            impl TryFrom<JobRow> for ErasureJob {
                type Error = StoreError;
                fn try_from(r: JobRow) -> Result<Self> {
                    Ok(Self {
                        id: ErasureId::from_uuid(r.id),
                        contact_id: ContactId::from_uuid(r.contact_id),
                        requested_by: r.requested_by.map(AgentId::from_uuid),
                        phase: ErasurePhase::parse(&r.phase).ok_or_else(|| corrupt("erasure phase"))?,
                        messages: r.messages,
                        events: r.events,
                        created_at: r.created_at.0,
                        updated_at: r.updated_at.0,
                        finished_at: r.finished_at.map(|t| t.0),
                    })
                }
            }

            async fn job_row(conn: &mut $conn, id: ErasureId) -> Result<Option<JobRow>> {
                sqlx::query_as(&format!("{JOB}WHERE id = $1")).bind(id.as_uuid()).fetch_optional(conn).await.db()
            }

            /// The next batch of the contact's messages after `cursor`: (id, media id).
            async fn message_batch(
                conn: &mut $conn,
                contact: Uuid,
                cursor: Option<Uuid>,
                limit: u32,
            ) -> Result<Vec<(Uuid, Option<String>)>> {
                sqlx::query_as(&format!(
                    "SELECT id, media_id FROM messages WHERE conversation_id IN ({CONVERSATIONS}) \
                     AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3"
                ))
                .bind(contact)
                .bind(cursor)
                .bind(i64::from(limit))
                .fetch_all(conn)
                .await
                .db()
            }

            async fn wa_id(conn: &mut $conn, contact: Uuid) -> Result<String> {
                sqlx::query_scalar("SELECT wa_id FROM contacts WHERE id = $1")
                    .bind(contact)
                    .fetch_optional(conn)
                    .await
                    .db()?
                    .ok_or(StoreError::NotFound)
            }

            /// The last step: everything else about the contact, then the contact row.
            async fn erase_contact_rest(conn: &mut $conn, job: &JobRow, at: DateTime<Utc>) -> Result<u64> {
                let contact = job.contact_id;
                let wa = wa_id(&mut *conn, contact).await?;
                let (wa_pat, id_pat) = (contains(&wa), contains(&contact.to_string()));
                // Messages that arrived after the messages phase passed them.
                let late = sqlx::query(&format!(
                    "UPDATE messages {SCRUB_MESSAGE} WHERE conversation_id IN ({CONVERSATIONS}) \
                     AND ($2 IS NULL OR id > $2)"
                ))
                .bind(contact)
                .bind(job.message_cursor)
                .execute(&mut *conn)
                .await
                .db()?
                .rows_affected();
                for sql in [
                    format!("UPDATE outbox {SCRUB_OUTBOX} WHERE conversation_id IN ({CONVERSATIONS})"),
                    format!("DELETE FROM notes WHERE conversation_id IN ({CONVERSATIONS})"),
                    format!("DELETE FROM inbox_events WHERE conversation_id IN ({CONVERSATIONS})"),
                    "UPDATE conversations SET referral = NULL, csat_comment = NULL WHERE contact_id = $1".to_owned(),
                ] {
                    sqlx::query(&sql).bind(contact).execute(&mut *conn).await.db()?;
                }
                sqlx::query("DELETE FROM pending_statuses WHERE recipient_id = $1")
                    .bind(&wa)
                    .execute(&mut *conn)
                    .await
                    .db()?;
                sqlx::query("DELETE FROM recorded_changes WHERE CAST(value AS TEXT) LIKE $1")
                    .bind(&wa_pat)
                    .execute(&mut *conn)
                    .await
                    .db()?;
                for sql in [
                    "UPDATE webhook_messages SET payload = '{}' WHERE payload LIKE $1 OR payload LIKE $2",
                    "UPDATE webhook_attempts SET response = NULL WHERE response LIKE $1 OR response LIKE $2",
                ] {
                    sqlx::query(sql).bind(&wa_pat).bind(&id_pat).execute(&mut *conn).await.db()?;
                }
                // Further tables about a contact get one statement here. The consent
                // history keeps its states and times (proof of the opt-out), not the notes.
                sqlx::query("UPDATE consent_events SET note = NULL WHERE contact_id = $1 AND note IS NOT NULL")
                    .bind(contact)
                    .execute(&mut *conn)
                    .await
                    .db()?;
                sqlx::query(
                    "UPDATE contacts SET wa_id = $2, profile_name = NULL, name = NULL, user_id = NULL, \
                     parent_user_id = NULL, username = NULL, attributes = '{}', erased_at = $3, updated_at = $3 \
                     WHERE id = $1",
                )
                .bind(contact)
                .bind(erased_wa_id())
                .bind(Ts(at))
                .execute(&mut *conn)
                .await
                .db()?;
                Ok(late)
            }

            fn cutoff(now: DateTime<Utc>, days: u32) -> Ts {
                Ts(now - Duration::days(i64::from(days)))
            }

            const EXPIRED_CONVERSATIONS: &str = "FROM conversations WHERE channel_id = $1 AND status = 'resolved' \
                 AND purged_at IS NULL AND resolved_at < $2";
            /// A purge step's rows of messages, outbox jobs and notes: their conversation is
            /// still resolved (the step read them before taking the write lock).
            const STILL_RESOLVED: &str =
                "EXISTS (SELECT 1 FROM conversations c WHERE c.id = conversation_id AND c.status = 'resolved')";
            const EXPIRED_MEDIA: &str =
                "FROM messages WHERE channel_id = $1 AND media_id IS NOT NULL AND timestamp < $2";

            #[$crate::reexport::async_trait]
            impl ErasureStore for $store {
                async fn begin_erasure(
                    &self,
                    contact: ContactId,
                    by: Option<AgentId>,
                    at: DateTime<Utc>,
                ) -> Result<Option<ErasureJob>> {
                    let mut w = self.begin_write().await?;
                    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM contacts WHERE id = $1)")
                        .bind(contact.as_uuid())
                        .fetch_one(w.conn())
                        .await
                        .db()?;
                    if !exists {
                        return Ok(None);
                    }
                    let running: Option<JobRow> =
                        sqlx::query_as(&format!("{JOB}WHERE contact_id = $1 AND state = 'running'"))
                            .bind(contact.as_uuid())
                            .fetch_optional(w.conn())
                            .await
                            .db()?;
                    let row = match running {
                        Some(row) => row,
                        None => {
                            let id = ErasureId::new();
                            sqlx::query(
                                "INSERT INTO erasure_jobs (id, contact_id, requested_by, state, phase, event_cursor, \
                                 messages, events, created_at, updated_at) \
                                 VALUES ($1, $2, $3, 'running', 'messages', 0, 0, 0, $4, $4)",
                            )
                            .bind(id.as_uuid())
                            .bind(contact.as_uuid())
                            .bind(by.map(|a| *a.as_uuid()))
                            .bind(Ts(at))
                            .execute(w.conn())
                            .await
                            .db()?;
                            job_row(w.conn(), id).await?.ok_or(StoreError::NotFound)?
                        }
                    };
                    w.commit().await?;
                    row.try_into().map(Some)
                }

                async fn erasure(&self, id: ErasureId) -> Result<Option<ErasureJob>> {
                    let mut conn = self.pool().acquire().await.db()?;
                    job_row(&mut conn, id).await?.map(TryInto::try_into).transpose()
                }

                async fn unfinished_erasures(&self) -> Result<Vec<ErasureJob>> {
                    let rows: Vec<JobRow> =
                        sqlx::query_as(&format!("{JOB}WHERE state = 'running' ORDER BY created_at, id"))
                            .fetch_all(self.pool())
                            .await
                            .db()?;
                    rows.into_iter().map(TryInto::try_into).collect()
                }

                async fn erasure_media(&self, id: ErasureId, limits: ScrubLimits) -> Result<Vec<String>> {
                    let mut conn = self.pool().acquire().await.db()?;
                    let Some(job) = job_row(&mut conn, id).await? else {
                        return Err(StoreError::NotFound);
                    };
                    if job.phase != ErasurePhase::Messages.as_str() {
                        return Ok(Vec::new());
                    }
                    let batch = message_batch(&mut conn, job.contact_id, job.message_cursor, limits.messages).await?;
                    Ok(batch.into_iter().filter_map(|(_, media)| media).collect())
                }

                async fn erasure_step(&self, id: ErasureId, limits: ScrubLimits, at: DateTime<Utc>) -> Result<ErasureJob> {
                    let mut w = self.begin_write().await?;
                    let job = job_row(w.conn(), id).await?.ok_or(StoreError::NotFound)?;
                    let phase = ErasurePhase::parse(&job.phase).ok_or_else(|| corrupt("erasure phase"))?;
                    match phase {
                        ErasurePhase::Done => {}
                        ErasurePhase::Messages => {
                            let batch =
                                message_batch(w.conn(), job.contact_id, job.message_cursor, limits.messages).await?;
                            match batch.last() {
                                None => {
                                    sqlx::query(
                                        "UPDATE erasure_jobs SET phase = 'events', updated_at = $2 WHERE id = $1",
                                    )
                                    .bind(job.id)
                                    .bind(Ts(at))
                                    .execute(w.conn())
                                    .await
                                    .db()?;
                                }
                                Some((last, _)) => {
                                    let n = sqlx::query(&format!(
                                        "UPDATE messages {SCRUB_MESSAGE} WHERE conversation_id IN ({CONVERSATIONS}) \
                                         AND ($2 IS NULL OR id > $2) AND id <= $3"
                                    ))
                                    .bind(job.contact_id)
                                    .bind(job.message_cursor)
                                    .bind(*last)
                                    .execute(w.conn())
                                    .await
                                    .db()?
                                    .rows_affected();
                                    sqlx::query(
                                        "UPDATE erasure_jobs SET message_cursor = $2, messages = messages + $3, \
                                         updated_at = $4 WHERE id = $1",
                                    )
                                    .bind(job.id)
                                    .bind(*last)
                                    .bind(i64::try_from(n).unwrap_or(i64::MAX))
                                    .bind(Ts(at))
                                    .execute(w.conn())
                                    .await
                                    .db()?;
                                }
                            }
                        }
                        ErasurePhase::Events => {
                            let max: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM webhook_events")
                                .fetch_one(w.conn())
                                .await
                                .db()?;
                            if job.event_cursor >= max {
                                sqlx::query("UPDATE erasure_jobs SET phase = 'contact', updated_at = $2 WHERE id = $1")
                                    .bind(job.id)
                                    .bind(Ts(at))
                                    .execute(w.conn())
                                    .await
                                    .db()?;
                            } else {
                                let wa = wa_id(w.conn(), job.contact_id).await?;
                                let hi = job.event_cursor.saturating_add(i64::from(limits.events.max(1)));
                                let n = sqlx::query(
                                    "UPDATE webhook_events SET body = NULL, error = NULL \
                                     WHERE id > $1 AND id <= $2 AND state <> 'pending' AND body IS NOT NULL \
                                     AND body LIKE $3",
                                )
                                .bind(job.event_cursor)
                                .bind(hi)
                                .bind(contains(&wa).into_bytes())
                                .execute(w.conn())
                                .await
                                .db()?
                                .rows_affected();
                                sqlx::query(
                                    "UPDATE erasure_jobs SET event_cursor = $2, events = events + $3, updated_at = $4 \
                                     WHERE id = $1",
                                )
                                .bind(job.id)
                                .bind(hi)
                                .bind(i64::try_from(n).unwrap_or(i64::MAX))
                                .bind(Ts(at))
                                .execute(w.conn())
                                .await
                                .db()?;
                            }
                        }
                        ErasurePhase::Contact => {
                            let late = erase_contact_rest(w.conn(), &job, at).await?;
                            sqlx::query(
                                "UPDATE erasure_jobs SET phase = 'done', state = 'done', message_cursor = NULL, \
                                 messages = messages + $2, updated_at = $3, finished_at = $3 WHERE id = $1",
                            )
                            .bind(job.id)
                            .bind(i64::try_from(late).unwrap_or(i64::MAX))
                            .bind(Ts(at))
                            .execute(w.conn())
                            .await
                            .db()?;
                        }
                    }
                    let after = job_row(w.conn(), id).await?.ok_or(StoreError::NotFound)?;
                    w.commit().await?;
                    after.try_into()
                }

                async fn compact_after_erasure(&self) -> Result<()> {
                    self.compact().await
                }

                async fn retention_policies(&self) -> Result<Vec<(ChannelId, RetentionPolicy)>> {
                    let rows: Vec<(Uuid, Option<i64>, Option<i64>)> = sqlx::query_as(
                        "SELECT channel_id, CAST(conversations_days AS BIGINT), CAST(media_days AS BIGINT) \
                         FROM channel_retention \
                         WHERE conversations_days IS NOT NULL OR media_days IS NOT NULL ORDER BY channel_id",
                    )
                    .fetch_all(self.pool())
                    .await
                    .db()?;
                    Ok(rows.into_iter().map(|(c, d, m)| (ChannelId::from_uuid(c), policy(d, m))).collect())
                }

                async fn retention_policy(&self, channel: ChannelId) -> Result<Option<RetentionPolicy>> {
                    let row: Option<(bool, Option<i64>, Option<i64>)> = sqlx::query_as(
                        "SELECT TRUE, CAST(r.conversations_days AS BIGINT), CAST(r.media_days AS BIGINT) FROM channels c \
                         LEFT JOIN channel_retention r ON r.channel_id = c.id WHERE c.id = $1",
                    )
                    .bind(channel.as_uuid())
                    .fetch_optional(self.pool())
                    .await
                    .db()?;
                    Ok(row.map(|(_, d, m)| policy(d, m)))
                }

                async fn set_retention_policy(
                    &self,
                    channel: ChannelId,
                    p: RetentionPolicy,
                    at: DateTime<Utc>,
                ) -> Result<bool> {
                    let mut w = self.begin_write().await?;
                    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM channels WHERE id = $1)")
                        .bind(channel.as_uuid())
                        .fetch_one(w.conn())
                        .await
                        .db()?;
                    if !exists {
                        return Ok(false);
                    }
                    sqlx::query(
                        "INSERT INTO channel_retention (channel_id, conversations_days, media_days, updated_at) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (channel_id) DO UPDATE SET \
                         conversations_days = excluded.conversations_days, media_days = excluded.media_days, \
                         updated_at = excluded.updated_at",
                    )
                    .bind(channel.as_uuid())
                    .bind(p.conversations_days.map(i64::from))
                    .bind(p.media_days.map(i64::from))
                    .bind(Ts(at))
                    .execute(w.conn())
                    .await
                    .db()?;
                    w.commit().await?;
                    Ok(true)
                }

                async fn retention_preview(
                    &self,
                    channel: ChannelId,
                    p: RetentionPolicy,
                    now: DateTime<Utc>,
                ) -> Result<RetentionCounts> {
                    let mut counts = RetentionCounts::default();
                    if let Some(days) = p.conversations_days {
                        let (c, m): (i64, i64) = sqlx::query_as(&format!(
                            "SELECT (SELECT COUNT(*) {EXPIRED_CONVERSATIONS}), \
                             (SELECT COUNT(*) FROM messages m JOIN (SELECT id, purge_cursor {EXPIRED_CONVERSATIONS}) c \
                              ON m.conversation_id = c.id WHERE c.purge_cursor IS NULL OR m.id > c.purge_cursor)"
                        ))
                        .bind(channel.as_uuid())
                        .bind(cutoff(now, days))
                        .fetch_one(self.pool())
                        .await
                        .db()?;
                        counts.conversations = c;
                        counts.messages = m;
                    }
                    // Media of expired conversations goes with them; past `media_days`, any.
                    if p.conversations_days.is_some() || p.media_days.is_some() {
                        counts.media = sqlx::query_scalar(
                            "SELECT COUNT(*) FROM messages m WHERE m.channel_id = $1 AND m.media_id IS NOT NULL AND (\
                             ($3 IS NOT NULL AND m.timestamp < $3) OR ($2 IS NOT NULL AND m.conversation_id IN \
                             (SELECT id FROM conversations WHERE channel_id = $1 AND status = 'resolved' \
                              AND purged_at IS NULL AND resolved_at < $2)))",
                        )
                        .bind(channel.as_uuid())
                        .bind(p.conversations_days.map(|d| cutoff(now, d)))
                        .bind(p.media_days.map(|d| cutoff(now, d)))
                        .fetch_one(self.pool())
                        .await
                        .db()?;
                    }
                    Ok(counts)
                }

                async fn retention_step(
                    &self,
                    channel: ChannelId,
                    p: RetentionPolicy,
                    limits: ScrubLimits,
                    now: DateTime<Utc>,
                ) -> Result<RetentionStep> {
                    // What the step takes is read first, without the write lock; the writes
                    // are then a few set-wise statements. (SQLite's writers wait for one
                    // another: a statement per message or per conversation kept the
                    // webhook path's appends waiting for a round trip each.) A conversation
                    // reopened meanwhile is left alone ([`STILL_RESOLVED`]).
                    let mut step = RetentionStep { finished: true, ..RetentionStep::default() };
                    let mut messages: Vec<Uuid> = Vec::new();
                    let mut done: Vec<Uuid> = Vec::new();
                    let mut cursor: Option<(Uuid, Uuid)> = None;
                    if let Some(days) = p.conversations_days {
                        // The oldest first, while the message budget lasts; a longer
                        // conversation takes several steps, each going on from its cursor.
                        let candidates: Vec<(Uuid, Option<Uuid>)> = sqlx::query_as(&format!(
                            "SELECT id, purge_cursor {EXPIRED_CONVERSATIONS} ORDER BY resolved_at, id LIMIT $3"
                        ))
                        .bind(channel.as_uuid())
                        .bind(cutoff(now, days))
                        .bind(i64::from(limits.conversations.max(1)))
                        .fetch_all(self.pool())
                        .await
                        .db()?;
                        if candidates.len() >= limits.conversations.max(1) as usize {
                            step.finished = false;
                        }
                        let mut budget = limits.retention_messages.max(1) as usize;
                        for (id, after) in candidates {
                            if budget == 0 {
                                step.finished = false;
                                break;
                            }
                            // One more than the budget: whether the conversation goes on.
                            let mut rows: Vec<(Uuid, Option<String>)> = sqlx::query_as(
                                "SELECT id, media_id FROM messages WHERE conversation_id = $1 \
                                 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3",
                            )
                            .bind(id)
                            .bind(after)
                            .bind(i64::try_from(budget + 1).unwrap_or(i64::MAX))
                            .fetch_all(self.pool())
                            .await
                            .db()?;
                            if rows.len() > budget {
                                rows.truncate(budget);
                                cursor = rows.last().map(|(last, _)| (id, *last));
                                step.finished = false;
                            } else {
                                done.push(id);
                            }
                            budget -= rows.len();
                            for (message, media) in rows {
                                messages.push(message);
                                step.media_ids.extend(media);
                            }
                        }
                    }
                    let mut media: Vec<(Uuid, String)> = Vec::new();
                    if let Some(days) = p.media_days {
                        media = sqlx::query_as(&format!(
                            "SELECT id, media_id {EXPIRED_MEDIA} ORDER BY timestamp, id LIMIT $3"
                        ))
                        .bind(channel.as_uuid())
                        .bind(cutoff(now, days))
                        .bind(i64::from(limits.messages.max(1)))
                        .fetch_all(self.pool())
                        .await
                        .db()?;
                        if media.len() >= limits.messages.max(1) as usize {
                            step.finished = false;
                        }
                        // A message the step anonymises loses its media with the rest.
                        media.retain(|(id, _)| !messages.contains(id));
                    }
                    if messages.is_empty() && done.is_empty() && media.is_empty() {
                        return Ok(step);
                    }

                    let mut w = self.begin_write().await?;
                    let set_wise = |sql: String, ids: &[Uuid]| -> Vec<QueryBuilder<'static, $db>> {
                        ids.chunks(switchboard_store::ID_LIST_CHUNK)
                            .map(|chunk| {
                                let mut qb = QueryBuilder::<$db>::new(sql.clone());
                                $crate::ids::push_ids(&mut qb, chunk);
                                qb
                            })
                            .collect()
                    };
                    // Only while the conversation is still resolved (not reopened since).
                    let mut statements = set_wise(
                        format!("UPDATE messages {SCRUB_MESSAGE} WHERE {STILL_RESOLVED} AND id IN "),
                        &messages,
                    );
                    statements.extend(set_wise(
                        format!("UPDATE outbox {SCRUB_OUTBOX} WHERE {STILL_RESOLVED} AND conversation_id IN "),
                        &done,
                    ));
                    statements.extend(set_wise(
                        format!("DELETE FROM notes WHERE {STILL_RESOLVED} AND conversation_id IN "),
                        &done,
                    ));
                    let media_ids: Vec<Uuid> = media.iter().map(|(id, _)| *id).collect();
                    statements.extend(set_wise(
                        format!("UPDATE messages SET media_id = NULL, content = {REMOVE_MEDIA_REF} WHERE id IN "),
                        &media_ids,
                    ));
                    for mut qb in statements {
                        qb.build().execute(w.conn()).await.db()?;
                    }
                    for chunk in done.chunks(switchboard_store::ID_LIST_CHUNK) {
                        let mut qb = QueryBuilder::<$db>::new(
                            "UPDATE conversations SET referral = NULL, csat_comment = NULL, purge_cursor = NULL, purged_at = ",
                        );
                        qb.push_bind(Ts(now));
                        qb.push(" WHERE status = 'resolved' AND id IN ");
                        $crate::ids::push_ids(&mut qb, chunk);
                        qb.build().execute(w.conn()).await.db()?;
                    }
                    if let Some((conversation, last)) = cursor {
                        sqlx::query("UPDATE conversations SET purge_cursor = $2 WHERE id = $1 AND status = 'resolved'")
                            .bind(conversation)
                            .bind(last)
                            .execute(w.conn())
                            .await
                            .db()?;
                    }
                    w.commit().await?;
                    step.counts = RetentionCounts {
                        conversations: i64::try_from(done.len()).unwrap_or(i64::MAX),
                        messages: i64::try_from(messages.len()).unwrap_or(i64::MAX),
                        media: i64::try_from(step.media_ids.len() + media.len()).unwrap_or(i64::MAX),
                    };
                    step.media_ids.extend(media.into_iter().map(|(_, m)| m));
                    Ok(step)
                }
            }

            fn policy(conversations_days: Option<i64>, media_days: Option<i64>) -> RetentionPolicy {
                RetentionPolicy {
                    conversations_days: conversations_days.and_then(|d| u32::try_from(d).ok()),
                    media_days: media_days.and_then(|d| u32::try_from(d).ok()),
                }
            }
        }
    };
}
