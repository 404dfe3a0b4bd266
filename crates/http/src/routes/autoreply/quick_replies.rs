//! The quick replies: agents list them, admins edit them.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::Serialize;
use switchboard_domain::QuickReplyId;
use switchboard_domain::autoreply::{AutoReplyConfig, QuickReply};
use switchboard_store::StoreError;
use utoipa::ToSchema;

use super::{Change, body_with_id, check, configs_in_force};
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

fn quick_reply_not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::NotFound { what: "quick reply" },
        e => e.into(),
    }
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

/// The quick replies with `qr` in place of the one with its id (or added, or, for
/// `None`, `removed` taken out); the index of `qr`, in shortcut order as stored.
fn replace_quick_reply(
    list: &[QuickReply],
    qr: Option<&QuickReply>,
    removed: Option<QuickReplyId>,
) -> (Vec<QuickReply>, Option<usize>) {
    let gone = qr.map(|q| q.id).or(removed);
    let mut out: Vec<QuickReply> = list.iter().filter(|q| Some(q.id) != gone).cloned().collect();
    if let Some(q) = qr {
        out.push(q.clone());
    }
    out.sort_by(|a, b| a.shortcut.cmp(&b.shortcut));
    let at = qr.and_then(|q| out.iter().position(|x| x.id == q.id));
    (out, at)
}

async fn check_quick_reply(
    state: &AppState,
    qr: Option<&QuickReply>,
    removed: Option<QuickReplyId>,
) -> Result<(), ApiError> {
    let mut changes = Vec::new();
    for (_, before) in configs_in_force(state).await? {
        let (quick_replies, at) = replace_quick_reply(&before.quick_replies, qr, removed);
        let after = AutoReplyConfig { quick_replies, ..before.clone() };
        changes.push(Change { before, after, body_at: at.map(|i| format!("quick_replies[{i}]")) });
    }
    check(&changes)
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
    if state.store.quick_reply_by_shortcut(&qr.shortcut).await?.is_some() {
        return Err(ApiError::Conflict { what: "quick reply shortcut" });
    }
    check_quick_reply(&state, Some(&qr), None).await?;
    state.store.create_quick_reply(&qr, Utc::now()).await?;
    tracing::info!(quick_reply_id = %qr.id, admin_id = %agent.0.id, "quick reply created");
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
    Admin { agent, path: id }: Admin<QuickReplyId>,
    body: Body<QuickReply>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let qr = body_with_id(body, &id.to_string())?.read()?;
    state.store.quick_reply(id).await?.ok_or(ApiError::NotFound { what: "quick reply" })?;
    if state.store.quick_reply_by_shortcut(&qr.shortcut).await?.is_some_and(|other| other.id != id) {
        return Err(ApiError::Conflict { what: "quick reply shortcut" });
    }
    check_quick_reply(&state, Some(&qr), None).await?;
    state.store.update_quick_reply(&qr, Utc::now()).await.map_err(quick_reply_not_found)?;
    tracing::info!(quick_reply_id = %qr.id, admin_id = %agent.0.id, "quick reply updated");
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
    Admin { agent, path: id }: Admin<QuickReplyId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    state.store.quick_reply(id).await?.ok_or(ApiError::NotFound { what: "quick reply" })?;
    check_quick_reply(&state, None, Some(id)).await?;
    state.store.delete_quick_reply(id, Utc::now()).await.map_err(quick_reply_not_found)?;
    tracing::info!(quick_reply_id = %id, admin_id = %agent.0.id, "quick reply deleted");
    Ok(HttpResponse::NoContent().finish())
}
