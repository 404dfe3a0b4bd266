//! The shared queue: claim next, assignment, status, the snooze wake-up and history.
//!
//! Every change runs under the write gate (one writer, `BEGIN IMMEDIATE`), so the claim's
//! "find the longest-waiting conversation, assign it" is atomic: two claims are two
//! transactions one after the other, and the second no longer sees the first one's
//! conversation as unassigned. The pick walks the `conversations_queue` index in order
//! (named with `INDEXED BY`: without statistics SQLite would rather take the status index
//! and sort every open conversation).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;
use switchboard_domain::{AgentId, ChannelId, ContactId, ConversationId, ConversationStatus};
use switchboard_store::{
    AssignOutcome, AssignRefusal, Assignment, ClaimOutcome, ClaimScope, ConversationState, HistoryCursor, HistoryEntry,
    HistoryKind, Page, QueueStore, Result, StatusChange, StatusChangeOutcome, StoreError, TeamId, page_size,
};
use uuid::Uuid;

use crate::SqliteStore;
use crate::error::DbResultExt;
use crate::rows::{corrupt, ms, time};

#[derive(sqlx::FromRow)]
struct StateRow {
    id: Uuid,
    channel_id: Uuid,
    team_id: Option<Uuid>,
    contact_id: Uuid,
    status: String,
    assignee_id: Option<Uuid>,
    waiting_since: Option<i64>,
    snoozed_until: Option<i64>,
    resolved_at: Option<i64>,
    resolved_by: Option<Uuid>,
    last_message_at: i64,
    created_at: i64,
}

impl TryFrom<StateRow> for ConversationState {
    type Error = StoreError;
    fn try_from(r: StateRow) -> Result<Self> {
        Ok(Self {
            id: ConversationId::from_uuid(r.id),
            channel_id: ChannelId::from_uuid(r.channel_id),
            team_id: r.team_id.map(TeamId::from_uuid),
            contact_id: ContactId::from_uuid(r.contact_id),
            status: ConversationStatus::parse(&r.status)
                .ok_or_else(|| corrupt(format!("conversation status {:?}", r.status)))?,
            assignee_id: r.assignee_id.map(AgentId::from_uuid),
            waiting_since: r.waiting_since.map(time).transpose()?,
            snoozed_until: r.snoozed_until.map(time).transpose()?,
            resolved_at: r.resolved_at.map(time).transpose()?,
            resolved_by: r.resolved_by.map(AgentId::from_uuid),
            last_message_at: time(r.last_message_at)?,
            created_at: time(r.created_at)?,
        })
    }
}

const STATE: &str = "SELECT c.id, c.channel_id, ch.team_id, c.contact_id, c.status, c.assignee_id, c.waiting_since, \
       CASE WHEN c.status = 'snoozed' THEN c.snoozed_until END AS snoozed_until, \
       c.resolved_at, c.resolved_by, c.last_message_at, c.created_at \
     FROM conversations c JOIN channels ch ON ch.id = c.channel_id WHERE c.id = ?1";

#[derive(sqlx::FromRow)]
struct HistoryRow {
    id: i64,
    conversation_id: Uuid,
    kind: String,
    actor_id: Option<Uuid>,
    data: sqlx::types::Json<serde_json::Value>,
    at: i64,
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
            at: time(r.at)?,
        })
    }
}

async fn state(conn: &mut SqliteConnection, id: ConversationId) -> Result<Option<ConversationState>> {
    let row: Option<StateRow> = sqlx::query_as(STATE).bind(id.as_uuid()).fetch_optional(conn).await.db()?;
    row.map(TryInto::try_into).transpose()
}

/// Appends an entry to a conversation's history (inside the caller's write).
pub(crate) async fn record_history(
    conn: &mut SqliteConnection,
    conversation: ConversationId,
    kind: HistoryKind,
    actor: Option<AgentId>,
    data: &serde_json::Value,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO conversation_events (conversation_id, kind, actor_id, data, at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .bind(conversation.as_uuid())
    .bind(kind.as_str())
    .bind(actor.as_ref().map(AgentId::as_uuid))
    .bind(data.to_string())
    .bind(ms(at))
    .execute(conn)
    .await
    .db()?;
    Ok(())
}

/// An active agent's capacity (`Some(None)`: no limit); `None` if unknown or inactive.
async fn active_capacity(conn: &mut SqliteConnection, agent: AgentId) -> Result<Option<Option<u32>>> {
    let row: Option<(bool, Option<i64>)> = sqlx::query_as("SELECT active, capacity FROM agents WHERE id = ?1")
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
async fn load(conn: &mut SqliteConnection, agent: AgentId) -> Result<u32> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM conversations WHERE assignee_id = ?1 AND status <> 'resolved'")
            .bind(agent.as_uuid())
            .fetch_one(conn)
            .await
            .db()?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// The pick: `?1` the agent. The scope filter is spliced in.
fn claim_sql(scope: ClaimScope) -> String {
    let filter = match scope {
        ClaimScope::All => "",
        ClaimScope::Teams => {
            "AND c.channel_id IN (SELECT ch.id FROM channels ch WHERE ch.team_id IS NULL \
               OR ch.team_id IN (SELECT tm.team_id FROM team_members tm WHERE tm.agent_id = ?1))"
        }
    };
    format!(
        "UPDATE conversations SET assignee_id = ?1 WHERE id = ( \
           SELECT c.id FROM conversations c INDEXED BY conversations_queue \
           WHERE c.status = 'open' AND c.assignee_id IS NULL AND c.waiting_since IS NOT NULL {filter} \
           ORDER BY c.waiting_since, c.id LIMIT 1) \
         RETURNING id"
    )
}

#[async_trait]
impl QueueStore for SqliteStore {
    async fn conversation_state(&self, id: ConversationId) -> Result<Option<ConversationState>> {
        let mut conn = self.pool().acquire().await.db()?;
        state(&mut conn, id).await
    }

    async fn claim_next(&self, agent: AgentId, scope: ClaimScope, at: DateTime<Utc>) -> Result<ClaimOutcome> {
        let mut w = self.begin_write().await?;
        let conn = w.conn();
        let Some(capacity) = active_capacity(&mut *conn, agent).await? else {
            return Ok(ClaimOutcome::AgentInactive);
        };
        if let Some(capacity) = capacity {
            let load = load(&mut *conn, agent).await?;
            if load >= capacity {
                return Ok(ClaimOutcome::AtCapacity { capacity, load });
            }
        }
        let picked: Option<Uuid> =
            sqlx::query_scalar(&claim_sql(scope)).bind(agent.as_uuid()).fetch_optional(&mut *conn).await.db()?;
        let Some(picked) = picked else { return Ok(ClaimOutcome::Empty) };
        let id = ConversationId::from_uuid(picked);
        let data = serde_json::json!({ "agent_id": agent, "previous_agent_id": null, "via": "claim" });
        record_history(&mut *conn, id, HistoryKind::Assigned, Some(agent), &data, at).await?;
        let claimed = state(&mut *conn, id).await?.ok_or(StoreError::NotFound)?;
        w.commit().await?;
        Ok(ClaimOutcome::Claimed(claimed))
    }

    async fn assign(&self, a: &Assignment) -> Result<AssignOutcome> {
        let mut w = self.begin_write().await?;
        let conn = w.conn();
        let Some(before) = state(&mut *conn, a.conversation).await? else {
            return Ok(AssignOutcome::Refused(AssignRefusal::ConversationNotFound));
        };
        if before.status == ConversationStatus::Resolved {
            return Ok(AssignOutcome::Refused(AssignRefusal::Resolved));
        }
        if before.assignee_id == a.agent {
            return Ok(AssignOutcome::Done { state: before, changed: false });
        }
        let (kind, data) = match (a.agent, before.assignee_id) {
            (Some(agent), previous) => {
                let Some(capacity) = active_capacity(&mut *conn, agent).await? else {
                    return Ok(AssignOutcome::Refused(AssignRefusal::AgentInactive));
                };
                if let (true, Some(capacity)) = (a.respect_capacity, capacity) {
                    let load = load(&mut *conn, agent).await?;
                    if load >= capacity {
                        return Ok(AssignOutcome::Refused(AssignRefusal::AtCapacity { capacity, load }));
                    }
                }
                (
                    HistoryKind::Assigned,
                    serde_json::json!({ "agent_id": agent, "previous_agent_id": previous, "via": "manual" }),
                )
            }
            (None, previous) => {
                (HistoryKind::Unassigned, serde_json::json!({ "agent_id": previous, "reason": "manual" }))
            }
        };
        sqlx::query("UPDATE conversations SET assignee_id = ?2 WHERE id = ?1")
            .bind(a.conversation.as_uuid())
            .bind(a.agent.as_ref().map(AgentId::as_uuid))
            .execute(&mut *conn)
            .await
            .db()?;
        record_history(&mut *conn, a.conversation, kind, a.actor, &data, a.at).await?;
        let after = state(&mut *conn, a.conversation).await?.ok_or(StoreError::NotFound)?;
        w.commit().await?;
        Ok(AssignOutcome::Done { state: after, changed: true })
    }

    async fn set_status(&self, s: &StatusChange) -> Result<StatusChangeOutcome> {
        let mut w = self.begin_write().await?;
        let conn = w.conn();
        let Some(before) = state(&mut *conn, s.conversation).await? else {
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
            "UPDATE conversations SET status = ?2, snoozed_until = ?3, \
               resolved_at = CASE WHEN ?4 THEN ?5 ELSE resolved_at END, \
               resolved_by = CASE WHEN ?4 THEN ?6 ELSE resolved_by END \
             WHERE id = ?1",
        )
        .bind(s.conversation.as_uuid())
        .bind(s.status.as_str())
        .bind(snoozed_until.map(ms))
        .bind(resolving)
        .bind(ms(s.at))
        .bind(s.actor.as_ref().map(AgentId::as_uuid))
        .execute(&mut *conn)
        .await
        .db()?;
        let data = serde_json::json!({
            "from": before.status, "to": s.status, "snoozed_until": snoozed_until, "reason": "manual",
        });
        record_history(&mut *conn, s.conversation, HistoryKind::StatusChanged, s.actor, &data, s.at).await?;
        let after = state(&mut *conn, s.conversation).await?.ok_or(StoreError::NotFound)?;
        w.commit().await?;
        Ok(StatusChangeOutcome::Done { state: after, changed: true })
    }

    async fn wake_snoozed(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<ConversationId>> {
        // An idle tick must not take the write gate: look first, on a reader.
        let due: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM conversations INDEXED BY conversations_snoozed \
             WHERE status = 'snoozed' AND snoozed_until <= ?1)",
        )
        .bind(ms(now))
        .fetch_one(self.pool())
        .await
        .db()?;
        if !due {
            return Ok(Vec::new());
        }
        let mut w = self.begin_write().await?;
        let conn = w.conn();
        // `snoozed_until` is kept (it means nothing once open) so the history can say it.
        let woken: Vec<(Uuid, i64)> = sqlx::query_as(
            "UPDATE conversations SET status = 'open' WHERE id IN ( \
               SELECT id FROM conversations INDEXED BY conversations_snoozed \
               WHERE status = 'snoozed' AND snoozed_until <= ?1 \
               ORDER BY snoozed_until LIMIT ?2) \
             RETURNING id, snoozed_until",
        )
        .bind(ms(now))
        .bind(i64::from(page_size(limit)))
        .fetch_all(&mut *conn)
        .await
        .db()?;
        let mut ids = Vec::with_capacity(woken.len());
        for (id, until) in woken {
            let id = ConversationId::from_uuid(id);
            let data = serde_json::json!({
                "from": ConversationStatus::Snoozed, "to": ConversationStatus::Open,
                "snoozed_until": time(until)?, "reason": "snooze_ended",
            });
            record_history(&mut *conn, id, HistoryKind::StatusChanged, None, &data, now).await?;
            ids.push(id);
        }
        w.commit().await?;
        Ok(ids)
    }

    async fn history(
        &self,
        conversation: ConversationId,
        limit: u32,
        after: Option<HistoryCursor>,
    ) -> Result<Page<HistoryEntry, HistoryCursor>> {
        let limit = page_size(limit);
        let mut conn = self.pool().acquire().await.db()?;
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM conversations WHERE id = ?1)")
            .bind(conversation.as_uuid())
            .fetch_one(&mut *conn)
            .await
            .db()?;
        if !exists {
            return Err(StoreError::NotFound);
        }
        let rows: Vec<HistoryRow> = sqlx::query_as(
            "SELECT id, conversation_id, kind, actor_id, data, at FROM conversation_events \
             WHERE conversation_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
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
}
