//! Teams: their names, members, and the channels routed to them. Changes that can give a
//! waiting conversation an agent wake the assigner.

use chrono::Utc;
use switchboard_domain::{AgentId, ChannelId};
use switchboard_store::{StoreError, Team, TeamId, TeamName};

use super::{AdminError, Config};

/// `NotFound` "team"; another team with the name: invalid `name`.
fn team_error(e: StoreError) -> AdminError {
    match e {
        StoreError::NotFound => AdminError::NotFound { what: "team" },
        StoreError::Conflict { .. } => AdminError::invalid("name", "another team has this name"),
        e => e.into(),
    }
}

impl Config<'_> {
    /// Creates a team (names are unique regardless of case).
    pub async fn create_team(&self, name: &TeamName) -> Result<Team, AdminError> {
        self.store.create_team(name, Utc::now()).await.map_err(team_error)
    }

    /// Renames a team.
    pub async fn rename_team(&self, id: TeamId, name: &TeamName) -> Result<Team, AdminError> {
        self.store.rename_team(id, name).await.map_err(team_error)
    }

    /// Deletes a team; its channels are routed to no team.
    pub async fn delete_team(&self, id: TeamId) -> Result<(), AdminError> {
        self.store.delete_team(id).await.map_err(team_error)
    }

    /// Adds an agent to a team (idempotent); whether they were not a member before. The
    /// team's waiting conversations may now be theirs: wakes the assigner.
    pub async fn add_team_member(&self, team: TeamId, agent: AgentId) -> Result<bool, AdminError> {
        let added = self.store.add_team_member(team, agent, Utc::now()).await.map_err(|e| match e {
            StoreError::NotFound => AdminError::NotFound { what: "team or agent" },
            e => e.into(),
        })?;
        if added {
            self.wake.assigner();
        }
        Ok(added)
    }

    /// Removes an agent from a team (idempotent); whether they were a member.
    pub async fn remove_team_member(&self, team: TeamId, agent: AgentId) -> Result<bool, AdminError> {
        self.store.remove_team_member(team, agent).await.map_err(team_error)
    }

    /// Routes a channel's conversations to a team (which must exist: invalid `team_id`),
    /// or to no team. Its policy, and who may take its conversations, may have changed:
    /// wakes the assigner.
    pub async fn route_channel(&self, channel: ChannelId, team: Option<TeamId>) -> Result<(), AdminError> {
        if let Some(t) = team
            && self.store.team(t).await?.is_none()
        {
            return Err(AdminError::invalid("team_id", "no team has this id"));
        }
        self.store.route_channel(channel, team).await.map_err(AdminError::not_found("channel"))?;
        self.wake.assigner();
        Ok(())
    }
}
