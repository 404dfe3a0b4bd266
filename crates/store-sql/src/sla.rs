//! SLA targets (`switchboard_store::SlaStore`), and the due times the ingest transaction
//! sets on the conversations it creates, the same in both dialects. A person's first
//! reply and the resolution record the outcomes in `kpis` (the same statements as their
//! KPI facts).

/// Expands, in a backend's `sla` module, to `SlaStore` for `$store` and to `start_sla`,
/// which the ingest transaction calls on `$conn` for the conversations it created. The
/// module provides `ALERT_LOCK` (the clause locking the conversations an alert run reads,
/// skipping those another instance holds) and `EVENTS_BEFORE` / `EVENTS_AFTER` (statements
/// run around recording inbox events, keeping their ids visible in increasing order and
/// waking readers).
#[macro_export]
macro_rules! sla_store {
    ($store:ty, $conn:ty) => {
        pub(crate) use shared::start_sla;

        mod shared {
            #![allow(unused_imports)]
            use super::*;
            use chrono::{DateTime, Utc};
            use sqlx::types::Json;
            use switchboard_domain::ConversationId;
            use switchboard_domain::sla::{SlaPolicy, SlaTarget};
            use switchboard_store::{Result, SlaAlert, SlaAlertKind, SlaScope, SlaStore, StoreError};
            use uuid::Uuid;

            use $crate::kpis::hours;
            use $crate::{DbResultExt, Ts, opt_ts};

            /// A stored policy, if it reads as one (one written by hand that does not counts
            /// as none rather than failing an ingest).
            fn policy(doc: Option<Json<serde_json::Value>>) -> Option<SlaPolicy> {
                doc.and_then(|d| serde_json::from_value(d.0).ok())
            }

            /// Sets the due times of `conversations`, just created: under their effective
            /// team's policy, else their channel's, in business time of the channel's
            /// hours, from their start (the first customer message, or the creation if
            /// earlier). Costs one statement when no policy is set anywhere.
            pub(crate) async fn start_sla(conn: &mut $conn, conversations: &[ConversationId]) -> Result<()> {
                if conversations.is_empty() {
                    return Ok(());
                }
                let any: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM channel_sla_policies) OR EXISTS (SELECT 1 FROM team_sla_policies)",
                )
                .fetch_one(&mut *conn)
                .await
                .db()?;
                if !any {
                    return Ok(());
                }
                type Row = (
                    Ts,
                    Option<Ts>,
                    Option<Json<serde_json::Value>>,
                    Option<Json<serde_json::Value>>,
                    Option<Json<serde_json::Value>>,
                );
                for id in conversations {
                    let row: Option<Row> = sqlx::query_as(
                        "SELECT c.created_at, c.last_inbound_at, tp.policy, cp.policy, s.hours \
                         FROM conversations c JOIN channels ch ON ch.id = c.channel_id \
                         LEFT JOIN team_sla_policies tp ON tp.team_id = COALESCE(c.team_id, ch.team_id) \
                         LEFT JOIN channel_sla_policies cp ON cp.channel_id = c.channel_id \
                         LEFT JOIN auto_reply_settings s ON s.channel_id = c.channel_id \
                         WHERE c.id = $1 AND c.first_response_due_at IS NULL AND c.resolution_due_at IS NULL",
                    )
                    .bind(id.as_uuid())
                    .fetch_optional(&mut *conn)
                    .await
                    .db()?;
                    let Some((Ts(created), first_inbound, team, channel, doc)) = row else { continue };
                    let Some(p) = SlaPolicy::effective(policy(team), policy(channel)) else { continue };
                    let start = first_inbound.map_or(created, |Ts(i)| i.min(created));
                    let d = p.deadlines(hours(doc.map(|d| d.0)).as_ref(), start);
                    let Some(soonest) = d.soonest() else { continue };
                    sqlx::query(
                        "UPDATE conversations SET first_response_due_at = $2, first_response_alert_at = $3, \
                           resolution_due_at = $4, resolution_alert_at = $5, sla_due_at = $6 \
                         WHERE id = $1",
                    )
                    .bind(id.as_uuid())
                    .bind(opt_ts(d.first_response.map(|f| f.due_at)))
                    .bind(opt_ts(d.first_response.map(|f| f.warn_at)))
                    .bind(opt_ts(d.resolution.map(|r| r.due_at)))
                    .bind(opt_ts(d.resolution.map(|r| r.warn_at)))
                    .bind(Ts(soonest))
                    .execute(&mut *conn)
                    .await
                    .db()?;
                }
                Ok(())
            }

            /// The table and key column of a scope's policies, and the table it belongs to.
            fn table(scope: SlaScope) -> (&'static str, &'static str, &'static str, Uuid) {
                match scope {
                    SlaScope::Channel(c) => ("channel_sla_policies", "channel_id", "channels", *c.as_uuid()),
                    SlaScope::Team(t) => ("team_sla_policies", "team_id", "teams", *t.as_uuid()),
                }
            }

            #[$crate::reexport::async_trait]
            impl SlaStore for $store {
                async fn sla_policy(&self, scope: SlaScope) -> Result<Option<SlaPolicy>> {
                    let (policies, key, owners, id) = table(scope);
                    let row: Option<(Option<Json<serde_json::Value>>,)> = sqlx::query_as(&format!(
                        "SELECT p.policy FROM {owners} o LEFT JOIN {policies} p ON p.{key} = o.id WHERE o.id = $1"
                    ))
                    .bind(id)
                    .fetch_optional(self.pool())
                    .await
                    .db()?;
                    let Some((doc,)) = row else { return Err(StoreError::NotFound) };
                    doc.map(|d| {
                        serde_json::from_value(d.0).map_err(|e| $crate::rows::corrupt(format!("sla policy: {e}")))
                    })
                    .transpose()
                }

                async fn put_sla_policy(
                    &self,
                    scope: SlaScope,
                    policy: Option<&SlaPolicy>,
                    at: DateTime<Utc>,
                ) -> Result<()> {
                    let (policies, key, owners, id) = table(scope);
                    let mut w = self.begin_write().await?;
                    let conn = w.conn();
                    let exists: bool = sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 FROM {owners} WHERE id = $1)"))
                        .bind(id)
                        .fetch_one(&mut *conn)
                        .await
                        .db()?;
                    if !exists {
                        return Err(StoreError::NotFound);
                    }
                    match policy {
                        Some(p) => {
                            let doc = serde_json::to_value(p).map_err(|e| StoreError::Other(e.into()))?;
                            sqlx::query(&format!(
                                "INSERT INTO {policies} ({key}, policy, updated_at) VALUES ($1, $2, $3) \
                                 ON CONFLICT ({key}) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at"
                            ))
                            .bind(id)
                            .bind(Json(doc))
                            .bind(Ts(at))
                            .execute(&mut *conn)
                            .await
                            .db()?;
                        }
                        None => {
                            sqlx::query(&format!("DELETE FROM {policies} WHERE {key} = $1"))
                                .bind(id)
                                .execute(&mut *conn)
                                .await
                                .db()?;
                        }
                    }
                    w.commit().await?;
                    Ok(())
                }

                async fn fire_sla_alerts(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<SlaAlert>> {
                    let mut w = self.begin_write().await?;
                    let conn = w.conn();
                    let mut fired = Vec::new();
                    let mut left = i64::from(limit.max(1));
                    for (target, col) in [(SlaTarget::FirstResponse, "first_response"), (SlaTarget::Resolution, "resolution")] {
                        if left <= 0 {
                            break;
                        }
                        let rows: Vec<(Uuid, Ts, Ts)> = sqlx::query_as(&format!(
                            "SELECT c.id, c.{col}_alert_at, c.{col}_due_at FROM conversations c \
                             WHERE c.{col}_alert_at IS NOT NULL AND c.{col}_alert_at <= $1 \
                             AND c.{col}_due_at IS NOT NULL \
                             ORDER BY c.{col}_alert_at LIMIT $2{ALERT_LOCK}"
                        ))
                        .bind(Ts(now))
                        .bind(left)
                        .fetch_all(&mut *conn)
                        .await
                        .db()?;
                        left -= i64::try_from(rows.len()).unwrap_or(i64::MAX);
                        if rows.is_empty() {
                            continue;
                        }
                        for stmt in EVENTS_BEFORE {
                            sqlx::query(stmt).execute(&mut *conn).await.db()?;
                        }
                        for (id, _alert_at, Ts(due_at)) in rows {
                            // Past the due time: the breach (a warning not fired yet is moot).
                            let kind = if now >= due_at { SlaAlertKind::Breached } else { SlaAlertKind::Warning };
                            let update = if kind == SlaAlertKind::Breached {
                                format!("UPDATE conversations SET {col}_alert_at = NULL, {col}_sla = 'breached' WHERE id = $1")
                            } else {
                                format!("UPDATE conversations SET {col}_alert_at = {col}_due_at WHERE id = $1")
                            };
                            sqlx::query(&update).bind(id).execute(&mut *conn).await.db()?;
                            let event = match kind {
                                SlaAlertKind::Warning => "sla_warning",
                                SlaAlertKind::Breached => "sla_breached",
                            };
                            let data = serde_json::json!({ "target": target.as_str(), "due_at": due_at });
                            sqlx::query(
                                "INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, data, at) \
                                 SELECT $2, c.id, c.channel_id, COALESCE(c.team_id, ch.team_id), c.assignee_id, $3, $4 \
                                 FROM conversations c JOIN channels ch ON ch.id = c.channel_id WHERE c.id = $1",
                            )
                            .bind(id)
                            .bind(event)
                            .bind(Json(data))
                            .bind(Ts(Utc::now()))
                            .execute(&mut *conn)
                            .await
                            .db()?;
                            fired.push(SlaAlert { conversation: ConversationId::from_uuid(id), target, kind, due_at });
                        }
                        for stmt in EVENTS_AFTER {
                            sqlx::query(stmt).execute(&mut *conn).await.db()?;
                        }
                    }
                    w.commit().await?;
                    Ok(fired)
                }
            }
        }
    };
}
