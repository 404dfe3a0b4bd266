//! Auto-assignment: team and channel policies, and the assigner's step.
//!
//! The step is one write transaction under the write gate: nobody else writes while it
//! reads the agents' loads and assigns, so capacity holds and a conversation is never
//! assigned twice. An idle step (no channel with a policy, or nothing waiting and no
//! reassignment configured) looks on a reader first and never takes the gate.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use switchboard_domain::{AgentId, ChannelId, ConversationId};
use switchboard_store::{
    AgentPool, AssignmentPolicy, AssignmentStore, AutoAssignReport, AutoAssigned, AutoReason, ChannelPolicy,
    HistoryKind, PolicySettings, PoolAgent, Result, StoreError, TeamId,
};
use uuid::Uuid;

use crate::SqliteStore;
use crate::error::DbResultExt;
use crate::queue::record_history;
use crate::rows::{corrupt, ms};

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
async fn policies(conn: &mut SqliteConnection, channel: Option<ChannelId>) -> Result<Vec<ChannelPolicy>> {
    let rows: Vec<PolicyRow> = match channel {
        Some(c) => sqlx::query_as(&format!("{POLICIES} WHERE ch.id = ?1")).bind(*c.as_uuid()).fetch_all(conn).await,
        None => sqlx::query_as(POLICIES).fetch_all(conn).await,
    }
    .db()?;
    rows.into_iter().map(TryInto::try_into).collect()
}

/// The channels whose effective policy assigns.
async fn active_policies(conn: &mut SqliteConnection) -> Result<HashMap<ChannelId, ChannelPolicy>> {
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

/// The online, active agents with their loads and teams.
async fn pool(conn: &mut SqliteConnection) -> Result<AgentPool> {
    let rows: Vec<PoolRow> = sqlx::query_as(
        "SELECT a.id, a.capacity, a.assignment_seq, \
           (SELECT COUNT(*) FROM conversations c WHERE c.assignee_id = a.id AND c.status <> 'resolved') AS load, \
           (SELECT COUNT(*) FROM conversations c WHERE c.assignee_id = a.id AND c.status = 'open') AS open \
         FROM agents a WHERE a.active AND a.availability = 'online' ORDER BY a.id",
    )
    .fetch_all(&mut *conn)
    .await
    .db()?;
    let members: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT tm.agent_id, tm.team_id FROM team_members tm JOIN agents a ON a.id = tm.agent_id \
         WHERE a.active AND a.availability = 'online'",
    )
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
    conn: &mut SqliteConnection,
    a: &AutoAssigned,
    policy: AssignmentPolicy,
    seq: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("UPDATE conversations SET assignee_id = ?2 WHERE id = ?1")
        .bind(a.conversation.as_uuid())
        .bind(a.agent.as_uuid())
        .execute(&mut *conn)
        .await
        .db()?;
    sqlx::query("UPDATE agents SET last_assigned_at = ?2, assignment_seq = ?3 WHERE id = ?1")
        .bind(a.agent.as_uuid())
        .bind(ms(now))
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

/// Whether a step could have anything to do (read on a reader, before taking the gate).
async fn worth_a_step(
    conn: &mut SqliteConnection,
    policies: &HashMap<ChannelId, ChannelPolicy>,
    now: DateTime<Utc>,
) -> Result<bool> {
    if policies.is_empty() {
        return Ok(false);
    }
    for p in policies.values() {
        let Some(minutes) = p.effective.reassign_after_minutes else { continue };
        let due: bool = sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 {DUE})"))
            .bind(p.channel_id.as_uuid())
            .bind(ms(deadline(now, minutes)))
            .fetch_one(&mut *conn)
            .await
            .db()?;
        if due {
            return Ok(true);
        }
    }
    let mut q = QueryBuilder::<Sqlite>::new(
        "SELECT EXISTS (SELECT 1 FROM agents WHERE active AND availability = 'online') \
           AND EXISTS (SELECT 1 FROM conversations c INDEXED BY conversations_queue \
             WHERE c.status = 'open' AND c.assignee_id IS NULL AND c.waiting_since IS NOT NULL AND c.channel_id IN (",
    );
    let mut ids = q.separated(", ");
    for id in policies.keys() {
        ids.push_bind(*id.as_uuid());
    }
    q.push("))");
    q.build_query_scalar().fetch_one(conn).await.db()
}

/// The conversations of channel `?1` whose assignee has not answered by the deadline
/// `?2`: their customer has waited since before it, and nobody was (re)assigned them
/// after it (a new assignee gets the whole delay).
const DUE: &str = "FROM conversations c INDEXED BY conversations_unanswered \
     WHERE c.channel_id = ?1 AND c.status = 'open' AND c.assignee_id IS NOT NULL \
       AND c.waiting_since IS NOT NULL AND c.waiting_since <= ?2 \
       AND NOT EXISTS (SELECT 1 FROM conversation_events e \
         WHERE e.conversation_id = c.id AND e.kind = 'assigned' AND e.at > ?2)";

/// The deadline at `now` for a delay of `minutes`.
fn deadline(now: DateTime<Utc>, minutes: u32) -> DateTime<Utc> {
    now - Duration::minutes(i64::from(minutes))
}

/// Takes back the conversations whose assignee has not answered in time.
async fn reassign(
    conn: &mut SqliteConnection,
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
        let cut = ms(deadline(now, minutes));
        let due: Vec<(Uuid, Uuid)> =
            sqlx::query_as(&format!("SELECT c.id, c.assignee_id {DUE} ORDER BY c.waiting_since, c.id LIMIT ?3"))
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
                sqlx::query("UPDATE conversations SET assignee_id = NULL WHERE id = ?1")
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
    conn: &mut SqliteConnection,
    policies: &HashMap<ChannelId, ChannelPolicy>,
    pool: &mut AgentPool,
    now: DateTime<Utc>,
    limit: u32,
    report: &mut AutoAssignReport,
) -> Result<()> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut after: Option<(i64, Uuid)> = None;
    loop {
        let open: Vec<&ChannelPolicy> = policies.values().filter(|p| pool.has_room_for(p.team_id)).collect();
        if open.is_empty() || report.changes() >= limit {
            return Ok(());
        }
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT c.id, c.channel_id, c.waiting_since FROM conversations c INDEXED BY conversations_queue \
             WHERE c.status = 'open' AND c.assignee_id IS NULL AND c.waiting_since IS NOT NULL AND c.channel_id IN (",
        );
        let mut ids = q.separated(", ");
        for p in &open {
            ids.push_bind(*p.channel_id.as_uuid());
        }
        q.push(")");
        if let Some((since, id)) = after {
            q.push(" AND (c.waiting_since, c.id) > (").push_bind(since).push(", ").push_bind(id).push(")");
        }
        q.push(" ORDER BY c.waiting_since, c.id LIMIT ").push_bind(PAGE);
        let page: Vec<(Uuid, Uuid, i64)> = q.build_query_as().fetch_all(&mut *conn).await.db()?;
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

async fn team_exists(conn: &mut SqliteConnection, team: TeamId) -> Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM teams WHERE id = ?1)")
        .bind(team.as_uuid())
        .fetch_one(conn)
        .await
        .db()
}

#[async_trait]
impl AssignmentStore for SqliteStore {
    async fn team_policy(&self, team: TeamId) -> Result<PolicySettings> {
        let mut conn = self.pool().acquire().await.db()?;
        if !team_exists(&mut conn, team).await? {
            return Err(StoreError::NotFound);
        }
        let row: Option<(String, Option<i64>)> =
            sqlx::query_as("SELECT policy, reassign_after_minutes FROM team_assignment WHERE team_id = ?1")
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
        let mut w = self.begin_write().await?;
        if !team_exists(w.conn(), team).await? {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "INSERT INTO team_assignment (team_id, policy, reassign_after_minutes, updated_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (team_id) DO UPDATE SET policy = excluded.policy, \
               reassign_after_minutes = excluded.reassign_after_minutes, updated_at = excluded.updated_at",
        )
        .bind(team.as_uuid())
        .bind(policy.policy.as_str())
        .bind(policy.reassign_after_minutes.map(i64::from))
        .bind(ms(at))
        .execute(w.conn())
        .await
        .db()?;
        w.commit().await
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
        let mut w = self.begin_write().await?;
        let conn = w.conn();
        if policies(&mut *conn, Some(channel)).await?.is_empty() {
            return Err(StoreError::NotFound);
        }
        match policy {
            Some(p) => sqlx::query(
                "INSERT INTO channel_assignment (channel_id, policy, reassign_after_minutes, updated_at) \
                 VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (channel_id) DO UPDATE SET policy = excluded.policy, \
                   reassign_after_minutes = excluded.reassign_after_minutes, updated_at = excluded.updated_at",
            )
            .bind(channel.as_uuid())
            .bind(p.policy.as_str())
            .bind(p.reassign_after_minutes.map(i64::from))
            .bind(ms(at))
            .execute(&mut *conn)
            .await
            .db()?,
            None => sqlx::query("DELETE FROM channel_assignment WHERE channel_id = ?1")
                .bind(channel.as_uuid())
                .execute(&mut *conn)
                .await
                .db()?,
        };
        let after = policies(&mut *conn, Some(channel)).await?.pop().ok_or(StoreError::NotFound)?;
        w.commit().await?;
        Ok(after)
    }

    async fn auto_assign(&self, now: DateTime<Utc>, limit: u32) -> Result<AutoAssignReport> {
        let mut report = AutoAssignReport::default();
        {
            let mut conn = self.pool().acquire().await.db()?;
            let policies = active_policies(&mut conn).await?;
            if !worth_a_step(&mut conn, &policies, now).await? {
                return Ok(report);
            }
        }
        let mut w = self.begin_write().await?;
        let conn = w.conn();
        // Read again under the gate: the look above was only a hint.
        let policies = active_policies(&mut *conn).await?;
        let mut pool = pool(&mut *conn).await?;
        reassign(&mut *conn, &policies, &mut pool, now, limit, &mut report).await?;
        assign_waiting(&mut *conn, &policies, &mut pool, now, limit, &mut report).await?;
        w.commit().await?;
        Ok(report)
    }
}
