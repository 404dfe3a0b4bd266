//! `/api/v1/teams`: teams of agents, and `/api/v1/channels/{id}/team`: the team a
//! channel's conversations are routed to. Every agent reads teams; admins change them.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_core::EntryExt;
use switchboard_domain::{AgentId, AuditAction, ChannelId};
use switchboard_store::{Team, TeamId, TeamName};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::error::ApiError;
use crate::extract::{Admin, Caller};
use crate::json::Json;
use crate::openapi::Problem;
use crate::routes::labels::double_option;

routes! {
    "/teams" => { get: list, post: create },
    "/teams/{id}" => { get: get, patch: update, delete: delete },
    "/teams/{id}/members/{agent_id}" => { put: add_member, delete: remove_member },
    "/channels/{id}/team" => { put: route_channel },
}

#[derive(Serialize, ToSchema)]
#[schema(as = Team)]
struct TeamJson {
    id: TeamId,
    name: String,
    /// The agents in the team.
    members: Vec<AgentId>,
    /// The channels routed to the team.
    channels: Vec<ChannelId>,
    created_at: DateTime<Utc>,
}

impl From<Team> for TeamJson {
    fn from(t: Team) -> Self {
        Self {
            id: t.id,
            name: t.name.as_str().to_owned(),
            members: t.members,
            channels: t.channels,
            created_at: t.created_at,
        }
    }
}

/// A team's name, unique regardless of case.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TeamBody {
    /// 1 to 100 characters, without control characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ChannelRouteBody)]
struct RouteBody {
    /// Required; `null` routes the channel to no team.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<TeamId>, required = true)]
    team_id: Option<Option<String>>,
}

#[derive(Serialize, ToSchema)]
struct TeamList {
    items: Vec<TeamJson>,
}

/// The team a channel's conversations are routed to.
#[derive(Serialize, ToSchema)]
struct ChannelRoute {
    channel_id: ChannelId,
    /// `null`: no team.
    #[schema(required = true)]
    team_id: Option<TeamId>,
}

fn parse_name(raw: &str) -> Result<TeamName, ApiError> {
    TeamName::parse(raw).map_err(|e| ApiError::field("name", e.to_string()))
}

/// Every team, with its members and channels (any agent).
#[utoipa::path(get, path = "/teams", responses((status = 200, body = TeamList)))]
async fn list(_agent: AuthenticatedAgent, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let items = state.store.teams().await?.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(TeamList { items }))
}

/// One team (any agent).
#[utoipa::path(get, path = "/teams/{id}", params(("id" = TeamId, Path)), responses((status = 200, body = TeamJson)))]
async fn get(Caller { path: id, .. }: Caller<TeamId>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let team = state.store.team(id).await?.ok_or(ApiError::NotFound { what: "team" })?;
    Ok(HttpResponse::Ok().json(TeamJson::from(team)))
}

/// Creates a team (admins). Names are unique regardless of case.
#[utoipa::path(post, path = "/teams", request_body = TeamBody,
    responses((status = 201, body = TeamJson), (status = 403, description = "Admins only", body = Problem)))]
async fn create(
    Admin { agent: caller, .. }: Admin,
    body: Json<TeamBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let name = parse_name(&body.name)?;
    let team = state.config().create_team(&name).await?;
    tracing::info!(team_id = %team.id, by = %caller.0.id, "team created");
    let id = team.id;
    let team = TeamJson::from(team);
    state.audit().record(caller.audit(AuditAction::TeamCreated).target("team", id).after(&team)).await;
    Ok(HttpResponse::Created().json(team))
}

/// Renames a team (admins).
#[utoipa::path(patch, path = "/teams/{id}", params(("id" = TeamId, Path)), request_body = TeamBody,
    responses((status = 200, body = TeamJson), (status = 403, description = "Admins only", body = Problem)))]
async fn update(
    Admin { agent: caller, path: id, .. }: Admin<TeamId>,
    body: Json<TeamBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let name = parse_name(&body.name)?;
    let before = state.store.team(id).await?.map(TeamJson::from);
    let team = TeamJson::from(state.config().rename_team(id, &name).await?);
    tracing::info!(team_id = %id, by = %caller.0.id, "team renamed");
    state.audit().record(caller.audit(AuditAction::TeamUpdated).target("team", id).before(&before).after(&team)).await;
    Ok(HttpResponse::Ok().json(team))
}

/// Deletes a team; its channels are routed to no team (admins).
#[utoipa::path(delete, path = "/teams/{id}", params(("id" = TeamId, Path)),
    responses((status = 204, description = "Deleted"), (status = 403, description = "Admins only", body = Problem)))]
async fn delete(
    Admin { agent: caller, path: id, .. }: Admin<TeamId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let before = state.store.team(id).await?.map(TeamJson::from);
    state.config().delete_team(id).await?;
    tracing::info!(team_id = %id, by = %caller.0.id, "team deleted");
    state.audit().record(caller.audit(AuditAction::TeamDeleted).target("team", id).before(&before)).await;
    Ok(HttpResponse::NoContent().finish())
}

/// Adds an agent to a team (admins; idempotent).
#[utoipa::path(put, path = "/teams/{id}/members/{agent_id}", params(("id" = TeamId, Path), ("agent_id" = AgentId, Path)),
    responses((status = 204, description = "The agent is a member"), (status = 403, description = "Admins only", body = Problem)))]
async fn add_member(
    Admin { agent: caller, path: (team, agent), .. }: Admin<(TeamId, AgentId)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if state.config().add_team_member(team, agent).await? {
        tracing::info!(team_id = %team, agent_id = %agent, by = %caller.0.id, "team member added");
        state
            .audit()
            .record(
                caller
                    .audit(AuditAction::TeamMembersChanged)
                    .target("team", team)
                    .after(&serde_json::json!({ "added": agent })),
            )
            .await;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Removes an agent from a team (admins; idempotent).
#[utoipa::path(delete, path = "/teams/{id}/members/{agent_id}",
    params(("id" = TeamId, Path), ("agent_id" = AgentId, Path)),
    responses((status = 204, description = "The agent is not a member (any more)"), (status = 403, description = "Admins only", body = Problem)))]
async fn remove_member(
    Admin { agent: caller, path: (team, agent), .. }: Admin<(TeamId, AgentId)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if state.config().remove_team_member(team, agent).await? {
        tracing::info!(team_id = %team, agent_id = %agent, by = %caller.0.id, "team member removed");
        state
            .audit()
            .record(
                caller
                    .audit(AuditAction::TeamMembersChanged)
                    .target("team", team)
                    .after(&serde_json::json!({ "removed": agent })),
            )
            .await;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Routes a channel's conversations to a team, or to no team (admins).
#[utoipa::path(put, path = "/channels/{id}/team", params(("id" = ChannelId, Path)), request_body = RouteBody,
    responses((status = 200, body = ChannelRoute), (status = 403, description = "Admins only", body = Problem)))]
async fn route_channel(
    Admin { agent: caller, path: channel, .. }: Admin<ChannelId>,
    body: Json<RouteBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let team = match &body.team_id {
        None => return Err(ApiError::field("team_id", "is required: a team's id, or null for no team")),
        Some(None) => None,
        Some(Some(raw)) => Some(raw.parse::<TeamId>().map_err(|_| ApiError::field("team_id", "no team has this id"))?),
    };
    state.config().route_channel(channel, team).await?;
    tracing::info!(channel_id = %channel, team_id = ?team, by = %caller.0.id, "channel routed");
    let route = ChannelRoute { channel_id: channel, team_id: team };
    state.audit().record(caller.audit(AuditAction::ChannelChanged).target("channel", channel).after(&route)).await;
    Ok(HttpResponse::Ok().json(route))
}
