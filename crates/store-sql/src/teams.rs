//! Teams, their members, and the channels routed to them: the same SQL in both dialects.

/// Expands, in a backend's `teams` module, to `TeamStore` for `$store` (whose connection
/// is `$conn`).
#[macro_export]
macro_rules! team_store {
    ($store:ty, $conn:ty) => {
        use chrono::{DateTime, Utc};
        use switchboard_domain::{AgentId, ChannelId};
        use switchboard_store::{Result, StoreError, Team, TeamId, TeamName, TeamStore};
        use uuid::Uuid;

        use $crate::rows::corrupt;
        use $crate::{DbResultExt, Ts};

        #[derive(sqlx::FromRow)]
        struct TeamRow {
            id: Uuid,
            name: String,
            created_at: Ts,
        }

        /// Teams with their members and channels, in the order of `rows`.
        async fn complete(conn: &mut $conn, rows: Vec<TeamRow>) -> Result<Vec<Team>> {
            let members: Vec<(Uuid, Uuid)> =
                sqlx::query_as("SELECT team_id, agent_id FROM team_members ORDER BY added_at, agent_id")
                    .fetch_all(&mut *conn)
                    .await
                    .db()?;
            let channels: Vec<(Uuid, Uuid)> =
                sqlx::query_as("SELECT team_id, id FROM channels WHERE team_id IS NOT NULL ORDER BY created_at, id")
                    .fetch_all(&mut *conn)
                    .await
                    .db()?;
            rows.into_iter()
                .map(|r| {
                    Ok(Team {
                        id: TeamId::from_uuid(r.id),
                        name: TeamName::parse(&r.name).map_err(corrupt)?,
                        members: members
                            .iter()
                            .filter(|(t, _)| *t == r.id)
                            .map(|(_, a)| AgentId::from_uuid(*a))
                            .collect(),
                        channels: channels
                            .iter()
                            .filter(|(t, _)| *t == r.id)
                            .map(|(_, c)| ChannelId::from_uuid(*c))
                            .collect(),
                        created_at: r.created_at.0,
                    })
                })
                .collect()
        }

        async fn one(conn: &mut $conn, id: TeamId) -> Result<Option<Team>> {
            let row: Option<TeamRow> = sqlx::query_as("SELECT id, name, created_at FROM teams WHERE id = $1")
                .bind(id.as_uuid())
                .fetch_optional(&mut *conn)
                .await
                .db()?;
            let Some(row) = row else { return Ok(None) };
            Ok(complete(conn, vec![row]).await?.pop())
        }

        fn name_conflict(e: StoreError) -> StoreError {
            match e {
                StoreError::Conflict { .. } => StoreError::Conflict { what: "team name" },
                e => e,
            }
        }

        async fn team_exists(conn: &mut $conn, id: TeamId) -> Result<bool> {
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM teams WHERE id = $1)")
                .bind(id.as_uuid())
                .fetch_one(conn)
                .await
                .db()
        }

        #[$crate::reexport::async_trait]
        impl TeamStore for $store {
            async fn teams(&self) -> Result<Vec<Team>> {
                let mut conn = self.pool().acquire().await.db()?;
                let rows: Vec<TeamRow> = sqlx::query_as("SELECT id, name, created_at FROM teams ORDER BY name_key, id")
                    .fetch_all(&mut *conn)
                    .await
                    .db()?;
                complete(&mut conn, rows).await
            }

            async fn team(&self, id: TeamId) -> Result<Option<Team>> {
                let mut conn = self.pool().acquire().await.db()?;
                one(&mut conn, id).await
            }

            async fn create_team(&self, name: &TeamName, at: DateTime<Utc>) -> Result<Team> {
                let id = TeamId::new();
                let mut w = self.begin_write().await?;
                sqlx::query("INSERT INTO teams (id, name, name_key, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(id.as_uuid())
                    .bind(name.as_str())
                    .bind(name.key())
                    .bind(Ts(at))
                    .execute(w.conn())
                    .await
                    .db()
                    .map_err(name_conflict)?;
                let team = one(w.conn(), id).await?.ok_or(StoreError::NotFound)?;
                w.commit().await?;
                Ok(team)
            }

            async fn rename_team(&self, id: TeamId, name: &TeamName) -> Result<Team> {
                let mut w = self.begin_write().await?;
                let n = sqlx::query("UPDATE teams SET name = $2, name_key = $3 WHERE id = $1")
                    .bind(id.as_uuid())
                    .bind(name.as_str())
                    .bind(name.key())
                    .execute(w.conn())
                    .await
                    .db()
                    .map_err(name_conflict)?
                    .rows_affected();
                if n == 0 {
                    return Err(StoreError::NotFound);
                }
                let team = one(w.conn(), id).await?.ok_or(StoreError::NotFound)?;
                w.commit().await?;
                Ok(team)
            }

            async fn delete_team(&self, id: TeamId) -> Result<()> {
                let mut w = self.write_conn().await?;
                // Foreign keys: members cascade, channels are set to no team.
                let n =
                    sqlx::query("DELETE FROM teams WHERE id = $1").bind(id.as_uuid()).execute(&mut *w).await.db()?;
                if n.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            }

            async fn add_team_member(&self, team: TeamId, agent: AgentId, at: DateTime<Utc>) -> Result<bool> {
                let mut w = self.begin_write().await?;
                let conn = w.conn();
                let agent_known: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM agents WHERE id = $1)")
                    .bind(agent.as_uuid())
                    .fetch_one(&mut *conn)
                    .await
                    .db()?;
                if !agent_known || !team_exists(&mut *conn, team).await? {
                    return Err(StoreError::NotFound);
                }
                let n = sqlx::query(
                    "INSERT INTO team_members (team_id, agent_id, added_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(team.as_uuid())
                .bind(agent.as_uuid())
                .bind(Ts(at))
                .execute(&mut *conn)
                .await
                .db()?;
                w.commit().await?;
                Ok(n.rows_affected() == 1)
            }

            async fn remove_team_member(&self, team: TeamId, agent: AgentId) -> Result<bool> {
                let mut w = self.begin_write().await?;
                if !team_exists(w.conn(), team).await? {
                    return Err(StoreError::NotFound);
                }
                let n = sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND agent_id = $2")
                    .bind(team.as_uuid())
                    .bind(agent.as_uuid())
                    .execute(w.conn())
                    .await
                    .db()?;
                w.commit().await?;
                Ok(n.rows_affected() == 1)
            }

            async fn route_channel(&self, channel: ChannelId, team: Option<TeamId>) -> Result<()> {
                let mut w = self.begin_write().await?;
                if let Some(team) = team
                    && !team_exists(w.conn(), team).await?
                {
                    return Err(StoreError::NotFound);
                }
                let n = sqlx::query("UPDATE channels SET team_id = $2 WHERE id = $1")
                    .bind(channel.as_uuid())
                    .bind(team.as_ref().map(TeamId::as_uuid))
                    .execute(w.conn())
                    .await
                    .db()?;
                if n.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                w.commit().await
            }

            async fn agent_teams(&self, agent: AgentId) -> Result<Vec<TeamId>> {
                let ids: Vec<Uuid> =
                    sqlx::query_scalar("SELECT team_id FROM team_members WHERE agent_id = $1 ORDER BY team_id")
                        .bind(agent.as_uuid())
                        .fetch_all(self.pool())
                        .await
                        .db()?;
                Ok(ids.into_iter().map(TeamId::from_uuid).collect())
            }
        }
    };
}
