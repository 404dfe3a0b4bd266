//! `/api/v1/agents`: agents, their roles, availability, capacity and API tokens.
//!
//! Every agent may list agents and read their own profile (`/agents/me`), set their own
//! availability and manage their own tokens (`/agents/me/tokens` or their id); admins
//! create and edit agents and manage anyone's tokens. A token is shown once, when
//! created; lists never show it. The last active admin cannot be demoted or deactivated
//! (409 `last_admin`).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::{AgentId, AgentName, AgentRole, Email, NewAgent};
use switchboard_store::{Agent, AgentPatch, AgentUpdate, ApiToken, Availability, NewToken, StoreError, TokenId};

use crate::AppState;
use crate::auth::{AuthenticatedAgent, hash_token, new_token};
use crate::error::{ApiError, FieldError};
use crate::routes::labels::double_option;

// Until this module is described: the routes! table replaces these three.
pub const ROUTES: &[(&str, &str)] = &[];
pub fn openapi() -> utoipa::openapi::OpenApi {
    utoipa::openapi::OpenApi::default()
}
pub fn configure(cfg: &mut web::ServiceConfig) {
    // `me` before `{id}`: resources match in the order they are registered.
    cfg.service(web::resource("/agents").route(web::get().to(list)).route(web::post().to(create)))
        .service(web::resource("/agents/me").route(web::get().to(me)))
        .service(web::resource("/agents/me/availability").route(web::put().to(set_availability)))
        .service(web::resource("/agents/{id}").route(web::get().to(get)).route(web::patch().to(update)))
        .service(web::resource("/agents/{id}/tokens").route(web::get().to(tokens)).route(web::post().to(create_token)))
        .service(web::resource("/agents/{id}/tokens/{token_id}").route(web::delete().to(revoke_token)));
}

/// The largest capacity accepted.
const CAPACITY_MAX: u32 = 10_000;
/// The longest token name, in characters.
const TOKEN_NAME_MAX: usize = 100;

#[derive(Serialize)]
pub(crate) struct AgentJson {
    id: AgentId,
    name: String,
    email: String,
    role: AgentRole,
    active: bool,
    availability: Availability,
    /// `null`: no limit.
    capacity: Option<u32>,
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
            created_at: a.created_at,
        }
    }
}

#[derive(Serialize)]
struct TokenJson {
    id: TokenId,
    name: Option<String>,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    /// Only in the answer that creates it.
    #[serde(skip_serializing_if = "Option::is_none")]
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateAgent {
    name: String,
    email: String,
    role: Option<String>,
    capacity: Option<u64>,
    /// A name for the first token.
    token_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateAgent {
    name: Option<String>,
    email: Option<String>,
    role: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    capacity: Option<Option<u64>>,
    active: Option<bool>,
    availability: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AvailabilityBody {
    availability: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CreateToken {
    name: Option<String>,
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
fn path_agent(raw: &str, caller: &AuthenticatedAgent) -> Result<AgentId, ApiError> {
    if raw == "me" {
        return Ok(caller.0.id);
    }
    raw.parse().map_err(|_| ApiError::NotFound { what: "agent" })
}

/// Agents manage their own tokens; admins anyone's.
fn require_self_or_admin(caller: &AuthenticatedAgent, agent: AgentId) -> Result<(), ApiError> {
    if caller.0.id == agent { Ok(()) } else { caller.require_admin() }
}

fn last_admin() -> ApiError {
    ApiError::StateConflict {
        code: "last_admin",
        detail: "this is the last active admin: make another agent an admin first".into(),
    }
}

async fn list(_agent: AuthenticatedAgent, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let items: Vec<AgentJson> = state.store.agents().await?.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

async fn me(agent: AuthenticatedAgent) -> HttpResponse {
    HttpResponse::Ok().json(AgentJson::from(agent.0))
}

async fn get(
    caller: AuthenticatedAgent,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path_agent(&path, &caller)?;
    let agent = state.store.agent(id).await?.ok_or(ApiError::NotFound { what: "agent" })?;
    Ok(HttpResponse::Ok().json(AgentJson::from(agent)))
}

async fn create(
    caller: AuthenticatedAgent,
    body: web::Json<CreateAgent>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let mut errors = Vec::new();
    let name = parse_name(&body.name, &mut errors);
    let email = parse_email(&body.email, &mut errors);
    let role = body.role.as_deref().map_or(Some(AgentRole::Agent), |r| parse_role(r, &mut errors));
    let capacity = body.capacity.and_then(|c| parse_capacity(c, &mut errors));
    let token_name = parse_token_name(body.token_name.as_deref(), "token_name", &mut errors);
    let (Some(name), Some(email), Some(role), true) = (name, email, role, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let token = new_token();
    let hash = hash_token(&token);
    let (agent, api_token) = state
        .store
        .create_agent_with(
            &NewAgent { name, email, role },
            capacity,
            &NewToken { hash: &hash, name: token_name.as_deref() },
            Utc::now(),
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict { .. } => ApiError::field("email", "another agent has this email"),
            e => e.into(),
        })?;
    tracing::info!(agent_id = %agent.id, role = %agent.role, by = %caller.0.id, "agent created");
    Ok(HttpResponse::Created()
        .json(serde_json::json!({ "agent": AgentJson::from(agent), "token": TokenJson::new(api_token, Some(token)) })))
}

async fn update(
    caller: AuthenticatedAgent,
    path: web::Path<String>,
    body: web::Json<UpdateAgent>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let id = path_agent(&path, &caller)?;
    let mut errors = Vec::new();
    let patch = AgentPatch {
        name: body.name.as_deref().and_then(|n| parse_name(n, &mut errors)),
        email: body.email.as_deref().and_then(|e| parse_email(e, &mut errors)),
        role: body.role.as_deref().and_then(|r| parse_role(r, &mut errors)),
        capacity: body.capacity.map(|c| c.and_then(|c| parse_capacity(c, &mut errors))),
        active: body.active,
        availability: body.availability.as_deref().and_then(|a| parse_availability(a, &mut errors)),
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let outcome = state.store.update_agent(id, &patch, Some(caller.0.id), Utc::now()).await.map_err(|e| match e {
        StoreError::Conflict { .. } => ApiError::field("email", "another agent has this email"),
        e => agent_not_found(e),
    })?;
    match outcome {
        AgentUpdate::LastAdmin => Err(last_admin()),
        AgentUpdate::Updated { agent, unassigned } => {
            // Online again, more capacity, or conversations back in the queue.
            state.assigner.notify_one();
            tracing::info!(
                agent_id = %id, by = %caller.0.id, active = agent.active, role = %agent.role,
                unassigned = unassigned.len(), "agent updated"
            );
            Ok(HttpResponse::Ok().json(AgentJson::from(agent)))
        }
    }
}

async fn set_availability(
    caller: AuthenticatedAgent,
    body: web::Json<AvailabilityBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let Some(availability) = parse_availability(&body.availability, &mut errors) else {
        return Err(ApiError::Validation(errors));
    };
    let patch = AgentPatch { availability: Some(availability), ..AgentPatch::default() };
    match state.store.update_agent(caller.0.id, &patch, Some(caller.0.id), Utc::now()).await.map_err(agent_not_found)? {
        AgentUpdate::Updated { agent, .. } => {
            if availability == Availability::Online {
                state.assigner.notify_one();
            }
            tracing::debug!(agent_id = %agent.id, %availability, "availability set");
            Ok(HttpResponse::Ok().json(AgentJson::from(agent)))
        }
        // A patch of the availability alone never touches the role or activity.
        AgentUpdate::LastAdmin => Err(last_admin()),
    }
}

async fn tokens(
    caller: AuthenticatedAgent,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path_agent(&path, &caller)?;
    require_self_or_admin(&caller, id)?;
    let items: Vec<TokenJson> =
        state.store.tokens(id).await.map_err(agent_not_found)?.into_iter().map(|t| TokenJson::new(t, None)).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

async fn create_token(
    caller: AuthenticatedAgent,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path_agent(&path, &caller)?;
    require_self_or_admin(&caller, id)?;
    // The body is optional: no body, no name.
    let body: CreateToken = if body.iter().all(u8::is_ascii_whitespace) {
        CreateToken::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest { code: "invalid_body", detail: e.to_string() })?
    };
    let mut errors = Vec::new();
    let name = parse_token_name(body.name.as_deref(), "name", &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let token = new_token();
    let hash = hash_token(&token);
    let created = state
        .store
        .create_token(id, &NewToken { hash: &hash, name: name.as_deref() }, Utc::now())
        .await
        .map_err(agent_not_found)?;
    tracing::info!(agent_id = %id, token_id = %created.id, by = %caller.0.id, "API token created");
    Ok(HttpResponse::Created().json(TokenJson::new(created, Some(token))))
}

async fn revoke_token(
    caller: AuthenticatedAgent,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (agent, token) = path.into_inner();
    let id = path_agent(&agent, &caller)?;
    require_self_or_admin(&caller, id)?;
    let token: TokenId = token.parse().map_err(|_| ApiError::NotFound { what: "token" })?;
    state.store.revoke_token(id, token, Utc::now()).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::NotFound { what: "token" },
        e => e.into(),
    })?;
    tracing::info!(agent_id = %id, token_id = %token, by = %caller.0.id, "API token revoked");
    Ok(HttpResponse::NoContent().finish())
}
