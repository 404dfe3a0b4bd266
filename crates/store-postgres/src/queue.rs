//! The shared queue: claim next, assignment, status, the snooze wake-up and history.
//!
//! Claims from several instances and many agents at once: the pick and the assignment
//! are one `UPDATE … FROM (SELECT … ORDER BY waiting_since LIMIT 1 FOR UPDATE SKIP
//! LOCKED)`. A claimer skips the rows another one has locked; a row that another claim
//! assigned after our snapshot is re-checked when we lock it (`assignee_id IS NULL` no
//! longer holds) and the next one is taken instead. So no conversation is claimed twice,
//! and nobody waits for anybody. The claimer's own agent row is locked first, so one
//! agent's concurrent claims count their load one after the other (capacity holds).

use sqlx::PgConnection;
use switchboard_store::ClaimScope;

use crate::nul::json;

switchboard_store_sql::queue_store!(crate::PgStore, PgConnection;
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
);

/// A conversation read before a change is locked (its row, not the channel's).
const STATE_LOCK: &str = " FOR NO KEY UPDATE OF c";
/// An agent read before a claim or an assignment is locked, so one agent's concurrent
/// claims count their load one after the other.
const AGENT_LOCK: &str = " FOR NO KEY UPDATE";

/// The pick and the assignment, one statement: `$1` the agent. The scope filter is
/// spliced in.
fn claim_sql(scope: ClaimScope) -> String {
    let filter = match scope {
        ClaimScope::All => "",
        ClaimScope::Teams => {
            // Its effective team is one of the agent's, or none.
            "AND (c.team_id IN (SELECT tm.team_id FROM team_members tm WHERE tm.agent_id = $1) \
               OR (c.team_id IS NULL AND c.channel_id IN (SELECT ch.id FROM channels ch WHERE ch.team_id IS NULL \
               OR ch.team_id IN (SELECT tm.team_id FROM team_members tm WHERE tm.agent_id = $1))))"
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
