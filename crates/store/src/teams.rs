//! Teams of agents, and the channels routed to them: an agent sees (and claims) the
//! conversations of channels routed to one of their teams, and of channels routed to no
//! team; admins see everything.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::{AgentId, ChannelId};

pub use switchboard_domain::{InvalidTeamName, TeamId, TeamName};

use crate::Result;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Team {
    pub id: TeamId,
    pub name: TeamName,
    /// Members, in the order they were added.
    pub members: Vec<AgentId>,
    /// Channels routed to the team.
    pub channels: Vec<ChannelId>,
    pub created_at: DateTime<Utc>,
}

#[async_trait]
pub trait TeamStore: Send + Sync {
    /// Every team, by name.
    async fn teams(&self) -> Result<Vec<Team>>;

    async fn team(&self, id: TeamId) -> Result<Option<Team>>;

    /// `Conflict { what: "team name" }` if the name is taken (in any case).
    async fn create_team(&self, name: &TeamName, at: DateTime<Utc>) -> Result<Team>;

    /// `NotFound`, or `Conflict { what: "team name" }`.
    async fn rename_team(&self, id: TeamId, name: &TeamName) -> Result<Team>;

    /// Deletes a team: its channels are routed to no team. `NotFound` if unknown.
    async fn delete_team(&self, id: TeamId) -> Result<()>;

    /// Adds an agent to a team; true if they were not a member. `NotFound` if the team
    /// or the agent is unknown.
    async fn add_team_member(&self, team: TeamId, agent: AgentId, at: DateTime<Utc>) -> Result<bool>;

    /// Removes an agent from a team; true if they were a member. `NotFound` if the team
    /// is unknown.
    async fn remove_team_member(&self, team: TeamId, agent: AgentId) -> Result<bool>;

    /// Routes a channel's conversations to a team, or to none. `NotFound` if the channel
    /// or the team is unknown.
    async fn route_channel(&self, channel: ChannelId, team: Option<TeamId>) -> Result<()>;

    /// The teams an agent belongs to.
    async fn agent_teams(&self, agent: AgentId) -> Result<Vec<TeamId>>;
}
