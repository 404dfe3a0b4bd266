//! Auto-assignment: team and channel policies, and the SQL of the assigner's step (the
//! workflow is `switchboard_core::assignment`).
//!
//! The step is one transaction, safe with several instances (and claims) at once:
//! - `lock_pool` locks the rows of every online, active agent, in id order (the order
//!   two steps lock in, so they never deadlock; claims and capacity-respecting
//!   assignments lock their agent's row first too), and only then counts their loads:
//!   another step, or a claim, that changes an agent's load waits for our commit, and we
//!   see theirs;
//! - it takes conversations with `FOR NO KEY UPDATE SKIP LOCKED`, re-checked when
//!   locked: a conversation claimed or assigned meanwhile is skipped, never assigned
//!   twice, and nobody waits for a conversation.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, Transaction};
use switchboard_domain::{AgentId, ChannelId, ConversationId};
use switchboard_store::{
    AgentPool, AssignmentPolicy, AssignmentStore, AssignmentTx, AutoAssigned, ChannelPolicy, HistoryKind,
    PolicySettings, PoolAgent, QueueKey, Result, Route, StoreError, TeamId, TeamPolicy, Unanswered,
    WaitingConversation, auto_assigned_data, pool_agent, returned_data,
};
use uuid::Uuid;

use crate::PgStore;
use crate::error::DbResultExt;
use crate::queue::record_history;

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

#[derive(sqlx::FromRow)]
struct PoolRow {
    id: Uuid,
    capacity: Option<i64>,
    assignment_seq: Option<i64>,
    load: i64,
    open: i64,
}

impl PoolRow {
    fn agent(self, teams: Vec<TeamId>) -> Result<PoolAgent> {
        pool_agent(AgentId::from_uuid(self.id), self.capacity, self.load, self.open, self.assignment_seq, teams)
    }
}

/// An agent's id, capacity, place in the rotation, load and open conversations.
const POOL: &str = "SELECT a.id, a.capacity, a.assignment_seq, \
       (SELECT COUNT(*) FROM conversations c WHERE c.assignee_id = a.id AND c.status <> 'resolved') AS load, \
       (SELECT COUNT(*) FROM conversations c WHERE c.assignee_id = a.id AND c.status = 'open') AS open \
     FROM agents a";

/// Locks the online, active agents' rows (in id order), then reads their loads and
/// teams.
async fn pool(conn: &mut PgConnection) -> Result<AgentPool> {
    let locked: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM agents WHERE active AND availability = 'online' ORDER BY id FOR NO KEY UPDATE",
    )
    .fetch_all(&mut *conn)
    .await
    .db()?;
    let rows: Vec<PoolRow> = sqlx::query_as(&format!(
        "{POOL} WHERE a.id = ANY($1) AND a.active AND a.availability = 'online' ORDER BY a.id"
    ))
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
    let agents = rows
        .into_iter()
        .map(|r| {
            let teams = members.iter().filter(|(a, _)| *a == r.id).map(|(_, t)| TeamId::from_uuid(*t)).collect();
            r.agent(teams)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(AgentPool::new(agents, max_seq))
}

/// The online, active members of `team`, not locked (see `IngestTx::team_pool`).
pub(crate) async fn team_pool(conn: &mut PgConnection, team: TeamId) -> Result<Vec<PoolAgent>> {
    let rows: Vec<PoolRow> = sqlx::query_as(&format!(
        "{POOL} JOIN team_members tm ON tm.agent_id = a.id AND tm.team_id = $1 \
         WHERE a.active AND a.availability = 'online' ORDER BY a.id"
    ))
    .bind(team.as_uuid())
    .fetch_all(conn)
    .await
    .db()?;
    rows.into_iter().map(|r| r.agent(vec![team])).collect()
}

/// The conversation's assignee if an active member of `team` (see
/// `IngestTx::team_assignee`).
pub(crate) async fn team_assignee(
    conn: &mut PgConnection,
    conversation: ConversationId,
    team: TeamId,
) -> Result<Option<AgentId>> {
    let member = "SELECT 1 FROM team_members tm JOIN agents ma ON ma.id = tm.agent_id \
                  WHERE tm.team_id = $2 AND tm.agent_id = c.assignee_id AND ma.active";
    let kept: Option<Uuid> =
        sqlx::query_scalar(&format!("SELECT c.assignee_id FROM conversations c WHERE c.id = $1 AND EXISTS ({member})"))
            .bind(conversation.as_uuid())
            .bind(team.as_uuid())
            .fetch_optional(conn)
            .await
            .db()?
            .flatten();
    Ok(kept.map(AgentId::from_uuid))
}

/// The conversations of a route (`$1`: a channel's not transferred, or those
/// transferred to a team) whose assignee has not answered by the deadline `$2`: their
/// customer has waited since before it, and nobody was (re)assigned them after it (a new
/// assignee gets the whole delay).
fn due(route: Route) -> String {
    let of = match route {
        Route::Channel(_) => "c.channel_id = $1 AND c.team_id IS NULL",
        Route::Team(_) => "c.team_id = $1",
    };
    format!(
        "FROM conversations c \
         WHERE {of} AND c.status = 'open' AND c.assignee_id IS NOT NULL \
           AND c.waiting_since IS NOT NULL AND c.waiting_since <= $2 \
           AND NOT EXISTS (SELECT 1 FROM conversation_events e \
             WHERE e.conversation_id = c.id AND e.kind = 'assigned' AND e.at > $2)"
    )
}

fn route_id(route: Route) -> Uuid {
    match route {
        Route::Channel(c) => *c.as_uuid(),
        Route::Team(t) => *t.as_uuid(),
    }
}

fn uuids(channels: &[ChannelId]) -> Vec<Uuid> {
    channels.iter().map(|c| *c.as_uuid()).collect()
}

fn team_uuids(teams: &[TeamId]) -> Vec<Uuid> {
    teams.iter().map(|t| *t.as_uuid()).collect()
}

/// The waiting conversations that follow one of the channels `$1` (not transferred) or
/// were transferred to one of the teams `$2`.
const ROUTED: &str = "((c.team_id IS NULL AND c.channel_id = ANY($1)) OR c.team_id = ANY($2))";

/// The step's transaction: looks and writes alike.
struct PgAssignmentTx {
    tx: Transaction<'static, Postgres>,
}

#[async_trait]
impl AssignmentTx for PgAssignmentTx {
    async fn active_policies(&mut self) -> Result<Vec<ChannelPolicy>> {
        Ok(policies(&mut self.tx, None).await?.into_iter().filter(ChannelPolicy::assigns).collect())
    }

    async fn active_team_policies(&mut self) -> Result<Vec<TeamPolicy>> {
        team_policies(&mut self.tx).await
    }

    async fn any_unanswered(&mut self, route: Route, deadline: DateTime<Utc>) -> Result<bool> {
        sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 {})", due(route)))
            .bind(route_id(route))
            .bind(deadline)
            .fetch_one(&mut *self.tx)
            .await
            .db()
    }

    async fn any_waiting(&mut self, channels: &[ChannelId], teams: &[TeamId]) -> Result<bool> {
        sqlx::query_scalar(&format!(
            "SELECT EXISTS (SELECT 1 FROM agents WHERE active AND availability = 'online') \
               AND EXISTS (SELECT 1 FROM conversations c \
                 WHERE c.status = 'open' AND c.assignee_id IS NULL AND c.waiting_since IS NOT NULL \
                   AND {ROUTED})"
        ))
        .bind(uuids(channels))
        .bind(team_uuids(teams))
        .fetch_one(&mut *self.tx)
        .await
        .db()
    }

    async fn lock_pool(&mut self) -> Result<AgentPool> {
        pool(&mut self.tx).await
    }

    async fn unanswered(&mut self, route: Route, deadline: DateTime<Utc>, limit: u32) -> Result<Vec<Unanswered>> {
        let due: Vec<(Uuid, Uuid)> = sqlx::query_as(&format!(
            "SELECT c.id, c.assignee_id {} ORDER BY c.waiting_since, c.id LIMIT $3 \
             FOR NO KEY UPDATE OF c SKIP LOCKED",
            due(route)
        ))
        .bind(route_id(route))
        .bind(deadline)
        .bind(i64::from(limit))
        .fetch_all(&mut *self.tx)
        .await
        .db()?;
        Ok(due
            .into_iter()
            .map(|(c, a)| Unanswered { conversation: ConversationId::from_uuid(c), assignee: AgentId::from_uuid(a) })
            .collect())
    }

    async fn waiting(
        &mut self,
        channels: &[ChannelId],
        teams: &[TeamId],
        after: Option<QueueKey>,
        limit: u32,
    ) -> Result<Vec<WaitingConversation>> {
        let page: Vec<(Uuid, Uuid, Option<Uuid>, DateTime<Utc>)> = sqlx::query_as(&format!(
            "SELECT c.id, c.channel_id, c.team_id, c.waiting_since FROM conversations c \
             WHERE c.status = 'open' AND c.assignee_id IS NULL AND c.waiting_since IS NOT NULL \
               AND {ROUTED} AND ($3::timestamptz IS NULL OR (c.waiting_since, c.id) > ($3, $4)) \
             ORDER BY c.waiting_since, c.id LIMIT $5 \
             FOR NO KEY UPDATE OF c SKIP LOCKED"
        ))
        .bind(uuids(channels))
        .bind(team_uuids(teams))
        .bind(after.map(|k| k.waiting_since))
        .bind(after.map(|k| *k.id.as_uuid()))
        .bind(i64::from(limit))
        .fetch_all(&mut *self.tx)
        .await
        .db()?;
        Ok(page
            .into_iter()
            .map(|(id, channel, team, waiting_since)| WaitingConversation {
                id: ConversationId::from_uuid(id),
                channel: ChannelId::from_uuid(channel),
                transferred_to: team.map(TeamId::from_uuid),
                waiting_since,
            })
            .collect())
    }

    async fn assign(&mut self, a: &AutoAssigned, policy: AssignmentPolicy, seq: i64, at: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE conversations SET assignee_id = $2 WHERE id = $1")
            .bind(a.conversation.as_uuid())
            .bind(a.agent.as_uuid())
            .execute(&mut *self.tx)
            .await
            .db()?;
        sqlx::query("UPDATE agents SET last_assigned_at = $2, assignment_seq = $3 WHERE id = $1")
            .bind(a.agent.as_uuid())
            .bind(at)
            .bind(seq)
            .execute(&mut *self.tx)
            .await
            .db()?;
        let data = auto_assigned_data(a, policy);
        record_history(&mut self.tx, a.conversation, HistoryKind::Assigned, None, &data, at).await
    }

    async fn unassign(&mut self, conversation: ConversationId, previous: AgentId, at: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE conversations SET assignee_id = NULL WHERE id = $1")
            .bind(conversation.as_uuid())
            .execute(&mut *self.tx)
            .await
            .db()?;
        let data = returned_data(previous);
        record_history(&mut self.tx, conversation, HistoryKind::Unassigned, None, &data, at).await
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.tx.commit().await.db()
    }
}

/// The teams whose own policy assigns.
async fn team_policies(conn: &mut PgConnection) -> Result<Vec<TeamPolicy>> {
    let rows: Vec<(Uuid, String, Option<i64>)> =
        sqlx::query_as("SELECT team_id, policy, reassign_after_minutes FROM team_assignment WHERE policy <> 'off'")
            .fetch_all(conn)
            .await
            .db()?;
    let mut out = Vec::with_capacity(rows.len());
    for (team, policy, minutes) in rows {
        if let Some(settings) = PolicySettings::from_columns(Some(policy), minutes)? {
            out.push(TeamPolicy { team_id: TeamId::from_uuid(team), settings });
        }
    }
    Ok(out)
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

    async fn begin_assignment(&self) -> Result<Box<dyn AssignmentTx + '_>> {
        Ok(Box::new(PgAssignmentTx { tx: self.pool().begin().await.db()? }))
    }
}
