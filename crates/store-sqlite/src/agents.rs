//! Agents and their API tokens.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sqlx::SqliteConnection;
use switchboard_domain::{AgentId, AgentRole, ConversationId, NewAgent, TokenHash};
use switchboard_store::{
    Agent, AgentPatch, AgentStore, AgentUpdate, ApiToken, HistoryKind, NewToken, Result, StoreError, TokenId,
};
use uuid::Uuid;

use crate::SqliteStore;
use crate::error::DbResultExt;
use crate::queue::record_history;
use crate::rows::{AgentRow, ms, time};

/// A token's last use is recorded at most this often.
const TOUCH_EVERY: Duration = Duration::seconds(60);

/// The columns of an `AgentRow`, from `agents` as `a`.
const AGENT_COLS: &str = "a.id, a.name, a.email, a.role, a.active, a.created_at, a.availability, a.capacity";
/// The same, for `RETURNING`.
const AGENT_RETURNING: &str = "id, name, email, role, active, created_at, availability, capacity";

#[derive(sqlx::FromRow)]
struct TokenRow {
    #[sqlx(flatten)]
    agent: AgentRow,
    token_id: Uuid,
    last_used_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApiTokenRow {
    id: Uuid,
    agent_id: Uuid,
    name: Option<String>,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl TryFrom<ApiTokenRow> for ApiToken {
    type Error = StoreError;
    fn try_from(r: ApiTokenRow) -> Result<Self> {
        Ok(Self {
            id: TokenId::from_uuid(r.id),
            agent_id: AgentId::from_uuid(r.agent_id),
            name: r.name,
            created_at: time(r.created_at)?,
            last_used_at: r.last_used_at.map(time).transpose()?,
            revoked_at: r.revoked_at.map(time).transpose()?,
        })
    }
}

const TOKEN_COLS: &str = "id, agent_id, name, created_at, last_used_at, revoked_at";

async fn insert_token(
    conn: &mut SqliteConnection,
    agent: AgentId,
    token: &NewToken<'_>,
    at: DateTime<Utc>,
) -> Result<ApiToken> {
    let row: ApiTokenRow = sqlx::query_as(&format!(
        "INSERT INTO api_tokens (id, agent_id, token_sha256, name, created_at) VALUES (?1, ?2, ?3, ?4, ?5) \
         RETURNING {TOKEN_COLS}"
    ))
    .bind(TokenId::new().as_uuid())
    .bind(agent.as_uuid())
    .bind(&token.hash.as_bytes()[..])
    .bind(token.name)
    .bind(ms(at))
    .fetch_one(conn)
    .await
    .db()?;
    row.try_into()
}

async fn agent_exists(conn: &mut SqliteConnection, id: AgentId) -> Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM agents WHERE id = ?1)")
        .bind(id.as_uuid())
        .fetch_one(conn)
        .await
        .db()
}

#[async_trait]
impl AgentStore for SqliteStore {
    async fn create_agent(&self, agent: &NewAgent, token: &TokenHash, at: DateTime<Utc>) -> Result<Agent> {
        self.create_agent_with(agent, None, &NewToken { hash: token, name: None }, at).await.map(|(a, _)| a)
    }

    async fn create_agent_with(
        &self,
        agent: &NewAgent,
        capacity: Option<u32>,
        token: &NewToken<'_>,
        at: DateTime<Utc>,
    ) -> Result<(Agent, ApiToken)> {
        let id = AgentId::new();
        let mut w = self.begin_write().await?;
        let row: AgentRow = sqlx::query_as(&format!(
            "INSERT INTO agents (id, name, email, role, active, created_at, capacity) \
             VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6) RETURNING {AGENT_RETURNING}"
        ))
        .bind(id.as_uuid())
        .bind(agent.name.as_str())
        .bind(agent.email.as_str())
        .bind(agent.role.as_str())
        .bind(ms(at))
        .bind(capacity.map(i64::from))
        .fetch_one(w.conn())
        .await
        .db()?;
        let token = insert_token(w.conn(), id, token, at).await?;
        w.commit().await?;
        Ok((row.try_into()?, token))
    }

    async fn agent_by_token(&self, token: &TokenHash, at: DateTime<Utc>) -> Result<Option<Agent>> {
        let row: Option<TokenRow> = sqlx::query_as(&format!(
            "SELECT {AGENT_COLS}, t.id AS token_id, t.last_used_at \
             FROM api_tokens t JOIN agents a ON a.id = t.agent_id \
             WHERE t.token_sha256 = ?1 AND t.revoked_at IS NULL AND a.active"
        ))
        .bind(&token.as_bytes()[..])
        .fetch_optional(self.pool())
        .await
        .db()?;
        let Some(row) = row else { return Ok(None) };
        let stale = ms(at - TOUCH_EVERY);
        if row.last_used_at.is_none_or(|t| t < stale) {
            let mut w = self.write_conn().await?;
            sqlx::query(
                "UPDATE api_tokens SET last_used_at = ?1 \
                 WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?3)",
            )
            .bind(ms(at))
            .bind(row.token_id)
            .bind(stale)
            .execute(&mut *w)
            .await
            .db()?;
        }
        row.agent.try_into().map(Some)
    }

    async fn agents(&self) -> Result<Vec<Agent>> {
        let rows: Vec<AgentRow> = sqlx::query_as(&format!("SELECT {AGENT_COLS} FROM agents a ORDER BY a.name, a.id"))
            .fetch_all(self.pool())
            .await
            .db()?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn agent(&self, id: AgentId) -> Result<Option<Agent>> {
        let row: Option<AgentRow> = sqlx::query_as(&format!("SELECT {AGENT_COLS} FROM agents a WHERE a.id = ?1"))
            .bind(id.as_uuid())
            .fetch_optional(self.pool())
            .await
            .db()?;
        row.map(TryInto::try_into).transpose()
    }

    async fn update_agent(
        &self,
        id: AgentId,
        patch: &AgentPatch,
        actor: Option<AgentId>,
        at: DateTime<Utc>,
    ) -> Result<AgentUpdate> {
        let mut w = self.begin_write().await?;
        let conn = w.conn();
        let before: Option<AgentRow> = sqlx::query_as(&format!("SELECT {AGENT_COLS} FROM agents a WHERE a.id = ?1"))
            .bind(id.as_uuid())
            .fetch_optional(&mut *conn)
            .await
            .db()?;
        let before: Agent = before.ok_or(StoreError::NotFound)?.try_into()?;
        let deactivating = before.active && patch.active == Some(false);
        let demoting = before.role == AgentRole::Admin && patch.role.is_some_and(|r| r != AgentRole::Admin);
        if before.active && before.role == AgentRole::Admin && (deactivating || demoting) {
            // The write gate makes this check and the update one step.
            let others: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM agents WHERE role = 'admin' AND active AND id <> ?1")
                    .bind(id.as_uuid())
                    .fetch_one(&mut *conn)
                    .await
                    .db()?;
            if others == 0 {
                return Ok(AgentUpdate::LastAdmin);
            }
        }
        let row: AgentRow = sqlx::query_as(&format!(
            "UPDATE agents SET \
               name = COALESCE(?2, name), email = COALESCE(?3, email), role = COALESCE(?4, role), \
               capacity = CASE WHEN ?5 THEN ?6 ELSE capacity END, active = COALESCE(?7, active), \
               availability = COALESCE(?8, availability) \
             WHERE id = ?1 RETURNING {AGENT_RETURNING}"
        ))
        .bind(id.as_uuid())
        .bind(patch.name.as_ref().map(|n| n.as_str()))
        .bind(patch.email.as_ref().map(|e| e.as_str()))
        .bind(patch.role.map(AgentRole::as_str))
        .bind(patch.capacity.is_some())
        .bind(patch.capacity.flatten().map(i64::from))
        .bind(patch.active)
        .bind(patch.availability.map(|a| a.as_str()))
        .fetch_one(&mut *conn)
        .await
        .db()?;
        let mut unassigned = Vec::new();
        if deactivating {
            sqlx::query("UPDATE api_tokens SET revoked_at = ?2 WHERE agent_id = ?1 AND revoked_at IS NULL")
                .bind(id.as_uuid())
                .bind(ms(at))
                .execute(&mut *conn)
                .await
                .db()?;
            let ids: Vec<Uuid> = sqlx::query_scalar(
                "UPDATE conversations SET assignee_id = NULL WHERE assignee_id = ?1 AND status <> 'resolved' \
                 RETURNING id",
            )
            .bind(id.as_uuid())
            .fetch_all(&mut *conn)
            .await
            .db()?;
            let data = serde_json::json!({ "agent_id": id, "reason": "agent_deactivated" });
            for c in ids {
                let c = ConversationId::from_uuid(c);
                record_history(&mut *conn, c, HistoryKind::Unassigned, actor, &data, at).await?;
                unassigned.push(c);
            }
        }
        w.commit().await?;
        Ok(AgentUpdate::Updated { agent: row.try_into()?, unassigned })
    }

    async fn tokens(&self, agent: AgentId) -> Result<Vec<ApiToken>> {
        let mut conn = self.pool().acquire().await.db()?;
        if !agent_exists(&mut conn, agent).await? {
            return Err(StoreError::NotFound);
        }
        let rows: Vec<ApiTokenRow> =
            sqlx::query_as(&format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE agent_id = ?1 ORDER BY created_at, id"))
                .bind(agent.as_uuid())
                .fetch_all(&mut *conn)
                .await
                .db()?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn create_token(&self, agent: AgentId, token: &NewToken<'_>, at: DateTime<Utc>) -> Result<ApiToken> {
        let mut w = self.begin_write().await?;
        if !agent_exists(w.conn(), agent).await? {
            return Err(StoreError::NotFound);
        }
        let token = insert_token(w.conn(), agent, token, at).await?;
        w.commit().await?;
        Ok(token)
    }

    async fn revoke_token(&self, agent: AgentId, token: TokenId, at: DateTime<Utc>) -> Result<ApiToken> {
        let mut w = self.write_conn().await?;
        let row: Option<ApiTokenRow> = sqlx::query_as(&format!(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?3) WHERE id = ?1 AND agent_id = ?2 \
             RETURNING {TOKEN_COLS}"
        ))
        .bind(token.as_uuid())
        .bind(agent.as_uuid())
        .bind(ms(at))
        .fetch_optional(&mut *w)
        .await
        .db()?;
        row.ok_or(StoreError::NotFound)?.try_into()
    }
}
