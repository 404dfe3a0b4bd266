//! Auto-assignment policies: `/api/v1/teams/{id}/assignment` and
//! `/api/v1/channels/{id}/assignment`. Every agent reads them; admins set them.
//!
//! A body is `{"policy": "off" | "round_robin" | "least_loaded", "reassign_after_minutes":
//! N | null}`. A channel's own policy wins over its team's; `DELETE` on a channel's
//! policy makes it follow its team's again. Setting a policy wakes the assigner, so the
//! waiting backlog is assigned at once.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use switchboard_core::EntryExt;
use switchboard_domain::{AuditAction, ChannelId};
use switchboard_store::{AssignmentPolicy, ChannelPolicy, PolicySettings, PolicySource, StoreError, TeamId};
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, FieldError};
use crate::extract::{Admin, Caller};
use crate::json::Json;
use crate::openapi::Problem;

routes! {
    "/teams/{id}/assignment" => { get: get_team, put: put_team },
    "/channels/{id}/assignment" => { get: get_channel, put: put_channel, delete: delete_channel },
}

/// The longest `reassign_after_minutes` accepted: a week.
const REASSIGN_MAX_MINUTES: u64 = 7 * 24 * 60;

#[derive(Serialize, ToSchema)]
#[schema(as = AssignmentSettings)]
struct PolicyJson {
    policy: AssignmentPolicy,
    /// `null`: never reassigned.
    #[schema(required = true)]
    reassign_after_minutes: Option<u32>,
}

impl From<PolicySettings> for PolicyJson {
    fn from(p: PolicySettings) -> Self {
        Self { policy: p.policy, reassign_after_minutes: p.reassign_after_minutes }
    }
}

/// A team's policy (`off` when none is set).
#[derive(Serialize, ToSchema)]
#[schema(as = TeamAssignment)]
struct TeamPolicyJson {
    team_id: TeamId,
    #[serde(flatten)]
    policy: PolicyJson,
}

/// A channel's policy: the one in effect, where it comes from, and the channel's own.
#[derive(Serialize, ToSchema)]
#[schema(as = ChannelAssignment)]
struct ChannelPolicyJson {
    channel_id: ChannelId,
    #[schema(required = true)]
    team_id: Option<TeamId>,
    /// The policy in effect.
    #[serde(flatten)]
    effective: PolicyJson,
    /// Where it comes from: the channel's own, its team's, or the default (off).
    source: PolicySource,
    /// The channel's own policy; `null`: it follows its team's.
    #[schema(required = true)]
    own: Option<PolicyJson>,
}

impl From<ChannelPolicy> for ChannelPolicyJson {
    fn from(p: ChannelPolicy) -> Self {
        Self {
            channel_id: p.channel_id,
            team_id: p.team_id,
            effective: p.effective.into(),
            source: p.source,
            own: p.own.map(Into::into),
        }
    }
}

// Fields are JSON values so that a wrong type is a 422 naming the field, like a wrong
// value.
/// An auto-assignment policy to set.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AssignmentBody)]
struct PolicyBody {
    #[serde(default)]
    #[schema(value_type = AssignmentPolicy, required = true)]
    policy: Option<serde_json::Value>,
    /// Take a conversation back from an assignee who has not answered within this many
    /// minutes; absent or `null`: never.
    #[serde(default)]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 10080)]
    reassign_after_minutes: Option<serde_json::Value>,
}

fn parse_body(body: &PolicyBody) -> Result<PolicySettings, ApiError> {
    let mut errors = Vec::new();
    let policy = body.policy.as_ref().and_then(serde_json::Value::as_str).and_then(AssignmentPolicy::parse);
    if policy.is_none() {
        errors.push(FieldError::new("policy", "is required: one of off, round_robin, least_loaded"));
    }
    let minutes = match &body.reassign_after_minutes {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => match v.as_u64().filter(|m| (1..=REASSIGN_MAX_MINUTES).contains(m)).map(u32::try_from) {
            Some(Ok(m)) => Some(m),
            _ => {
                errors.push(FieldError::new(
                    "reassign_after_minutes",
                    format!("must be a whole number of minutes from 1 to {REASSIGN_MAX_MINUTES}, or null"),
                ));
                None
            }
        },
    };
    match policy {
        Some(policy) if errors.is_empty() => Ok(PolicySettings { policy, reassign_after_minutes: minutes }),
        _ => Err(ApiError::Validation(errors)),
    }
}

fn not_found(what: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::NotFound => ApiError::NotFound { what },
        e => e.into(),
    }
}

/// A team's auto-assignment policy (any agent).
#[utoipa::path(get, path = "/teams/{id}/assignment", params(("id" = TeamId, Path)),
    responses((status = 200, body = TeamPolicyJson)))]
async fn get_team(
    Caller { path: team, .. }: Caller<TeamId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let policy = state.store.team_policy(team).await.map_err(not_found("team"))?;
    Ok(HttpResponse::Ok().json(TeamPolicyJson { team_id: team, policy: policy.into() }))
}

/// Sets a team's auto-assignment policy (admins); the waiting backlog is assigned at once.
#[utoipa::path(put, path = "/teams/{id}/assignment", params(("id" = TeamId, Path)), request_body = PolicyBody,
    responses((status = 200, body = TeamPolicyJson), (status = 403, description = "Admins only", body = Problem)))]
async fn put_team(
    Admin { agent: caller, path: team, .. }: Admin<TeamId>,
    body: Json<PolicyBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let policy = parse_body(&body)?;
    state.inbox().set_team_policy(&caller.0, team, &policy).await?;
    let answer = TeamPolicyJson { team_id: team, policy: policy.into() };
    state.audit().record(caller.audit(AuditAction::SettingsChanged).target("team", team).after(&answer)).await;
    Ok(HttpResponse::Ok().json(answer))
}

/// A channel's auto-assignment policy: in effect, its source, and its own (any agent).
#[utoipa::path(get, path = "/channels/{id}/assignment", params(("id" = ChannelId, Path)),
    responses((status = 200, body = ChannelPolicyJson)))]
async fn get_channel(
    Caller { path: channel, .. }: Caller<ChannelId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let policy = state.store.channel_policy(channel).await.map_err(not_found("channel"))?;
    Ok(HttpResponse::Ok().json(ChannelPolicyJson::from(policy)))
}

/// Sets a channel's own auto-assignment policy, which wins over its team's (admins).
#[utoipa::path(put, path = "/channels/{id}/assignment", params(("id" = ChannelId, Path)), request_body = PolicyBody,
    responses((status = 200, body = ChannelPolicyJson), (status = 403, description = "Admins only", body = Problem)))]
async fn put_channel(
    Admin { agent: caller, path: channel, .. }: Admin<ChannelId>,
    body: Json<PolicyBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let policy = parse_body(&body)?;
    let after = ChannelPolicyJson::from(state.inbox().set_channel_policy(&caller.0, channel, Some(&policy)).await?);
    state.audit().record(caller.audit(AuditAction::SettingsChanged).target("channel", channel).after(&after)).await;
    Ok(HttpResponse::Ok().json(after))
}

/// Removes a channel's own policy: it follows its team's again (admins).
#[utoipa::path(delete, path = "/channels/{id}/assignment", params(("id" = ChannelId, Path)),
    responses((status = 200, description = "The channel's policy now", body = ChannelPolicyJson), (status = 403, description = "Admins only", body = Problem)))]
async fn delete_channel(
    Admin { agent: caller, path: channel, .. }: Admin<ChannelId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let after = ChannelPolicyJson::from(state.inbox().set_channel_policy(&caller.0, channel, None).await?);
    state.audit().record(caller.audit(AuditAction::SettingsChanged).target("channel", channel).after(&after)).await;
    Ok(HttpResponse::Ok().json(after))
}
