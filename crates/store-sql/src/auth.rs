//! Sign-in: credentials, sessions, invitations, failed sign-ins, TOTP and the security
//! settings. The same SQL in both dialects.

/// Expands, in a backend's `auth` module, to `AuthStore` for `$store` (whose connection
/// is `$conn`). The module must have `AGENT_COLS` (from the agents expansion) in scope.
#[macro_export]
// `crate::audit` is the backend's own module (its expansion of that store), not this crate's.
#[allow(clippy::crate_in_macro_def)]
macro_rules! auth_store {
    ($store:ty, $conn:ty) => {
        mod shared {
            #![allow(unused_imports)]
            use super::*;

            use chrono::{DateTime, Utc};
            use switchboard_domain::{AgentId, Email, InvitationId, SessionId, TokenHash};
            use switchboard_store::{
                Agent, AgentCredentials, AuthStore, FailureKey, Invitation, InvitationOutcome, InvitationPurpose,
                NewInvitation, NewSession, NewSignInFailure, Result, SealedSecret, SecuritySettings, Session,
                StoreError, StoredTotp,
            };
            use uuid::Uuid;

            use $crate::rows::{AgentRow, corrupt};
            use $crate::{DbResultExt, Ts, opt_time};

            #[derive(sqlx::FromRow)]
            struct CredentialsRow {
                #[sqlx(flatten)]
                agent: AgentRow,
                password_hash: Option<String>,
                totp_secret: Option<Vec<u8>>,
                totp_key_id: Option<String>,
                totp_confirmed: bool,
                totp_last_step: Option<i64>,
            }

            impl TryFrom<CredentialsRow> for AgentCredentials {
                type Error = StoreError;
                fn try_from(r: CredentialsRow) -> Result<Self> {
                    let totp = match (r.totp_secret, r.totp_key_id) {
                        (Some(sealed), Some(key_id)) => Some(StoredTotp {
                            secret: SealedSecret { key_id, sealed },
                            confirmed: r.totp_confirmed,
                            last_step: r.totp_last_step,
                        }),
                        _ => None,
                    };
                    Ok(Self { agent: r.agent.try_into()?, password_hash: r.password_hash, totp })
                }
            }

            const CREDENTIAL_COLS: &str =
                "a.password_hash, a.totp_secret, a.totp_key_id, a.totp_confirmed, a.totp_last_step";

            #[derive(sqlx::FromRow)]
            struct SessionRow {
                id: Uuid,
                agent_id: Uuid,
                created_at: Ts,
                last_seen_at: Ts,
                expires_at: Ts,
                user_agent: Option<String>,
                client_addr: Option<String>,
                revoked_at: Option<Ts>,
                second_factor_pending: bool,
            }

            impl From<SessionRow> for Session {
                fn from(r: SessionRow) -> Self {
                    Self {
                        id: SessionId::from_uuid(r.id),
                        agent_id: AgentId::from_uuid(r.agent_id),
                        created_at: r.created_at.0,
                        last_seen_at: r.last_seen_at.0,
                        expires_at: r.expires_at.0,
                        user_agent: r.user_agent,
                        client_addr: r.client_addr,
                        revoked_at: opt_time(r.revoked_at),
                        second_factor_pending: r.second_factor_pending,
                    }
                }
            }

            const SESSION_COLS: &str = "s.id, s.agent_id, s.created_at, s.last_seen_at, s.expires_at, s.user_agent, \
                                        s.client_addr, s.revoked_at, s.second_factor_pending";
            const SESSION_RETURNING: &str = "id, agent_id, created_at, last_seen_at, expires_at, user_agent, \
                                             client_addr, revoked_at, second_factor_pending";

            /// A session joined with its agent: the session's `id` and `created_at` are
            /// renamed, the agent's keep their names.
            #[derive(sqlx::FromRow)]
            struct SessionAgentRow {
                session_id: Uuid,
                session_created_at: Ts,
                last_seen_at: Ts,
                expires_at: Ts,
                user_agent: Option<String>,
                client_addr: Option<String>,
                revoked_at: Option<Ts>,
                second_factor_pending: bool,
                #[sqlx(flatten)]
                agent: AgentRow,
            }

            #[derive(sqlx::FromRow)]
            struct InvitationRow {
                id: Uuid,
                agent_id: Uuid,
                purpose: String,
                created_by: Option<Uuid>,
                created_at: Ts,
                expires_at: Ts,
                used_at: Option<Ts>,
            }

            impl TryFrom<InvitationRow> for Invitation {
                type Error = StoreError;
                fn try_from(r: InvitationRow) -> Result<Self> {
                    Ok(Self {
                        id: InvitationId::from_uuid(r.id),
                        agent_id: AgentId::from_uuid(r.agent_id),
                        purpose: InvitationPurpose::parse(&r.purpose)
                            .ok_or_else(|| corrupt(format!("invitation purpose {:?}", r.purpose)))?,
                        created_by: r.created_by.map(AgentId::from_uuid),
                        created_at: r.created_at.0,
                        expires_at: r.expires_at.0,
                        used_at: opt_time(r.used_at),
                    })
                }
            }

            const INVITATION_COLS: &str = "id, agent_id, purpose, created_by, created_at, expires_at, used_at";

            #[$crate::reexport::async_trait]
            impl AuthStore for $store {
                async fn credentials_by_email(&self, email: &Email) -> Result<Option<AgentCredentials>> {
                    let row: Option<CredentialsRow> = sqlx::query_as(&format!(
                        "SELECT {AGENT_COLS}, {CREDENTIAL_COLS} FROM agents a WHERE a.email = $1"
                    ))
                    .bind(email.as_str())
                    .fetch_optional(self.pool())
                    .await
                    .db()?;
                    row.map(TryInto::try_into).transpose()
                }

                async fn credentials(&self, agent: AgentId) -> Result<AgentCredentials> {
                    let row: Option<CredentialsRow> = sqlx::query_as(&format!(
                        "SELECT {AGENT_COLS}, {CREDENTIAL_COLS} FROM agents a WHERE a.id = $1"
                    ))
                    .bind(agent.as_uuid())
                    .fetch_optional(self.pool())
                    .await
                    .db()?;
                    row.ok_or(StoreError::NotFound)?.try_into()
                }

                async fn record_sign_in_failure(&self, f: &NewSignInFailure<'_>, at: DateTime<Utc>) -> Result<()> {
                    // The rate limit's row and the audit entry, in one transaction.
                    let mut tx = self.begin_write().await?;
                    sqlx::query(
                        "INSERT INTO sign_in_failures (account, agent_id, client_addr, at) VALUES ($1, $2, $3, $4)",
                    )
                    .bind(f.account)
                    .bind(f.agent.map(|a| *a.as_uuid()))
                    .bind(f.client_addr)
                    .bind(Ts(at))
                    .execute(tx.conn())
                    .await
                    .db()?;
                    let entry = switchboard_store::NewAuditEntry {
                        at,
                        actor: None,
                        client_addr: Some(f.client_addr.to_owned()),
                        action: switchboard_store::AuditAction::SignInFailed,
                        target: f.agent.map(|a| switchboard_store::AuditTarget::new("agent", a)),
                        before: None,
                        after: None,
                    };
                    crate::audit::insert_audit(tx.conn(), &entry).await?;
                    tx.commit().await
                }

                async fn nth_recent_failure(
                    &self,
                    key: FailureKey<'_>,
                    since: DateTime<Utc>,
                    n: u32,
                ) -> Result<Option<DateTime<Utc>>> {
                    let (column, value) = match key {
                        FailureKey::Account(a) => ("account", a),
                        FailureKey::Client(c) => ("client_addr", c),
                    };
                    let at: Option<Ts> = sqlx::query_scalar(&format!(
                        "SELECT at FROM sign_in_failures WHERE {column} = $1 AND at > $2 \
                         ORDER BY at DESC LIMIT 1 OFFSET $3"
                    ))
                    .bind(value)
                    .bind(Ts(since))
                    .bind(i64::from(n.max(1)) - 1)
                    .fetch_optional(self.pool())
                    .await
                    .db()?;
                    Ok(opt_time(at))
                }

                async fn create_session(&self, s: &NewSession<'_>, at: DateTime<Utc>) -> Result<Session> {
                    let mut w = self.write_conn().await?;
                    let row: SessionRow = sqlx::query_as(&format!(
                        "INSERT INTO sessions (id, token_sha256, agent_id, created_at, last_seen_at, expires_at, \
                           user_agent, client_addr, second_factor_pending) \
                         VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8) RETURNING {SESSION_RETURNING}"
                    ))
                    .bind(SessionId::new().as_uuid())
                    .bind(&s.hash.as_bytes()[..])
                    .bind(s.agent.as_uuid())
                    .bind(Ts(at))
                    .bind(Ts(s.expires_at))
                    .bind(s.user_agent)
                    .bind(s.client_addr)
                    .bind(s.second_factor_pending)
                    .fetch_one(&mut *w)
                    .await
                    .db()?;
                    Ok(row.into())
                }

                async fn session_by_token(&self, token: &TokenHash) -> Result<Option<(Session, Agent)>> {
                    let row: Option<SessionAgentRow> = sqlx::query_as(&format!(
                        "SELECT s.id AS session_id, s.created_at AS session_created_at, s.last_seen_at, s.expires_at, \
                           s.user_agent, s.client_addr, s.revoked_at, s.second_factor_pending, {AGENT_COLS} \
                         FROM sessions s JOIN agents a ON a.id = s.agent_id \
                         WHERE s.token_sha256 = $1 AND s.revoked_at IS NULL AND a.active"
                    ))
                    .bind(&token.as_bytes()[..])
                    .fetch_optional(self.pool())
                    .await
                    .db()?;
                    let Some(r) = row else { return Ok(None) };
                    let agent: Agent = r.agent.try_into()?;
                    let session = Session {
                        id: SessionId::from_uuid(r.session_id),
                        agent_id: agent.id,
                        created_at: r.session_created_at.0,
                        last_seen_at: r.last_seen_at.0,
                        expires_at: r.expires_at.0,
                        user_agent: r.user_agent,
                        client_addr: r.client_addr,
                        revoked_at: opt_time(r.revoked_at),
                        second_factor_pending: r.second_factor_pending,
                    };
                    Ok(Some((session, agent)))
                }

                async fn touch_session(&self, id: SessionId, stale: DateTime<Utc>, at: DateTime<Utc>) -> Result<()> {
                    let mut w = self.write_conn().await?;
                    sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $3")
                        .bind(id.as_uuid())
                        .bind(Ts(at))
                        .bind(Ts(stale))
                        .execute(&mut *w)
                        .await
                        .db()?;
                    Ok(())
                }

                async fn complete_second_factor(&self, id: SessionId) -> Result<()> {
                    let mut w = self.write_conn().await?;
                    sqlx::query("UPDATE sessions SET second_factor_pending = FALSE WHERE id = $1")
                        .bind(id.as_uuid())
                        .execute(&mut *w)
                        .await
                        .db()?;
                    Ok(())
                }

                async fn sessions(&self, agent: AgentId, now: DateTime<Utc>) -> Result<Vec<Session>> {
                    let mut conn = self.pool().acquire().await.db()?;
                    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM agents WHERE id = $1)")
                        .bind(agent.as_uuid())
                        .fetch_one(&mut *conn)
                        .await
                        .db()?;
                    if !exists {
                        return Err(StoreError::NotFound);
                    }
                    let rows: Vec<SessionRow> = sqlx::query_as(&format!(
                        "SELECT {SESSION_COLS} FROM sessions s \
                         WHERE s.agent_id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 \
                         ORDER BY s.created_at DESC, s.id DESC"
                    ))
                    .bind(agent.as_uuid())
                    .bind(Ts(now))
                    .fetch_all(&mut *conn)
                    .await
                    .db()?;
                    Ok(rows.into_iter().map(Into::into).collect())
                }

                async fn revoke_session(&self, agent: AgentId, session: SessionId, at: DateTime<Utc>) -> Result<Session> {
                    let mut w = self.write_conn().await?;
                    let row: Option<SessionRow> = sqlx::query_as(&format!(
                        "UPDATE sessions SET revoked_at = COALESCE(revoked_at, $3) WHERE id = $1 AND agent_id = $2 \
                         RETURNING {SESSION_RETURNING}"
                    ))
                    .bind(session.as_uuid())
                    .bind(agent.as_uuid())
                    .bind(Ts(at))
                    .fetch_optional(&mut *w)
                    .await
                    .db()?;
                    Ok(row.ok_or(StoreError::NotFound)?.into())
                }

                async fn revoke_sessions(
                    &self,
                    agent: AgentId,
                    except: Option<SessionId>,
                    at: DateTime<Utc>,
                ) -> Result<u64> {
                    let mut w = self.write_conn().await?;
                    let done = sqlx::query(
                        "UPDATE sessions SET revoked_at = $2 \
                         WHERE agent_id = $1 AND revoked_at IS NULL AND ($3 IS NULL OR id <> $3)",
                    )
                    .bind(agent.as_uuid())
                    .bind(Ts(at))
                    .bind(except.map(|s| *s.as_uuid()))
                    .execute(&mut *w)
                    .await
                    .db()?;
                    Ok(done.rows_affected())
                }

                async fn create_invitation(&self, inv: &NewInvitation<'_>, at: DateTime<Utc>) -> Result<Invitation> {
                    let mut w = self.begin_write().await?;
                    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM agents WHERE id = $1)")
                        .bind(inv.agent.as_uuid())
                        .fetch_one(w.conn())
                        .await
                        .db()?;
                    if !exists {
                        return Err(StoreError::NotFound);
                    }
                    let row: InvitationRow = sqlx::query_as(&format!(
                        "INSERT INTO invitations (id, token_sha256, agent_id, purpose, created_by, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {INVITATION_COLS}"
                    ))
                    .bind(InvitationId::new().as_uuid())
                    .bind(&inv.hash.as_bytes()[..])
                    .bind(inv.agent.as_uuid())
                    .bind(inv.purpose.as_str())
                    .bind(inv.created_by.map(|a| *a.as_uuid()))
                    .bind(Ts(at))
                    .bind(Ts(inv.expires_at))
                    .fetch_one(w.conn())
                    .await
                    .db()?;
                    w.commit().await?;
                    row.try_into()
                }

                async fn invitation(&self, token: &TokenHash) -> Result<Option<Invitation>> {
                    let row: Option<InvitationRow> =
                        sqlx::query_as(&format!("SELECT {INVITATION_COLS} FROM invitations WHERE token_sha256 = $1"))
                            .bind(&token.as_bytes()[..])
                            .fetch_optional(self.pool())
                            .await
                            .db()?;
                    row.map(TryInto::try_into).transpose()
                }

                async fn accept_invitation(
                    &self,
                    token: &TokenHash,
                    password_hash: &str,
                    at: DateTime<Utc>,
                ) -> Result<InvitationOutcome> {
                    let mut w = self.begin_write().await?;
                    // Claims it first: of two acceptances at once, one wins.
                    let used: Option<InvitationRow> = sqlx::query_as(&format!(
                        "UPDATE invitations SET used_at = $2 \
                         WHERE token_sha256 = $1 AND used_at IS NULL AND expires_at > $2 \
                           AND agent_id IN (SELECT id FROM agents WHERE active) \
                         RETURNING {INVITATION_COLS}"
                    ))
                    .bind(&token.as_bytes()[..])
                    .bind(Ts(at))
                    .fetch_optional(w.conn())
                    .await
                    .db()?;
                    let Some(used) = used else {
                        let row: Option<(Option<Ts>, Ts, bool)> = sqlx::query_as(
                            "SELECT i.used_at, i.expires_at, a.active FROM invitations i \
                             JOIN agents a ON a.id = i.agent_id WHERE i.token_sha256 = $1",
                        )
                        .bind(&token.as_bytes()[..])
                        .fetch_optional(w.conn())
                        .await
                        .db()?;
                        return Ok(match row {
                            None | Some((_, _, false)) => InvitationOutcome::NotFound,
                            Some((Some(_), _, _)) => InvitationOutcome::Used,
                            Some((None, _, true)) => InvitationOutcome::Expired,
                        });
                    };
                    let invitation: Invitation = used.try_into()?;
                    let row: AgentRow = sqlx::query_as(&format!(
                        "UPDATE agents SET password_hash = $2 WHERE id = $1 RETURNING {AGENT_RETURNING}"
                    ))
                    .bind(invitation.agent_id.as_uuid())
                    .bind(password_hash)
                    .fetch_one(w.conn())
                    .await
                    .db()?;
                    let revoked = if invitation.purpose == InvitationPurpose::Reset {
                        sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE agent_id = $1 AND revoked_at IS NULL")
                            .bind(invitation.agent_id.as_uuid())
                            .bind(Ts(at))
                            .execute(w.conn())
                            .await
                            .db()?
                            .rows_affected()
                    } else {
                        0
                    };
                    w.commit().await?;
                    Ok(InvitationOutcome::Accepted { agent: row.try_into()?, purpose: invitation.purpose, revoked })
                }

                async fn set_totp(&self, agent: AgentId, secret: Option<&SealedSecret>) -> Result<()> {
                    let mut w = self.write_conn().await?;
                    let done = sqlx::query(
                        "UPDATE agents SET totp_secret = $2, totp_key_id = $3, totp_confirmed = FALSE, \
                           totp_last_step = NULL WHERE id = $1",
                    )
                    .bind(agent.as_uuid())
                    .bind(secret.map(|s| s.sealed.as_slice()))
                    .bind(secret.map(|s| s.key_id.as_str()))
                    .execute(&mut *w)
                    .await
                    .db()?;
                    if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
                }

                async fn use_totp_step(&self, agent: AgentId, step: i64, confirm: bool) -> Result<bool> {
                    let mut w = self.write_conn().await?;
                    let done = sqlx::query(
                        "UPDATE agents SET totp_last_step = $2, totp_confirmed = (totp_confirmed OR $3) \
                         WHERE id = $1 AND totp_secret IS NOT NULL \
                           AND (totp_last_step IS NULL OR totp_last_step < $2)",
                    )
                    .bind(agent.as_uuid())
                    .bind(step)
                    .bind(confirm)
                    .execute(&mut *w)
                    .await
                    .db()?;
                    Ok(done.rows_affected() == 1)
                }

                async fn security_settings(&self) -> Result<SecuritySettings> {
                    let mandatory: Option<bool> =
                        sqlx::query_scalar("SELECT totp_mandatory FROM security_settings WHERE id = 1")
                            .fetch_optional(self.pool())
                            .await
                            .db()?;
                    Ok(SecuritySettings { totp_mandatory: mandatory.unwrap_or(false) })
                }

                async fn set_security_settings(
                    &self,
                    s: &SecuritySettings,
                    by: AgentId,
                    at: DateTime<Utc>,
                ) -> Result<SecuritySettings> {
                    let mut w = self.write_conn().await?;
                    sqlx::query(
                        "UPDATE security_settings SET totp_mandatory = $1, updated_at = $2, updated_by = $3 WHERE id = 1",
                    )
                    .bind(s.totp_mandatory)
                    .bind(Ts(at))
                    .bind(by.as_uuid())
                    .execute(&mut *w)
                    .await
                    .db()?;
                    Ok(*s)
                }
            }
        }
    };
}
