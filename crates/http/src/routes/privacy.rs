//! Privacy, for admins: erasing one contact (right to erasure) and retention policies per
//! channel. See `switchboard_core::privacy` and `switchboard_store_sql::erasure` for what
//! is removed and what stays.
//!
//! ```text
//! POST /api/v1/contacts/{id}/erase                       erases the contact; answers the finished job
//! GET  /api/v1/erasures/{id}                             an erasure job
//! GET  /api/v1/admin/channels/{channel_id}/retention     a channel's retention policy
//! PUT  /api/v1/admin/channels/{channel_id}/retention     replaces it
//! GET  /api/v1/admin/retention/preview                   the dry run: what would go now, per channel
//! ```

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_core::audit::EntryExt;
use switchboard_domain::{AgentId, AuditAction, ChannelId, ContactId, ErasureId};
use switchboard_store::{ErasureJob, RetentionCounts, RetentionPolicy};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::error::{ApiError, FieldError};
use crate::extract::Admin;
use crate::guard::VisibleContact;
use crate::json::Body;
use crate::openapi::Problem;

routes! {
    "/contacts/{id}/erase" => { post: erase },
    "/erasures/{id}" => { get: get_erasure },
    "/admin/channels/{channel_id}/retention" => { get: get_retention, put: put_retention },
    "/admin/retention/preview" => { get: preview },
}

/// The longest retention, in days (100 years).
const MAX_DAYS: i64 = 36_500;

/// An erasure of one contact.
#[derive(Serialize, ToSchema)]
#[schema(as = ContactErasure)]
struct ErasureJson {
    id: ErasureId,
    contact_id: ContactId,
    /// `null` from the command line, or once that agent is deleted.
    requested_by: Option<AgentId>,
    /// `running` (it continues after a restart) or `done`.
    state: &'static str,
    /// `messages`, `events`, `contact` or `done`.
    phase: &'static str,
    /// Messages whose content was removed.
    messages: i64,
    /// Raw webhook bodies removed from the event log.
    events: i64,
    created_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

impl From<ErasureJob> for ErasureJson {
    fn from(j: ErasureJob) -> Self {
        Self {
            id: j.id,
            contact_id: j.contact_id,
            requested_by: j.requested_by,
            state: if j.is_done() { "done" } else { "running" },
            phase: j.phase.as_str(),
            messages: j.messages,
            events: j.events,
            created_at: j.created_at,
            finished_at: j.finished_at,
        }
    }
}

fn privacy(state: &AppState) -> switchboard_core::Privacy<'_> {
    switchboard_core::Privacy::new(state.store.as_ref(), Some(state.media_dir.as_path()))
}

pub(crate) fn privacy_error(e: switchboard_core::PrivacyError) -> ApiError {
    match e {
        switchboard_core::PrivacyError::Store(e) => e.into(),
        switchboard_core::PrivacyError::MediaCache(e) => {
            ApiError::Internal(anyhow::Error::new(e).context("media cache"))
        }
    }
}

/// Erases a contact (admins): their name, number, every message body, caption and media
/// file, raw webhook payloads, sends, notes and attributes are removed or irreversibly
/// anonymised; conversation counts and KPI times stay. Runs to the end before answering
/// (a job a crash interrupts continues at the next start); erasing again is harmless.
/// A later message from the same number starts a fresh contact.
#[utoipa::path(post, path = "/contacts/{id}/erase", params(("id" = ContactId, Path)),
    responses((status = 200, description = "Erased", body = ErasureJson),
        (status = 403, description = "Admins only (an agent who may not see the contact gets 404)", body = Problem)))]
async fn erase(
    VisibleContact { id: contact, agent }: VisibleContact,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // A contact the caller may not see is not found (404) before the role is checked, as
    // on every contact route.
    agent.require_admin()?;
    let job = erase_contact(&state, &agent, contact).await?;
    Ok(HttpResponse::Ok().json(ErasureJson::from(job)))
}

/// Erases `contact` for `agent`, who must be an admin (the caller checks who may see the
/// contact), to the end, and records it in the audit log: the API's route and the
/// console's button (`POST /c/{id}/contact/erase`) both run this.
pub(crate) async fn erase_contact(
    state: &AppState,
    agent: &AuthenticatedAgent,
    contact: ContactId,
) -> Result<ErasureJob, ApiError> {
    agent.require_admin()?;
    // On its own task: a client that hangs up does not stop the erasure half-way.
    let (store, dir, by) = (std::sync::Arc::clone(&state.store), state.media_dir.clone(), agent.0.id);
    let job = tokio::spawn(async move {
        switchboard_core::Privacy::new(store.as_ref(), Some(dir.as_path())).erase_contact(contact, Some(by)).await
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("the erasure task")))?
    .map_err(privacy_error)?
    .ok_or(ApiError::NotFound { what: "contact" })?;
    // Ids and counts only: nothing of the person is left to record.
    let json = ErasureJson::from(job.clone());
    state.audit().record(agent.audit(AuditAction::ContactErased).target("contact", contact).after(&json)).await;
    Ok(job)
}

/// An erasure job (admins).
#[utoipa::path(get, path = "/erasures/{id}", params(("id" = ErasureId, Path)),
    responses((status = 200, body = ErasureJson), (status = 403, description = "Admins only", body = Problem)))]
async fn get_erasure(
    Admin { path: id, .. }: Admin<ErasureId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let job =
        privacy(&state).erasure(id).await.map_err(privacy_error)?.ok_or(ApiError::NotFound { what: "erasure" })?;
    Ok(HttpResponse::Ok().json(ErasureJson::from(job)))
}

/// A channel's retention policy: days after which resolved conversations' content, and
/// media, are removed (`null`: kept).
#[derive(Serialize, ToSchema)]
#[schema(as = ChannelRetention)]
struct RetentionJson {
    channel_id: ChannelId,
    conversations_days: Option<u32>,
    media_days: Option<u32>,
}

fn retention_json(channel: ChannelId, p: RetentionPolicy) -> RetentionJson {
    RetentionJson { channel_id: channel, conversations_days: p.conversations_days, media_days: p.media_days }
}

/// A new retention policy; a field left out is `null` (kept forever).
#[derive(Deserialize, ToSchema)]
#[schema(as = ChannelRetentionInput)]
#[serde(deny_unknown_fields)]
struct RetentionBody {
    /// Days after resolution that a conversation's content is removed (1–36500, or `null`).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 36500)]
    conversations_days: Option<i64>,
    /// Days after a message that its media is removed (1–36500, or `null`).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 36500)]
    media_days: Option<i64>,
}

fn days(field: &'static str, v: Option<i64>, errors: &mut Vec<FieldError>) -> Option<u32> {
    let v = v?;
    if (1..=MAX_DAYS).contains(&v) {
        u32::try_from(v).ok()
    } else {
        errors.push(FieldError::new(field, "must be a whole number of days from 1 to 36500, or null"));
        None
    }
}

/// A channel's retention policy (admins).
#[utoipa::path(get, path = "/admin/channels/{channel_id}/retention", params(("channel_id" = ChannelId, Path)),
    responses((status = 200, body = RetentionJson), (status = 403, description = "Admins only", body = Problem)))]
async fn get_retention(
    Admin { path: channel, .. }: Admin<ChannelId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let policy = state.store.retention_policy(channel).await?.ok_or(ApiError::NotFound { what: "channel" })?;
    Ok(HttpResponse::Ok().json(retention_json(channel, policy)))
}

/// Replaces a channel's retention policy (admins). The housekeeping pass applies it (at
/// start and hourly); `GET /admin/retention/preview` says what it would remove.
#[utoipa::path(put, path = "/admin/channels/{channel_id}/retention", params(("channel_id" = ChannelId, Path)),
    request_body = RetentionBody,
    responses((status = 200, body = RetentionJson), (status = 403, description = "Admins only", body = Problem)))]
async fn put_retention(
    Admin { agent, path: channel, .. }: Admin<ChannelId>,
    body: Body<RetentionBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = body.read()?;
    let mut errors = Vec::new();
    let policy = RetentionPolicy {
        conversations_days: days("conversations_days", body.conversations_days, &mut errors),
        media_days: days("media_days", body.media_days, &mut errors),
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let before = state.store.retention_policy(channel).await?.ok_or(ApiError::NotFound { what: "channel" })?;
    if !state.store.set_retention_policy(channel, policy, Utc::now()).await? {
        return Err(ApiError::NotFound { what: "channel" });
    }
    tracing::info!(channel_id = %channel, admin_id = %agent.0.id, "retention policy replaced");
    let (before, after) = (retention_json(channel, before), retention_json(channel, policy));
    state
        .audit()
        .record(agent.audit(AuditAction::RetentionChanged).target("channel", channel).before(&before).after(&after))
        .await;
    Ok(HttpResponse::Ok().json(after))
}

/// What one channel's retention policy would remove now.
#[derive(Serialize, ToSchema)]
#[schema(as = RetentionPreviewChannel)]
struct PreviewChannelJson {
    channel_id: ChannelId,
    conversations_days: Option<u32>,
    media_days: Option<u32>,
    /// Resolved conversations whose content would be removed (their rows and KPI times stay).
    conversations: i64,
    /// Their messages.
    messages: i64,
    /// Media files and references that would go.
    media: i64,
}

#[derive(Serialize, ToSchema)]
#[schema(as = RetentionPreview)]
struct PreviewJson {
    /// As of this instant.
    at: DateTime<Utc>,
    /// Channels with a retention policy.
    channels: Vec<PreviewChannelJson>,
}

/// The dry run of retention (admins): what the policies would remove now, per channel.
#[utoipa::path(get, path = "/admin/retention/preview",
    responses((status = 200, body = PreviewJson), (status = 403, description = "Admins only", body = Problem)))]
async fn preview(_admin: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let at = Utc::now();
    let channels = privacy(&state)
        .retention_preview(at)
        .await
        .map_err(privacy_error)?
        .into_iter()
        .map(|(channel, p, RetentionCounts { conversations, messages, media })| PreviewChannelJson {
            channel_id: channel,
            conversations_days: p.conversations_days,
            media_days: p.media_days,
            conversations,
            messages,
            media,
        })
        .collect();
    Ok(HttpResponse::Ok().json(PreviewJson { at, channels }))
}
