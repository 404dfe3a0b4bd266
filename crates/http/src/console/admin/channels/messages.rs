//! `/admin/channels/{channel_id}/greeting` and `…/away`: the greeting and the away
//! message, with every option the API takes, and a preview (`POST …/preview`) of what a
//! sample new contact writing now would get: the engine's own evaluation of the channel's
//! configuration in force with the draft in place, and the text rendered by the engine's
//! template renderer.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use switchboard_core::admin::SettingsInForce;
use switchboard_domain::autoreply::{
    AutoReplyConfig, Away, AwaySchedule, CompiledConfig, Facts, Greeting, Outcome, Recipients, ReplyBody, RuleRef, Var,
    Vars, format_when, render as render_template,
};
use switchboard_domain::hours::{BusinessHours, time_zone_names};
use switchboard_domain::message::MessageContent;
use switchboard_domain::{ChannelId, WaId};

use super::super::Nav;
use super::hours::HoursForm;
use super::{SECTION, fragment, preview_at, read_draft};
use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::console::{ConsoleError, Layout, Page, render};
use crate::error::{ApiError, FieldError};
use crate::extract::Admin;
use crate::json::Body;

/// The sample contact previews are written for.
const SAMPLE_NAME: &str = "Ana María López";
const SAMPLE_WA_ID: &str = "15550100001";
/// What the sample contact writes.
const SAMPLE_TEXT: &str = "Hi, is anyone there?";

/// Recipients as the form shows them.
struct RecipientsForm {
    /// `everyone`, `new_contacts`, `all_except` or `only` (the JSON `type`).
    kind: &'static str,
    /// One wa_id a line.
    wa_ids: String,
}

impl RecipientsForm {
    fn of(r: &Recipients) -> Self {
        let lines = |ids: &[WaId]| ids.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
        match r {
            Recipients::Everyone => Self { kind: "everyone", wa_ids: String::new() },
            Recipients::NewContacts => Self { kind: "new_contacts", wa_ids: String::new() },
            Recipients::AllExcept { wa_ids } => Self { kind: "all_except", wa_ids: lines(wa_ids) },
            Recipients::Only { wa_ids } => Self { kind: "only", wa_ids: lines(wa_ids) },
        }
    }
}

/// A template variable, what it stands for, and its value for the sample contact now.
struct VarRow {
    name: &'static str,
    meaning: &'static str,
    sample: String,
}

const fn meaning(var: Var) -> &'static str {
    match var {
        Var::ContactName => "the contact's WhatsApp profile name",
        Var::ContactFirstName => "its first word",
        Var::AgentName => "the assigned agent's name (empty while nobody is assigned)",
        Var::BusinessName => "the business name (the channel's name unless set)",
        Var::NextOpen => "when you open next, in the contact's language (\"now\" while open); needs business hours",
    }
}

/// The values the engine fills in for the sample contact at `now` (`agent` as the
/// assigned agent).
fn sample_vars<'a>(config: &'a AutoReplyConfig, agent: &'a str, now: DateTime<Utc>) -> Vars<'a> {
    Vars {
        contact_name: Some(SAMPLE_NAME),
        agent_name: Some(agent),
        business_name: Some(config.business_name.as_str()),
        hours: config.hours.as_ref(),
        lang: config.locale.lang(),
        now,
    }
}

fn var_rows(config: &AutoReplyConfig, agent: &str, now: DateTime<Utc>) -> Vec<VarRow> {
    let vars = sample_vars(config, agent, now);
    Var::ALL
        .iter()
        .map(|v| VarRow {
            name: v.name(),
            meaning: meaning(*v),
            sample: render_template(&format!("{{{{{}}}}}", v.name()), &vars).unwrap_or_default(),
        })
        .collect()
}

struct GreetingForm {
    enabled: bool,
    text: String,
    after_days_of_silence: u32,
    recipients: RecipientsForm,
    only_within_business_hours: bool,
}

impl GreetingForm {
    fn of(g: &Greeting) -> Self {
        Self {
            enabled: g.enabled,
            text: g.text.clone(),
            after_days_of_silence: g.after_days_of_silence,
            recipients: RecipientsForm::of(&g.recipients),
            only_within_business_hours: g.only_within_business_hours,
        }
    }

    fn suggestion() -> Self {
        Self {
            enabled: true,
            text: "Hello {{contact.first_name|there}}, thanks for writing to {{business.name}}! We will answer you here shortly."
                .into(),
            after_days_of_silence: switchboard_domain::autoreply::DEFAULT_SILENCE_DAYS,
            recipients: RecipientsForm::of(&Recipients::Everyone),
            only_within_business_hours: false,
        }
    }
}

struct AwayForm {
    enabled: bool,
    text: String,
    /// `always`, `outside_business_hours` or `custom` (the schedule's JSON `type`).
    schedule: &'static str,
    /// The custom schedule (the channel's hours, or a suggestion, when not custom).
    custom: HoursForm,
    recipients: RecipientsForm,
    once_per_period: bool,
    min_interval_minutes: u32,
    skip_if_agent_replied_within_minutes: u32,
}

impl AwayForm {
    fn of(a: &Away, hours: Option<&BusinessHours>) -> Self {
        let (schedule, custom) = match &a.schedule {
            AwaySchedule::Always => ("always", None),
            AwaySchedule::OutsideBusinessHours => ("outside_business_hours", None),
            AwaySchedule::Custom { hours } => ("custom", Some(hours)),
        };
        Self {
            enabled: a.enabled,
            text: a.text.clone(),
            schedule,
            custom: custom.or(hours).map_or_else(HoursForm::suggestion, HoursForm::of),
            recipients: RecipientsForm::of(&a.recipients),
            once_per_period: a.cooldown.once_per_period,
            min_interval_minutes: a.cooldown.min_interval_minutes,
            skip_if_agent_replied_within_minutes: a.skip_if_agent_replied_within_minutes,
        }
    }

    fn suggestion(hours: Option<&BusinessHours>) -> Self {
        Self {
            enabled: true,
            // `{{next_open}}` needs hours in an automatic message.
            text: if hours.is_some() {
                "Thanks for your message! We are closed right now and will answer {{next_open}}.".into()
            } else {
                "Thanks for your message! We are away right now and will answer as soon as we are back.".into()
            },
            schedule: if hours.is_some() { "outside_business_hours" } else { "always" },
            custom: hours.map_or_else(HoursForm::suggestion, HoursForm::of),
            recipients: RecipientsForm::of(&Recipients::Everyone),
            once_per_period: true,
            min_interval_minutes: 0,
            skip_if_agent_replied_within_minutes: switchboard_domain::autoreply::DEFAULT_AGENT_REPLIED_MINUTES,
        }
    }
}

#[derive(Template)]
#[template(path = "console/admin_greeting.html")]
struct GreetingPage {
    layout: Layout,
    nav: Nav,
    channel_id: String,
    channel_name: String,
    saved: bool,
    has_hours: bool,
    form: GreetingForm,
    vars: Vec<VarRow>,
}

#[derive(Template)]
#[template(path = "console/admin_away.html")]
struct AwayPage {
    layout: Layout,
    nav: Nav,
    channel_id: String,
    channel_name: String,
    saved: bool,
    has_hours: bool,
    form: AwayForm,
    vars: Vec<VarRow>,
    time_zones: Vec<&'static str>,
}

/// The channel's name and its configuration in force, or a 404.
async fn channel_config(state: &AppState, id: ChannelId) -> Result<(String, AutoReplyConfig), ConsoleError> {
    let config = state.config();
    let channel = config.channel(id).await?;
    let SettingsInForce { config: in_force, .. } = config.settings_in_force(channel.id).await?;
    Ok((channel.name, in_force))
}

/// `GET /admin/channels/{channel_id}/greeting`.
pub(super) async fn greeting_page(
    Page(admin): Page<Admin<ChannelId>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let (channel_name, config) = channel_config(&state, admin.path).await?;
    render(&GreetingPage {
        layout: Layout::signed_in(format!("Greeting · {channel_name}"), &admin.agent),
        nav: Nav::at(SECTION),
        channel_id: admin.path.to_string(),
        saved: config.greeting.is_some(),
        has_hours: config.hours.is_some(),
        form: config.greeting.as_ref().map_or_else(GreetingForm::suggestion, GreetingForm::of),
        vars: var_rows(&config, admin.agent.0.name.as_str(), Utc::now()),
        channel_name,
    })
}

/// `GET /admin/channels/{channel_id}/away`.
pub(super) async fn away_page(
    Page(admin): Page<Admin<ChannelId>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let (channel_name, config) = channel_config(&state, admin.path).await?;
    let hours = config.hours.as_ref();
    render(&AwayPage {
        layout: Layout::signed_in(format!("Away message · {channel_name}"), &admin.agent),
        nav: Nav::at(SECTION),
        channel_id: admin.path.to_string(),
        saved: config.away.is_some(),
        has_hours: hours.is_some(),
        form: config.away.as_ref().map_or_else(|| AwayForm::suggestion(hours), |a| AwayForm::of(a, hours)),
        vars: var_rows(&config, admin.agent.0.name.as_str(), Utc::now()),
        time_zones: time_zone_names(),
        channel_name,
    })
}

/// What the sample contact would get from the greeting or the away message.
#[derive(Template)]
#[template(path = "console/admin_reply_preview.html")]
struct ReplyPreview {
    /// Whether it would be sent now.
    sent: bool,
    /// Why (not), in a sentence.
    verdict: String,
    /// The text, rendered for the sample contact (also when not sent now).
    text: String,
    /// "Friday 25 December 2026, 10:00 in Europe/Berlin", or UTC without hours.
    when: String,
    sample_name: &'static str,
    sample_text: &'static str,
    errors: Vec<FieldError>,
}

impl ReplyPreview {
    fn invalid(errors: Vec<FieldError>) -> Self {
        Self {
            sent: false,
            verdict: String::new(),
            text: String::new(),
            when: String::new(),
            sample_name: SAMPLE_NAME,
            sample_text: SAMPLE_TEXT,
            errors,
        }
    }
}

/// `POST /admin/channels/{channel_id}/greeting/preview[?at=RFC 3339]`: the body the
/// greeting form would save (the API's `Greeting`).
pub(super) async fn greeting_preview(
    Page(admin): Page<Admin<ChannelId>>,
    req: HttpRequest,
    body: Body<Greeting>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    preview_draft(&state, &admin, &req, body, RuleRef::Greeting, |config, g| config.greeting = Some(g)).await
}

/// `POST /admin/channels/{channel_id}/away/preview[?at=RFC 3339]`: the body the away
/// form would save (the API's `Away`).
pub(super) async fn away_preview(
    Page(admin): Page<Admin<ChannelId>>,
    req: HttpRequest,
    body: Body<Away>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    preview_draft(&state, &admin, &req, body, RuleRef::Away, |config, a| config.away = Some(a)).await
}

/// The configuration in force with the draft put in place by `apply`, evaluated for
/// `rule` (or the fields the API would refuse in the draft).
async fn preview_draft<T: DeserializeOwned>(
    state: &AppState,
    admin: &Admin<ChannelId>,
    req: &HttpRequest,
    body: Body<T>,
    rule: RuleRef,
    apply: impl FnOnce(&mut AutoReplyConfig, T),
) -> Result<HttpResponse, ConsoleError> {
    let (_, mut config) = channel_config(state, admin.path).await?;
    let at = preview_at(req)?;
    match read_draft(body)? {
        Ok(draft) => {
            apply(&mut config, draft);
            evaluate(&config, rule, &admin.agent, at)
        }
        Err(errors) => fragment(&ReplyPreview::invalid(errors), false),
    }
}

/// `path` relative to `prefix` (`greeting.text` under `greeting` is `text`).
fn under(path: &str, prefix: &str) -> Option<String> {
    let rest = path.strip_prefix(prefix)?;
    if rest.is_empty() {
        Some(String::new())
    } else if let Some(r) = rest.strip_prefix('.') {
        Some(r.to_owned())
    } else {
        rest.starts_with('[').then(|| rest.to_owned())
    }
}

/// The engine's answer to the sample contact's first message at `at`, for `rule`.
fn evaluate(
    config: &AutoReplyConfig,
    rule: RuleRef,
    agent: &AuthenticatedAgent,
    at: DateTime<Utc>,
) -> Result<HttpResponse, ConsoleError> {
    let prefix = rule.to_string();
    let compiled = match CompiledConfig::new(config) {
        Ok(c) => c,
        Err(e) => {
            // The draft's problems, named as the API names them; problems elsewhere (the
            // configuration in force) are the API's 409 and shown as such.
            let errors = e
                .errors
                .iter()
                .map(|f| match under(&f.path, &prefix) {
                    Some(field) => FieldError::new(field, f.message.clone()),
                    None => FieldError::new(f.path.clone(), format!("{} (elsewhere in the configuration)", f.message)),
                })
                .collect();
            return fragment(&ReplyPreview::invalid(errors), false);
        }
    };
    let wa_id = WaId::parse(SAMPLE_WA_ID).map_err(|e| ApiError::Internal(anyhow::Error::new(e)))?;
    let agent_name = agent.0.name.as_str();
    let facts = Facts {
        contact_name: Some(SAMPLE_NAME.to_owned()),
        assigned_agent_name: Some(agent_name.to_owned()),
        ..Facts::new_contact(wa_id)
    };
    let ev = compiled.evaluate_content(&facts, &MessageContent::Text { body: SAMPLE_TEXT.to_owned() }, at);
    let outcome = ev.trace.iter().find(|e| e.rule == rule).map(|e| e.outcome);
    let sent_text = ev.replies().find(|(r, _)| *r == rule).and_then(|(_, body)| match body {
        ReplyBody::Text { body } => Some(body.clone()),
        _ => None,
    });
    let (template, schedule_hours) = match rule {
        RuleRef::Greeting => (config.greeting.as_ref().map(|g| g.text.as_str()), config.hours.as_ref()),
        _ => {
            let away = config.away.as_ref();
            let hours = match away.map(|a| &a.schedule) {
                Some(AwaySchedule::Custom { hours }) => Some(hours),
                _ => config.hours.as_ref(),
            };
            (away.map(|a| a.text.as_str()), hours)
        }
    };
    let vars = sample_vars(config, agent_name, at);
    let text = match sent_text {
        Some(t) => t,
        None => render_template(template.unwrap_or_default(), &vars).unwrap_or_default(),
    };
    let when = |t: DateTime<Utc>| match schedule_hours {
        Some(h) => format_when(h, t, at, config.locale.lang()).unwrap_or_else(|| t.to_rfc3339()),
        None => t.format("%a %-d %b %H:%M UTC").to_string(),
    };
    let verdict = match outcome {
        Some(Outcome::Fired) => "Would be sent now.".to_owned(),
        Some(Outcome::Disabled) => "Switched off: nothing is sent. When on, it reads:".to_owned(),
        Some(Outcome::NotRecipient) => "Not sent to this contact: they are not among the recipients.".to_owned(),
        Some(Outcome::OutsideBusinessHours) => {
            let opens = config.hours.as_ref().and_then(|h| h.next_open(at)).map(when);
            match opens {
                Some(o) => format!("Not sent now: only while open, and the channel is closed until {o}."),
                None => "Not sent now: only while open, and the channel is closed.".to_owned(),
            }
        }
        Some(Outcome::NotAway { until: Some(t) }) => format!("Not sent now: the away time starts {}.", when(t)),
        Some(Outcome::NotAway { until: None }) => "Not sent now: no away time within the next 8 days.".to_owned(),
        Some(Outcome::NoHours) => "Not sent: \"outside business hours\" needs the channel's business hours.".to_owned(),
        Some(Outcome::CapReached { limit }) => {
            format!("Not sent: the contact would get more than {limit} automatic messages in an hour.")
        }
        Some(other) => format!("Not sent now: {other}."),
        None => "Not sent.".to_owned(),
    };
    let local = schedule_hours.or(config.hours.as_ref()).and_then(|h| {
        h.local_time(at).map(|l| format!("{} in {}", l.format("%A %-d %B %Y, %H:%M"), h.time_zone.name()))
    });
    fragment(
        &ReplyPreview {
            sent: outcome == Some(Outcome::Fired),
            verdict,
            text,
            when: local.unwrap_or_else(|| at.format("%A %-d %B %Y, %H:%M UTC").to_string()),
            sample_name: SAMPLE_NAME,
            sample_text: SAMPLE_TEXT,
            errors: Vec::new(),
        },
        true,
    )
}
