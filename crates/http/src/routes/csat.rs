//! A channel's satisfaction survey (CSAT), configured by admins: on or off, which resolved
//! conversations get it (a label condition), the delay after the resolution, the scale
//! (1–5 as a list, or 3 points as reply buttons), the texts in any language, an optional
//! follow-up question, the response window and the template for a closed window. See
//! `switchboard_core::csat` for what happens on resolve and on a tap.
//!
//! ```text
//! GET /api/v1/admin/channels/{channel_id}/csat    the settings (null: never set)
//! PUT /api/v1/admin/channels/{channel_id}/csat    replaces them
//! ```

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::Serialize;
use switchboard_core::EntryExt;
use switchboard_domain::csat::{CsatSettings, CsatSettingsInput};
use switchboard_domain::{AuditAction, ChannelId};
use utoipa::ToSchema;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::Admin;
use crate::json::Body;
use crate::openapi::Problem;

routes! {
    "/admin/channels/{channel_id}/csat" => { get: get_settings, put: put_settings },
}

#[derive(Serialize, ToSchema)]
#[schema(as = CsatSettingsInForce)]
struct SettingsJson {
    channel_id: ChannelId,
    /// `null` until an admin sets them (no survey is sent).
    #[schema(value_type = Option<CsatSettingsInput>)]
    settings: Option<CsatSettingsInput>,
}

fn answer(channel: ChannelId, settings: Option<CsatSettings>) -> HttpResponse {
    HttpResponse::Ok().json(SettingsJson { channel_id: channel, settings: settings.map(Into::into) })
}

/// A channel's satisfaction survey settings (admins).
#[utoipa::path(get, path = "/admin/channels/{channel_id}/csat", params(("channel_id" = ChannelId, Path)),
    responses((status = 200, body = SettingsJson), (status = 403, description = "Admins only", body = Problem)))]
async fn get_settings(
    Admin { path: channel, .. }: Admin<ChannelId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let settings = switchboard_core::csat::settings(state.store.as_ref(), channel).await?;
    Ok(answer(channel, settings))
}

/// Replaces a channel's satisfaction survey settings (admins); answers them with the
/// defaults filled in.
#[utoipa::path(put, path = "/admin/channels/{channel_id}/csat", params(("channel_id" = ChannelId, Path)),
    request_body = CsatSettingsInput,
    responses((status = 200, body = SettingsJson), (status = 403, description = "Admins only", body = Problem)))]
async fn put_settings(
    Admin { agent, path: channel, .. }: Admin<ChannelId>,
    body: Body<CsatSettingsInput>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let input = body.read()?;
    let before = switchboard_core::csat::settings(state.store.as_ref(), channel).await?.map(CsatSettingsInput::from);
    let settings = switchboard_core::csat::set_settings(state.store.as_ref(), channel, input, Utc::now()).await?;
    tracing::info!(channel_id = %channel, admin_id = %agent.0.id, "satisfaction survey settings replaced");
    state
        .audit()
        .record(
            agent
                .audit(AuditAction::CsatSettingsChanged)
                .target("channel", channel)
                .before(&before)
                .after(&CsatSettingsInput::from(settings.clone())),
        )
        .await;
    Ok(answer(channel, Some(settings)))
}
