//! `/admin/rules`: the keyword rules in evaluation order (moved up and down, switched on
//! and off, created, edited and deleted through `/api/v1/admin/rules`), and a **try it**
//! box: a sample message, time and contact, answered by the engine exactly as the ingest
//! worker would (`Config::preview_rules`, the use case behind `POST
//! /api/v1/admin/rules/preview`), rendered as HTML.

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::{Map, Value, json};
use switchboard_core::admin::RulesPreview;
use switchboard_domain::autoreply::{Effect, KeywordRule, Matcher, Outcome, QuickReplyRef, RuleAction, RuleRef};
use switchboard_domain::{ChannelId, RuleId};
use switchboard_store::{ContactQuery, StoredRule, Visibility};

use super::Nav;
use super::preview::{ReplyView, problems};
use crate::AppState;
use crate::console::{ConsoleError, Layout, Page, render};
use crate::error::ApiError;
use crate::extract::Admin;
use crate::json::Body;
use crate::routes::autoreply::PreviewJson;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/rules", web::get().to(list))
        .route("/rules/new", web::get().to(new_rule))
        // Before `/rules/{id}`, which would take the name as an id.
        .route("/rules/preview", web::post().to(try_it))
        .route("/rules/{id}", web::get().to(edit_rule));
}

/// A value the forms offer: `(value, label)`.
type Choice = (String, String);

/// What the rules' forms and summaries name: channels, quick replies, labels, agents, teams.
struct Names {
    channels: Vec<Choice>,
    quick_replies: Vec<Choice>,
    labels: Vec<Choice>,
    agents: Vec<Choice>,
    teams: Vec<Choice>,
}

impl Names {
    async fn load(state: &AppState) -> Result<Self, ConsoleError> {
        let store = &state.store;
        Ok(Self {
            channels: store.channels().await?.into_iter().map(|c| (c.id.to_string(), c.name)).collect(),
            quick_replies: store
                .quick_replies()
                .await?
                .into_iter()
                .map(|q| (q.id.to_string(), format!("/{}", q.shortcut)))
                .collect(),
            labels: store.labels().await?.into_iter().map(|l| (l.id.to_string(), l.name.as_str().to_owned())).collect(),
            agents: store
                .agents()
                .await?
                .into_iter()
                .filter(|a| a.active)
                .map(|a| (a.id.to_string(), a.name.as_str().to_owned()))
                .collect(),
            teams: store.teams().await?.into_iter().map(|t| (t.id.to_string(), t.name.as_str().to_owned())).collect(),
        })
    }

    /// The name of `id` in `list` (the id itself if it is not there any more).
    fn name(list: &[Choice], id: &str) -> String {
        list.iter().find(|(v, _)| v == id).map_or(id, |(_, n)| n.as_str()).to_owned()
    }
}

/// What a matcher matches, in a sentence.
fn matcher_summary(m: &Matcher) -> String {
    let quoted = |list: &[String]| list.iter().map(|w| format!("“{w}”")).collect::<Vec<_>>().join(", ");
    match m {
        Matcher::ContainsWord { words } => format!("has the word {}", quoted(words)),
        Matcher::Contains { texts } => format!("contains {}", quoted(texts)),
        Matcher::Exact { texts } => format!("is exactly {}", quoted(texts)),
        Matcher::Regex { pattern } => format!("matches /{pattern}/"),
        Matcher::ButtonId { ids } => format!("taps the button {}", quoted(ids)),
        Matcher::ListId { ids } => format!("picks the list row {}", quoted(ids)),
    }
}

/// What an action does, in a few words.
fn action_summary(a: &RuleAction, names: &Names) -> String {
    match a {
        RuleAction::SendQuickReply { quick_reply } => match quick_reply {
            QuickReplyRef::Id(id) => format!("sends {}", Names::name(&names.quick_replies, &id.to_string())),
            QuickReplyRef::Shortcut(s) => format!("sends /{s}"),
        },
        RuleAction::SendText { text } => format!("sends “{}”", text.chars().take(60).collect::<String>()),
        RuleAction::SendButtons { buttons, .. } => format!("sends {} buttons", buttons.len()),
        RuleAction::SendList { button, .. } => format!("sends the list “{button}”"),
        RuleAction::AddLabels { labels } => format!(
            "labels {}",
            labels.iter().map(|l| Names::name(&names.labels, &l.to_string())).collect::<Vec<_>>().join(", ")
        ),
        RuleAction::Assign { agent } => format!("assigns to {}", Names::name(&names.agents, &agent.to_string())),
        RuleAction::AssignTeam { team } => format!("assigns to team {}", Names::name(&names.teams, &team.to_string())),
    }
}

/// A rule as the API takes it back (for the buttons that change one thing).
fn rule_body(r: &StoredRule) -> Map<String, Value> {
    let mut body = match serde_json::to_value(&r.rule) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    body.insert("channel_id".into(), json!(r.channel));
    body
}

/// One rule in the list.
struct Row {
    id: String,
    position: usize,
    name: String,
    enabled: bool,
    channel: String,
    matcher: String,
    actions: String,
    stop: bool,
    cooldown_minutes: u32,
    /// `PUT /api/v1/admin/rules/order` bodies moving it one up / down.
    up: Option<String>,
    down: Option<String>,
    /// `PUT /api/v1/admin/rules/{id}` body switching it on or off.
    toggle: String,
}

/// The order with the rule at `i` swapped with the one at `j`, as the order body.
fn order_swapped(ids: &[RuleId], i: usize, j: usize) -> String {
    let mut order = ids.to_vec();
    order.swap(i, j);
    json!({ "order": order }).to_string()
}

/// The try-it box's choices.
struct TryIt {
    channels: Vec<Choice>,
    /// Known contacts: `(wa_id, name)`.
    contacts: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "console/admin_rules.html")]
struct Rules {
    layout: Layout,
    nav: Nav,
    rules: Vec<Row>,
    try_it: TryIt,
}

/// `GET /admin/rules`: the rules in order, and the try-it box.
async fn list(Page(admin): Page<Admin>, state: web::Data<AppState>) -> Result<HttpResponse, ConsoleError> {
    let names = Names::load(&state).await?;
    let rules = state.store.keyword_rules().await?;
    let ids: Vec<RuleId> = rules.iter().map(|r| r.rule.id).collect();
    let rows = rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut toggled = rule_body(r);
            toggled.insert("enabled".into(), Value::Bool(!r.rule.enabled));
            Row {
                id: r.rule.id.to_string(),
                position: i + 1,
                name: r.rule.name.clone(),
                enabled: r.rule.enabled,
                channel: r
                    .channel
                    .map_or_else(|| "every channel".to_owned(), |c| Names::name(&names.channels, &c.to_string())),
                matcher: matcher_summary(&r.rule.matcher),
                actions: r.rule.actions.iter().map(|a| action_summary(a, &names)).collect::<Vec<_>>().join("; "),
                stop: r.rule.stop,
                cooldown_minutes: r.rule.cooldown_minutes,
                up: (i > 0).then(|| order_swapped(&ids, i, i - 1)),
                down: (i + 1 < ids.len()).then(|| order_swapped(&ids, i, i + 1)),
                toggle: Value::Object(toggled).to_string(),
            }
        })
        .collect();
    let contacts = state
        .store
        .contacts(&ContactQuery { viewer: Visibility::All, search: None, limit: 50, after: None })
        .await?
        .items
        .into_iter()
        .map(|c| {
            let name = c.name.or(c.profile_name).unwrap_or_default();
            (c.wa_id.as_str().to_owned(), name)
        })
        .collect();
    render(&Rules {
        layout: Layout::signed_in("Keyword rules", &admin.agent),
        nav: Nav::at("/admin/rules"),
        rules: rows,
        try_it: TryIt { channels: names.channels, contacts },
    })
}

/// A list section of a `send_list` action, as its form shows it.
#[derive(Default)]
struct SectionForm {
    title: String,
    /// `(id, title, description)`.
    rows: Vec<(String, String, String)>,
}

/// An action as its form shows it: every type's fields, those of its own type filled.
#[derive(Default)]
struct ActionForm {
    kind: &'static str,
    quick_reply: String,
    text: String,
    body: String,
    buttons: Vec<(String, String)>,
    list_button: String,
    sections: Vec<SectionForm>,
    labels: Vec<String>,
    agent: String,
    team: String,
}

impl ActionForm {
    fn blank() -> Self {
        Self { kind: "send_text", ..Self::default() }
    }

    /// `a`'s form; a quick reply is chosen by id (named by its shortcut, it is saved by id).
    fn new(a: &RuleAction, names: &Names) -> Self {
        let choices =
            |b: &[switchboard_domain::message::Choice]| b.iter().map(|c| (c.id.clone(), c.title.clone())).collect();
        match a {
            RuleAction::SendQuickReply { quick_reply } => {
                let quick_reply = match quick_reply {
                    QuickReplyRef::Id(id) => id.to_string(),
                    QuickReplyRef::Shortcut(s) => {
                        let label = format!("/{s}");
                        names
                            .quick_replies
                            .iter()
                            .find(|(_, l)| *l == label)
                            .map_or_else(|| s.to_string(), |(id, _)| id.clone())
                    }
                };
                Self { kind: "send_quick_reply", quick_reply, ..Self::default() }
            }
            RuleAction::SendText { text } => Self { kind: "send_text", text: text.clone(), ..Self::default() },
            RuleAction::SendButtons { body, buttons } => {
                Self { kind: "send_buttons", body: body.clone(), buttons: choices(buttons), ..Self::default() }
            }
            RuleAction::SendList { body, button, sections } => Self {
                kind: "send_list",
                body: body.clone(),
                list_button: button.clone(),
                sections: sections
                    .iter()
                    .map(|s| SectionForm {
                        title: s.title.clone(),
                        rows: s
                            .rows
                            .iter()
                            .map(|r| (r.id.clone(), r.title.clone(), r.description.clone().unwrap_or_default()))
                            .collect(),
                    })
                    .collect(),
                ..Self::default()
            },
            RuleAction::AddLabels { labels } => {
                Self { kind: "add_labels", labels: labels.iter().map(ToString::to_string).collect(), ..Self::default() }
            }
            RuleAction::Assign { agent } => Self { kind: "assign", agent: agent.to_string(), ..Self::default() },
            RuleAction::AssignTeam { team } => Self { kind: "assign_team", team: team.to_string(), ..Self::default() },
        }
    }
}

/// A rule as its form shows it.
struct RuleForm {
    /// `None` for a new rule.
    id: Option<String>,
    name: String,
    enabled: bool,
    channel: String,
    matcher_kind: &'static str,
    /// The matcher's list (words, texts or ids), one per line.
    matcher_lines: String,
    pattern: String,
    actions: Vec<ActionForm>,
    stop: bool,
    cooldown_minutes: u32,
}

impl RuleForm {
    fn blank() -> Self {
        Self {
            id: None,
            name: String::new(),
            enabled: true,
            channel: String::new(),
            matcher_kind: "contains_word",
            matcher_lines: String::new(),
            pattern: String::new(),
            actions: vec![ActionForm::blank()],
            stop: true,
            cooldown_minutes: 0,
        }
    }

    fn new(r: &StoredRule, names: &Names) -> Self {
        let rule: &KeywordRule = &r.rule;
        let (matcher_kind, lines, pattern) = match &rule.matcher {
            Matcher::ContainsWord { words } => ("contains_word", words.join("\n"), String::new()),
            Matcher::Contains { texts } => ("contains", texts.join("\n"), String::new()),
            Matcher::Exact { texts } => ("exact", texts.join("\n"), String::new()),
            Matcher::Regex { pattern } => ("regex", String::new(), pattern.clone()),
            Matcher::ButtonId { ids } => ("button_id", ids.join("\n"), String::new()),
            Matcher::ListId { ids } => ("list_id", ids.join("\n"), String::new()),
        };
        Self {
            id: Some(rule.id.to_string()),
            name: rule.name.clone(),
            enabled: rule.enabled,
            channel: r.channel.map(|c| c.to_string()).unwrap_or_default(),
            matcher_kind,
            matcher_lines: lines,
            pattern,
            actions: rule.actions.iter().map(|a| ActionForm::new(a, names)).collect(),
            stop: rule.stop,
            cooldown_minutes: rule.cooldown_minutes,
        }
    }
}

#[derive(Template)]
#[template(path = "console/admin_rule.html")]
struct RulePage {
    layout: Layout,
    nav: Nav,
    rule: RuleForm,
    names: Names,
    blank_action: ActionForm,
}

/// `GET /admin/rules/new`: the form for a new rule (added last).
async fn new_rule(Page(admin): Page<Admin>, state: web::Data<AppState>) -> Result<HttpResponse, ConsoleError> {
    render(&RulePage {
        layout: Layout::signed_in("New keyword rule", &admin.agent),
        nav: Nav::at("/admin/rules"),
        rule: RuleForm::blank(),
        names: Names::load(&state).await?,
        blank_action: ActionForm::blank(),
    })
}

/// `GET /admin/rules/{id}`: the rule's form.
async fn edit_rule(Page(admin): Page<Admin<RuleId>>, state: web::Data<AppState>) -> Result<HttpResponse, ConsoleError> {
    let rule = state.store.keyword_rule(admin.path).await?.ok_or(ApiError::NotFound { what: "rule" })?;
    let title = if rule.rule.name.is_empty() { "Keyword rule".to_owned() } else { rule.rule.name.clone() };
    let names = Names::load(&state).await?;
    render(&RulePage {
        layout: Layout::signed_in(title, &admin.agent),
        nav: Nav::at("/admin/rules"),
        rule: RuleForm::new(&rule, &names),
        names,
        blank_action: ActionForm::blank(),
    })
}

/// Why one greeting, away message or rule fired or not.
struct TraceLine {
    what: String,
    fired: bool,
    why: String,
}

/// A message the sample would get, and what sends it.
struct ReplyLine {
    by: String,
    reply: ReplyView,
}

#[derive(Template)]
#[template(path = "console/admin_rules_try.html")]
struct TryResult {
    /// When, in the channel's time zone, and in UTC.
    local: Option<String>,
    utc: String,
    replies: Vec<ReplyLine>,
    /// Labels and assignments.
    other: Vec<String>,
    trace: Vec<TraceLine>,
    fired: usize,
}

/// The sample's times given as the form's `datetime-local` values (no offset): read in
/// the channel's business-hours time zone (UTC when it has none), as an RFC 3339 instant
/// the API reads. Anything else is left for the API to judge.
async fn local_times_to_utc(body: &mut Map<String, Value>, state: &AppState) -> Result<(), ConsoleError> {
    let channel = body.get("channel_id").and_then(Value::as_str).and_then(|s| s.parse::<ChannelId>().ok());
    let tz = match channel {
        Some(c) => state.store.auto_reply_config(c).await.ok().and_then(|cfg| cfg.hours).map(|h| h.time_zone),
        None => None,
    };
    let convert = |v: &mut Value| {
        let Some(s) = v.as_str() else { return };
        let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
            .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"));
        let Ok(naive) = naive else { return };
        let at: Option<DateTime<Utc>> = match tz {
            Some(tz) => tz.from_local_datetime(&naive).earliest().map(|t| t.with_timezone(&Utc)),
            None => Some(Utc.from_utc_datetime(&naive)),
        };
        if let Some(at) = at {
            *v = Value::String(at.to_rfc3339());
        }
    };
    if let Some(v) = body.get_mut("at") {
        convert(v);
    }
    for (part, field) in [("contact", "last_seen_at"), ("conversation", "last_agent_reply_at")] {
        if let Some(v) = body.get_mut(part).and_then(Value::as_object_mut).and_then(|o| o.get_mut(field)) {
            convert(v);
        }
    }
    Ok(())
}

/// What greeting, away message or rule `r` is, for people.
fn rule_label(p: &RulesPreview, r: RuleRef) -> String {
    match r {
        RuleRef::Greeting => "Greeting".to_owned(),
        RuleRef::Away => "Away message".to_owned(),
        RuleRef::Keyword(_) => match p.rule_name(r) {
            Some(n) if !n.is_empty() => format!("Rule “{n}”"),
            _ => {
                let i = p.config.rules.iter().position(|k| RuleRef::Keyword(k.id) == r).map_or(0, |i| i + 1);
                format!("Rule {i} (no name)")
            }
        },
        RuleRef::QuickReply(_) => r.to_string(),
        RuleRef::Csat => "Satisfaction survey".to_owned(),
        RuleRef::Consent => "Opt-out/opt-in confirmation".to_owned(),
    }
}

/// `POST /admin/rules/preview`, the body of `POST /api/v1/admin/rules/preview` (times
/// may also be the form's local times, see [`local_times_to_utc`]): which rules fire and
/// why, and the exact replies.
async fn try_it(
    Page(_): Page<Admin>,
    mut body: Body<PreviewJson>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    local_times_to_utc(body.object_mut(), &state).await?;
    let sample = match body.read().and_then(PreviewJson::sample) {
        Ok(s) => s,
        Err(e) => return problems(e),
    };
    let p = match state.config().preview_rules(sample).await {
        Ok(p) => p,
        Err(e) => return problems(e.into()),
    };
    let names = Names::load(&state).await?;
    let replies = p
        .evaluation
        .replies()
        .map(|(rule, reply)| ReplyLine { by: rule_label(&p, rule), reply: ReplyView::from(reply) })
        .collect();
    let other = p
        .evaluation
        .actions
        .iter()
        .filter_map(|a| {
            let by = rule_label(&p, a.rule);
            match &a.effect {
                Effect::Reply { .. } => None,
                Effect::AddLabels { labels } => {
                    let l: Vec<String> = labels.iter().map(|l| Names::name(&names.labels, &l.to_string())).collect();
                    Some(format!("{by} puts the labels {} on the conversation", l.join(", ")))
                }
                Effect::Assign { agent } => {
                    Some(format!("{by} assigns the conversation to {}", Names::name(&names.agents, &agent.to_string())))
                }
                Effect::AssignTeam { team } => Some(format!(
                    "{by} assigns the conversation to a member of {}",
                    Names::name(&names.teams, &team.to_string())
                )),
            }
        })
        .collect();
    let trace: Vec<TraceLine> = p
        .evaluation
        .trace
        .iter()
        .map(|e| TraceLine {
            what: rule_label(&p, e.rule),
            fired: e.outcome == Outcome::Fired,
            why: match e.outcome {
                Outcome::StoppedBy { rule } => format!("stopped by {}, which fired first", rule_label(&p, rule)),
                o => o.to_string(),
            },
        })
        .collect();
    let fired = trace.iter().filter(|t| t.fired).count();
    let local = p
        .config
        .hours
        .as_ref()
        .and_then(|h| Some((h.local_time(p.at)?, h.time_zone)))
        .map(|(t, tz)| format!("{} ({tz})", t.format("%A %-d %B %Y, %H:%M")));
    render(&TryResult { local, utc: p.at.format("%Y-%m-%d %H:%M UTC").to_string(), replies, other, fired, trace })
}
