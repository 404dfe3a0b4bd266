//! `/api/v1/admin/outbox`: dead letters and failed sends, and requeueing them, one or all
//! (admins).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_core::EntryExt;
use switchboard_domain::{AuditAction, ConversationId, JobId, MessageId};
use switchboard_store::{OutboxEntry, OutboxState};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::Admin;
use crate::json::optional_object;
use crate::openapi::Problem;

routes! {
    "/admin/outbox" => { get: list },
    "/admin/outbox/retry" => { post: retry_all },
    "/admin/outbox/{id}/retry" => { post: retry },
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Params {
    /// Which entries: `dead` (the default), `failed` or `ready`.
    #[param(value_type = Option<OutboxState>, inline)]
    state: Option<String>,
    /// 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// A send in the outbox.
#[derive(Serialize, ToSchema)]
#[schema(as = OutboxEntry)]
struct EntryJson {
    #[schema(value_type = i64)]
    id: JobId,
    message_id: MessageId,
    conversation_id: ConversationId,
    #[schema(value_type = OutboxState)]
    state: &'static str,
    attempts: u32,
    run_at: DateTime<Utc>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<OutboxEntry> for EntryJson {
    fn from(e: OutboxEntry) -> Self {
        Self {
            id: e.id,
            message_id: e.message_id,
            conversation_id: e.conversation_id,
            state: e.state.as_str(),
            attempts: e.attempts,
            run_at: e.run_at,
            last_error: e.last_error,
            created_at: e.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct OutboxList {
    items: Vec<EntryJson>,
}

/// A requeued outbox entry.
#[derive(Serialize, ToSchema)]
struct Requeued {
    #[schema(value_type = i64)]
    id: JobId,
    /// Always `ready`.
    #[schema(value_type = OutboxState)]
    state: &'static str,
}

/// Outbox entries in one state, dead letters by default (admins).
#[utoipa::path(get, path = "/admin/outbox", params(Params),
    responses((status = 200, body = OutboxList), (status = 403, body = Problem)))]
async fn list(_admin: Admin, params: web::Query<Params>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let which = match params.state.as_deref() {
        None => OutboxState::Dead,
        Some(s) => {
            OutboxState::parse(s).ok_or_else(|| ApiError::field("state", "must be one of ready, dead, failed"))?
        }
    };
    let limit = params.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::field("limit", "must be from 1 to 500"));
    }
    let items: Vec<EntryJson> = state.store.list_outbox(which, limit).await?.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(OutboxList { items }))
}

/// Requeues a dead or failed outbox entry for another attempt (admins).
#[utoipa::path(post, path = "/admin/outbox/{id}/retry", params(("id" = i64, Path, description = "The outbox entry's id")),
    responses((status = 202, body = Requeued), (status = 403, body = Problem)))]
async fn retry(
    Admin { agent, path: id, .. }: Admin<JobId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    state.inbox().requeue_outbox(id).await?;
    tracing::info!(outbox_id = id.get(), agent_id = %agent.0.id, "outbox entry requeued");
    state.audit().record(agent.audit(AuditAction::OutboxRetried).target("outbox_entry", id.get())).await;
    Ok(HttpResponse::Accepted().json(Requeued { id, state: "ready" }))
}

/// Which entries to requeue.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct RetryAll {
    /// `dead` or `failed`; absent: both.
    #[schema(value_type = Option<String>, pattern = "^(dead|failed)$")]
    state: Option<String>,
}

/// How many entries were requeued.
#[derive(Serialize, ToSchema)]
struct RequeuedAll {
    requeued: u64,
}

/// Requeues every dead and failed outbox entry (or only those in `state`) for another
/// attempt, in one transaction (admins).
#[utoipa::path(post, path = "/admin/outbox/retry",
    request_body(content = Option<RetryAll>, description = "Optional: no body, both states"),
    responses((status = 202, body = RequeuedAll), (status = 403, body = Problem)))]
async fn retry_all(
    Admin { agent, .. }: Admin,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: RetryAll = optional_object(&body)?;
    let which = match body.state.as_deref() {
        None => None,
        Some(s) => Some(
            OutboxState::parse(s)
                .filter(|s| *s != OutboxState::Ready)
                .ok_or_else(|| ApiError::field("state", "must be dead or failed"))?,
        ),
    };
    let requeued = state.inbox().requeue_all_outbox(which).await?;
    tracing::info!(requeued, agent_id = %agent.0.id, "outbox entries requeued");
    state
        .audit()
        .record(agent.audit(AuditAction::OutboxRetried).after(&serde_json::json!({
            "state": which.map(OutboxState::as_str),
            "requeued": requeued,
        })))
        .await;
    Ok(HttpResponse::Accepted().json(RequeuedAll { requeued }))
}
