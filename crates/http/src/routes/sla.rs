//! SLA targets of a channel or a team, set by admins: a first-response target and/or a
//! resolution target in business minutes of the channel's hours, and a warning time. A
//! conversation takes its effective team's policy if that team has one, else its
//! channel's, when it is created (see `switchboard_core::sla`).
//!
//! ```text
//! GET    /api/v1/admin/channels/{channel_id}/sla   the policy (null: none)
//! PUT    /api/v1/admin/channels/{channel_id}/sla   replaces it
//! DELETE /api/v1/admin/channels/{channel_id}/sla   removes it
//! GET    /api/v1/admin/teams/{team_id}/sla         (the same for a team)
//! PUT    /api/v1/admin/teams/{team_id}/sla
//! DELETE /api/v1/admin/teams/{team_id}/sla
//! ```

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::Serialize;
use switchboard_core::audit::EntryExt;
use switchboard_domain::sla::{SlaPolicy, SlaPolicyInput};
use switchboard_domain::{AuditAction, ChannelId};
use switchboard_store::{SlaScope, TeamId};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::error::ApiError;
use crate::extract::Admin;
use crate::json::Body;
use crate::openapi::Problem;

routes! {
    "/admin/channels/{channel_id}/sla" => { get: get_channel, put: put_channel, delete: delete_channel },
    "/admin/teams/{team_id}/sla" => { get: get_team, put: put_team, delete: delete_team },
}

/// A channel's SLA policy.
#[derive(Serialize, ToSchema)]
#[schema(as = ChannelSlaPolicy)]
struct ChannelSlaJson {
    channel_id: ChannelId,
    /// `null`: none (its conversations follow their team's policy, if any).
    #[schema(value_type = Option<SlaPolicyInput>)]
    policy: Option<SlaPolicyInput>,
}

/// A team's SLA policy.
#[derive(Serialize, ToSchema)]
#[schema(as = TeamSlaPolicy)]
struct TeamSlaJson {
    team_id: TeamId,
    /// `null`: none (its conversations follow their channel's policy, if any).
    #[schema(value_type = Option<SlaPolicyInput>)]
    policy: Option<SlaPolicyInput>,
}

fn channel_answer(channel: ChannelId, policy: Option<SlaPolicy>) -> HttpResponse {
    HttpResponse::Ok().json(ChannelSlaJson { channel_id: channel, policy: policy.map(Into::into) })
}

fn team_answer(team: TeamId, policy: Option<SlaPolicy>) -> HttpResponse {
    HttpResponse::Ok().json(TeamSlaJson { team_id: team, policy: policy.map(Into::into) })
}

/// Sets (`Some`) or removes a channel's or a team's policy, and records the change in the
/// audit log with the policy before and after.
async fn change(
    state: &AppState,
    agent: &AuthenticatedAgent,
    scope: SlaScope,
    input: Option<SlaPolicyInput>,
) -> Result<Option<SlaPolicy>, ApiError> {
    let store = state.store.as_ref();
    let before = switchboard_core::sla::policy(store, scope).await?;
    let after = match input {
        Some(input) => Some(switchboard_core::sla::set_policy(store, scope, input, Utc::now()).await?),
        None => {
            switchboard_core::sla::remove_policy(store, scope, Utc::now()).await?;
            None
        }
    };
    let (kind, id) = match scope {
        SlaScope::Channel(c) => ("channel", c.to_string()),
        SlaScope::Team(t) => ("team", t.to_string()),
    };
    let input = |p: Option<SlaPolicy>| p.map(SlaPolicyInput::from);
    tracing::info!(target_kind = kind, target_id = %id, admin_id = %agent.0.id, set = after.is_some(), "SLA policy changed");
    state
        .audit()
        .record(agent.audit(AuditAction::SlaPolicyChanged).target(kind, id).before(&input(before)).after(&input(after)))
        .await;
    Ok(after)
}

/// A channel's SLA policy (admins).
#[utoipa::path(get, path = "/admin/channels/{channel_id}/sla", params(("channel_id" = ChannelId, Path)),
    responses((status = 200, body = ChannelSlaJson), (status = 403, description = "Admins only", body = Problem),
        (status = 404, description = "No such channel", body = Problem)))]
async fn get_channel(
    Admin { path: channel, .. }: Admin<ChannelId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let policy = switchboard_core::sla::policy(state.store.as_ref(), SlaScope::Channel(channel)).await?;
    Ok(channel_answer(channel, policy))
}

/// Replaces a channel's SLA policy (admins). It applies to conversations created from
/// now on.
#[utoipa::path(put, path = "/admin/channels/{channel_id}/sla", params(("channel_id" = ChannelId, Path)),
    request_body = SlaPolicyInput,
    responses((status = 200, body = ChannelSlaJson), (status = 403, description = "Admins only", body = Problem),
        (status = 404, description = "No such channel", body = Problem),
        (status = 422, description = "A field breaks a rule (named)", body = Problem)))]
async fn put_channel(
    Admin { agent, path: channel, .. }: Admin<ChannelId>,
    body: Body<SlaPolicyInput>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let policy = change(&state, &agent, SlaScope::Channel(channel), Some(body.read()?)).await?;
    Ok(channel_answer(channel, policy))
}

/// Removes a channel's SLA policy (admins).
#[utoipa::path(delete, path = "/admin/channels/{channel_id}/sla", params(("channel_id" = ChannelId, Path)),
    responses((status = 204, description = "Removed (or there was none)"),
        (status = 403, description = "Admins only", body = Problem),
        (status = 404, description = "No such channel", body = Problem)))]
async fn delete_channel(
    Admin { agent, path: channel, .. }: Admin<ChannelId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    change(&state, &agent, SlaScope::Channel(channel), None).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A team's SLA policy (admins).
#[utoipa::path(get, path = "/admin/teams/{team_id}/sla", params(("team_id" = TeamId, Path)),
    responses((status = 200, body = TeamSlaJson), (status = 403, description = "Admins only", body = Problem),
        (status = 404, description = "No such team", body = Problem)))]
async fn get_team(
    Admin { path: team, .. }: Admin<TeamId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let policy = switchboard_core::sla::policy(state.store.as_ref(), SlaScope::Team(team)).await?;
    Ok(team_answer(team, policy))
}

/// Replaces a team's SLA policy (admins); it wins over the channel's for the team's
/// conversations created from now on.
#[utoipa::path(put, path = "/admin/teams/{team_id}/sla", params(("team_id" = TeamId, Path)),
    request_body = SlaPolicyInput,
    responses((status = 200, body = TeamSlaJson), (status = 403, description = "Admins only", body = Problem),
        (status = 404, description = "No such team", body = Problem),
        (status = 422, description = "A field breaks a rule (named)", body = Problem)))]
async fn put_team(
    Admin { agent, path: team, .. }: Admin<TeamId>,
    body: Body<SlaPolicyInput>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let policy = change(&state, &agent, SlaScope::Team(team), Some(body.read()?)).await?;
    Ok(team_answer(team, policy))
}

/// Removes a team's SLA policy (admins).
#[utoipa::path(delete, path = "/admin/teams/{team_id}/sla", params(("team_id" = TeamId, Path)),
    responses((status = 204, description = "Removed (or there was none)"),
        (status = 403, description = "Admins only", body = Problem),
        (status = 404, description = "No such team", body = Problem)))]
async fn delete_team(
    Admin { agent, path: team, .. }: Admin<TeamId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    change(&state, &agent, SlaScope::Team(team), None).await?;
    Ok(HttpResponse::NoContent().finish())
}
