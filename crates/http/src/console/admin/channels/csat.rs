//! `/admin/channels/{channel_id}/csat`: the satisfaction survey sent when a conversation
//! of the channel is resolved, with every option the API takes, saved through
//! `PUT /api/v1/admin/channels/{channel_id}/csat` (which validates it: Meta's limits on
//! button and list titles, the scale's number of choices).

use actix_web::{HttpResponse, web};
use askama::Template;
use switchboard_domain::ChannelId;
use switchboard_domain::csat::{CsatScale, CsatSettingsInput, LabelCondition};

use super::super::Nav;
use super::SECTION;
use crate::AppState;
use crate::console::{ConsoleError, Layout, Page, render};
use crate::extract::Admin;

/// The settings as the form shows them.
struct CsatForm {
    enabled: bool,
    /// `five_point` or `three_point`.
    scale: &'static str,
    question: String,
    /// One choice a line, best first.
    options: String,
    list_button: String,
    follow_up: String,
    delay_minutes: u32,
    response_window_days: u32,
    /// `""` (every resolved conversation), `with` or `without`.
    label_rule: &'static str,
    label_id: String,
    template_name: String,
    template_language: String,
}

impl CsatForm {
    fn of(s: &CsatSettingsInput) -> Self {
        let (label_rule, label_id) = match s.label {
            None => ("", String::new()),
            Some(LabelCondition::With { label_id }) => ("with", label_id.to_string()),
            Some(LabelCondition::Without { label_id }) => ("without", label_id.to_string()),
        };
        Self {
            enabled: s.enabled,
            scale: match s.scale {
                CsatScale::FivePoint => "five_point",
                CsatScale::ThreePoint => "three_point",
            },
            question: s.question.clone(),
            options: s.options.as_deref().unwrap_or_default().join("\n"),
            list_button: s.list_button.clone().unwrap_or_default(),
            follow_up: s.follow_up.clone().unwrap_or_default(),
            delay_minutes: s.delay_minutes,
            response_window_days: s.response_window_days,
            label_rule,
            label_id,
            template_name: s.template.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
            template_language: s.template.as_ref().map(|t| t.language.clone()).unwrap_or_default(),
        }
    }

    /// What a channel that never had a survey starts from: the defaults, switched off.
    fn suggestion() -> Self {
        let input = CsatSettingsInput {
            enabled: false,
            label: None,
            delay_minutes: 0,
            scale: CsatScale::FivePoint,
            question: "How would you rate the help you got today?".into(),
            options: None,
            list_button: None,
            follow_up: Some("Thank you! Is there anything we could do better?".into()),
            response_window_days: switchboard_domain::csat::DEFAULT_RESPONSE_WINDOW_DAYS,
            template: None,
        };
        // The defaults (English choices, "Rate") as parsing fills them in.
        switchboard_domain::csat::CsatSettings::parse(input.clone())
            .map_or_else(|_| Self::of(&input), |s| Self::of(s.as_input()))
    }
}

#[derive(Template)]
#[template(path = "console/admin_csat.html")]
struct CsatPage {
    layout: Layout,
    nav: Nav,
    channel_id: String,
    channel_name: String,
    saved: bool,
    form: CsatForm,
    /// (id, name) of every label, for the condition.
    labels: Vec<(String, String)>,
}

/// `GET /admin/channels/{channel_id}/csat`.
pub(super) async fn page(
    Page(admin): Page<Admin<ChannelId>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let channel = state.config().channel(admin.path).await?;
    let settings = switchboard_core::csat::settings(state.store.as_ref(), channel.id).await?;
    let labels =
        state.store.labels().await?.into_iter().map(|l| (l.id.to_string(), l.name.as_str().to_owned())).collect();
    render(&CsatPage {
        layout: Layout::signed_in(format!("Satisfaction survey · {}", channel.name), &admin.agent),
        nav: Nav::at(SECTION),
        channel_id: channel.id.to_string(),
        saved: settings.is_some(),
        form: settings.as_ref().map_or_else(CsatForm::suggestion, |s| CsatForm::of(s.as_input())),
        labels,
        channel_name: channel.name,
    })
}
