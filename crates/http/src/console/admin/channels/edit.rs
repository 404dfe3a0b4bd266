//! `/admin/channels/{channel_id}/edit`: a channel's own settings (name, display number,
//! WABA id, throughput tier, whether it is enabled, its own access token and app secret),
//! saved through `PATCH /api/v1/admin/channels/{channel_id}`, and its message templates as
//! last synchronised from Meta, with a button that synchronises them now
//! (`POST …/templates/sync`). Credentials are write-only: the page says whether the
//! channel has its own, never what they are, and its password fields start empty.

use actix_web::{HttpResponse, web};
use askama::Template;
use switchboard_domain::ChannelId;

use super::super::Nav;
use super::SECTION;
use crate::AppState;
use crate::console::{ConsoleError, Layout, Page, render};
use crate::error::ApiError;
use crate::extract::Admin;

/// A synced template as the list shows it.
struct TemplateRow {
    name: String,
    language: String,
    status: String,
    category: String,
}

#[derive(Template)]
#[template(path = "console/admin_channel_edit.html")]
struct EditPage {
    layout: Layout,
    nav: Nav,
    channel_id: String,
    phone_number_id: String,
    name: String,
    /// The number customers dial, with `+`, or `""`.
    display: String,
    waba_id: String,
    enabled: bool,
    /// `""`: the sender's configured rate.
    throughput: String,
    has_access_token: bool,
    has_app_secret: bool,
    templates: Vec<TemplateRow>,
}

/// `GET /admin/channels/{channel_id}/edit`.
pub(super) async fn page(
    Page(admin): Page<Admin<ChannelId>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let c = state.store.channel_record(admin.path).await?.ok_or(ApiError::NotFound { what: "channel" })?;
    let templates = state
        .store
        .templates(c.id)
        .await?
        .into_iter()
        .map(|t| TemplateRow { name: t.name, language: t.language, status: t.status, category: t.category })
        .collect();
    render(&EditPage {
        layout: Layout::signed_in(format!("Edit channel · {}", c.name), &admin.agent),
        nav: Nav::at(SECTION),
        channel_id: c.id.to_string(),
        phone_number_id: c.phone_number_id.to_string(),
        display: c.display_phone_number.map(|d| format!("+{d}")).unwrap_or_default(),
        waba_id: c.waba_id.unwrap_or_default(),
        enabled: c.enabled,
        throughput: c.throughput_per_second.map(|n| n.to_string()).unwrap_or_default(),
        has_access_token: c.access_token.is_some(),
        has_app_secret: c.app_secret.is_some(),
        templates,
        name: c.name,
    })
}
