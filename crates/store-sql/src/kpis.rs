//! KPI facts (`switchboard_store::KpiStore`), recorded in the transaction of the reply or
//! the resolution that causes them, the same in both dialects. Business seconds are the
//! domain's [`BusinessHours::business_seconds`] over the channel's hours as stored in that
//! transaction.

use chrono::{DateTime, Utc};
use switchboard_domain::hours::BusinessHours;
use switchboard_store::Took;

/// `[from, to)` both ways; a channel without hours is open all the time.
#[must_use]
pub fn took(hours: Option<&BusinessHours>, from: DateTime<Utc>, to: DateTime<Utc>) -> Took {
    let seconds = (to - from).num_seconds().max(0);
    let business_seconds = hours.map_or(seconds, |h| h.business_seconds(from, to));
    Took { seconds, business_seconds }
}

/// The stored hours (JSON), if they read as hours: hours that do not (written by hand)
/// count as none rather than failing a reply.
#[must_use]
pub fn hours(doc: Option<serde_json::Value>) -> Option<BusinessHours> {
    doc.and_then(|v| serde_json::from_value(v).ok())
}

/// Expands, in a backend's `kpis` module, to `KpiStore` for `$store` and to the
/// recording functions the reply and status paths call inside their transactions on
/// `$conn`: `reply_facts` (read BEFORE the reply is inserted: its trigger clears
/// `waiting_since`), `record_reply` and `record_resolution`.
#[macro_export]
macro_rules! kpi_store {
    ($store:ty, $conn:ty) => {
        pub(crate) use shared::{ReplyFacts, record_reply, record_resolution, reply_facts};

        mod shared {
            #![allow(unused_imports)]
            use super::*;
            use chrono::{DateTime, Utc};
            use sqlx::types::Json;
            use switchboard_domain::hours::BusinessHours;
            use switchboard_domain::{AgentId, ConversationId, MessageId};
            use switchboard_store::{ConversationKpis, FirstResponse, KpiStore, ReplyTime, Result, Took};
            use uuid::Uuid;

            use $crate::kpis::{hours, took};
            use $crate::{DbResultExt, Ts, opt_time};

            /// What a person's reply needs to know about its conversation.
            pub(crate) struct ReplyFacts {
                channel: Uuid,
                waiting_since: Option<Ts>,
                /// From when a first response runs, if this reply is one.
                first_response_from: Option<DateTime<Utc>>,
                hours: Option<BusinessHours>,
            }

            pub(crate) async fn reply_facts(conn: &mut $conn, conversation: ConversationId) -> Result<Option<ReplyFacts>> {
                let row: Option<(Uuid, Option<Ts>, bool, Option<Json<serde_json::Value>>)> = sqlx::query_as(
                    "SELECT c.channel_id, c.waiting_since, c.first_response_at IS NULL, s.hours \
                     FROM conversations c LEFT JOIN auto_reply_settings s ON s.channel_id = c.channel_id \
                     WHERE c.id = $1",
                )
                .bind(conversation.as_uuid())
                .fetch_optional(&mut *conn)
                .await
                .db()?;
                let Some((channel, waiting_since, first, doc)) = row else { return Ok(None) };
                let first_response_from = if first {
                    let (first_inbound, last_auto): (Option<Ts>, Option<Ts>) = sqlx::query_as(
                        "SELECT (SELECT MIN(timestamp) FROM messages WHERE conversation_id = $1 AND direction = 'inbound'), \
                                (SELECT MAX(timestamp) FROM messages WHERE conversation_id = $1 AND auto_rule IS NOT NULL)",
                    )
                    .bind(conversation.as_uuid())
                    .fetch_one(&mut *conn)
                    .await
                    .db()?;
                    // No customer message yet (the business wrote first): nothing to respond to.
                    first_inbound.map(|i| last_auto.map_or(i.0, |a| a.0.max(i.0)))
                } else {
                    None
                };
                Ok(Some(ReplyFacts { channel, waiting_since, first_response_from, hours: hours(doc.map(|d| d.0)) }))
            }

            /// Records what person `agent`'s message `message`, sent at `at`, answered, and counts
            /// it in the conversation's `person_replies`.
            pub(crate) async fn record_reply(
                conn: &mut $conn,
                conversation: ConversationId,
                facts: &ReplyFacts,
                message: MessageId,
                agent: AgentId,
                at: DateTime<Utc>,
            ) -> Result<()> {
                // One statement: the reply counted, and the first response if this is it.
                let first = facts.first_response_from.map(|from| took(facts.hours.as_ref(), from, at));
                sqlx::query(
                    "UPDATE conversations SET person_replies = person_replies + 1, \
                       first_response_at = CASE WHEN first_response_at IS NULL THEN $2 ELSE first_response_at END, \
                       first_response_by = CASE WHEN first_response_at IS NULL THEN $3 ELSE first_response_by END, \
                       first_response_seconds = CASE WHEN first_response_at IS NULL THEN $4 ELSE first_response_seconds END, \
                       first_response_business_seconds = \
                         CASE WHEN first_response_at IS NULL THEN $5 ELSE first_response_business_seconds END, \
                       first_response_sla = CASE \
                         WHEN $2 IS NULL OR first_response_at IS NOT NULL OR first_response_due_at IS NULL \
                           OR first_response_sla IS NOT NULL THEN first_response_sla \
                         WHEN first_response_due_at >= $2 THEN 'met' ELSE 'breached' END, \
                       first_response_alert_at = \
                         CASE WHEN $2 IS NOT NULL AND first_response_at IS NULL THEN NULL ELSE first_response_alert_at END, \
                       sla_due_at = CASE WHEN $2 IS NOT NULL AND first_response_at IS NULL AND sla_due_at IS NOT NULL \
                         THEN resolution_due_at ELSE sla_due_at END \
                     WHERE id = $1",
                )
                .bind(conversation.as_uuid())
                .bind(first.map(|_| Ts(at)))
                .bind(first.map(|_| *agent.as_uuid()))
                .bind(first.map(|t| t.seconds))
                .bind(first.map(|t| t.business_seconds))
                .execute(&mut *conn)
                .await
                .db()?;
                if let Some(Ts(from)) = facts.waiting_since {
                    let t = took(facts.hours.as_ref(), from, at);
                    sqlx::query(
                        "INSERT INTO reply_times (conversation_id, channel_id, message_id, agent_id, waited_from, \
                           replied_at, seconds, business_seconds) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(conversation.as_uuid())
                    .bind(facts.channel)
                    .bind(message.as_uuid())
                    .bind(agent.as_uuid())
                    .bind(Ts(from))
                    .bind(Ts(at))
                    .bind(t.seconds)
                    .bind(t.business_seconds)
                    .execute(&mut *conn)
                    .await
                    .db()?;
                }
                Ok(())
            }

            /// Records the resolution time of `conversation`, resolved at `at`: from its start.
            pub(crate) async fn record_resolution(conn: &mut $conn, conversation: ConversationId, at: DateTime<Utc>) -> Result<()> {
                let row: Option<(Ts, Option<Ts>, Option<Json<serde_json::Value>>)> = sqlx::query_as(
                    "SELECT c.created_at, \
                       (SELECT MIN(m.timestamp) FROM messages m WHERE m.conversation_id = c.id AND m.direction = 'inbound'), \
                       s.hours \
                     FROM conversations c LEFT JOIN auto_reply_settings s ON s.channel_id = c.channel_id WHERE c.id = $1",
                )
                .bind(conversation.as_uuid())
                .fetch_optional(&mut *conn)
                .await
                .db()?;
                // The start: the customer's first message (Meta's time), or the conversation's
                // creation if earlier or if the business wrote first.
                let Some((Ts(created), first_inbound, doc)) = row else { return Ok(()) };
                let start = first_inbound.map_or(created, |Ts(i)| i.min(created));
                let t = took(hours(doc.map(|d| d.0)).as_ref(), start, at);
                // The SLA outcomes are decided with it: the resolution's target, and a first
                // response that never came and is past due (else it stays undecided).
                sqlx::query(
                    "UPDATE conversations SET resolution_seconds = $2, resolution_business_seconds = $3, \
                       resolution_sla = CASE WHEN resolution_due_at IS NULL OR resolution_sla IS NOT NULL \
                         THEN resolution_sla WHEN resolution_due_at >= $4 THEN 'met' ELSE 'breached' END, \
                       first_response_sla = CASE WHEN first_response_sla IS NULL AND first_response_at IS NULL \
                         AND first_response_due_at < $4 THEN 'breached' ELSE first_response_sla END, \
                       first_response_alert_at = NULL, resolution_alert_at = NULL, sla_due_at = NULL \
                     WHERE id = $1",
                )
                    .bind(conversation.as_uuid())
                    .bind(t.seconds)
                    .bind(t.business_seconds)
                    .bind(Ts(at))
                    .execute(&mut *conn)
                    .await
                    .db()?;
                Ok(())
            }

            #[$crate::reexport::async_trait]
            impl KpiStore for $store {
                async fn conversation_kpis(&self, id: ConversationId) -> Result<Option<ConversationKpis>> {
                    let mut conn = self.pool().acquire().await.db()?;
                    type Row = (Option<Ts>, Option<Uuid>, Option<i64>, Option<i64>, Option<i64>, Option<i64>);
                    let row: Option<Row> = sqlx::query_as(
                        "SELECT first_response_at, first_response_by, first_response_seconds, \
                           first_response_business_seconds, resolution_seconds, resolution_business_seconds \
                         FROM conversations WHERE id = $1",
                    )
                    .bind(id.as_uuid())
                    .fetch_optional(&mut *conn)
                    .await
                    .db()?;
                    let Some((fr_at, fr_by, fr_s, fr_bs, res_s, res_bs)) = row else { return Ok(None) };
                    let first_response = match (fr_at, fr_s, fr_bs) {
                        (Some(Ts(at)), Some(seconds), Some(business_seconds)) => Some(FirstResponse {
                            at,
                            by: fr_by.map(AgentId::from_uuid),
                            took: Took { seconds, business_seconds },
                        }),
                        _ => None,
                    };
                    let resolution = res_s.zip(res_bs).map(|(seconds, business_seconds)| Took { seconds, business_seconds });
                    let rows: Vec<(Uuid, Option<Uuid>, Ts, Ts, i64, i64)> = sqlx::query_as(
                        "SELECT message_id, agent_id, waited_from, replied_at, seconds, business_seconds \
                         FROM reply_times WHERE conversation_id = $1 ORDER BY id",
                    )
                    .bind(id.as_uuid())
                    .fetch_all(&mut *conn)
                    .await
                    .db()?;
                    let replies = rows
                        .into_iter()
                        .map(|(m, a, Ts(waited_from), Ts(replied_at), seconds, business_seconds)| ReplyTime {
                            message_id: MessageId::from_uuid(m),
                            agent_id: a.map(AgentId::from_uuid),
                            waited_from,
                            replied_at,
                            took: Took { seconds, business_seconds },
                        })
                        .collect();
                    Ok(Some(ConversationKpis { first_response, resolution, replies }))
                }
            }
        }
    };
}
