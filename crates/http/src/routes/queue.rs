//! The shared queue: `POST /api/v1/queue/claim` (the longest-waiting conversation the
//! caller may take, or 204), and a conversation's assignment, status and history:
//! `POST /conversations/{id}/assign`, `POST /conversations/{id}/status`,
//! `POST /conversations/{id}/team`, `GET /conversations/{id}/history`.
//!
//! The use cases are `switchboard_core::Inbox`'s `claim`, `assign`, `set_status` and
//! `transfer`. Who may do what: admins anything. An agent sees the conversations whose
//! effective team (the team a conversation was transferred to, else its channel's) is
//! one of theirs or none, and the ones assigned to them; for any other conversation they
//! get 404, as if it did not exist. On those they see, an agent may assign an unassigned
//! conversation to themselves (within their capacity), unassign themselves, change the
//! status, and transfer an unassigned conversation or their own to a team (after which
//! they may no longer see it).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::{AgentId, ChannelId, ContactId, ConversationId, ConversationStatus};
use switchboard_store::{ConversationState, HistoryCursor, HistoryEntry, HistoryKind, StoreError, TeamId};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::error::{ApiError, FieldError};
use crate::guard::VisibleConversation;
use crate::json::Json;
use crate::openapi::Problem;
use crate::routes::conversations::{PageJson, parse_limit};
use crate::routes::labels::double_option;

routes! {
    "/queue/claim" => { post: claim },
    "/conversations/{id}/assign" => { post: assign },
    "/conversations/{id}/status" => { post: set_status },
    "/conversations/{id}/team" => { post: transfer },
    "/conversations/{id}/history" => { get: history },
}

/// A conversation's routing, assignment and status.
#[derive(Serialize, ToSchema)]
#[schema(as = ConversationState)]
struct StateJson {
    id: ConversationId,
    channel_id: ChannelId,
    /// Its effective team: the one it was transferred to, else its channel's (`null`:
    /// every agent sees it).
    team_id: Option<TeamId>,
    /// The team it was transferred to (`null`: it follows its channel's routing).
    transferred_to: Option<TeamId>,
    contact_id: ContactId,
    status: ConversationStatus,
    assignee_id: Option<AgentId>,
    /// Since when the customer has been waiting for an agent's answer.
    waiting_since: Option<DateTime<Utc>>,
    snoozed_until: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    resolved_by: Option<AgentId>,
    last_message_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
}

impl From<ConversationState> for StateJson {
    fn from(s: ConversationState) -> Self {
        Self {
            id: s.id,
            channel_id: s.channel_id,
            team_id: s.team_id,
            transferred_to: s.transferred_to,
            contact_id: s.contact_id,
            status: s.status,
            assignee_id: s.assignee_id,
            waiting_since: s.waiting_since,
            snoozed_until: s.snoozed_until,
            resolved_at: s.resolved_at,
            resolved_by: s.resolved_by,
            last_message_at: s.last_message_at,
            created_at: s.created_at,
        }
    }
}

/// One entry of a conversation's history.
#[derive(Serialize, ToSchema)]
#[schema(as = HistoryEntry)]
struct HistoryJson {
    id: i64,
    kind: HistoryKind,
    /// `null`: the system.
    actor_id: Option<AgentId>,
    /// By kind: `assigned`: `agent_id`, `previous_agent_id` (a transfer) or null, `via`
    /// (`claim`, `manual`); `unassigned`: `agent_id` (who had it), `reason` (`manual`,
    /// `agent_deactivated`, `team_changed`: not a member of the team it was transferred
    /// to); `status_changed`: `from`, `to`, `snoozed_until` (when snoozed), `reason`
    /// (`manual`, `snooze_ended`); `team_changed`: `from`, `to` (the effective teams, null:
    /// none), `transferred_to` (the team chosen; null: back to the channel's routing).
    #[schema(value_type = Object)]
    data: serde_json::Value,
    at: DateTime<Utc>,
}

impl From<HistoryEntry> for HistoryJson {
    fn from(e: HistoryEntry) -> Self {
        Self { id: e.id, kind: e.kind, actor_id: e.actor_id, data: e.data, at: e.at }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    /// Required; `null` unassigns.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<AgentId>, required = true)]
    agent_id: Option<Option<String>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    #[schema(value_type = ConversationStatus)]
    status: String,
    /// Required for `snoozed` (a time in the future), and only for it.
    #[schema(value_type = Option<String>, format = DateTime)]
    snooze_until: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TransferBody {
    /// Required: the team to transfer it to; `null` sends it back to its channel's
    /// routing.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<TeamId>, required = true)]
    team_id: Option<Option<String>>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct HistoryParams {
    /// 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^[0-9]{1,18}$")]
    cursor: Option<String>,
}

/// The conversation a claim assigned to the caller.
#[derive(Serialize, ToSchema)]
struct Claimed {
    conversation: StateJson,
}

/// Assigns the caller the longest-waiting conversation they may take (204: none).
#[utoipa::path(post, path = "/queue/claim",
    responses(
        (status = 200, body = Claimed),
        (status = 204, description = "Nothing is waiting that the caller may take"),
        (status = 409, description = "The caller is at capacity (`at_capacity`)", body = Problem),
    ))]
async fn claim(caller: AuthenticatedAgent, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(match state.inbox().claim(&caller.0).await? {
        Some(c) => HttpResponse::Ok().json(Claimed { conversation: StateJson::from(c) }),
        None => HttpResponse::NoContent().finish(),
    })
}

/// Assigns a conversation to an agent, or unassigns it (`agent_id: null`).
#[utoipa::path(post, path = "/conversations/{id}/assign", params(("id" = ConversationId, Path)),
    request_body = AssignBody,
    responses(
        (status = 200, body = StateJson),
        (status = 403, description = "Agents may only take unassigned conversations or give back their own", body = Problem),
        (status = 409, description = "The conversation is resolved (`conversation_resolved`), or the agent is at capacity \
            (`at_capacity`)", body = Problem),
    ))]
async fn assign(
    VisibleConversation { id, agent: caller }: VisibleConversation,
    body: Json<AssignBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let target = match &body.agent_id {
        None => return Err(ApiError::field("agent_id", "is required: an agent's id, or null to unassign")),
        Some(None) => None,
        Some(Some(raw)) => Some(raw.parse::<AgentId>().map_err(|_| ApiError::field("agent_id", "is not an agent id"))?),
    };
    let c = state.inbox().assign(&caller.0, id, target).await?;
    Ok(HttpResponse::Ok().json(StateJson::from(c)))
}

/// Changes a conversation's status (open, pending, snoozed until a time, resolved).
#[utoipa::path(post, path = "/conversations/{id}/status", params(("id" = ConversationId, Path)),
    request_body = StatusBody,
    responses(
        (status = 200, body = StateJson),
        (status = 409, description = "The conversation is resolved, which is final (`conversation_resolved`)", body = Problem),
    ))]
async fn set_status(
    VisibleConversation { id, agent: caller }: VisibleConversation,
    body: Json<StatusBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let now = Utc::now();
    let mut errors = Vec::new();
    let status = ConversationStatus::parse(&body.status).or_else(|| {
        errors.push(FieldError::new("status", "must be one of open, pending, resolved, snoozed"));
        None
    });
    let until = match body.snooze_until.as_deref() {
        None => None,
        Some(raw) => DateTime::parse_from_rfc3339(raw).map(|t| t.with_timezone(&Utc)).ok().or_else(|| {
            errors.push(FieldError::new("snooze_until", "must be an RFC 3339 time, e.g. 2026-01-02T09:00:00Z"));
            None
        }),
    };
    let (Some(status), true) = (status, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let c = state.inbox().set_status(&caller.0, id, status, until, now).await?;
    Ok(HttpResponse::Ok().json(StateJson::from(c)))
}

/// Transfers a conversation to a team (`team_id: null`: back to its channel's routing).
/// An assignee who is not a member of its new team loses it, and the team's
/// auto-assignment policy, if any, hands it to a member. The caller may no longer see it
/// afterwards (then 404 on it), but this answers its state after the transfer.
#[utoipa::path(post, path = "/conversations/{id}/team", params(("id" = ConversationId, Path)),
    request_body = TransferBody,
    responses(
        (status = 200, body = StateJson),
        (status = 403, description = "Agents may only transfer unassigned conversations or their own", body = Problem),
        (status = 409, description = "The conversation is resolved, which is final (`conversation_resolved`)", body = Problem),
        (status = 422, description = "`team_id` is missing, not an id, or no team has it", body = Problem),
    ))]
async fn transfer(
    VisibleConversation { id, agent: caller }: VisibleConversation,
    body: Json<TransferBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let team = match &body.team_id {
        None => return Err(ApiError::field("team_id", "is required: a team's id, or null for the channel's routing")),
        Some(None) => None,
        Some(Some(raw)) => Some(raw.parse::<TeamId>().map_err(|_| ApiError::field("team_id", "is not a team id"))?),
    };
    let c = state.inbox().transfer(&caller.0, id, team).await?;
    Ok(HttpResponse::Ok().json(StateJson::from(c)))
}

/// A conversation's assignment, status and team changes, oldest first.
#[utoipa::path(get, path = "/conversations/{id}/history", params(("id" = ConversationId, Path), HistoryParams),
    responses((status = 200, body = PageJson<HistoryJson>)))]
async fn history(
    VisibleConversation { id, .. }: VisibleConversation,
    params: web::Query<HistoryParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let limit = parse_limit(params.limit.as_deref(), &mut errors);
    let after = match params.cursor.as_deref() {
        None => None,
        Some(c) => c.parse::<i64>().ok().filter(|n| *n >= 0).map(|id| HistoryCursor { id }).or_else(|| {
            errors.push(FieldError::new("cursor", "is not a cursor this API returned"));
            None
        }),
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let page = state.store.history(id, limit, after).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::NotFound { what: "conversation" },
        e => e.into(),
    })?;
    let items: Vec<HistoryJson> = page.items.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(PageJson { items, next_cursor: page.next.map(|c| c.id.to_string()) }))
}
