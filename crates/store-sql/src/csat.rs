//! CSAT surveys (`switchboard_store::CsatStore`), and the survey's writes inside the
//! resolution's and the ingest's transactions, the same in both dialects.

/// Expands, in a backend's `csat` module, to `CsatStore` for `$store` and to the
/// functions the status change and the ingest call inside their transactions on `$conn`:
/// `queue_survey`, `record_answer`, `comment_asked`, `comments_awaited` and
/// `record_comment`. The module provides `nul`'s `json`, `insert_automatic` (an automatic
/// outbound message and its outbox job, due at a given time), `WA_IDS_IN` (a subquery
/// listing the wa_ids of a JSON array bound as `$1`) and `CONVERSATION_LOCK` (the clause
/// that locks the conversation row read before an answer, if any).
#[macro_export]
macro_rules! csat_store {
    ($store:ty, $conn:ty) => {
        pub(crate) use shared::{comment_asked, comments_awaited, queue_survey, record_answer, record_comment};

        mod shared {
            #![allow(unused_imports)]
            use super::*;
            use chrono::{DateTime, Utc};
            use sqlx::types::Json;
            use switchboard_domain::csat::{CsatScale, CsatSettings, Score};
            use switchboard_domain::inbound::InboundMessage;
            use switchboard_domain::{
                ChannelId, ContactId, ConversationId, DeliveryState, Direction, EventId, MessageId, WaId, window,
            };
            use switchboard_store::{
                Csat, CsatAnswerIn, CsatAnswerOutcome, CsatCommentIn, CsatStore, NewOutbound, NewSurvey, Result,
                StoreError,
            };
            use uuid::Uuid;

            use $crate::rows::corrupt;
            use $crate::{DbResultExt, Ts, opt_time};

            /// Queues `survey` for `conversation` (resolved at `at`) unless it had one or
            /// its contact opted out of automatic messages.
            pub(crate) async fn queue_survey(
                conn: &mut $conn,
                conversation: ConversationId,
                survey: &NewSurvey,
                at: DateTime<Utc>,
            ) -> Result<Option<MessageId>> {
                let queued: Option<bool> =
                    sqlx::query_scalar(
                        "SELECT c.csat_queued_at IS NOT NULL OR ct.opted_out_at IS NOT NULL \
                         FROM conversations c JOIN contacts ct ON ct.id = c.contact_id WHERE c.id = $1",
                    )
                        .bind(conversation.as_uuid())
                        .fetch_optional(&mut *conn)
                        .await
                        .db()?;
                if queued != Some(false) {
                    return Ok(None);
                }
                let m = NewOutbound {
                    conversation_id: conversation,
                    content: &survey.content,
                    request: &survey.request,
                    sent_by: None,
                    idempotency_key: None,
                    at,
                };
                let id = insert_automatic(&mut *conn, &m, "csat", survey.run_at).await?;
                sqlx::query(
                    "UPDATE conversations SET csat_message_id = $2, csat_queued_at = $3, csat_expires_at = $4, \
                       csat_scale = $5 \
                     WHERE id = $1 AND csat_queued_at IS NULL",
                )
                .bind(conversation.as_uuid())
                .bind(id.as_uuid())
                .bind(Ts(at))
                .bind(Ts(survey.expires_at))
                .bind(i64::from(survey.scale.points()))
                .execute(&mut *conn)
                .await
                .db()?;
                Ok(Some(id))
            }

            /// Stores a customer's message in `conversation` (a resolved one: it stays
            /// resolved and nobody is made to wait); `None` if its wamid is stored already.
            async fn insert_into(
                conn: &mut $conn,
                conversation: ConversationId,
                channel: ChannelId,
                event: EventId,
                message: &InboundMessage,
                received_at: DateTime<Utc>,
            ) -> Result<Option<MessageId>> {
                let waiting: Option<Option<Ts>> =
                    sqlx::query_scalar("SELECT waiting_since FROM conversations WHERE id = $1")
                        .bind(conversation.as_uuid())
                        .fetch_optional(&mut *conn)
                        .await
                        .db()?;
                let Some(waiting) = waiting else { return Err(StoreError::NotFound) };
                let id = MessageId::new();
                let content = &message.content;
                let inserted: Option<Uuid> = sqlx::query_scalar(
                    "INSERT INTO messages (id, conversation_id, channel_id, direction, wamid, kind, text, content, \
                       media_id, context, referral, errors, raw, state, timestamp, created_at, event_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
                     ON CONFLICT (channel_id, wamid) WHERE wamid IS NOT NULL DO NOTHING \
                     RETURNING id",
                )
                .bind(id.as_uuid())
                .bind(conversation.as_uuid())
                .bind(channel.as_uuid())
                .bind(Direction::Inbound.as_str())
                .bind(text(message.wamid.as_str()))
                .bind(content.kind().as_str())
                .bind(opt_text(content.text()))
                .bind(json(content)?)
                .bind(opt_text(content.media().and_then(|m| m.id.as_deref())))
                .bind(message.context.as_ref().map(json).transpose()?)
                .bind(message.referral.as_ref().map(json).transpose()?)
                .bind((!message.errors.is_empty()).then(|| json(&message.errors)).transpose()?)
                .bind(json(&message.raw)?)
                .bind(DeliveryState::Received.as_str())
                .bind(Ts(message.timestamp))
                .bind(Ts(received_at))
                .bind(event.get())
                .fetch_optional(&mut *conn)
                .await
                .db()?;
                if inserted.is_none() {
                    return Ok(None);
                }
                // The insert's trigger marks the customer as waiting: not in a resolved
                // conversation. Its activity and window move as for any customer message.
                let at = message.timestamp;
                sqlx::query(
                    "UPDATE conversations SET waiting_since = $2, message_count = message_count + 1, \
                       last_message_at = CASE WHEN last_message_at < $3 THEN $3 ELSE last_message_at END, \
                       last_inbound_at = CASE WHEN last_inbound_at IS NULL OR last_inbound_at < $3 THEN $3 \
                         ELSE last_inbound_at END, \
                       window_closes_at = CASE WHEN window_closes_at IS NULL OR window_closes_at < $4 THEN $4 \
                         ELSE window_closes_at END \
                     WHERE id = $1",
                )
                .bind(conversation.as_uuid())
                .bind(waiting)
                .bind(Ts(at))
                .bind(Ts(window::closes_at(at, false)))
                .execute(&mut *conn)
                .await
                .db()?;
                Ok(Some(id))
            }

            pub(crate) async fn record_answer(conn: &mut $conn, a: &CsatAnswerIn<'_>) -> Result<CsatAnswerOutcome> {
                let sql = format!(
                    "SELECT c.contact_id, c.csat_scale, c.csat_expires_at, c.csat_score IS NULL \
                     FROM conversations c JOIN contacts ct ON ct.id = c.contact_id \
                     WHERE c.id = $1 AND c.channel_id = $2 AND ct.wa_id = $3 AND c.csat_queued_at IS NOT NULL{CONVERSATION_LOCK}"
                );
                let row: Option<(Uuid, Option<i64>, Option<Ts>, bool)> = sqlx::query_as(&sql)
                    .bind(a.answer.conversation.as_uuid())
                    .bind(a.channel.as_uuid())
                    .bind(a.wa_id.as_str())
                    .fetch_optional(&mut *conn)
                    .await
                    .db()?;
                let Some((contact, Some(points), Some(Ts(expires)), first)) = row else {
                    return Ok(CsatAnswerOutcome::NotOurs);
                };
                let scale = CsatScale::of_points(points).ok_or_else(|| corrupt(format!("csat scale {points}")))?;
                let Some(score) = Score::on(scale, i64::from(a.answer.score)) else {
                    return Ok(CsatAnswerOutcome::NotOurs);
                };
                let at = a.message.timestamp;
                if at > expires {
                    return Ok(CsatAnswerOutcome::NotOurs);
                }
                let conversation = a.answer.conversation;
                let Some(message_id) = insert_into(conn, conversation, a.channel, a.event_id, a.message, a.received_at).await?
                else {
                    return Ok(CsatAnswerOutcome::Duplicate);
                };
                sqlx::query("UPDATE conversations SET csat_score = $2, csat_rated_at = $3 WHERE id = $1")
                    .bind(conversation.as_uuid())
                    .bind(i64::from(score.get()))
                    .bind(Ts(at))
                    .execute(&mut *conn)
                    .await
                    .db()?;
                Ok(CsatAnswerOutcome::Rated {
                    conversation,
                    contact: ContactId::from_uuid(contact),
                    message_id,
                    score,
                    first,
                })
            }

            pub(crate) async fn comment_asked(conn: &mut $conn, conversation: ConversationId, at: DateTime<Utc>) -> Result<()> {
                sqlx::query(
                    "UPDATE conversations SET csat_comment_asked_at = $2 WHERE id = $1 AND csat_comment_asked_at IS NULL",
                )
                .bind(conversation.as_uuid())
                .bind(Ts(at))
                .execute(&mut *conn)
                .await
                .db()?;
                Ok(())
            }

            /// A survey of the contact's on the channel that waits for a comment at `now`.
            const AWAITING: &str = "c.csat_comment_asked_at IS NOT NULL AND c.csat_comment IS NULL \
                AND c.csat_expires_at > $2 \
                AND NOT EXISTS (SELECT 1 FROM conversations o WHERE o.contact_id = c.contact_id \
                  AND o.channel_id = c.channel_id AND o.status <> 'resolved')";

            pub(crate) async fn comments_awaited(
                conn: &mut $conn,
                wa_ids: &[&WaId],
                now: DateTime<Utc>,
            ) -> Result<Vec<(ChannelId, WaId)>> {
                if wa_ids.is_empty() {
                    return Ok(Vec::new());
                }
                let list: Vec<&str> = wa_ids.iter().map(|w| w.as_str()).collect();
                let list = serde_json::to_string(&list).map_err(|e| StoreError::Other(e.into()))?;
                let sql = format!(
                    "SELECT DISTINCT c.channel_id, ct.wa_id FROM contacts ct JOIN conversations c ON c.contact_id = ct.id \
                     WHERE ct.wa_id IN {WA_IDS_IN} AND {AWAITING}"
                );
                let rows: Vec<(Uuid, String)> =
                    sqlx::query_as(&sql).bind(list).bind(Ts(now)).fetch_all(&mut *conn).await.db()?;
                rows.into_iter()
                    .map(|(c, w)| {
                        let w = WaId::parse(&w).map_err(|_| corrupt("a stored wa_id does not parse"))?;
                        Ok((ChannelId::from_uuid(c), w))
                    })
                    .collect()
            }

            pub(crate) async fn record_comment(conn: &mut $conn, c: &CsatCommentIn<'_>) -> Result<Option<ConversationId>> {
                let Some(body) = c.message.content.text() else { return Ok(None) };
                let sql = format!(
                    "SELECT c.id FROM contacts ct JOIN conversations c ON c.contact_id = ct.id \
                     WHERE ct.wa_id = $1 AND c.channel_id = $3 AND {AWAITING} \
                     ORDER BY c.csat_comment_asked_at DESC LIMIT 1"
                );
                let found: Option<Uuid> = sqlx::query_scalar(&sql)
                    .bind(c.wa_id.as_str())
                    .bind(Ts(c.message.timestamp))
                    .bind(c.channel.as_uuid())
                    .fetch_optional(&mut *conn)
                    .await
                    .db()?;
                let Some(found) = found else { return Ok(None) };
                let conversation = ConversationId::from_uuid(found);
                if insert_into(conn, conversation, c.channel, c.event_id, c.message, c.received_at).await?.is_some() {
                    sqlx::query("UPDATE conversations SET csat_comment = $2, csat_commented_at = $3 WHERE id = $1")
                        .bind(conversation.as_uuid())
                        .bind(text(body))
                        .bind(Ts(c.message.timestamp))
                        .execute(&mut *conn)
                        .await
                        .db()?;
                }
                Ok(Some(conversation))
            }

            #[$crate::reexport::async_trait]
            impl CsatStore for $store {
                async fn csat_settings(&self, channel: ChannelId) -> Result<Option<CsatSettings>> {
                    let row: Option<(Uuid, Option<Json<serde_json::Value>>)> = sqlx::query_as(
                        "SELECT ch.id, s.settings FROM channels ch LEFT JOIN csat_settings s ON s.channel_id = ch.id \
                         WHERE ch.id = $1",
                    )
                    .bind(channel.as_uuid())
                    .fetch_optional(self.pool())
                    .await
                    .db()?;
                    let Some((_, doc)) = row else { return Err(StoreError::NotFound) };
                    doc.map(|Json(v)| {
                        serde_json::from_value(v).map_err(|e| corrupt(format!("csat settings: {e}")))
                    })
                    .transpose()
                }

                async fn put_csat_settings(
                    &self,
                    channel: ChannelId,
                    settings: Option<&CsatSettings>,
                    at: DateTime<Utc>,
                ) -> Result<()> {
                    let mut w = self.begin_write().await?;
                    let conn = w.conn();
                    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM channels WHERE id = $1)")
                        .bind(channel.as_uuid())
                        .fetch_one(&mut *conn)
                        .await
                        .db()?;
                    if !exists {
                        return Err(StoreError::NotFound);
                    }
                    match settings {
                        Some(s) => {
                            sqlx::query(
                                "INSERT INTO csat_settings (channel_id, settings, updated_at) VALUES ($1, $2, $3) \
                                 ON CONFLICT (channel_id) DO UPDATE SET settings = excluded.settings, \
                                   updated_at = excluded.updated_at",
                            )
                            .bind(channel.as_uuid())
                            .bind(json(s)?)
                            .bind(Ts(at))
                            .execute(&mut *conn)
                            .await
                            .db()?;
                        }
                        None => {
                            sqlx::query("DELETE FROM csat_settings WHERE channel_id = $1")
                                .bind(channel.as_uuid())
                                .execute(&mut *conn)
                                .await
                                .db()?;
                        }
                    }
                    // Surveys are automatic messages: the ingest worker keeps the channels'
                    // settings with the auto-reply configuration, until its version moves.
                    sqlx::query("UPDATE auto_reply_version SET version = version + 1 WHERE id = 1")
                        .execute(&mut *conn)
                        .await
                        .db()?;
                    w.commit().await?;
                    Ok(())
                }

                async fn conversation_csat(&self, conversation: ConversationId) -> Result<Option<Csat>> {
                    type Row = (
                        Option<Uuid>,
                        Option<Ts>,
                        Option<Ts>,
                        Option<i64>,
                        Option<i64>,
                        Option<Ts>,
                        Option<Ts>,
                        Option<String>,
                        Option<Ts>,
                    );
                    let row: Option<Row> = sqlx::query_as(
                        "SELECT csat_message_id, csat_queued_at, csat_expires_at, csat_scale, csat_score, csat_rated_at, \
                           csat_comment_asked_at, csat_comment, csat_commented_at \
                         FROM conversations WHERE id = $1",
                    )
                    .bind(conversation.as_uuid())
                    .fetch_optional(self.pool())
                    .await
                    .db()?;
                    let Some((message, queued, expires, scale, score, rated, asked, comment, commented)) = row else {
                        return Err(StoreError::NotFound);
                    };
                    let (Some(Ts(queued_at)), Some(Ts(expires_at)), Some(points)) = (queued, expires, scale) else {
                        return Ok(None);
                    };
                    let scale = CsatScale::of_points(points).ok_or_else(|| corrupt(format!("csat scale {points}")))?;
                    let score = score
                        .map(|s| Score::on(scale, s).ok_or_else(|| corrupt(format!("csat score {s}"))))
                        .transpose()?;
                    Ok(Some(Csat {
                        message_id: message.map(MessageId::from_uuid),
                        queued_at,
                        expires_at,
                        scale,
                        score,
                        rated_at: opt_time(rated),
                        comment_asked_at: opt_time(asked),
                        comment,
                        commented_at: opt_time(commented),
                    }))
                }
            }
        }
    };
}
