//! `/admin/channels/{channel_id}/retention`: how long the channel's resolved
//! conversations' content and its media are kept, saved through
//! `PUT /api/v1/admin/channels/{channel_id}/retention` (which validates the numbers of
//! days), and the dry run: what the policy would remove now, from the same use case as
//! `GET /api/v1/admin/retention/preview`.

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use switchboard_domain::ChannelId;
use switchboard_store::{RetentionCounts, RetentionPolicy};

use super::super::Nav;
use super::SECTION;
use crate::AppState;
use crate::console::{ConsoleError, Layout, Page, render};
use crate::error::ApiError;
use crate::extract::Admin;

/// A policy in words, for the channels list and this screen.
pub(super) fn policy_line(p: &RetentionPolicy) -> String {
    let days = |d: u32| if d == 1 { "1 day".to_owned() } else { format!("{d} days") };
    match (p.conversations_days, p.media_days) {
        (None, None) => "everything kept".to_owned(),
        (c, m) => {
            let mut parts = Vec::new();
            if let Some(c) = c {
                parts.push(format!("conversations {} after resolution", days(c)));
            }
            if let Some(m) = m {
                parts.push(format!("media {}", days(m)));
            }
            parts.join(", ")
        }
    }
}

#[derive(Template)]
#[template(path = "console/admin_retention.html")]
struct RetentionPage {
    layout: Layout,
    nav: Nav,
    channel_id: String,
    channel_name: String,
    /// The form's values: days, or "" (kept forever).
    conversations_days: String,
    media_days: String,
    /// Whether any content is ever removed.
    has_policy: bool,
    line: String,
    /// The dry run, as of `at_iso`.
    preview: RetentionCounts,
    at_iso: String,
}

/// `GET /admin/channels/{channel_id}/retention`.
pub(super) async fn page(
    Page(admin): Page<Admin<ChannelId>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let channel = state.config().channel(admin.path).await?;
    let policy = state.store.retention_policy(channel.id).await?.ok_or(ApiError::NotFound { what: "channel" })?;
    let at = Utc::now();
    // The dry run's own call; a channel without a policy is not in it (nothing goes).
    let preview = switchboard_core::Privacy::new(state.store.as_ref(), Some(state.media_dir.as_path()))
        .retention_preview(at)
        .await
        .map_err(crate::routes::privacy::privacy_error)?
        .into_iter()
        .find_map(|(c, _, counts)| (c == channel.id).then_some(counts))
        .unwrap_or_default();
    let text = |d: Option<u32>| d.map(|d| d.to_string()).unwrap_or_default();
    render(&RetentionPage {
        layout: Layout::signed_in(format!("Retention · {}", channel.name), &admin.agent),
        nav: Nav::at(SECTION),
        channel_id: channel.id.to_string(),
        channel_name: channel.name,
        conversations_days: text(policy.conversations_days),
        media_days: text(policy.media_days),
        has_policy: policy.conversations_days.is_some() || policy.media_days.is_some(),
        line: policy_line(&policy),
        preview,
        at_iso: at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}
