//! `/admin/channels/{channel_id}/sla` and `/admin/teams/{team_id}/sla`: a channel's or a
//! team's SLA targets (first response, resolution, warning), each typed in minutes or
//! hours, saved through `PUT /api/v1/admin/{channels|teams}/{id}/sla` (which validates
//! them: a target of 1 to 129600 business minutes, a warning shorter than each target)
//! and removed with `DELETE` on the same path. The routes are registered by the channel
//! and team screens (`channels::configure`, `teams::configure`).

use actix_web::{HttpResponse, web};
use askama::Template;
use switchboard_domain::ChannelId;
use switchboard_domain::sla::SlaPolicy;
use switchboard_store::{SlaScope, TeamId};

use super::Nav;
use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::console::{ConsoleError, Layout, Page, render};
use crate::error::ApiError;
use crate::extract::Admin;

/// `scope`'s policy in words (`sla_line`), `None` without one: the channels' and teams'
/// lists show it.
pub(super) async fn saved_line(state: &AppState, scope: SlaScope) -> Result<Option<String>, ConsoleError> {
    Ok(state.store.sla_policy(scope).await?.as_ref().map(sla_line))
}

/// A policy in words: "first response within 30 min, resolution within 8 h (business
/// time); warned 10 min before".
fn sla_line(p: &SlaPolicy) -> String {
    let mut parts = Vec::new();
    if let Some(m) = p.first_response_minutes() {
        parts.push(format!("first response within {}", duration(m)));
    }
    if let Some(m) = p.resolution_minutes() {
        parts.push(format!("resolution within {}", duration(m)));
    }
    let mut line = parts.join(", ");
    line.push_str(" (business time)");
    if p.warning_minutes() > 0 {
        line.push_str(&format!("; warned {} before", duration(p.warning_minutes())));
    }
    line
}

/// Minutes in words: whole hours as "8 h", the rest as "90 min".
fn duration(minutes: u32) -> String {
    if minutes.is_multiple_of(60) { format!("{} h", minutes / 60) } else { format!("{minutes} min") }
}

/// One amount as the form shows it: the number and its unit (60: hours, 1: minutes).
struct Amount {
    /// Empty: not set.
    value: String,
    unit: u32,
}

impl Amount {
    /// Whole hours are shown in hours, anything else (and nothing) in `default_unit`
    /// unless it is not a whole number of them.
    fn of(minutes: Option<u32>, default_unit: u32) -> Self {
        match minutes {
            None | Some(0) => Self { value: String::new(), unit: default_unit },
            Some(m) if m % 60 == 0 => Self { value: (m / 60).to_string(), unit: 60 },
            Some(m) => Self { value: m.to_string(), unit: 1 },
        }
    }

    const fn in_hours(&self) -> bool {
        self.unit == 60
    }
}

#[derive(Template)]
#[template(path = "console/admin_sla.html")]
struct SlaPage {
    layout: Layout,
    nav: Nav,
    /// `channel` or `team`.
    kind: &'static str,
    /// The list screen the crumbs lead back to, and its name.
    back: (&'static str, &'static str),
    name: String,
    /// `/api/v1/admin/channels/{id}/sla` or `…/teams/{id}/sla`.
    api: String,
    /// The saved policy in words; `None`: no targets.
    saved: Option<String>,
    first_response: Amount,
    resolution: Amount,
    warning: Amount,
}

fn page_for(
    agent: &AuthenticatedAgent,
    kind: &'static str,
    back: (&'static str, &'static str),
    name: String,
    api: String,
    policy: Option<SlaPolicy>,
) -> Result<HttpResponse, ConsoleError> {
    let input = policy.map(|p| *p.as_input());
    render(&SlaPage {
        layout: Layout::signed_in(format!("SLA targets · {name}"), agent),
        nav: Nav::at(back.0),
        kind,
        back,
        saved: policy.as_ref().map(sla_line),
        first_response: Amount::of(input.and_then(|i| i.first_response_minutes), 1),
        resolution: Amount::of(input.and_then(|i| i.resolution_minutes), 60),
        warning: Amount::of(input.map(|i| i.warning_minutes), 1),
        name,
        api,
    })
}

/// `GET /admin/channels/{channel_id}/sla`.
pub(super) async fn channel_page(
    Page(admin): Page<Admin<ChannelId>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let channel = state.config().channel(admin.path).await?;
    let policy = switchboard_core::sla::policy(state.store.as_ref(), SlaScope::Channel(channel.id)).await?;
    page_for(
        &admin.agent,
        "channel",
        ("/admin/channels", "Channels & hours"),
        channel.name,
        format!("/api/v1/admin/channels/{}/sla", channel.id),
        policy,
    )
}

/// `GET /admin/teams/{team_id}/sla`.
pub(super) async fn team_page(
    Page(admin): Page<Admin<TeamId>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let team = state.store.team(admin.path).await?.ok_or(ApiError::NotFound { what: "team" })?;
    let policy = switchboard_core::sla::policy(state.store.as_ref(), SlaScope::Team(team.id)).await?;
    page_for(
        &admin.agent,
        "team",
        ("/admin/teams", "Teams and routing"),
        team.name.as_str().to_owned(),
        format!("/api/v1/admin/teams/{}/sla", team.id),
        policy,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_hours_show_in_hours_and_the_rest_in_minutes() {
        let a = Amount::of(Some(480), 1);
        assert_eq!((a.value.as_str(), a.unit), ("8", 60));
        let a = Amount::of(Some(90), 60);
        assert_eq!((a.value.as_str(), a.unit), ("90", 1));
        let a = Amount::of(None, 60);
        assert_eq!((a.value.as_str(), a.unit), ("", 60));
        assert_eq!(duration(90), "90 min");
        assert_eq!(duration(120), "2 h");
    }
}
