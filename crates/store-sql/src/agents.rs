//! Agents and their API tokens (deactivating revokes their console sessions too): the same SQL in both dialects but `update_agent` (how
//! two admins demoting each other at once are kept apart differs: `agent_before_update`).

/// Expands, in a backend's `agents` module, to `AgentStore` for `$store` (whose
/// connection is `$conn`). The module provides
/// `agent_before_update(conn, id, patch) -> Result<ControlFlow<AgentUpdate, Agent>>`:
/// the agent as it is, read inside the update's transaction, or why the patch is refused
/// (it would leave no active admin), and `record_history`.
#[macro_export]
macro_rules! agent_store {
    ($store:ty, $conn:ty) => {
        pub(crate) use shared::{AGENT_COLS, AGENT_RETURNING};

        mod shared {
            #![allow(unused_imports)]
            use super::*;
            use std::ops::ControlFlow;

            use chrono::{DateTime, Duration, Utc};
            use switchboard_domain::{AgentId, AgentRole, ConversationId, NewAgent, TokenHash};
            use switchboard_store::{
                Agent, AgentPatch, AgentStore, AgentWithToken, AgentUpdate, ApiToken, HistoryKind, NewToken, Result, StoreError, TokenId,
            };
            use uuid::Uuid;

            use $crate::rows::AgentRow;
            use $crate::{DbResultExt, Ts, opt_time};

            /// A token's last use is recorded at most this often.
            const TOUCH_EVERY: Duration = Duration::seconds(60);

            /// The columns of an `AgentRow`, from `agents` as `a`.
            pub(crate) const AGENT_COLS: &str = "a.id, a.name, a.email, a.role, a.active, a.created_at, a.availability, a.capacity, a.totp_required";
            /// The same, for `RETURNING`.
            pub(crate) const AGENT_RETURNING: &str = "id, name, email, role, active, created_at, availability, capacity, totp_required";

            #[derive(sqlx::FromRow)]
            struct TokenRow {
                #[sqlx(flatten)]
                agent: AgentRow,
                token_id: Uuid,
                last_used_at: Option<Ts>,
            }

            #[derive(sqlx::FromRow)]
            struct ApiTokenRow {
                id: Uuid,
                agent_id: Uuid,
                name: Option<String>,
                created_at: Ts,
                last_used_at: Option<Ts>,
                revoked_at: Option<Ts>,
            }

            impl From<ApiTokenRow> for ApiToken {
                fn from(r: ApiTokenRow) -> Self {
                    Self {
                        id: TokenId::from_uuid(r.id),
                        agent_id: AgentId::from_uuid(r.agent_id),
                        name: r.name,
                        created_at: r.created_at.0,
                        last_used_at: opt_time(r.last_used_at),
                        revoked_at: opt_time(r.revoked_at),
                    }
                }
            }

            const TOKEN_COLS: &str = "id, agent_id, name, created_at, last_used_at, revoked_at";

            async fn insert_token(
                conn: &mut $conn,
                agent: AgentId,
                token: &NewToken<'_>,
                at: DateTime<Utc>,
            ) -> Result<ApiToken> {
                let row: ApiTokenRow = sqlx::query_as(&format!(
                    "INSERT INTO api_tokens (id, agent_id, token_sha256, name, created_at) VALUES ($1, $2, $3, $4, $5) \
                     RETURNING {TOKEN_COLS}"
                ))
                .bind(TokenId::new().as_uuid())
                .bind(agent.as_uuid())
                .bind(&token.hash.as_bytes()[..])
                .bind(token.name)
                .bind(Ts(at))
                .fetch_one(conn)
                .await
                .db()?;
                Ok(row.into())
            }

            async fn agent_exists(conn: &mut $conn, id: AgentId) -> Result<bool> {
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM agents WHERE id = $1)")
                    .bind(id.as_uuid())
                    .fetch_one(conn)
                    .await
                    .db()
            }

            #[$crate::reexport::async_trait]
            impl AgentStore for $store {
                async fn create_agent(&self, agent: &NewAgent, token: &TokenHash, at: DateTime<Utc>) -> Result<Agent> {
                    self.create_agent_with(agent, None, &NewToken { hash: token, name: None }, at).await.map(|a| a.agent)
                }

                async fn create_agent_with(
                    &self,
                    agent: &NewAgent,
                    capacity: Option<u32>,
                    token: &NewToken<'_>,
                    at: DateTime<Utc>,
                ) -> Result<AgentWithToken> {
                    let id = AgentId::new();
                    let mut w = self.begin_write().await?;
                    let row: AgentRow = sqlx::query_as(&format!(
                        "INSERT INTO agents (id, name, email, role, active, created_at, capacity) \
                         VALUES ($1, $2, $3, $4, TRUE, $5, $6) RETURNING {AGENT_RETURNING}"
                    ))
                    .bind(id.as_uuid())
                    .bind(agent.name.as_str())
                    .bind(agent.email.as_str())
                    .bind(agent.role.as_str())
                    .bind(Ts(at))
                    .bind(capacity.map(i64::from))
                    .fetch_one(w.conn())
                    .await
                    .db()?;
                    let token = insert_token(w.conn(), id, token, at).await?;
                    w.commit().await?;
                    Ok(AgentWithToken { agent: row.try_into()?, token })
                }

                async fn agent_by_token(&self, token: &TokenHash, at: DateTime<Utc>) -> Result<Option<Agent>> {
                    let row: Option<TokenRow> = sqlx::query_as(&format!(
                        "SELECT {AGENT_COLS}, t.id AS token_id, t.last_used_at \
                         FROM api_tokens t JOIN agents a ON a.id = t.agent_id \
                         WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL AND a.active"
                    ))
                    .bind(&token.as_bytes()[..])
                    .fetch_optional(self.pool())
                    .await
                    .db()?;
                    let Some(row) = row else { return Ok(None) };
                    let stale = Ts(at - TOUCH_EVERY);
                    if row.last_used_at.is_none_or(|t| t < stale) {
                        let mut w = self.write_conn().await?;
                        sqlx::query(
                            "UPDATE api_tokens SET last_used_at = $1 \
                             WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
                        )
                        .bind(Ts(at))
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
                    let row: Option<AgentRow> = sqlx::query_as(&format!("SELECT {AGENT_COLS} FROM agents a WHERE a.id = $1"))
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
                    let before = match agent_before_update(&mut *conn, id, patch).await? {
                        ControlFlow::Continue(before) => before,
                        ControlFlow::Break(refused) => return Ok(refused),
                    };
                    let deactivating = before.active && patch.active == Some(false);
                    let row: AgentRow = sqlx::query_as(&format!(
                        "UPDATE agents SET \
                           name = COALESCE($2, name), email = COALESCE($3, email), role = COALESCE($4, role), \
                           capacity = CASE WHEN $5 THEN $6 ELSE capacity END, active = COALESCE($7, active), \
                           availability = COALESCE($8, availability), totp_required = COALESCE($9, totp_required) \
                         WHERE id = $1 RETURNING {AGENT_RETURNING}"
                    ))
                    .bind(id.as_uuid())
                    .bind(patch.name.as_ref().map(|n| n.as_str()))
                    .bind(patch.email.as_ref().map(|e| e.as_str()))
                    .bind(patch.role.map(AgentRole::as_str))
                    .bind(patch.capacity.is_some())
                    .bind(patch.capacity.flatten().map(i64::from))
                    .bind(patch.active)
                    .bind(patch.availability.map(|a| a.as_str()))
                    .bind(patch.totp_required)
                    .fetch_one(&mut *conn)
                    .await
                    .db()?;
                    let mut unassigned = Vec::new();
                    if deactivating {
                        sqlx::query("UPDATE api_tokens SET revoked_at = $2 WHERE agent_id = $1 AND revoked_at IS NULL")
                            .bind(id.as_uuid())
                            .bind(Ts(at))
                            .execute(&mut *conn)
                            .await
                            .db()?;
                        sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE agent_id = $1 AND revoked_at IS NULL")
                            .bind(id.as_uuid())
                            .bind(Ts(at))
                            .execute(&mut *conn)
                            .await
                            .db()?;
                        let ids: Vec<Uuid> = sqlx::query_scalar(
                            "UPDATE conversations SET assignee_id = NULL WHERE assignee_id = $1 AND status <> 'resolved' \
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
                        sqlx::query_as(&format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE agent_id = $1 ORDER BY created_at, id"))
                            .bind(agent.as_uuid())
                            .fetch_all(&mut *conn)
                            .await
                            .db()?;
                    Ok(rows.into_iter().map(Into::into).collect())
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
                        "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $3) WHERE id = $1 AND agent_id = $2 \
                         RETURNING {TOKEN_COLS}"
                    ))
                    .bind(token.as_uuid())
                    .bind(agent.as_uuid())
                    .bind(Ts(at))
                    .fetch_optional(&mut *w)
                    .await
                    .db()?;
                    Ok(row.ok_or(StoreError::NotFound)?.into())
                }
            }
        }
    };
}
