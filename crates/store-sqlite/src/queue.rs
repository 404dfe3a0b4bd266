//! The shared queue: claim next, assignment, status, the snooze wake-up and history.
//!
//! Every change runs under the write gate (one writer, `BEGIN IMMEDIATE`), so the claim's
//! "find the longest-waiting conversation, assign it" is atomic: two claims are two
//! transactions one after the other, and the second no longer sees the first one's
//! conversation as unassigned. The pick walks the `conversations_queue` index in order
//! (named with `INDEXED BY`: without statistics SQLite would rather take the status index
//! and sort every open conversation).

use sqlx::SqliteConnection;
use switchboard_store::ClaimScope;

use crate::nul::json;
use crate::rows::{ms, time};

switchboard_store_sql::queue_store!(crate::SqliteStore, SqliteConnection;
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
        let claimed = state(&mut *conn, id, false).await?.ok_or(StoreError::NotFound)?;
        w.commit().await?;
        Ok(ClaimOutcome::Claimed(claimed))
    }

    async fn assign(&self, a: &Assignment) -> Result<AssignOutcome> {
        let mut w = self.begin_write().await?;
        let conn = w.conn();
        let Some(before) = state(&mut *conn, a.conversation, false).await? else {
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
        let after = state(&mut *conn, a.conversation, false).await?.ok_or(StoreError::NotFound)?;
        w.commit().await?;
        Ok(AssignOutcome::Done { state: after, changed: true })
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
);

/// The write gate makes a read and the change after it one step: no row locks.
const STATE_LOCK: &str = "";
const AGENT_LOCK: &str = "";

/// The pick: `?1` the agent. The scope filter is spliced in.
fn claim_sql(scope: ClaimScope) -> String {
    let filter = match scope {
        ClaimScope::All => "",
        ClaimScope::Teams => {
            // Its effective team is one of the agent's, or none.
            "AND (c.team_id IN (SELECT tm.team_id FROM team_members tm WHERE tm.agent_id = ?1) \
               OR (c.team_id IS NULL AND c.channel_id IN (SELECT ch.id FROM channels ch WHERE ch.team_id IS NULL \
               OR ch.team_id IN (SELECT tm.team_id FROM team_members tm WHERE tm.agent_id = ?1))))"
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
