//! The shared queue: claim next, assignment, status, the snooze wake-up and history.
//!
//! Claims from several instances and many agents at once: the pick and the assignment
//! are one `UPDATE … FROM (SELECT … ORDER BY waiting_since LIMIT 1 FOR UPDATE SKIP
//! LOCKED)`. A claimer skips the rows another one has locked; a row that another claim
//! assigned after our snapshot is re-checked when we lock it (`assignee_id IS NULL` no
//! longer holds) and the next one is taken instead. So no conversation is claimed twice,
//! and nobody waits for anybody. The claimer's own agent row is locked first, so one
//! agent's concurrent claims count their load one after the other (capacity holds).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use switchboard_domain::{AgentId, ChannelId, ContactId, ConversationId, ConversationStatus};
use switchboard_store::{
    AssignOutcome, AssignRefusal, Assignment, ClaimOutcome, ClaimScope, ConversationState, HistoryCursor, HistoryEntry,
    HistoryKind, Page, QueueStore, Result, StatusChange, StatusChangeOutcome, StoreError, TeamId, page_size,
};
use uuid::Uuid;

use crate::PgStore;
use crate::error::DbResultExt;
use crate::nul::Jsonb;
use crate::rows::corrupt;

#[derive(sqlx::FromRow)]
struct StateRow {
    id: Uuid,
    channel_id: Uuid,
    team_id: Option<Uuid>,
    contact_id: Uuid,
    status: String,
    assignee_id: Option<Uuid>,
    waiting_since: Option<DateTime<Utc>>,
    snoozed_until: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    resolved_by: Option<Uuid>,
    last_message_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
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
            waiting_since: r.waiting_since,
            snoozed_until: r.snoozed_until,
            resolved_at: r.resolved_at,
            resolved_by: r.resolved_by.map(AgentId::from_uuid),
            last_message_at: r.last_message_at,
            created_at: r.created_at,
        })
    }
}

const STATE: &str = "SELECT c.id, c.channel_id, ch.team_id, c.contact_id, c.status, c.assignee_id, c.waiting_since, \
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
    at: DateTime<Utc>,
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
            at: r.at,
        })
    }
}

/// The state, optionally locking the conversation row (not the channel's).
async fn state(conn: &mut PgConnection, id: ConversationId, lock: bool) -> Result<Option<ConversationState>> {
    let sql = if lock { format!("{STATE} FOR NO KEY UPDATE OF c") } else { STATE.to_owned() };
    let row: Option<StateRow> = sqlx::query_as(&sql).bind(id.as_uuid()).fetch_optional(conn).await.db()?;
    row.map(TryInto::try_into).transpose()
}

/// Appends an entry to a conversation's history (inside the caller's transaction).
pub(crate) async fn record_history(
    conn: &mut PgConnection,
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
    .bind(Jsonb::new(data)?)
    .bind(at)
    .execute(conn)
    .await
    .db()?;
    Ok(())
}

/// An active agent's capacity (`Some(None)`: no limit), locking their row; `None` if
/// unknown or inactive.
async fn active_capacity(conn: &mut PgConnection, agent: AgentId) -> Result<Option<Option<u32>>> {
    let row: Option<(bool, Option<i64>)> =
        sqlx::query_as("SELECT active, capacity FROM agents WHERE id = $1 FOR NO KEY UPDATE")
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
async fn load(conn: &mut PgConnection, agent: AgentId) -> Result<u32> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM conversations WHERE assignee_id = $1 AND status <> 'resolved'")
            .bind(agent.as_uuid())
            .fetch_one(conn)
            .await
            .db()?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// The pick and the assignment, one statement: `$1` the agent. The scope filter is
/// spliced in.
fn claim_sql(scope: ClaimScope) -> String {
    let filter = match scope {
        ClaimScope::All => "",
        ClaimScope::Teams => {
            "AND c.channel_id IN (SELECT ch.id FROM channels ch WHERE ch.team_id IS NULL \
               OR ch.team_id IN (SELECT tm.team_id FROM team_members tm WHERE tm.agent_id = $1))"
        }
    };
    format!(
        "WITH picked AS MATERIALIZED ( \
           SELECT c.id FROM conversations c \
           WHERE c.status = 'open' AND c.assignee_id IS NULL AND c.waiting_since IS NOT NULL {filter} \
           ORDER BY c.waiting_since, c.id LIMIT 1 \
           FOR NO KEY UPDATE OF c SKIP LOCKED \
         ) \
         UPDATE conversations c SET assignee_id = $1 FROM picked WHERE c.id = picked.id \
         RETURNING c.id"
    )
}

#[async_trait]
impl QueueStore for PgStore {
    async fn conversation_state(&self, id: ConversationId) -> Result<Option<ConversationState>> {
        let mut conn = self.pool().acquire().await.db()?;
        state(&mut conn, id, false).await
    }

    async fn claim_next(&self, agent: AgentId, scope: ClaimScope, at: DateTime<Utc>) -> Result<ClaimOutcome> {
        let mut tx = self.pool().begin().await.db()?;
        let Some(capacity) = active_capacity(&mut tx, agent).await? else {
            return Ok(ClaimOutcome::AgentInactive);
        };
        if let Some(capacity) = capacity {
            let load = load(&mut tx, agent).await?;
            if load >= capacity {
                return Ok(ClaimOutcome::AtCapacity { capacity, load });
            }
        }
        let picked: Option<Uuid> =
            sqlx::query_scalar(&claim_sql(scope)).bind(agent.as_uuid()).fetch_optional(&mut *tx).await.db()?;
        let Some(picked) = picked else { return Ok(ClaimOutcome::Empty) };
        let id = ConversationId::from_uuid(picked);
        let data = serde_json::json!({ "agent_id": agent, "previous_agent_id": null, "via": "claim" });
        record_history(&mut tx, id, HistoryKind::Assigned, Some(agent), &data, at).await?;
        let claimed = state(&mut tx, id, false).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.db()?;
        Ok(ClaimOutcome::Claimed(claimed))
    }

    async fn assign(&self, a: &Assignment) -> Result<AssignOutcome> {
        let mut tx = self.pool().begin().await.db()?;
        // The assignee first, then the conversation: the order claims lock in.
        let capacity = match a.agent {
            Some(agent) => match active_capacity(&mut tx, agent).await? {
                Some(capacity) => capacity,
                None => {
                    let exists = state(&mut tx, a.conversation, false).await?.is_some();
                    return Ok(AssignOutcome::Refused(if exists {
                        AssignRefusal::AgentInactive
                    } else {
                        AssignRefusal::ConversationNotFound
                    }));
                }
            },
            None => None,
        };
        let Some(before) = state(&mut tx, a.conversation, true).await? else {
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
                if let (true, Some(capacity)) = (a.respect_capacity, capacity) {
                    let load = load(&mut tx, agent).await?;
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
        sqlx::query("UPDATE conversations SET assignee_id = $2 WHERE id = $1")
            .bind(a.conversation.as_uuid())
            .bind(a.agent.as_ref().map(AgentId::as_uuid))
            .execute(&mut *tx)
            .await
            .db()?;
        record_history(&mut tx, a.conversation, kind, a.actor, &data, a.at).await?;
        let after = state(&mut tx, a.conversation, false).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.db()?;
        Ok(AssignOutcome::Done { state: after, changed: true })
    }

    async fn set_status(&self, s: &StatusChange) -> Result<StatusChangeOutcome> {
        let mut tx = self.pool().begin().await.db()?;
        let Some(before) = state(&mut tx, s.conversation, true).await? else {
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
        .bind(snoozed_until)
        .bind(resolving)
        .bind(s.at)
        .bind(s.actor.as_ref().map(AgentId::as_uuid))
        .execute(&mut *tx)
        .await
        .db()?;
        let data = serde_json::json!({
            "from": before.status, "to": s.status, "snoozed_until": snoozed_until, "reason": "manual",
        });
        record_history(&mut tx, s.conversation, HistoryKind::StatusChanged, s.actor, &data, s.at).await?;
        let after = state(&mut tx, s.conversation, false).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.db()?;
        Ok(StatusChangeOutcome::Done { state: after, changed: true })
    }

    async fn wake_snoozed(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<ConversationId>> {
        let mut tx = self.pool().begin().await.db()?;
        // `snoozed_until` is kept (it means nothing once open) so the history can say it.
        let woken: Vec<(Uuid, DateTime<Utc>)> = sqlx::query_as(
            "WITH due AS MATERIALIZED ( \
               SELECT id FROM conversations WHERE status = 'snoozed' AND snoozed_until <= $1 \
               ORDER BY snoozed_until LIMIT $2 FOR NO KEY UPDATE SKIP LOCKED \
             ) \
             UPDATE conversations c SET status = 'open' FROM due WHERE c.id = due.id \
             RETURNING c.id, c.snoozed_until",
        )
        .bind(now)
        .bind(i64::from(page_size(limit)))
        .fetch_all(&mut *tx)
        .await
        .db()?;
        let mut ids = Vec::with_capacity(woken.len());
        for (id, until) in woken {
            let id = ConversationId::from_uuid(id);
            let data = serde_json::json!({
                "from": ConversationStatus::Snoozed, "to": ConversationStatus::Open,
                "snoozed_until": until, "reason": "snooze_ended",
            });
            record_history(&mut tx, id, HistoryKind::StatusChanged, None, &data, now).await?;
            ids.push(id);
        }
        tx.commit().await.db()?;
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
}
