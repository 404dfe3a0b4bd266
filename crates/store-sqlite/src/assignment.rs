//! Auto-assignment: team and channel policies, and the SQL of the assigner's step (the
//! workflow is `switchboard_core::assignment`).
//!
//! The step looks on a reader first (an idle step never takes the gate), then is one
//! write transaction under the write gate: nobody else writes while it reads the agents'
//! loads and assigns, so capacity holds and a conversation is never assigned twice.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::pool::PoolConnection;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use switchboard_domain::{AgentId, ChannelId, ConversationId};
use switchboard_store::{
    AgentPool, AssignmentPolicy, AssignmentStore, AssignmentTx, AutoAssigned, ChannelPolicy, HistoryKind,
    PolicySettings, PoolAgent, QueueKey, Result, Route, StoreError, TeamId, TeamPolicy, Unanswered,
    WaitingConversation, auto_assigned_data, pool_agent, returned_data,
};
use uuid::Uuid;

use crate::error::DbResultExt;
use crate::queue::record_history;
use crate::rows::{ms, time};
use crate::{SqliteStore, WriteTx};

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

/// The online, active agents with their loads and teams.
async fn pool(conn: &mut SqliteConnection) -> Result<AgentPool> {
    let rows: Vec<PoolRow> =
        sqlx::query_as(&format!("{POOL} WHERE a.active AND a.availability = 'online' ORDER BY a.id"))
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
    let agents = rows
        .into_iter()
        .map(|r| {
            let teams = members.iter().filter(|(a, _)| *a == r.id).map(|(_, t)| TeamId::from_uuid(*t)).collect();
            r.agent(teams)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(AgentPool::new(agents, max_seq))
}

/// The online, active members of `team` (see `IngestTx::team_pool`).
pub(crate) async fn team_pool(conn: &mut SqliteConnection, team: TeamId) -> Result<Vec<PoolAgent>> {
    let rows: Vec<PoolRow> = sqlx::query_as(&format!(
        "{POOL} JOIN team_members tm ON tm.agent_id = a.id AND tm.team_id = ?1 \
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
    conn: &mut SqliteConnection,
    conversation: ConversationId,
    team: TeamId,
) -> Result<Option<AgentId>> {
    let member = "SELECT 1 FROM team_members tm JOIN agents ma ON ma.id = tm.agent_id \
                  WHERE tm.team_id = ?2 AND tm.agent_id = c.assignee_id AND ma.active";
    let kept: Option<Uuid> =
        sqlx::query_scalar(&format!("SELECT c.assignee_id FROM conversations c WHERE c.id = ?1 AND EXISTS ({member})"))
            .bind(conversation.as_uuid())
            .bind(team.as_uuid())
            .fetch_optional(conn)
            .await
            .db()?
            .flatten();
    Ok(kept.map(AgentId::from_uuid))
}

/// The conversations of a route (`?1`: a channel's not transferred, or those
/// transferred to a team) whose assignee has not answered by the deadline `?2`: their
/// customer has waited since before it, and nobody was (re)assigned them after it (a new
/// assignee gets the whole delay).
fn due(route: Route) -> String {
    let of = match route {
        Route::Channel(_) => "conversations_unanswered WHERE c.channel_id = ?1 AND c.team_id IS NULL",
        Route::Team(_) => "conversations_team_unanswered WHERE c.team_id = ?1",
    };
    format!(
        "FROM conversations c INDEXED BY {of} AND c.status = 'open' AND c.assignee_id IS NOT NULL \
           AND c.waiting_since IS NOT NULL AND c.waiting_since <= ?2 \
           AND NOT EXISTS (SELECT 1 FROM conversation_events e \
             WHERE e.conversation_id = c.id AND e.kind = 'assigned' AND e.at > ?2)"
    )
}

fn route_id(route: Route) -> Uuid {
    match route {
        Route::Channel(c) => *c.as_uuid(),
        Route::Team(t) => *t.as_uuid(),
    }
}

/// The waiting conversations that follow one of `channels` (not transferred) or were
/// transferred to one of `teams`, bound.
fn routed(q: &mut QueryBuilder<'_, Sqlite>, channels: &[ChannelId], teams: &[TeamId]) {
    q.push("((c.team_id IS NULL AND c.channel_id IN (");
    let mut ids = q.separated(", ");
    for id in channels {
        ids.push_bind(*id.as_uuid());
    }
    q.push(")) OR c.team_id IN (");
    let mut ids = q.separated(", ");
    for id in teams {
        ids.push_bind(*id.as_uuid());
    }
    q.push("))");
}

/// The teams whose own policy assigns.
async fn team_policies(conn: &mut SqliteConnection) -> Result<Vec<TeamPolicy>> {
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

/// Where the step is: looking on a reader, or writing under the gate.
enum Conn {
    Reader(PoolConnection<Sqlite>),
    Writer(WriteTx),
    /// Between the two, waiting for the gate.
    None,
}

struct SqliteAssignmentTx<'a> {
    store: &'a SqliteStore,
    conn: Conn,
}

impl SqliteAssignmentTx<'_> {
    fn conn(&mut self) -> Result<&mut SqliteConnection> {
        match &mut self.conn {
            Conn::Reader(c) => Ok(c),
            Conn::Writer(w) => Ok(w.conn()),
            Conn::None => Err(StoreError::Other(anyhow::anyhow!("the assignment step has no connection"))),
        }
    }

    /// The write transaction: a change before `lock_pool` is a bug.
    fn writer(&mut self) -> Result<&mut SqliteConnection> {
        match &mut self.conn {
            Conn::Writer(w) => Ok(w.conn()),
            _ => Err(StoreError::Other(anyhow::anyhow!("an assignment written before lock_pool"))),
        }
    }
}

#[async_trait]
impl AssignmentTx for SqliteAssignmentTx<'_> {
    async fn active_policies(&mut self) -> Result<Vec<ChannelPolicy>> {
        Ok(policies(self.conn()?, None).await?.into_iter().filter(ChannelPolicy::assigns).collect())
    }

    async fn active_team_policies(&mut self) -> Result<Vec<TeamPolicy>> {
        team_policies(self.conn()?).await
    }

    async fn any_unanswered(&mut self, route: Route, deadline: DateTime<Utc>) -> Result<bool> {
        sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 {})", due(route)))
            .bind(route_id(route))
            .bind(ms(deadline))
            .fetch_one(self.conn()?)
            .await
            .db()
    }

    async fn any_waiting(&mut self, channels: &[ChannelId], teams: &[TeamId]) -> Result<bool> {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT EXISTS (SELECT 1 FROM agents WHERE active AND availability = 'online') \
               AND EXISTS (SELECT 1 FROM conversations c INDEXED BY conversations_queue \
                 WHERE c.status = 'open' AND c.assignee_id IS NULL AND c.waiting_since IS NOT NULL AND ",
        );
        routed(&mut q, channels, teams);
        q.push(")");
        q.build_query_scalar().fetch_one(self.conn()?).await.db()
    }

    async fn lock_pool(&mut self) -> Result<AgentPool> {
        // Give the reader back before queueing for the gate.
        self.conn = Conn::None;
        self.conn = Conn::Writer(self.store.begin_write().await?);
        pool(self.writer()?).await
    }

    async fn unanswered(&mut self, route: Route, deadline: DateTime<Utc>, limit: u32) -> Result<Vec<Unanswered>> {
        let due: Vec<(Uuid, Uuid)> = sqlx::query_as(&format!(
            "SELECT c.id, c.assignee_id {} ORDER BY c.waiting_since, c.id LIMIT ?3",
            due(route)
        ))
        .bind(route_id(route))
        .bind(ms(deadline))
        .bind(i64::from(limit))
        .fetch_all(self.conn()?)
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
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT c.id, c.channel_id, c.team_id, c.waiting_since FROM conversations c INDEXED BY conversations_queue \
             WHERE c.status = 'open' AND c.assignee_id IS NULL AND c.waiting_since IS NOT NULL AND ",
        );
        routed(&mut q, channels, teams);
        if let Some(k) = after {
            q.push(" AND (c.waiting_since, c.id) > (")
                .push_bind(ms(k.waiting_since))
                .push(", ")
                .push_bind(*k.id.as_uuid())
                .push(")");
        }
        q.push(" ORDER BY c.waiting_since, c.id LIMIT ").push_bind(i64::from(limit));
        let page: Vec<(Uuid, Uuid, Option<Uuid>, i64)> = q.build_query_as().fetch_all(self.conn()?).await.db()?;
        page.into_iter()
            .map(|(id, channel, team, since)| {
                Ok(WaitingConversation {
                    id: ConversationId::from_uuid(id),
                    channel: ChannelId::from_uuid(channel),
                    transferred_to: team.map(TeamId::from_uuid),
                    waiting_since: time(since)?,
                })
            })
            .collect()
    }

    async fn assign(&mut self, a: &AutoAssigned, policy: AssignmentPolicy, seq: i64, at: DateTime<Utc>) -> Result<()> {
        let conn = self.writer()?;
        sqlx::query("UPDATE conversations SET assignee_id = ?2 WHERE id = ?1")
            .bind(a.conversation.as_uuid())
            .bind(a.agent.as_uuid())
            .execute(&mut *conn)
            .await
            .db()?;
        sqlx::query("UPDATE agents SET last_assigned_at = ?2, assignment_seq = ?3 WHERE id = ?1")
            .bind(a.agent.as_uuid())
            .bind(ms(at))
            .bind(seq)
            .execute(&mut *conn)
            .await
            .db()?;
        let data = auto_assigned_data(a, policy);
        record_history(conn, a.conversation, HistoryKind::Assigned, None, &data, at).await
    }

    async fn unassign(&mut self, conversation: ConversationId, previous: AgentId, at: DateTime<Utc>) -> Result<()> {
        let conn = self.writer()?;
        sqlx::query("UPDATE conversations SET assignee_id = NULL WHERE id = ?1")
            .bind(conversation.as_uuid())
            .execute(&mut *conn)
            .await
            .db()?;
        let data = returned_data(previous);
        record_history(conn, conversation, HistoryKind::Unassigned, None, &data, at).await
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        match self.conn {
            Conn::Writer(w) => w.commit().await,
            // Only looked: nothing to commit.
            Conn::Reader(_) | Conn::None => Ok(()),
        }
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

    async fn begin_assignment(&self) -> Result<Box<dyn AssignmentTx + '_>> {
        let reader = self.pool().acquire().await.db()?;
        Ok(Box::new(SqliteAssignmentTx { store: self, conn: Conn::Reader(reader) }))
    }
}
