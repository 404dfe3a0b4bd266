//! The shared queue: conversation state, status changes and history. Claiming and
//! assigning (how concurrent claims are kept apart) and waking snoozed conversations
//! are each backend's own.

/// Expands, in a backend's `queue` module, to `QueueStore` for `$store` (whose
/// connection is `$conn`), with the backend's own `claim_next`, `assign` and
/// `wake_snoozed` after the `;`, and to `record_history`, `state`, `active_capacity`
/// and `load` for them. The module provides `STATE_LOCK` and `AGENT_LOCK` (the clauses
/// that lock a conversation's or an agent's row read before a change, if any) and
/// `nul`'s `json`.
#[macro_export]
// `crate::kpis` and `crate::csat` is the backend's own module (its expansion of that store), not this crate's.
#[allow(clippy::crate_in_macro_def)]
macro_rules! queue_store {
    ($store:ty, $conn:ty $(; $($own:tt)*)?) => {
        pub(crate) use shared::{record_history, route_to_team};

        mod shared {
            #![allow(unused_imports)]
            use super::*;
            use chrono::{DateTime, Utc};
            use switchboard_domain::{AgentId, ChannelId, ContactId, ConversationId, ConversationStatus};
            use switchboard_store::{
                AssignOutcome, AssignRefusal, Assignment, ClaimOutcome, ClaimScope, ConversationState, HistoryCursor, HistoryEntry,
                HistoryKind, Page, QueueStore, Result, StatusChange, StatusChangeOutcome, StoreError, TeamId, TeamTransfer,
                TransferOutcome, page_size,
            };
            use uuid::Uuid;

            use $crate::rows::corrupt;
            use $crate::{DbResultExt, Ts, opt_time};

            #[derive(sqlx::FromRow)]
            struct StateRow {
                id: Uuid,
                channel_id: Uuid,
                team_id: Option<Uuid>,
                transferred_to: Option<Uuid>,
                contact_id: Uuid,
                status: String,
                assignee_id: Option<Uuid>,
                waiting_since: Option<Ts>,
                snoozed_until: Option<Ts>,
                resolved_at: Option<Ts>,
                resolved_by: Option<Uuid>,
                last_message_at: Ts,
                created_at: Ts,
            }

            impl TryFrom<StateRow> for ConversationState {
                type Error = StoreError;
                fn try_from(r: StateRow) -> Result<Self> {
                    Ok(Self {
                        id: ConversationId::from_uuid(r.id),
                        channel_id: ChannelId::from_uuid(r.channel_id),
                        team_id: r.team_id.map(TeamId::from_uuid),
                        transferred_to: r.transferred_to.map(TeamId::from_uuid),
                        contact_id: ContactId::from_uuid(r.contact_id),
                        status: ConversationStatus::parse(&r.status)
                            .ok_or_else(|| corrupt(format!("conversation status {:?}", r.status)))?,
                        assignee_id: r.assignee_id.map(AgentId::from_uuid),
                        waiting_since: opt_time(r.waiting_since),
                        snoozed_until: opt_time(r.snoozed_until),
                        resolved_at: opt_time(r.resolved_at),
                        resolved_by: r.resolved_by.map(AgentId::from_uuid),
                        last_message_at: r.last_message_at.0,
                        created_at: r.created_at.0,
                    })
                }
            }

            const STATE: &str = "SELECT c.id, c.channel_id, COALESCE(c.team_id, ch.team_id) AS team_id, \
                   c.team_id AS transferred_to, c.contact_id, c.status, c.assignee_id, c.waiting_since, \
                   CASE WHEN c.status = 'snoozed' THEN c.snoozed_until END AS snoozed_until, \
                   c.resolved_at, c.resolved_by, c.last_message_at, c.created_at \
                 FROM conversations c JOIN channels ch ON ch.id = c.channel_id WHERE c.id = $1";

            #[derive(sqlx::FromRow)]
            struct HistoryRow {
                id: i64,
                conversation_id: Uuid,
                kind: String,
                actor_id: Option<Uuid>,
                data: sqlx::types::Json<serde_json::Value>,
                at: Ts,
            }

            impl TryFrom<HistoryRow> for HistoryEntry {
                type Error = StoreError;
                fn try_from(r: HistoryRow) -> Result<Self> {
                    Ok(Self {
                        id: r.id,
                        conversation_id: ConversationId::from_uuid(r.conversation_id),
                        kind: HistoryKind::parse(&r.kind).ok_or_else(|| corrupt(format!("history kind {:?}", r.kind)))?,
                        actor_id: r.actor_id.map(AgentId::from_uuid),
                        data: r.data.0,
                        at: r.at.0,
                    })
                }
            }

            /// The state, optionally locking the conversation row (not the channel's) where the
            /// backend needs it (`STATE_LOCK`).
            pub(crate) async fn state(conn: &mut $conn, id: ConversationId, lock: bool) -> Result<Option<ConversationState>> {
                let sql = if lock { format!("{STATE}{STATE_LOCK}") } else { STATE.to_owned() };
                let row: Option<StateRow> = sqlx::query_as(&sql).bind(id.as_uuid()).fetch_optional(conn).await.db()?;
                row.map(TryInto::try_into).transpose()
            }

            /// Routes an open conversation (`before`, read in this transaction) to `team`
            /// (`None`: back to its channel's routing), recording `team_changed` in the
            /// history; an assignee outside its new effective team is unassigned (history
            /// `unassigned`, `reason: "team_changed"`). The new state, and who was unassigned.
            pub(crate) async fn move_to_team(
                conn: &mut $conn,
                before: &ConversationState,
                team: Option<TeamId>,
                actor: Option<AgentId>,
                at: DateTime<Utc>,
            ) -> Result<(ConversationState, Option<AgentId>)> {
                let conversation = before.id;
                sqlx::query("UPDATE conversations SET team_id = $2 WHERE id = $1")
                    .bind(conversation.as_uuid())
                    .bind(team.as_ref().map(TeamId::as_uuid))
                    .execute(&mut *conn)
                    .await
                    .db()?;
                let moved = state(&mut *conn, conversation, false).await?.ok_or(StoreError::NotFound)?;
                let data = serde_json::json!({ "from": before.team_id, "to": moved.team_id, "transferred_to": team });
                record_history(&mut *conn, conversation, HistoryKind::TeamChanged, actor, &data, at).await?;
                // An assignee outside the new team gives it back to that team's queue.
                let mut unassigned = None;
                if let (Some(assignee), Some(team)) = (moved.assignee_id, moved.team_id) {
                    let member: bool = sqlx::query_scalar(
                        "SELECT EXISTS (SELECT 1 FROM team_members WHERE team_id = $1 AND agent_id = $2)",
                    )
                    .bind(team.as_uuid())
                    .bind(assignee.as_uuid())
                    .fetch_one(&mut *conn)
                    .await
                    .db()?;
                    if !member {
                        sqlx::query("UPDATE conversations SET assignee_id = NULL WHERE id = $1")
                            .bind(conversation.as_uuid())
                            .execute(&mut *conn)
                            .await
                            .db()?;
                        let data = serde_json::json!({ "agent_id": assignee, "reason": "team_changed" });
                        record_history(&mut *conn, conversation, HistoryKind::Unassigned, actor, &data, at).await?;
                        unassigned = Some(assignee);
                    }
                }
                let after = match unassigned {
                    Some(_) => state(&mut *conn, conversation, false).await?.ok_or(StoreError::NotFound)?,
                    None => moved,
                };
                Ok((after, unassigned))
            }

            /// A keyword rule's "assign to team" (inside the ingest transaction): routes the
            /// conversation to `team` as a transfer by nobody, unless it is resolved or
            /// missing, its effective team is `team` already, or the team no longer exists.
            /// Whether it moved.
            pub(crate) async fn route_to_team(
                conn: &mut $conn,
                conversation: ConversationId,
                team: TeamId,
                at: DateTime<Utc>,
            ) -> Result<bool> {
                let Some(before) = state(&mut *conn, conversation, true).await? else { return Ok(false) };
                if before.status == ConversationStatus::Resolved || before.team_id == Some(team) {
                    return Ok(false);
                }
                let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM teams WHERE id = $1)")
                    .bind(team.as_uuid())
                    .fetch_one(&mut *conn)
                    .await
                    .db()?;
                if exists {
                    move_to_team(conn, &before, Some(team), None, at).await?;
                }
                Ok(exists)
            }

            /// Appends an entry to a conversation's history (inside the caller's transaction).
            pub(crate) async fn record_history(
                conn: &mut $conn,
                conversation: ConversationId,
                kind: HistoryKind,
                actor: Option<AgentId>,
                data: &serde_json::Value,
                at: DateTime<Utc>,
            ) -> Result<()> {
                sqlx::query(
                    "INSERT INTO conversation_events (conversation_id, kind, actor_id, data, at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(conversation.as_uuid())
                .bind(kind.as_str())
                .bind(actor.as_ref().map(AgentId::as_uuid))
                .bind(json(data)?)
                .bind(Ts(at))
                .execute(conn)
                .await
                .db()?;
                Ok(())
            }

            /// An active agent's capacity (`Some(None)`: no limit), locking their row where the
            /// backend needs it (`AGENT_LOCK`); `None` if unknown or inactive.
            pub(crate) async fn active_capacity(conn: &mut $conn, agent: AgentId) -> Result<Option<Option<u32>>> {
                let sql = format!("SELECT active, capacity FROM agents WHERE id = $1{AGENT_LOCK}");
                let row: Option<(bool, Option<i64>)> = sqlx::query_as(&sql)
                    .bind(agent.as_uuid())
                    .fetch_optional(conn)
                    .await
                    .db()?;
                match row {
                    Some((true, cap)) => {
                        Ok(Some(cap.map(u32::try_from).transpose().map_err(|_| corrupt("capacity out of range"))?))
                    }
                    _ => Ok(None),
                }
            }

            /// The conversations assigned to the agent that are not resolved.
            pub(crate) async fn load(conn: &mut $conn, agent: AgentId) -> Result<u32> {
                let n: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM conversations WHERE assignee_id = $1 AND status <> 'resolved'")
                        .bind(agent.as_uuid())
                        .fetch_one(conn)
                        .await
                        .db()?;
                Ok(u32::try_from(n).unwrap_or(u32::MAX))
            }

            #[$crate::reexport::async_trait]
            impl QueueStore for $store {
                async fn conversation_state(&self, id: ConversationId) -> Result<Option<ConversationState>> {
                    let mut conn = self.pool().acquire().await.db()?;
                    state(&mut conn, id, false).await
                }

                async fn transfer_team(&self, t: &TeamTransfer) -> Result<TransferOutcome> {
                    let mut w = self.begin_write().await?;
                    let conn = w.conn();
                    let Some(before) = state(&mut *conn, t.conversation, true).await? else {
                        return Ok(TransferOutcome::ConversationNotFound);
                    };
                    if before.status == ConversationStatus::Resolved {
                        return Ok(TransferOutcome::Resolved);
                    }
                    if let Some(team) = t.team {
                        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM teams WHERE id = $1)")
                            .bind(team.as_uuid())
                            .fetch_one(&mut *conn)
                            .await
                            .db()?;
                        if !exists {
                            return Ok(TransferOutcome::TeamNotFound);
                        }
                    }
                    if before.transferred_to == t.team {
                        return Ok(TransferOutcome::Done { state: before, changed: false, unassigned: None });
                    }
                    let (after, unassigned) = move_to_team(&mut *conn, &before, t.team, t.actor, t.at).await?;
                    w.commit().await?;
                    Ok(TransferOutcome::Done { state: after, changed: true, unassigned })
                }

                async fn set_status_with_survey(
                    &self,
                    s: &StatusChange,
                    survey: Option<&switchboard_store::NewSurvey>,
                ) -> Result<StatusChangeOutcome> {
                    let mut w = self.begin_write().await?;
                    let conn = w.conn();
                    let Some(before) = state(&mut *conn, s.conversation, true).await? else {
                        return Ok(StatusChangeOutcome::NotFound);
                    };
                    let snoozed_until = (s.status == ConversationStatus::Snoozed).then_some(s.snoozed_until).flatten();
                    if before.status == s.status && before.snoozed_until == snoozed_until {
                        return Ok(StatusChangeOutcome::Done { state: before, changed: false });
                    }
                    if before.status == ConversationStatus::Resolved {
                        return Ok(StatusChangeOutcome::Resolved);
                    }
                    let resolving = s.status == ConversationStatus::Resolved;
                    sqlx::query(
                        "UPDATE conversations SET status = $2, snoozed_until = $3, \
                           resolved_at = CASE WHEN $4 THEN $5 ELSE resolved_at END, \
                           resolved_by = CASE WHEN $4 THEN $6 ELSE resolved_by END \
                         WHERE id = $1",
                    )
                    .bind(s.conversation.as_uuid())
                    .bind(s.status.as_str())
                    .bind(snoozed_until.map(Ts))
                    .bind(resolving)
                    .bind(Ts(s.at))
                    .bind(s.actor.as_ref().map(AgentId::as_uuid))
                    .execute(&mut *conn)
                    .await
                    .db()?;
                    let data = serde_json::json!({
                        "from": before.status, "to": s.status, "snoozed_until": snoozed_until, "reason": "manual",
                    });
                    record_history(&mut *conn, s.conversation, HistoryKind::StatusChanged, s.actor, &data, s.at).await?;
                    if resolving {
                        crate::kpis::record_resolution(&mut *conn, s.conversation, s.at).await?;
                        if let Some(survey) = survey {
                            crate::csat::queue_survey(&mut *conn, s.conversation, survey, s.at).await?;
                        }
                    }
                    let after = state(&mut *conn, s.conversation, false).await?.ok_or(StoreError::NotFound)?;
                    w.commit().await?;
                    Ok(StatusChangeOutcome::Done { state: after, changed: true })
                }

                async fn history(
                    &self,
                    conversation: ConversationId,
                    limit: u32,
                    after: Option<HistoryCursor>,
                ) -> Result<Page<HistoryEntry, HistoryCursor>> {
                    let limit = page_size(limit);
                    let mut conn = self.pool().acquire().await.db()?;
                    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM conversations WHERE id = $1)")
                        .bind(conversation.as_uuid())
                        .fetch_one(&mut *conn)
                        .await
                        .db()?;
                    if !exists {
                        return Err(StoreError::NotFound);
                    }
                    let rows: Vec<HistoryRow> = sqlx::query_as(
                        "SELECT id, conversation_id, kind, actor_id, data, at FROM conversation_events \
                         WHERE conversation_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                    )
                    .bind(conversation.as_uuid())
                    .bind(after.map_or(0, |c| c.id))
                    .bind(i64::from(limit) + 1)
                    .fetch_all(&mut *conn)
                    .await
                    .db()?;
                    let items = rows.into_iter().map(TryInto::try_into).collect::<Result<Vec<HistoryEntry>>>()?;
                    Ok(Page::from_fetch(items, limit, |e| HistoryCursor { id: e.id }))
                }

                $($($own)*)?
            }
        }
    };
}
