//! The quick replies: agents list them, admins edit them.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use switchboard_core::EntryExt;
use switchboard_domain::autoreply::QuickReply;
use switchboard_domain::{AuditAction, QuickReplyId};
use utoipa::ToSchema;

use super::body_with_id;
use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::error::ApiError;
use crate::extract::Admin;
use crate::json::Body;
use crate::openapi::Problem;

/// The quick replies, in shortcut order.
#[derive(Serialize, ToSchema)]
struct QuickReplyList {
    items: Vec<QuickReply>,
}

/// The quick replies, in shortcut order (any agent).
#[utoipa::path(get, path = "/quick-replies", responses((status = 200, body = QuickReplyList)))]
pub(super) async fn agent_quick_replies(
    _agent: AuthenticatedAgent,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(QuickReplyList { items: state.store.quick_replies().await? }))
}

/// The quick replies, in shortcut order (admins).
#[utoipa::path(get, path = "/admin/quick-replies",
    responses((status = 200, body = QuickReplyList), (status = 403, description = "Admins only", body = Problem)))]
pub(super) async fn list_quick_replies(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(QuickReplyList { items: state.store.quick_replies().await? }))
}

/// One quick reply (admins).
#[utoipa::path(get, path = "/admin/quick-replies/{id}",
    params(("id" = QuickReplyId, Path)),
    responses((status = 200, body = QuickReply), (status = 403, description = "Admins only", body = Problem)))]
pub(super) async fn get_quick_reply(
    Admin { path: id, .. }: Admin<QuickReplyId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let qr = state.store.quick_reply(id).await?.ok_or(ApiError::NotFound { what: "quick reply" })?;
    Ok(HttpResponse::Ok().json(qr))
}

/// Creates a quick reply (admins); its id is generated unless given.
#[utoipa::path(post, path = "/admin/quick-replies", request_body = QuickReply,
    responses(
        (status = 201, body = QuickReply,
            headers(("location" = String, description = "The new quick reply's URL"))),
        (status = 403, description = "Admins only", body = Problem),
        (status = 409, description = "The shortcut or id is taken, or the change would break a rule", body = Problem),
    ))]
pub(super) async fn create_quick_reply(
    Admin { agent, .. }: Admin,
    body: Body<QuickReply>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let qr = body.read()?;
    state.config().create_quick_reply(&qr).await?;
    tracing::info!(quick_reply_id = %qr.id, admin_id = %agent.0.id, "quick reply created");
    state.audit().record(agent.audit(AuditAction::QuickReplyCreated).target("quick_reply", qr.id).after(&qr)).await;
    Ok(HttpResponse::Created().insert_header(("location", format!("/api/v1/admin/quick-replies/{}", qr.id))).json(qr))
}

/// Replaces a quick reply (admins); the body's `id`, if any, must be the URL's.
#[utoipa::path(put, path = "/admin/quick-replies/{id}", params(("id" = QuickReplyId, Path)), request_body = QuickReply,
    responses(
        (status = 200, body = QuickReply),
        (status = 403, description = "Admins only", body = Problem),
        (status = 409, description = "The shortcut is taken, or the change would break a rule", body = Problem),
    ))]
pub(super) async fn update_quick_reply(
    Admin { agent, path: id, .. }: Admin<QuickReplyId>,
    body: Body<QuickReply>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let qr = body_with_id(body, &id.to_string())?.read()?;
    let before = state.store.quick_reply(id).await?;
    state.config().update_quick_reply(&qr).await?;
    tracing::info!(quick_reply_id = %qr.id, admin_id = %agent.0.id, "quick reply updated");
    state
        .audit()
        .record(agent.audit(AuditAction::QuickReplyUpdated).target("quick_reply", qr.id).before(&before).after(&qr))
        .await;
    Ok(HttpResponse::Ok().json(qr))
}

/// Deletes a quick reply (admins), unless a rule sends it.
#[utoipa::path(delete, path = "/admin/quick-replies/{id}", params(("id" = QuickReplyId, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Admins only", body = Problem),
        (status = 409, description = "A rule sends it", body = Problem),
    ))]
pub(super) async fn delete_quick_reply(
    Admin { agent, path: id, .. }: Admin<QuickReplyId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let before = state.store.quick_reply(id).await?;
    state.config().delete_quick_reply(id).await?;
    tracing::info!(quick_reply_id = %id, admin_id = %agent.0.id, "quick reply deleted");
    state.audit().record(agent.audit(AuditAction::QuickReplyDeleted).target("quick_reply", id).before(&before)).await;
    Ok(HttpResponse::NoContent().finish())
}
