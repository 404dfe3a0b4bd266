//! Agents and their API tokens: creating an agent with a first token, editing one (never
//! leaving no active admin), availability, creating and revoking tokens.

use std::fmt::Write as _;

use chrono::Utc;
use sha2::{Digest, Sha256};
use switchboard_domain::{AgentId, NewAgent, TokenHash};
use switchboard_store::{
    Agent, AgentPatch, AgentUpdate, AgentWithToken, ApiToken, Availability, NewToken, StoreError, TokenId,
};

use super::{AdminError, Config};

/// A new API token: 256 random bits, hex, with a recognisable prefix (`sbt_`). Shown
/// once; only [`hash_token`] of it is stored.
#[must_use]
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    let mut token = String::with_capacity(4 + 64);
    token.push_str("sbt_");
    for b in bytes {
        let _ = write!(token, "{b:02x}");
    }
    token
}

/// The hash under which a token is stored.
#[must_use]
pub fn hash_token(token: &str) -> TokenHash {
    TokenHash::from_bytes(Sha256::digest(token.as_bytes()).into())
}

/// A token just created: as stored, and the token itself (shown once).
pub struct CreatedToken {
    pub stored: ApiToken,
    pub token: String,
}

/// An agent just edited, and the conversations unassigned because they were deactivated.
pub struct UpdatedAgent {
    pub agent: Agent,
    pub unassigned: usize,
}

/// Another agent has this email: invalid `email`.
fn email_taken(e: StoreError) -> AdminError {
    match e {
        StoreError::Conflict { .. } => AdminError::invalid("email", "another agent has this email"),
        e => AdminError::not_found("agent")(e),
    }
}

impl Config<'_> {
    /// Creates an agent and their first API token (named `token_name`).
    pub async fn create_agent(
        &self,
        agent: &NewAgent,
        capacity: Option<u32>,
        token_name: Option<&str>,
    ) -> Result<(Agent, CreatedToken), AdminError> {
        let token = new_token();
        let hash = hash_token(&token);
        let AgentWithToken { agent, token: stored } = self
            .store
            .create_agent_with(agent, capacity, &NewToken { hash: &hash, name: token_name }, Utc::now())
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } => AdminError::invalid("email", "another agent has this email"),
                e => e.into(),
            })?;
        Ok((agent, CreatedToken { stored, token }))
    }

    /// Edits an agent (`by`: the admin); refused with `LastAdmin` if it would leave no
    /// active admin. Wakes the assigner: the agent may be online again, have more
    /// capacity, or have had conversations put back in the queue.
    pub async fn update_agent(&self, id: AgentId, patch: &AgentPatch, by: AgentId) -> Result<UpdatedAgent, AdminError> {
        match self.store.update_agent(id, patch, Some(by), Utc::now()).await.map_err(email_taken)? {
            AgentUpdate::LastAdmin => Err(AdminError::LastAdmin),
            AgentUpdate::Updated { agent, unassigned } => {
                self.wake.assigner();
                Ok(UpdatedAgent { agent, unassigned: unassigned.len() })
            }
        }
    }

    /// Sets the agent's own availability; coming online wakes the assigner.
    pub async fn set_availability(&self, agent: AgentId, availability: Availability) -> Result<Agent, AdminError> {
        let patch = AgentPatch { availability: Some(availability), ..AgentPatch::default() };
        match self
            .store
            .update_agent(agent, &patch, Some(agent), Utc::now())
            .await
            .map_err(AdminError::not_found("agent"))?
        {
            AgentUpdate::Updated { agent, .. } => {
                if availability == Availability::Online {
                    self.wake.assigner();
                }
                Ok(agent)
            }
            // A patch of the availability alone never touches the role or activity.
            AgentUpdate::LastAdmin => Err(AdminError::LastAdmin),
        }
    }

    /// Creates an API token for the agent.
    pub async fn create_token(&self, agent: AgentId, name: Option<&str>) -> Result<CreatedToken, AdminError> {
        let token = new_token();
        let hash = hash_token(&token);
        let stored = self
            .store
            .create_token(agent, &NewToken { hash: &hash, name }, Utc::now())
            .await
            .map_err(AdminError::not_found("agent"))?;
        Ok(CreatedToken { stored, token })
    }

    /// Revokes one of the agent's API tokens.
    pub async fn revoke_token(&self, agent: AgentId, token: TokenId) -> Result<(), AdminError> {
        self.store.revoke_token(agent, token, Utc::now()).await.map_err(AdminError::not_found("token"))?;
        Ok(())
    }
}
