//! Agents and their API tokens.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use switchboard_domain::{AgentId, NewAgent, TokenHash};
use switchboard_store::{Agent, AgentStore, Result};
use uuid::Uuid;

use crate::PgStore;
use crate::error::DbResultExt;
use crate::rows::AgentRow;

/// A token's last use is recorded at most this often.
const TOUCH_EVERY: Duration = Duration::seconds(60);

#[derive(sqlx::FromRow)]
struct TokenRow {
    #[sqlx(flatten)]
    agent: AgentRow,
    token_id: Uuid,
    last_used_at: Option<DateTime<Utc>>,
}

#[async_trait]
impl AgentStore for PgStore {
    async fn create_agent(&self, agent: &NewAgent, token: &TokenHash, at: DateTime<Utc>) -> Result<Agent> {
        let id = AgentId::new();
        let mut tx = self.pool().begin().await.db()?;
        let row: AgentRow = sqlx::query_as(
            "INSERT INTO agents (id, name, email, role, active, created_at) VALUES ($1, $2, $3, $4, TRUE, $5) \
             RETURNING id, name, email, role, active, created_at",
        )
        .bind(id.as_uuid())
        .bind(agent.name.as_str())
        .bind(agent.email.as_str())
        .bind(agent.role.as_str())
        .bind(at)
        .fetch_one(&mut *tx)
        .await
        .db()?;
        sqlx::query("INSERT INTO api_tokens (id, agent_id, token_sha256, created_at) VALUES ($1, $2, $3, $4)")
            .bind(Uuid::now_v7())
            .bind(id.as_uuid())
            .bind(&token.as_bytes()[..])
            .bind(at)
            .execute(&mut *tx)
            .await
            .db()?;
        tx.commit().await.db()?;
        row.try_into()
    }

    async fn agent_by_token(&self, token: &TokenHash, at: DateTime<Utc>) -> Result<Option<Agent>> {
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT a.id, a.name, a.email, a.role, a.active, a.created_at, t.id AS token_id, t.last_used_at \
             FROM api_tokens t JOIN agents a ON a.id = t.agent_id \
             WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL AND a.active",
        )
        .bind(&token.as_bytes()[..])
        .fetch_optional(self.pool())
        .await
        .db()?;
        let Some(row) = row else { return Ok(None) };
        let stale = at - TOUCH_EVERY;
        if row.last_used_at.is_none_or(|t| t < stale) {
            sqlx::query(
                "UPDATE api_tokens SET last_used_at = $1 \
                 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
            )
            .bind(at)
            .bind(row.token_id)
            .bind(stale)
            .execute(self.pool())
            .await
            .db()?;
        }
        row.agent.try_into().map(Some)
    }
}
