//! Auto-assignment's ports: policies per team and per channel, and the transaction the
//! assigner (switchboard-core) works in. The rules — policy resolution, who is eligible,
//! who is chosen — are in `switchboard_domain::assignment`; the workflow is in
//! `switchboard_core::assignment`; the backends only run the primitives' SQL.
//!
//! **Reassignment.** An open, assigned conversation whose customer has waited
//! (`waiting_since`) at least N minutes, and that was not (re)assigned in the last N
//! minutes either (a new assignee gets their full N minutes), goes to another eligible
//! agent; if there is none and the assignee is no longer online, it goes back to the
//! queue; if the assignee is the only one online, it stays.
//!
//! **Routes.** A conversation follows its channel's policy (the channel's own, else its
//! team's); once transferred to a team (`conversations.team_id`) it follows that team's
//! policy instead, and that team's members take it.
//!
//! **History.** Every automatic change is recorded in the conversation's history:
//! `assigned` with `via: "auto"`, `policy`, `reason` (`waiting`, or `reply_timeout` with
//! `previous_agent_id`), and `unassigned` with `reason: "reply_timeout"`. A keyword
//! rule's assignment is recorded as `assigned` with `via: "rule"`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::{AgentId, ChannelId, ConversationId};

pub use switchboard_domain::{
    AgentPool, AssignmentPolicy, AutoAssignReport, AutoAssigned, AutoReason, ChannelPolicy, InvalidPolicy,
    PolicySettings, PolicySource, PoolAgent, Returned,
};

use crate::{Result, StoreError, TeamId};

impl From<InvalidPolicy> for StoreError {
    fn from(e: InvalidPolicy) -> Self {
        Self::corrupt(e)
    }
}

/// A pool agent from what both backends read: the capacity as stored, the loads as
/// counted.
pub fn pool_agent(
    id: AgentId,
    capacity: Option<i64>,
    load: i64,
    open: i64,
    seq: Option<i64>,
    teams: Vec<TeamId>,
) -> Result<PoolAgent> {
    let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(PoolAgent {
        id,
        capacity: capacity.map(u32::try_from).transpose().map_err(|_| StoreError::corrupt("capacity out of range"))?,
        load: count(load),
        open: count(open),
        seq,
        teams,
    })
}

/// The history data of an automatic assignment (`assigned`).
#[must_use]
pub fn auto_assigned_data(a: &AutoAssigned, policy: AssignmentPolicy) -> serde_json::Value {
    serde_json::json!({
        "agent_id": a.agent, "previous_agent_id": a.previous, "via": "auto",
        "policy": policy, "reason": a.reason.as_str(),
    })
}

/// The history data of an unanswered conversation put back in the queue (`unassigned`).
#[must_use]
pub fn returned_data(previous: AgentId) -> serde_json::Value {
    serde_json::json!({ "agent_id": previous, "reason": AutoReason::ReplyTimeout.as_str() })
}

#[async_trait]
pub trait AssignmentStore: Send + Sync {
    /// A team's policy (off if never set). `NotFound` for an unknown team.
    async fn team_policy(&self, team: TeamId) -> Result<PolicySettings>;

    /// Sets a team's policy. `NotFound` for an unknown team.
    async fn set_team_policy(&self, team: TeamId, policy: &PolicySettings, at: DateTime<Utc>) -> Result<()>;

    /// A channel's policy. `NotFound` for an unknown channel.
    async fn channel_policy(&self, channel: ChannelId) -> Result<ChannelPolicy>;

    /// Sets a channel's own policy; `None` removes it (the channel follows its team's
    /// again). `NotFound` for an unknown channel.
    async fn set_channel_policy(
        &self,
        channel: ChannelId,
        policy: Option<&PolicySettings>,
        at: DateTime<Utc>,
    ) -> Result<ChannelPolicy>;

    /// Opens an assigner step's transaction (see [`AssignmentTx`]).
    async fn begin_assignment(&self) -> Result<Box<dyn AssignmentTx + '_>>;
}

/// A conversation waiting in the queue: open, unassigned, its customer waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitingConversation {
    pub id: ConversationId,
    pub channel: ChannelId,
    /// The team it was transferred to (`None`: it follows its channel's routing).
    pub transferred_to: Option<TeamId>,
    pub waiting_since: DateTime<Utc>,
}

/// Whose policy a set of conversations follows: a channel's (its conversations that
/// were not transferred) or a team's (the conversations transferred to it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    Channel(ChannelId),
    Team(TeamId),
}

/// A team's own policy, for the conversations transferred to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TeamPolicy {
    pub team_id: TeamId,
    pub settings: PolicySettings,
}

/// Where a page of [`AssignmentTx::waiting`] starts: after this conversation, in queue
/// order (`waiting_since`, then id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueKey {
    pub waiting_since: DateTime<Utc>,
    pub id: ConversationId,
}

/// An assigned, open conversation whose customer has waited since before a deadline
/// and that nobody was (re)assigned after it: the assignee has not answered in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unanswered {
    pub conversation: ConversationId,
    pub assignee: AgentId,
}

/// One assigner step's transaction: the primitives `switchboard_core::assignment`
/// runs the step with. A step first *looks* (policies, whether anything is to do), and
/// only then [`lock_pool`](Self::lock_pool)s, from which on it may change assignments:
/// - SQLite looks on a reader and takes the write gate in `lock_pool` (nobody else
///   writes until commit, so loads hold and nothing is assigned twice); an idle step
///   never takes the gate;
/// - PostgreSQL runs the whole step in one transaction; `lock_pool` locks the online,
///   active agents' rows in id order before counting their loads, and `unanswered` and
///   `waiting` take their conversations `FOR NO KEY UPDATE SKIP LOCKED`.
///
/// Dropping it without [`commit`](Self::commit) rolls back.
#[async_trait]
pub trait AssignmentTx: Send {
    /// The channels whose effective policy assigns (not `off`). Read again after
    /// `lock_pool`: what was read before is only a hint.
    async fn active_policies(&mut self) -> Result<Vec<ChannelPolicy>>;

    /// The teams whose own policy assigns (for the conversations transferred to them).
    /// Read again after `lock_pool`, like `active_policies`.
    async fn active_team_policies(&mut self) -> Result<Vec<TeamPolicy>>;

    /// Whether a conversation of `route` is [`Unanswered`] at `deadline` (a look; locks
    /// nothing).
    async fn any_unanswered(&mut self, route: Route, deadline: DateTime<Utc>) -> Result<bool>;

    /// Whether any active agent is online while a conversation waits that follows one of
    /// `channels` (not transferred) or was transferred to one of `teams` (a look; locks
    /// nothing).
    async fn any_waiting(&mut self, channels: &[ChannelId], teams: &[TeamId]) -> Result<bool>;

    /// Starts the step's writing part (see above) and reads the pool: the online,
    /// active agents with their loads, teams and places in the rotation.
    async fn lock_pool(&mut self) -> Result<AgentPool>;

    /// Up to `limit` [`Unanswered`] conversations of `route` at `deadline`, longest
    /// waiting first.
    async fn unanswered(&mut self, route: Route, deadline: DateTime<Utc>, limit: u32) -> Result<Vec<Unanswered>>;

    /// Up to `limit` conversations waiting that follow one of `channels` (not
    /// transferred) or were transferred to one of `teams`, in queue order, after `after`.
    async fn waiting(
        &mut self,
        channels: &[ChannelId],
        teams: &[TeamId],
        after: Option<QueueKey>,
        limit: u32,
    ) -> Result<Vec<WaitingConversation>>;

    /// Writes one automatic assignment: the conversation's assignee, the agent's place in
    /// the rotation (`seq`, at `at`), and the history (`assigned`, `via: "auto"`).
    async fn assign(&mut self, a: &AutoAssigned, policy: AssignmentPolicy, seq: i64, at: DateTime<Utc>) -> Result<()>;

    /// Puts an unanswered conversation back in the queue, recorded in the history
    /// (`unassigned`, `reason: "reply_timeout"`).
    async fn unassign(&mut self, conversation: ConversationId, previous: AgentId, at: DateTime<Utc>) -> Result<()>;

    async fn commit(self: Box<Self>) -> Result<()>;
}
