//! `/admin/channels`: each connected number (its display number, whether it is enabled
//! and sends with its own access token) with what it answers on its own — its business
//! hours, greeting, away message, satisfaction survey, SLA targets and retention — each
//! on its own screen, saved through
//! `/api/v1/admin/channels/{channel_id}/auto-replies/{hours|greeting|away}`, `…/csat`,
//! `…/sla` (the SLA screen is `super::sla`, shared with the teams') and `…/retention`.
//! A channel is added with the form on `/admin/channels` (`POST /api/v1/admin/channels`)
//! and its own settings are edited, and its templates synchronised, on
//! `/admin/channels/{channel_id}/edit`.
//!
//! The lines and previews these screens show ("Now: open, closes today at 18:00", a
//! rendered greeting, whether the away message would go out now) are computed by the
//! engine's own code: `BusinessHours::period_at` and the template formatter for hours,
//! `CompiledConfig::evaluate_content` for the greeting and away message.

mod csat;
mod edit;
mod hours;
mod messages;
mod retention;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use switchboard_domain::autoreply::ValidationErrors;
use switchboard_domain::instant;

use super::Nav;
use crate::AppState;
use crate::console::{ConsoleError, Layout, Page, query_pairs, render};
use crate::error::{ApiError, FieldError};
use crate::extract::Admin;
use crate::json::Body;

/// Where these screens sit in the navigation.
const SECTION: &str = "/admin/channels";

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/channels", web::get().to(list))
        .route("/channels/{channel_id}/hours", web::get().to(hours::page))
        .route("/channels/{channel_id}/hours/preview", web::post().to(hours::preview))
        .route("/channels/{channel_id}/greeting", web::get().to(messages::greeting_page))
        .route("/channels/{channel_id}/greeting/preview", web::post().to(messages::greeting_preview))
        .route("/channels/{channel_id}/away", web::get().to(messages::away_page))
        .route("/channels/{channel_id}/away/preview", web::post().to(messages::away_preview))
        .route("/channels/{channel_id}/csat", web::get().to(csat::page))
        .route("/channels/{channel_id}/sla", web::get().to(super::sla::channel_page))
        .route("/channels/{channel_id}/retention", web::get().to(retention::page))
        .route("/channels/{channel_id}/edit", web::get().to(edit::page));
}

/// Whether an automatic message is set, and on.
enum Switch {
    NotSet,
    On,
    Off,
}

impl Switch {
    fn of(enabled: Option<bool>) -> Self {
        match enabled {
            None => Self::NotSet,
            Some(true) => Self::On,
            Some(false) => Self::Off,
        }
    }

    const fn word(&self) -> &'static str {
        match self {
            Self::NotSet => "not set",
            Self::On => "on",
            Self::Off => "off",
        }
    }
}

struct Row {
    id: String,
    name: String,
    phone_number_id: String,
    /// The number customers dial, with `+`.
    display: Option<String>,
    enabled: bool,
    /// Whether it sends with its own access token.
    own_token: bool,
    /// "Now: open, closes today at 18:00", or `None` without hours.
    hours: Option<hours::Status>,
    greeting: Switch,
    away: Switch,
    csat: Switch,
    /// Its SLA targets in words ("first response within 30 min, …"), or `None`.
    sla: Option<String>,
    /// Its retention policy in words ("everything kept").
    retention: String,
}

#[derive(Template)]
#[template(path = "console/admin_channels.html")]
struct Channels {
    layout: Layout,
    nav: Nav,
    channels: Vec<Row>,
}

/// `GET /admin/channels`: the channels, each with its open/closed line and its messages.
async fn list(Page(admin): Page<Admin>, state: web::Data<AppState>) -> Result<HttpResponse, ConsoleError> {
    let now = Utc::now();
    let config = state.config();
    let mut channels = Vec::new();
    let policies: std::collections::HashMap<_, _> = state.store.retention_policies().await?.into_iter().collect();
    for c in state.store.channel_records().await? {
        let s = config.channel_settings(c.id).await?;
        channels.push(Row {
            id: c.id.to_string(),
            name: c.name,
            phone_number_id: c.phone_number_id.to_string(),
            display: c.display_phone_number.map(|d| format!("+{d}")),
            enabled: c.enabled,
            own_token: c.access_token.is_some(),
            hours: s.hours.as_ref().map(|h| hours::Status::at(h, now)),
            greeting: Switch::of(s.greeting.as_ref().map(|g| g.enabled)),
            away: Switch::of(s.away.as_ref().map(|a| a.enabled)),
            csat: Switch::of(switchboard_core::csat::settings(state.store.as_ref(), c.id).await?.map(|s| s.enabled())),
            sla: super::sla::saved_line(&state, switchboard_store::SlaScope::Channel(c.id)).await?,
            retention: retention::policy_line(&policies.get(&c.id).copied().unwrap_or_default()),
        });
    }
    render(&Channels { layout: Layout::signed_in("Channels & hours", &admin.agent), nav: Nav::at(SECTION), channels })
}

/// `?at=` (RFC 3339): the moment a preview is computed for (what will the line say at
/// Christmas?); now by default.
fn preview_at(req: &HttpRequest) -> Result<DateTime<Utc>, ConsoleError> {
    let pairs = query_pairs(req)?;
    let Some((_, raw)) = pairs.iter().find(|(k, _)| k == "at") else {
        return Ok(Utc::now());
    };
    let at = DateTime::parse_from_rfc3339(raw)
        .map_err(|e| ApiError::field("at", format!("is not an RFC 3339 instant: {e}")))?
        .with_timezone(&Utc);
    Ok(instant::check(at).map_err(|_| ApiError::field("at", "must be in the years 1970 to 9999"))?)
}

/// A preview's draft, read as the API reads the body: `Err` lists the fields it would
/// refuse (a 422's fields); other errors are the route's own.
fn read_draft<T: DeserializeOwned>(body: Body<T>) -> Result<Result<T, Vec<FieldError>>, ConsoleError> {
    match body.read() {
        Ok(t) => Ok(Ok(t)),
        Err(ApiError::Validation(errors)) => Ok(Err(errors)),
        Err(e) => Err(e.into()),
    }
}

/// The domain's validation errors as the API names them.
fn field_errors(e: ValidationErrors) -> Vec<FieldError> {
    e.errors.into_iter().map(|e| FieldError::new(e.path, e.message)).collect()
}

/// A preview's HTML fragment: 200, or 422 when it lists what is wrong with the draft.
fn fragment(t: &impl Template, ok: bool) -> Result<HttpResponse, ConsoleError> {
    let html = t.render().map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("render")))?;
    let status = if ok { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok(HttpResponse::build(status).content_type("text/html; charset=utf-8").body(html))
}
