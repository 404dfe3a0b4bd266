//! Auto-assignment policies: `/api/v1/teams/{id}/assignment` and
//! `/api/v1/channels/{id}/assignment`. Every agent reads them; admins set them.
//!
//! A body is `{"policy": "off" | "round_robin" | "least_loaded", "reassign_after_minutes":
//! N | null}`. A channel's own policy wins over its team's; `DELETE` on a channel's
//! policy makes it follow its team's again. Setting a policy wakes the assigner, so the
//! waiting backlog is assigned at once.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use switchboard_domain::ChannelId;
use switchboard_store::{AssignmentPolicy, ChannelPolicy, PolicySettings, PolicySource, StoreError, TeamId};

use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::error::{ApiError, FieldError};

// Until this module is described: the routes! table replaces these three.
pub const ROUTES: &[(&str, &str)] = &[];
pub fn openapi() -> utoipa::openapi::OpenApi {
    utoipa::openapi::OpenApi::default()
}
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/teams/{id}/assignment").route(web::get().to(get_team)).route(web::put().to(put_team)))
        .service(
            web::resource("/channels/{id}/assignment")
                .route(web::get().to(get_channel))
                .route(web::put().to(put_channel))
                .route(web::delete().to(delete_channel)),
        );
}

/// The longest `reassign_after_minutes` accepted: a week.
const REASSIGN_MAX_MINUTES: u64 = 7 * 24 * 60;

#[derive(Serialize)]
struct PolicyJson {
    policy: AssignmentPolicy,
    /// `null`: never reassigned.
    reassign_after_minutes: Option<u32>,
}

impl From<PolicySettings> for PolicyJson {
    fn from(p: PolicySettings) -> Self {
        Self { policy: p.policy, reassign_after_minutes: p.reassign_after_minutes }
    }
}

#[derive(Serialize)]
struct TeamPolicyJson {
    team_id: TeamId,
    #[serde(flatten)]
    policy: PolicyJson,
}

#[derive(Serialize)]
struct ChannelPolicyJson {
    channel_id: ChannelId,
    team_id: Option<TeamId>,
    /// The policy in effect.
    #[serde(flatten)]
    effective: PolicyJson,
    /// Where it comes from: the channel's own, its team's, or the default (off).
    source: PolicySource,
    /// The channel's own policy; `null`: it follows its team's.
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

/// Fields are JSON values so that a wrong type is a 422 naming the field, like a wrong
/// value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyBody {
    #[serde(default)]
    policy: Option<serde_json::Value>,
    #[serde(default)]
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

fn team_id(raw: &str) -> Result<TeamId, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound { what: "team" })
}

fn channel_id(raw: &str) -> Result<ChannelId, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound { what: "channel" })
}

fn not_found(what: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::NotFound => ApiError::NotFound { what },
        e => e.into(),
    }
}

async fn get_team(
    _agent: AuthenticatedAgent,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let team = team_id(&path)?;
    let policy = state.store.team_policy(team).await.map_err(not_found("team"))?;
    Ok(HttpResponse::Ok().json(TeamPolicyJson { team_id: team, policy: policy.into() }))
}

async fn put_team(
    caller: AuthenticatedAgent,
    path: web::Path<String>,
    body: web::Json<PolicyBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let team = team_id(&path)?;
    let policy = parse_body(&body)?;
    state.store.set_team_policy(team, &policy, chrono::Utc::now()).await.map_err(not_found("team"))?;
    state.assigner.notify_one();
    tracing::info!(team_id = %team, policy = %policy.policy, by = %caller.0.id, "team assignment policy set");
    Ok(HttpResponse::Ok().json(TeamPolicyJson { team_id: team, policy: policy.into() }))
}

async fn get_channel(
    _agent: AuthenticatedAgent,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let channel = channel_id(&path)?;
    let policy = state.store.channel_policy(channel).await.map_err(not_found("channel"))?;
    Ok(HttpResponse::Ok().json(ChannelPolicyJson::from(policy)))
}

async fn put_channel(
    caller: AuthenticatedAgent,
    path: web::Path<String>,
    body: web::Json<PolicyBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let channel = channel_id(&path)?;
    let policy = parse_body(&body)?;
    let after = state
        .store
        .set_channel_policy(channel, Some(&policy), chrono::Utc::now())
        .await
        .map_err(not_found("channel"))?;
    state.assigner.notify_one();
    tracing::info!(channel_id = %channel, policy = %policy.policy, by = %caller.0.id, "channel assignment policy set");
    Ok(HttpResponse::Ok().json(ChannelPolicyJson::from(after)))
}

async fn delete_channel(
    caller: AuthenticatedAgent,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let channel = channel_id(&path)?;
    let after =
        state.store.set_channel_policy(channel, None, chrono::Utc::now()).await.map_err(not_found("channel"))?;
    state.assigner.notify_one();
    tracing::info!(channel_id = %channel, by = %caller.0.id, "channel assignment policy removed; follows its team's");
    Ok(HttpResponse::Ok().json(ChannelPolicyJson::from(after)))
}
