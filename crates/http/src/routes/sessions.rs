//! Console sign-in, administered: invitation (and password-reset) links, an agent's
//! console sessions, and the security settings (TOTP mandatory for everyone).
//!
//! An invitation link is shown once, in the answer that creates it; only its hash is
//! stored. Agents list and revoke their own sessions (`me` or their id); admins anyone's.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::{AgentId, SessionId};
use switchboard_store::{InvitationPurpose, SecuritySettings, Session};
use utoipa::ToSchema;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Admin, Caller, Later};
use crate::json::Json;
use crate::openapi::Problem;
use crate::routes::agents::{AgentRef, require_self_or_admin};

routes! {
    "/agents/{id}/invitation" => { post: invite },
    "/agents/{id}/sessions" => { get: sessions },
    "/agents/{id}/sessions/{session_id}" => { delete: revoke },
    "/settings/security" => { get: security, put: set_security },
}

/// A one-time link to set a password; shown only here.
#[derive(Serialize, ToSchema)]
struct InvitationJson {
    url: String,
    /// `invite` (no password yet) or `reset` (accepting it ends the agent's sessions).
    #[schema(pattern = "^(invite|reset)$")]
    purpose: &'static str,
    expires_at: DateTime<Utc>,
}

/// A console session: never its token.
#[derive(Serialize, ToSchema)]
#[schema(as = ConsoleSession)]
struct SessionJson {
    id: SessionId,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    #[schema(required = true)]
    user_agent: Option<String>,
    #[schema(required = true)]
    client_addr: Option<String>,
    /// Waiting for the second factor.
    second_factor_pending: bool,
}

impl From<Session> for SessionJson {
    fn from(s: Session) -> Self {
        Self {
            id: s.id,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            user_agent: s.user_agent,
            client_addr: s.client_addr,
            second_factor_pending: s.second_factor_pending,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = ConsoleSessionList)]
struct SessionList {
    items: Vec<SessionJson>,
}

/// What admins set about sign-in.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SecurityJson {
    /// Every agent must use a second factor (TOTP) to sign in to the console; agents
    /// without one enrol at their next sign-in. API tokens are not affected.
    totp_mandatory: bool,
}

/// The base of links the console's users open: the public URL if configured, else the
/// address this request reached.
pub(crate) fn public_base(state: &AppState, req: &HttpRequest) -> String {
    state.links.public_url.clone().unwrap_or_else(|| {
        let info = req.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    })
}

/// Creates a one-time link for the agent to set a password (admins): an invitation if
/// they have none yet, else a reset (accepting it ends their sessions). Earlier links
/// keep working until used or expired.
#[utoipa::path(post, path = "/agents/{id}/invitation", params(("id" = String, Path, description = "An agent's id, or `me`")),
    responses((status = 201, body = InvitationJson), (status = 403, description = "Admins only", body = Problem)))]
async fn invite(
    Admin { agent: caller, path, .. }: Admin<AgentRef>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path.of(&caller);
    let created = create_link(&state, id, &caller.actor()).await?;
    Ok(HttpResponse::Created().json(InvitationJson {
        url: format!("{}/invitation/{}", public_base(&state, &req), created.token),
        purpose: created.invitation.purpose.as_str(),
        expires_at: created.invitation.expires_at,
    }))
}

/// An invitation for an agent without a password, a reset for one with.
pub(crate) async fn create_link(
    state: &AppState,
    agent: AgentId,
    by: &switchboard_core::Actor,
) -> Result<switchboard_core::auth::CreatedInvitation, ApiError> {
    let creds = state.store.credentials(agent).await.map_err(|e| match e {
        switchboard_store::StoreError::NotFound => ApiError::NotFound { what: "agent" },
        e => e.into(),
    })?;
    let purpose = if creds.password_hash.is_some() { InvitationPurpose::Reset } else { InvitationPurpose::Invite };
    Ok(state.auth().create_invitation(agent, purpose, by).await?)
}

/// An agent's console sessions that are still live, newest first (the agent, or admins).
#[utoipa::path(get, path = "/agents/{id}/sessions", params(("id" = String, Path, description = "An agent's id, or `me`")),
    responses((status = 200, body = SessionList),
              (status = 403, description = "Another agent's sessions, and not an admin", body = Problem)))]
async fn sessions(
    Caller { agent: caller, path, .. }: Caller<AgentRef>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path.of(&caller);
    require_self_or_admin(&caller, id)?;
    let items = state.auth().sessions(id).await?.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(SessionList { items }))
}

/// Revokes a console session (the agent, or admins): its cookie stops working at once.
#[utoipa::path(delete, path = "/agents/{id}/sessions/{session_id}",
    params(("id" = String, Path, description = "An agent's id, or `me`"), ("session_id" = SessionId, Path)),
    responses((status = 204, description = "Revoked"),
              (status = 403, description = "Another agent's session, and not an admin", body = Problem)))]
async fn revoke(
    Caller { agent: caller, path: (agent, session), .. }: Caller<(AgentRef, Later<SessionId>)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = agent.of(&caller);
    require_self_or_admin(&caller, id)?;
    let session = session.get()?;
    state.auth().revoke_session(id, session, &caller.actor()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The security settings (admins).
#[utoipa::path(get, path = "/settings/security",
    responses((status = 200, body = SecurityJson), (status = 403, description = "Admins only", body = Problem)))]
async fn security(_admin: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let s = state.auth().security_settings().await?;
    Ok(HttpResponse::Ok().json(SecurityJson { totp_mandatory: s.totp_mandatory }))
}

/// Changes the security settings (admins).
#[utoipa::path(put, path = "/settings/security", request_body = SecurityJson,
    responses((status = 200, body = SecurityJson), (status = 403, description = "Admins only", body = Problem)))]
async fn set_security(
    Admin { agent: caller, .. }: Admin,
    body: Json<SecurityJson>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let s = state
        .auth()
        .set_security_settings(&SecuritySettings { totp_mandatory: body.totp_mandatory }, caller.0.id, &caller.actor())
        .await?;
    Ok(HttpResponse::Ok().json(SecurityJson { totp_mandatory: s.totp_mandatory }))
}
