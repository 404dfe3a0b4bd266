use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::{AgentId, AgentName, AgentRole, ConversationId, Email, NewAgent, TokenHash};

pub use switchboard_domain::{Availability, TokenId};

use crate::Result;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agent {
    pub id: AgentId,
    pub name: AgentName,
    pub email: Email,
    pub role: AgentRole,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    /// What the agent says about themselves; new agents are offline.
    pub availability: Availability,
    /// The most conversations that are not resolved the agent holds at once (claiming
    /// stops there); `None` = no limit.
    pub capacity: Option<u32>,
    /// The agent must use a second factor (TOTP) to sign in to the console.
    pub totp_required: bool,
}

/// An API token as its owner sees it later: never the token itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiToken {
    pub id: TokenId,
    pub agent_id: AgentId,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A token to store: its hash and the owner's label for it.
#[derive(Clone, Debug)]
pub struct NewToken<'a> {
    pub hash: &'a TokenHash,
    pub name: Option<&'a str>,
}

/// Changes to an agent; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct AgentPatch {
    pub name: Option<AgentName>,
    pub email: Option<Email>,
    pub role: Option<AgentRole>,
    /// `Some(None)` removes the limit.
    pub capacity: Option<Option<u32>>,
    /// `Some(false)` deactivates: the agent's tokens are revoked and their conversations
    /// that are not resolved are unassigned (back to the queue), each recorded in its
    /// history, and their console sessions are revoked.
    pub active: Option<bool>,
    pub availability: Option<Availability>,
    pub totp_required: Option<bool>,
}

/// What [`AgentStore::update_agent`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentUpdate {
    Updated {
        agent: Agent,
        /// Conversations unassigned because the agent was deactivated.
        unassigned: Vec<ConversationId>,
    },
    /// Refused, nothing changed: it would leave no active admin.
    LastAdmin,
}

/// An agent just created, and their first API token ([`AgentStore::create_agent_with`]).
#[derive(Clone, Debug)]
pub struct AgentWithToken {
    pub agent: Agent,
    pub token: ApiToken,
}

#[async_trait]
pub trait AgentStore: Send + Sync {
    /// Creates an agent with its first API token. `Conflict { what: "agent email" }` if
    /// the email is taken.
    async fn create_agent(&self, agent: &NewAgent, token: &TokenHash, at: DateTime<Utc>) -> Result<Agent>;

    /// Creates an agent with a capacity and its first, named, API token, in one
    /// transaction. `Conflict { what: "agent email" }` if the email is taken.
    async fn create_agent_with(
        &self,
        agent: &NewAgent,
        capacity: Option<u32>,
        token: &NewToken<'_>,
        at: DateTime<Utc>,
    ) -> Result<AgentWithToken>;

    /// The active agent holding this unrevoked token. Records the token's last use (at
    /// most once a minute, to keep reads cheap).
    async fn agent_by_token(&self, token: &TokenHash, at: DateTime<Utc>) -> Result<Option<Agent>>;

    /// Every agent, active or not, by name (then id).
    async fn agents(&self) -> Result<Vec<Agent>>;

    async fn agent(&self, id: AgentId) -> Result<Option<Agent>>;

    /// Applies a patch in one transaction (see [`AgentPatch`]). `actor` is who did it,
    /// for the conversations' history. `NotFound` for an unknown agent, `Conflict { what:
    /// "agent email" }` if the new email is taken; [`AgentUpdate::LastAdmin`] if it would
    /// demote or deactivate the last active admin.
    async fn update_agent(
        &self,
        id: AgentId,
        patch: &AgentPatch,
        actor: Option<AgentId>,
        at: DateTime<Utc>,
    ) -> Result<AgentUpdate>;

    /// The agent's tokens, revoked ones included, oldest first. `NotFound` for an unknown
    /// agent.
    async fn tokens(&self, agent: AgentId) -> Result<Vec<ApiToken>>;

    /// Adds a token. `NotFound` for an unknown agent.
    async fn create_token(&self, agent: AgentId, token: &NewToken<'_>, at: DateTime<Utc>) -> Result<ApiToken>;

    /// Revokes one of the agent's tokens (a revoked token stays revoked, with its first
    /// revocation time). `NotFound` if the agent has no such token.
    async fn revoke_token(&self, agent: AgentId, token: TokenId, at: DateTime<Utc>) -> Result<ApiToken>;
}
