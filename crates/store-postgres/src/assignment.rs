//! Auto-assignment: team and channel policies, and the assigner's step.
//!
//! The step is one transaction, safe with several instances (and claims) at once:
//! - it first locks the rows of every online, active agent, in id order (the order two
//!   steps lock in, so they never deadlock; claims and capacity-respecting assignments
//!   lock their agent's row first too), and only then counts their loads: another step,
//!   or a claim, that changes an agent's load waits for our commit, and we see theirs;
//! - it takes conversations with `FOR NO KEY UPDATE SKIP LOCKED`, re-checked when
//!   locked: a conversation claimed or assigned meanwhile is skipped, never assigned
//!   twice, and nobody waits for a conversation.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;
use switchboard_domain::{AgentId, ChannelId, ConversationId};
use switchboard_store::{
    AgentPool, AssignmentPolicy, AssignmentStore, AutoAssignReport, AutoAssigned, AutoReason, ChannelPolicy,
    HistoryKind, PolicySettings, PoolAgent, Result, StoreError, TeamId,
};
use uuid::Uuid;

use crate::PgStore;
use crate::error::DbResultExt;
use crate::queue::record_history;
use crate::rows::corrupt;

/// Waiting conversations read per page while assigning.
const PAGE: i64 = 200;

#[derive(sqlx::FromRow)]
struct PolicyRow {
    id: Uuid,
    team_id: Option<Uuid>,
    own_policy: Option<String>,
    own_minutes: Option<i64>,
    team_policy: Option<String>,
    team_minutes: Option<i64>,
}

impl TryFrom<PolicyRow> for ChannelPolicy {
    type Error = StoreError;
    fn try_from(r: PolicyRow) -> Result<Self> {
        Ok(Self::resolve(
            ChannelId::from_uuid(r.id),
            r.team_id.map(TeamId::from_uuid),
            PolicySettings::from_columns(r.own_policy, r.own_minutes)?,
            PolicySettings::from_columns(r.team_policy, r.team_minutes)?,
        ))
    }
}

const POLICIES: &str = "SELECT ch.id, ch.team_id, ca.policy AS own_policy, ca.reassign_after_minutes AS own_minutes, \
       ta.policy AS team_policy, ta.reassign_after_minutes AS team_minutes \
     FROM channels ch \
     LEFT JOIN channel_assignment ca ON ca.channel_id = ch.id \
     LEFT JOIN team_assignment ta ON ta.team_id = ch.team_id";

/// Every channel's policy, or one channel's.
async fn policies(conn: &mut PgConnection, channel: Option<ChannelId>) -> Result<Vec<ChannelPolicy>> {
    let rows: Vec<PolicyRow> = match channel {
        Some(c) => sqlx::query_as(&format!("{POLICIES} WHERE ch.id = $1")).bind(c.as_uuid()).fetch_all(conn).await,
        None => sqlx::query_as(POLICIES).fetch_all(conn).await,
    }
    .db()?;
    rows.into_iter().map(TryInto::try_into).collect()
}

/// The channels whose effective policy assigns.
async fn active_policies(conn: &mut PgConnection) -> Result<HashMap<ChannelId, ChannelPolicy>> {
    Ok(policies(conn, None)
        .await?
        .into_iter()
        .filter(|p| p.effective.policy != AssignmentPolicy::Off)
        .map(|p| (p.channel_id, p))
        .collect())
}

#[derive(sqlx::FromRow)]
struct PoolRow {
    id: Uuid,
    capacity: Option<i64>,
    assignment_seq: Option<i64>,
    load: i64,
    open: i64,
}

/// Locks the online, active agents' rows (in id order), then reads their loads and
/// teams.
async fn pool(conn: &mut PgConnection) -> Result<AgentPool> {
    let locked: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM agents WHERE active AND availability = 'online' ORDER BY id FOR NO KEY UPDATE",
    )
    .fetch_all(&mut *conn)
    .await
    .db()?;
    let rows: Vec<PoolRow> = sqlx::query_as(
        "SELECT a.id, a.capacity, a.assignment_seq, \
           (SELECT COUNT(*) FROM conversations c WHERE c.assignee_id = a.id AND c.status <> 'resolved') AS load, \
           (SELECT COUNT(*) FROM conversations c WHERE c.assignee_id = a.id AND c.status = 'open') AS open \
         FROM agents a WHERE a.id = ANY($1) AND a.active AND a.availability = 'online' ORDER BY a.id",
    )
    .bind(&locked)
    .fetch_all(&mut *conn)
    .await
    .db()?;
    let members: Vec<(Uuid, Uuid)> =
        sqlx::query_as("SELECT agent_id, team_id FROM team_members WHERE agent_id = ANY($1)")
            .bind(&locked)
            .fetch_all(&mut *conn)
            .await
            .db()?;
    let max_seq: Option<i64> =
        sqlx::query_scalar("SELECT MAX(assignment_seq) FROM agents").fetch_one(&mut *conn).await.db()?;
    let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
    let agents = rows
        .into_iter()
        .map(|r| {
            Ok(PoolAgent {
                id: AgentId::from_uuid(r.id),
                capacity: r.capacity.map(u32::try_from).transpose().map_err(|_| corrupt("capacity out of range"))?,
                load: count(r.load),
                open: count(r.open),
                seq: r.assignment_seq,
                teams: members.iter().filter(|(a, _)| *a == r.id).map(|(_, t)| TeamId::from_uuid(*t)).collect(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(AgentPool::new(agents, max_seq))
}

/// Writes one automatic assignment: the conversation, the agent's place in the rotation,
/// the history.
async fn write_assignment(
    conn: &mut PgConnection,
    a: &AutoAssigned,
    policy: AssignmentPolicy,
    seq: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("UPDATE conversations SET assignee_id = $2 WHERE id = $1")
        .bind(a.conversation.as_uuid())
        .bind(a.agent.as_uuid())
        .execute(&mut *conn)
        .await
        .db()?;
    sqlx::query("UPDATE agents SET last_assigned_at = $2, assignment_seq = $3 WHERE id = $1")
        .bind(a.agent.as_uuid())
        .bind(now)
        .bind(seq)
        .execute(&mut *conn)
        .await
        .db()?;
    let data = serde_json::json!({
        "agent_id": a.agent, "previous_agent_id": a.previous, "via": "auto",
        "policy": policy, "reason": a.reason.as_str(),
    });
    record_history(conn, a.conversation, HistoryKind::Assigned, None, &data, now).await
}

/// The conversations of channel `$1` whose assignee has not answered by the deadline
/// `$2`: their customer has waited since before it, and nobody was (re)assigned them
/// after it (a new assignee gets the whole delay).
const DUE: &str = "FROM conversations c \
     WHERE c.channel_id = $1 AND c.status = 'open' AND c.assignee_id IS NOT NULL \
       AND c.waiting_since IS NOT NULL AND c.waiting_since <= $2 \
       AND NOT EXISTS (SELECT 1 FROM conversation_events e \
         WHERE e.conversation_id = c.id AND e.kind = 'assigned' AND e.at > $2)";

/// The deadline at `now` for a delay of `minutes`.
fn deadline(now: DateTime<Utc>, minutes: u32) -> DateTime<Utc> {
    now - Duration::minutes(i64::from(minutes))
}

/// Whether a step could have anything to do: a reassignment is due, or someone online
/// while a conversation waits. Looked at before locking any agent.
async fn worth_a_step(
    conn: &mut PgConnection,
    policies: &HashMap<ChannelId, ChannelPolicy>,
    now: DateTime<Utc>,
) -> Result<bool> {
    for p in policies.values() {
        let Some(minutes) = p.effective.reassign_after_minutes else { continue };
        let due: bool = sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 {DUE})"))
            .bind(p.channel_id.as_uuid())
            .bind(deadline(now, minutes))
            .fetch_one(&mut *conn)
            .await
            .db()?;
        if due {
            return Ok(true);
        }
    }
    let channels: Vec<Uuid> = policies.keys().map(|c| *c.as_uuid()).collect();
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM agents WHERE active AND availability = 'online') \
           AND EXISTS (SELECT 1 FROM conversations c \
             WHERE c.status = 'open' AND c.assignee_id IS NULL AND c.waiting_since IS NOT NULL \
               AND c.channel_id = ANY($1))",
    )
    .bind(&channels)
    .fetch_one(conn)
    .await
    .db()
}

/// Takes back the conversations whose assignee has not answered in time.
async fn reassign(
    conn: &mut PgConnection,
    policies: &HashMap<ChannelId, ChannelPolicy>,
    pool: &mut AgentPool,
    now: DateTime<Utc>,
    limit: u32,
    report: &mut AutoAssignReport,
) -> Result<()> {
    for p in policies.values() {
        let Some(minutes) = p.effective.reassign_after_minutes else { continue };
        let remaining = i64::from(limit).saturating_sub(i64::try_from(report.changes()).unwrap_or(i64::MAX));
        if remaining <= 0 {
            return Ok(());
        }
        let cut = deadline(now, minutes);
        let due: Vec<(Uuid, Uuid)> = sqlx::query_as(&format!(
            "SELECT c.id, c.assignee_id {DUE} ORDER BY c.waiting_since, c.id LIMIT $3 \
             FOR NO KEY UPDATE OF c SKIP LOCKED"
        ))
        .bind(p.channel_id.as_uuid())
        .bind(cut)
        .bind(remaining)
        .fetch_all(&mut *conn)
        .await
        .db()?;
        for (conversation, previous) in due {
            let conversation = ConversationId::from_uuid(conversation);
            let previous = AgentId::from_uuid(previous);
            if let Some((agent, seq)) = pool.pick(p.effective.policy, p.team_id, Some(previous)) {
                pool.release(previous);
                let a =
                    AutoAssigned { conversation, agent, previous: Some(previous), reason: AutoReason::ReplyTimeout };
                write_assignment(conn, &a, p.effective.policy, seq, now).await?;
                report.assigned.push(a);
            } else if !pool.contains(previous) {
                sqlx::query("UPDATE conversations SET assignee_id = NULL WHERE id = $1")
                    .bind(conversation.as_uuid())
                    .execute(&mut *conn)
                    .await
                    .db()?;
                let data = serde_json::json!({ "agent_id": previous, "reason": AutoReason::ReplyTimeout.as_str() });
                record_history(conn, conversation, HistoryKind::Unassigned, None, &data, now).await?;
                report.returned.push((conversation, previous));
            }
            // Otherwise the assignee is the only one online who could have it: it stays.
        }
    }
    Ok(())
}

/// Assigns waiting conversations, oldest first, while anyone has room.
async fn assign_waiting(
    conn: &mut PgConnection,
    policies: &HashMap<ChannelId, ChannelPolicy>,
    pool: &mut AgentPool,
    now: DateTime<Utc>,
    limit: u32,
    report: &mut AutoAssignReport,
) -> Result<()> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    // Keyset: `(waiting_since, id)` of the last conversation looked at.
    let mut after: Option<(DateTime<Utc>, Uuid)> = None;
    loop {
        let open: Vec<Uuid> =
            policies.values().filter(|p| pool.has_room_for(p.team_id)).map(|p| *p.channel_id.as_uuid()).collect();
        if open.is_empty() || report.changes() >= limit {
            return Ok(());
        }
        let page: Vec<(Uuid, Uuid, DateTime<Utc>)> = sqlx::query_as(
            "SELECT c.id, c.channel_id, c.waiting_since FROM conversations c \
             WHERE c.status = 'open' AND c.assignee_id IS NULL AND c.waiting_since IS NOT NULL \
               AND c.channel_id = ANY($1) AND ($2::timestamptz IS NULL OR (c.waiting_since, c.id) > ($2, $3)) \
             ORDER BY c.waiting_since, c.id LIMIT $4 \
             FOR NO KEY UPDATE OF c SKIP LOCKED",
        )
        .bind(&open)
        .bind(after.map(|a| a.0))
        .bind(after.map(|a| a.1))
        .bind(PAGE)
        .fetch_all(&mut *conn)
        .await
        .db()?;
        let Some(&(last, _, last_since)) = page.last() else { return Ok(()) };
        for &(conversation, channel, _) in &page {
            let Some(p) = policies.get(&ChannelId::from_uuid(channel)) else { continue };
            let Some((agent, seq)) = pool.pick(p.effective.policy, p.team_id, None) else { continue };
            let a = AutoAssigned {
                conversation: ConversationId::from_uuid(conversation),
                agent,
                previous: None,
                reason: AutoReason::Waiting,
            };
            write_assignment(conn, &a, p.effective.policy, seq, now).await?;
            report.assigned.push(a);
            if report.changes() >= limit {
                return Ok(());
            }
        }
        if i64::try_from(page.len()).unwrap_or(i64::MAX) < PAGE {
            return Ok(());
        }
        after = Some((last_since, last));
    }
}

async fn team_exists(conn: &mut PgConnection, team: TeamId) -> Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM teams WHERE id = $1)")
        .bind(team.as_uuid())
        .fetch_one(conn)
        .await
        .db()
}

#[async_trait]
impl AssignmentStore for PgStore {
    async fn team_policy(&self, team: TeamId) -> Result<PolicySettings> {
        let mut conn = self.pool().acquire().await.db()?;
        if !team_exists(&mut conn, team).await? {
            return Err(StoreError::NotFound);
        }
        let row: Option<(String, Option<i64>)> =
            sqlx::query_as("SELECT policy, reassign_after_minutes FROM team_assignment WHERE team_id = $1")
                .bind(team.as_uuid())
                .fetch_optional(&mut *conn)
                .await
                .db()?;
        Ok(match row {
            Some((policy, minutes)) => PolicySettings::from_columns(Some(policy), minutes)?.unwrap_or_default(),
            None => PolicySettings::default(),
        })
    }

    async fn set_team_policy(&self, team: TeamId, policy: &PolicySettings, at: DateTime<Utc>) -> Result<()> {
        let mut tx = self.pool().begin().await.db()?;
        if !team_exists(&mut tx, team).await? {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "INSERT INTO team_assignment (team_id, policy, reassign_after_minutes, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (team_id) DO UPDATE SET policy = excluded.policy, \
               reassign_after_minutes = excluded.reassign_after_minutes, updated_at = excluded.updated_at",
        )
        .bind(team.as_uuid())
        .bind(policy.policy.as_str())
        .bind(policy.reassign_after_minutes.map(i64::from))
        .bind(at)
        .execute(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()
    }

    async fn channel_policy(&self, channel: ChannelId) -> Result<ChannelPolicy> {
        let mut conn = self.pool().acquire().await.db()?;
        policies(&mut conn, Some(channel)).await?.pop().ok_or(StoreError::NotFound)
    }

    async fn set_channel_policy(
        &self,
        channel: ChannelId,
        policy: Option<&PolicySettings>,
        at: DateTime<Utc>,
    ) -> Result<ChannelPolicy> {
        let mut tx = self.pool().begin().await.db()?;
        if policies(&mut tx, Some(channel)).await?.is_empty() {
            return Err(StoreError::NotFound);
        }
        match policy {
            Some(p) => sqlx::query(
                "INSERT INTO channel_assignment (channel_id, policy, reassign_after_minutes, updated_at) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (channel_id) DO UPDATE SET policy = excluded.policy, \
                   reassign_after_minutes = excluded.reassign_after_minutes, updated_at = excluded.updated_at",
            )
            .bind(channel.as_uuid())
            .bind(p.policy.as_str())
            .bind(p.reassign_after_minutes.map(i64::from))
            .bind(at)
            .execute(&mut *tx)
            .await
            .db()?,
            None => sqlx::query("DELETE FROM channel_assignment WHERE channel_id = $1")
                .bind(channel.as_uuid())
                .execute(&mut *tx)
                .await
                .db()?,
        };
        let after = policies(&mut tx, Some(channel)).await?.pop().ok_or(StoreError::NotFound)?;
        tx.commit().await.db()?;
        Ok(after)
    }

    async fn auto_assign(&self, now: DateTime<Utc>, limit: u32) -> Result<AutoAssignReport> {
        let mut report = AutoAssignReport::default();
        let mut tx = self.pool().begin().await.db()?;
        let policies = active_policies(&mut tx).await?;
        if policies.is_empty() || !worth_a_step(&mut tx, &policies, now).await? {
            return Ok(report);
        }
        let mut pool = pool(&mut tx).await?;
        reassign(&mut tx, &policies, &mut pool, now, limit, &mut report).await?;
        assign_waiting(&mut tx, &policies, &mut pool, now, limit, &mut report).await?;
        tx.commit().await.db()?;
        Ok(report)
    }
}
