//! `/api/v1/agents`: agents, their roles, availability, capacity and API tokens.
//!
//! Every agent may list agents and read their own profile (`/agents/me`), set their own
//! availability and manage their own tokens (`/agents/me/tokens` or their id); admins
//! create and edit agents and manage anyone's tokens. A token is shown once, when
//! created; lists never show it. The last active admin cannot be demoted or deactivated
//! (409 `last_admin`).

use std::str::FromStr;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_core::EntryExt;
use switchboard_core::admin::UpdatedAgent;
use switchboard_domain::{AgentId, AgentName, AgentRole, AuditAction, Email, NewAgent};
use switchboard_store::{Agent, AgentPatch, ApiToken, Availability, StoreError, TokenId};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::error::{ApiError, FieldError};
use crate::extract::{Admin, Caller, Later, PathId};
use crate::json::{Json, optional_object};
use crate::openapi::Problem;
use crate::routes::labels::double_option;

// `me` before `{id}`: resources match in the order they are registered.
routes! {
    "/agents" => { get: list, post: create },
    "/agents/me" => { get: me },
    "/agents/me/availability" => { put: set_availability },
    "/agents/{id}" => { get: get, patch: update },
    "/agents/{id}/tokens" => { get: tokens, post: create_token },
    "/agents/{id}/tokens/{token_id}" => { delete: revoke_token },
}

/// The largest capacity accepted.
const CAPACITY_MAX: u32 = 10_000;
/// The longest token name, in characters.
const TOKEN_NAME_MAX: usize = 100;

#[derive(Serialize, ToSchema)]
#[schema(as = Agent)]
pub(crate) struct AgentJson {
    id: AgentId,
    name: String,
    email: String,
    role: AgentRole,
    active: bool,
    availability: Availability,
    /// `null`: no limit.
    #[schema(required = true)]
    capacity: Option<u32>,
    /// The agent must use a second factor (TOTP) to sign in to the console.
    totp_required: bool,
    created_at: DateTime<Utc>,
}

impl From<Agent> for AgentJson {
    fn from(a: Agent) -> Self {
        Self {
            id: a.id,
            name: a.name.as_str().to_owned(),
            email: a.email.as_str().to_owned(),
            role: a.role,
            active: a.active,
            availability: a.availability,
            capacity: a.capacity,
            totp_required: a.totp_required,
            created_at: a.created_at,
        }
    }
}

/// An API token; the token itself only in the answer that creates it.
#[derive(Serialize, ToSchema)]
#[schema(as = ApiToken)]
struct TokenJson {
    id: TokenId,
    #[schema(required = true)]
    name: Option<String>,
    created_at: DateTime<Utc>,
    #[schema(required = true)]
    last_used_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    revoked_at: Option<DateTime<Utc>>,
    /// Only in the answer that creates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    token: Option<String>,
}

impl TokenJson {
    fn new(t: ApiToken, token: Option<String>) -> Self {
        Self {
            id: t.id,
            name: t.name,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
            token,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateAgent {
    /// 1 to 200 characters, without control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    name: String,
    #[schema(
        max_length = 254,
        pattern = r"^[^@\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+@[^@.\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^@\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*\.[^@\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^@.\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$"
    )]
    email: String,
    /// Default: `agent`.
    #[schema(value_type = Option<AgentRole>)]
    role: Option<String>,
    /// The most open conversations the agent holds at once; absent or `null`: no limit.
    #[schema(maximum = 10_000)]
    capacity: Option<u64>,
    /// A name for the first token (at most 100 characters).
    #[schema(max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    token_name: Option<String>,
}

/// Only the fields given change; `capacity: null` removes the limit. Deactivating an
/// agent puts their conversations back in the queue.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateAgent {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    name: Option<String>,
    #[schema(
        max_length = 254,
        pattern = r"^[^@\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+@[^@.\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^@\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*\.[^@\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^@.\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$"
    )]
    email: Option<String>,
    #[schema(value_type = Option<AgentRole>)]
    role: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<u64>, maximum = 10_000)]
    capacity: Option<Option<u64>>,
    active: Option<bool>,
    #[schema(value_type = Option<Availability>)]
    availability: Option<String>,
    /// Require a second factor (TOTP) for this agent's console sign-in.
    totp_required: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SetAvailability)]
struct AvailabilityBody {
    #[schema(value_type = Availability)]
    availability: String,
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateToken {
    /// At most 100 characters; empty or absent: no name.
    #[schema(max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    name: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct AgentList {
    items: Vec<AgentJson>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = ApiTokenList)]
struct TokenList {
    items: Vec<TokenJson>,
}

/// A new agent and their first token (shown only here).
#[derive(Serialize, ToSchema)]
struct CreatedAgent {
    agent: AgentJson,
    token: TokenJson,
}

fn parse_name(raw: &str, errors: &mut Vec<FieldError>) -> Option<AgentName> {
    if raw.chars().any(char::is_control) {
        errors.push(FieldError::new("name", "must not contain control characters"));
        return None;
    }
    AgentName::parse(raw).map_err(|e| errors.push(FieldError::new("name", e.to_string()))).ok()
}

fn parse_email(raw: &str, errors: &mut Vec<FieldError>) -> Option<Email> {
    Email::parse(raw).map_err(|e| errors.push(FieldError::new("email", e.to_string()))).ok()
}

fn parse_role(raw: &str, errors: &mut Vec<FieldError>) -> Option<AgentRole> {
    AgentRole::parse(raw).or_else(|| {
        errors.push(FieldError::new("role", "must be admin or agent"));
        None
    })
}

fn parse_capacity(raw: u64, errors: &mut Vec<FieldError>) -> Option<u32> {
    match u32::try_from(raw) {
        Ok(c) if c <= CAPACITY_MAX => Some(c),
        _ => {
            errors
                .push(FieldError::new("capacity", format!("must be a whole number from 0 to {CAPACITY_MAX}, or null")));
            None
        }
    }
}

fn parse_availability(raw: &str, errors: &mut Vec<FieldError>) -> Option<Availability> {
    Availability::parse(raw).or_else(|| {
        errors.push(FieldError::new("availability", "must be online, away or offline"));
        None
    })
}

/// A token name: trimmed, empty means none, at most [`TOKEN_NAME_MAX`] characters.
fn parse_token_name(raw: Option<&str>, field: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let n = raw.map(str::trim).filter(|n| !n.is_empty())?;
    if n.chars().count() > TOKEN_NAME_MAX || n.chars().any(char::is_control) {
        errors.push(FieldError::new(
            field,
            format!("must be at most {TOKEN_NAME_MAX} characters, without control characters"),
        ));
        return None;
    }
    Some(n.to_owned())
}

fn agent_not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::NotFound { what: "agent" },
        e => e.into(),
    }
}

/// The agent a path names: an id, or `me`.
#[derive(Clone, Copy)]
pub(crate) enum AgentRef {
    Me,
    Id(AgentId),
}

impl AgentRef {
    pub(crate) const fn of(self, caller: &AuthenticatedAgent) -> AgentId {
        match self {
            Self::Me => caller.0.id,
            Self::Id(id) => id,
        }
    }
}

impl FromStr for AgentRef {
    type Err = <AgentId as FromStr>::Err;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        if raw == "me" { Ok(Self::Me) } else { raw.parse().map(Self::Id) }
    }
}

impl PathId for AgentRef {
    const WHAT: &'static str = "agent";
}

/// Agents manage their own tokens; admins anyone's.
pub(crate) fn require_self_or_admin(caller: &AuthenticatedAgent, agent: AgentId) -> Result<(), ApiError> {
    if caller.0.id == agent { Ok(()) } else { caller.require_admin() }
}

/// Every agent (any agent).
#[utoipa::path(get, path = "/agents", responses((status = 200, body = AgentList)))]
async fn list(_agent: AuthenticatedAgent, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let items = state.store.agents().await?.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(AgentList { items }))
}

/// The calling agent's own profile.
#[utoipa::path(get, path = "/agents/me", responses((status = 200, body = AgentJson)))]
async fn me(agent: AuthenticatedAgent) -> HttpResponse {
    HttpResponse::Ok().json(AgentJson::from(agent.0))
}

/// One agent (any agent).
#[utoipa::path(get, path = "/agents/{id}", params(("id" = String, Path, description = "An agent's id, or `me`")),
    responses((status = 200, body = AgentJson)))]
async fn get(
    Caller { agent: caller, path, .. }: Caller<AgentRef>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path.of(&caller);
    let agent = state.store.agent(id).await?.ok_or(ApiError::NotFound { what: "agent" })?;
    Ok(HttpResponse::Ok().json(AgentJson::from(agent)))
}

/// Creates an agent and their first API token (admins); the token is shown only here.
#[utoipa::path(post, path = "/agents", request_body = CreateAgent,
    responses((status = 201, body = CreatedAgent), (status = 403, description = "Admins only", body = Problem)))]
async fn create(
    Admin { agent: caller, .. }: Admin,
    body: Json<CreateAgent>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let name = parse_name(&body.name, &mut errors);
    let email = parse_email(&body.email, &mut errors);
    let role = body.role.as_deref().map_or(Some(AgentRole::Agent), |r| parse_role(r, &mut errors));
    let capacity = body.capacity.and_then(|c| parse_capacity(c, &mut errors));
    let token_name = parse_token_name(body.token_name.as_deref(), "token_name", &mut errors);
    let (Some(name), Some(email), Some(role), true) = (name, email, role, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let (agent, token) =
        state.config().create_agent(&NewAgent { name, email, role }, capacity, token_name.as_deref()).await?;
    tracing::info!(agent_id = %agent.id, role = %agent.role, by = %caller.0.id, "agent created");
    let agent = AgentJson::from(agent);
    state.audit().record(caller.audit(AuditAction::AgentCreated).target("agent", agent.id).after(&agent)).await;
    state
        .audit()
        .record(
            caller
                .audit(AuditAction::TokenCreated)
                .target("token", token.stored.id)
                .after(&TokenJson::new(token.stored.clone(), None)),
        )
        .await;
    Ok(HttpResponse::Created().json(CreatedAgent { agent, token: TokenJson::new(token.stored, Some(token.token)) }))
}

/// Edits an agent: name, email, role, capacity, activity, availability, whether TOTP is
/// required (admins). Deactivating an agent revokes their tokens and console sessions.
#[utoipa::path(patch, path = "/agents/{id}", params(("id" = String, Path, description = "An agent's id, or `me`")),
    request_body = UpdateAgent,
    responses((status = 200, body = AgentJson), (status = 403, description = "Admins only", body = Problem),
              (status = 409, description = "`last_admin`: the last active admin cannot be demoted or deactivated",
               body = Problem)))]
async fn update(
    Admin { agent: caller, path, .. }: Admin<AgentRef>,
    body: Json<UpdateAgent>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path.of(&caller);
    let mut errors = Vec::new();
    let patch = AgentPatch {
        name: body.name.as_deref().and_then(|n| parse_name(n, &mut errors)),
        email: body.email.as_deref().and_then(|e| parse_email(e, &mut errors)),
        role: body.role.as_deref().and_then(|r| parse_role(r, &mut errors)),
        capacity: body.capacity.map(|c| c.and_then(|c| parse_capacity(c, &mut errors))),
        active: body.active,
        availability: body.availability.as_deref().and_then(|a| parse_availability(a, &mut errors)),
        totp_required: body.totp_required,
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let before = state.store.agent(id).await?;
    let UpdatedAgent { agent, unassigned } = state.config().update_agent(id, &patch, caller.0.id).await?;
    tracing::info!(
        agent_id = %id, by = %caller.0.id, active = agent.active, role = %agent.role, unassigned, "agent updated"
    );
    let action = match &before {
        Some(b) if b.active && !agent.active => AuditAction::AgentDeactivated,
        Some(b) if b.role != agent.role => AuditAction::RoleChanged,
        _ => AuditAction::AgentUpdated,
    };
    let after = AgentJson::from(agent);
    state
        .audit()
        .record(caller.audit(action).target("agent", id).before(&before.map(AgentJson::from)).after(&after))
        .await;
    Ok(HttpResponse::Ok().json(after))
}

/// Sets the calling agent's own availability.
#[utoipa::path(put, path = "/agents/me/availability", request_body = AvailabilityBody,
    responses((status = 200, body = AgentJson)))]
async fn set_availability(
    caller: AuthenticatedAgent,
    body: Json<AvailabilityBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let Some(availability) = parse_availability(&body.availability, &mut errors) else {
        return Err(ApiError::Validation(errors));
    };
    let agent = state.config().set_availability(caller.0.id, availability).await?;
    tracing::debug!(agent_id = %agent.id, %availability, "availability set");
    Ok(HttpResponse::Ok().json(AgentJson::from(agent)))
}

/// An agent's API tokens, without the tokens themselves (the agent, or admins).
#[utoipa::path(get, path = "/agents/{id}/tokens", params(("id" = String, Path, description = "An agent's id, or `me`")),
    responses((status = 200, body = TokenList),
              (status = 403, description = "Another agent's tokens, and not an admin", body = Problem)))]
async fn tokens(
    Caller { agent: caller, path, .. }: Caller<AgentRef>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path.of(&caller);
    require_self_or_admin(&caller, id)?;
    let items =
        state.store.tokens(id).await.map_err(agent_not_found)?.into_iter().map(|t| TokenJson::new(t, None)).collect();
    Ok(HttpResponse::Ok().json(TokenList { items }))
}

/// Creates an API token for an agent (the agent, or admins); the token is shown only here.
#[utoipa::path(post, path = "/agents/{id}/tokens", params(("id" = String, Path, description = "An agent's id, or `me`")),
    request_body(content = Option<CreateToken>, description = "Optional: no body, no name"),
    responses((status = 201, body = TokenJson),
              (status = 403, description = "Another agent's token, and not an admin", body = Problem)))]
async fn create_token(
    Caller { agent: caller, path, .. }: Caller<AgentRef>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path.of(&caller);
    require_self_or_admin(&caller, id)?;
    // The body is optional: no body, no name.
    let body: CreateToken = optional_object(&body)?;
    let mut errors = Vec::new();
    let name = parse_token_name(body.name.as_deref(), "name", &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let created = state.config().create_token(id, name.as_deref()).await?;
    tracing::info!(agent_id = %id, token_id = %created.stored.id, by = %caller.0.id, "API token created");
    state
        .audit()
        .record(
            caller
                .audit(AuditAction::TokenCreated)
                .target("token", created.stored.id)
                .after(&TokenJson::new(created.stored.clone(), None)),
        )
        .await;
    Ok(HttpResponse::Created().json(TokenJson::new(created.stored, Some(created.token))))
}

/// Revokes an API token (the agent, or admins).
#[utoipa::path(delete, path = "/agents/{id}/tokens/{token_id}",
    params(("id" = String, Path, description = "An agent's id, or `me`"), ("token_id" = TokenId, Path)),
    responses((status = 204, description = "Revoked"),
              (status = 403, description = "Another agent's token, and not an admin", body = Problem)))]
async fn revoke_token(
    Caller { agent: caller, path: (agent, token), .. }: Caller<(AgentRef, Later<TokenId>)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = agent.of(&caller);
    require_self_or_admin(&caller, id)?;
    let token = token.get()?;
    state.config().revoke_token(id, token).await?;
    tracing::info!(agent_id = %id, token_id = %token, by = %caller.0.id, "API token revoked");
    state
        .audit()
        .record(
            caller
                .audit(AuditAction::TokenRevoked)
                .target("token", token)
                .after(&serde_json::json!({ "agent_id": id, "token_id": token })),
        )
        .await;
    Ok(HttpResponse::NoContent().finish())
}
