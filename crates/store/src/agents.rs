use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::{AgentId, AgentName, AgentRole, Email, NewAgent, TokenHash};

use crate::Result;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agent {
    pub id: AgentId,
    pub name: AgentName,
    pub email: Email,
    pub role: AgentRole,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

#[async_trait]
pub trait AgentStore: Send + Sync {
    /// Creates an agent with its first API token. `Conflict { what: "agent email" }` if
    /// the email is taken.
    async fn create_agent(&self, agent: &NewAgent, token: &TokenHash, at: DateTime<Utc>) -> Result<Agent>;

    /// The active agent holding this unrevoked token. Records the token's last use (at
    /// most once a minute, to keep reads cheap).
    async fn agent_by_token(&self, token: &TokenHash, at: DateTime<Utc>) -> Result<Option<Agent>>;
}
