//! Working the queue from the page: claim, assign and unassign, transfer to a team,
//! status (snooze until a time), resolve and open the next, labels, the history, and the
//! previous and next conversation of the list the agent came from. The use cases are
//! `Inbox`'s `claim`, `assign`, `transfer`, `set_status`, `add_labels` and
//! `remove_label`, as the REST routes call them.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::Deserialize;
use switchboard_domain::{AgentId, ConversationId, ConversationStatus, LabelId, TeamId};
use switchboard_store::Visibility;
use switchboard_store::{Agent, AssigneeFilter, ConversationView, StoreError, ViewCursor, ViewQuery};

use super::super::{ConsoleError, Form, Page, query_pairs};
use super::{conversation, done, is_admin, rendered, status_label, thread};
use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::error::{ApiError, FieldError};
use crate::extract::PathAfter;
use crate::guard::{VisibleConversation, viewer};

/// The inbox list the agent came from, as the inbox's own query names it: `view`
/// (`mine`, `unassigned`, `all`, `mentions`, `team` with `team=<id>`, `label` with
/// `label=<id>`), `status` (`open` by default; several comma-separated, or `all`), `sort`
/// (`last_activity`, `waiting`, `window_closing`) and `q`. Carried from page to page as
/// that query string, for `[`/`]` and "resolve and next".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct List {
    pairs: Vec<(String, String)>,
}

/// The parameters a list is made of.
const LIST_KEYS: [&str; 6] = ["view", "team", "label", "status", "sort", "q"];

impl List {
    /// The list named by the request's query (none without `view`); an unreadable one is
    /// refused, naming the field.
    pub(super) fn from_params(params: &[(String, String)]) -> Result<Self, ApiError> {
        let get = |key: &str| params.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim()).filter(|v| !v.is_empty());
        let Some(view) = get("view") else { return Ok(Self::default()) };
        if !matches!(view, "mine" | "unassigned" | "all" | "mentions" | "team" | "label") {
            return Err(ApiError::field("view", "must be mine, unassigned, all, mentions, team or label"));
        }
        let list = Self {
            pairs: LIST_KEYS
                .iter()
                .filter_map(|k| get(k).map(|v| ((*k).to_owned(), v.to_owned())))
                .filter(|(k, _)| match k.as_str() {
                    "team" => view == "team",
                    "label" => view == "label",
                    _ => true,
                })
                .collect(),
        };
        // Checked now, so that links never carry a list that cannot be read.
        list.view_query_for(Visibility::All, AgentId::new())?;
        Ok(list)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// `view=mine&status=open…`, empty for none.
    pub(super) fn query(&self) -> String {
        self.pairs.iter().map(|(k, v)| format!("{k}={}", super::super::urlencode(v))).collect::<Vec<_>>().join("&")
    }

    /// The list as a view query of `agent`'s (the agent's own, by default).
    fn view_query(&self, agent: &AuthenticatedAgent) -> Result<Option<ViewQuery>, ApiError> {
        if self.is_mentions() {
            // Not a view query: see `neighbour`.
            return Ok(None);
        }
        self.view_query_for(viewer(agent), agent.0.id).map(Some)
    }

    fn is_mentions(&self) -> bool {
        self.get("view") == Some("mentions")
    }

    fn view_query_for(&self, viewer: Visibility, me: AgentId) -> Result<ViewQuery, ApiError> {
        let mut q = ViewQuery::new(viewer, Utc::now());
        let mut errors = Vec::new();
        match self.get("view").unwrap_or("mine") {
            "mine" => q.assignee = Some(AssigneeFilter::Agent(me)),
            "unassigned" => q.assignee = Some(AssigneeFilter::Unassigned),
            "team" => match self.get("team").and_then(|t| t.parse().ok()) {
                Some(t) => q.team = Some(t),
                None => errors.push(FieldError::new("team", "must be a team id for view=team")),
            },
            "label" => match self.get("label").and_then(|l| l.parse().ok()) {
                Some(l) => q.labels = vec![l],
                None => errors.push(FieldError::new("label", "must be a label id for view=label")),
            },
            _ => {}
        }
        for raw in self.get("status").unwrap_or("open").split(',').map(str::trim) {
            match raw {
                "all" => {}
                s => match ConversationStatus::parse(s) {
                    Some(s) if !q.statuses.contains(&s) => q.statuses.push(s),
                    Some(_) => {}
                    None => errors.push(FieldError::new("status", "must be open, pending, snoozed, resolved or all")),
                },
            }
        }
        if self.get("status").is_some_and(|s| s.split(',').any(|s| s.trim() == "all")) {
            q.statuses.clear();
        }
        q.sort = crate::routes::conversations::parse_sort(self.get("sort"), &mut errors);
        q.search = crate::routes::conversations::parse_search(self.get("q"), &mut errors);
        if errors.is_empty() { Ok(q) } else { Err(ApiError::Validation(errors)) }
    }
}

/// The list in the request's query (none if it names none or one that cannot be read:
/// the page still shows).
pub(super) fn list_param(req: &HttpRequest) -> Result<List, ConsoleError> {
    Ok(List::from_params(&query_pairs(req)?).unwrap_or_default())
}

/// Where a conversation's page is, keeping the list the agent came from.
fn page_url(id: ConversationId, list: &List) -> String {
    let q = list.query();
    if q.is_empty() { format!("/c/{id}") } else { format!("/c/{id}?{q}") }
}

/// The inbox, on the list the agent came from.
fn inbox_url(list: &List) -> String {
    let q = list.query();
    if q.is_empty() { "/".into() } else { format!("/?{q}") }
}

/// Goes to `url`: htmx loads it as a page, a browser follows the redirect.
pub(super) fn go(req: &HttpRequest, url: &str) -> HttpResponse {
    if super::is_htmx(req) {
        HttpResponse::NoContent().insert_header(("HX-Redirect", url.to_owned())).finish()
    } else {
        HttpResponse::SeeOther().insert_header(("Location", url.to_owned())).finish()
    }
}

struct LabelChip {
    id: LabelId,
    name: String,
    colour: String,
}

struct AgentOption {
    id: AgentId,
    name: String,
    current: bool,
}

struct TeamOption {
    id: TeamId,
    name: String,
    /// The team it was transferred to.
    current: bool,
}

#[derive(Template)]
#[template(path = "console/conversation_panel.html")]
struct Panel {
    id: ConversationId,
    view: String,
    status: &'static str,
    status_label: &'static str,
    snoozed_until: Option<(String, String)>,
    assignee: Option<String>,
    mine: bool,
    unassigned: bool,
    resolved: bool,
    admin: bool,
    agents: Vec<AgentOption>,
    /// Its effective team's name (`None`: no team, every agent sees it).
    team: Option<String>,
    /// Whether it follows its channel's routing (not transferred).
    follows_channel: bool,
    /// Whether the caller may transfer it (admins; agents when unassigned or theirs).
    may_transfer: bool,
    teams: Vec<TeamOption>,
    labels: Vec<LabelChip>,
    other_labels: Vec<LabelChip>,
    /// Its SLA targets: what (`First response`, `Resolution`), the state's class (`met`,
    /// `due`, `overdue`), what to say and the due time (ISO, short).
    sla: Vec<SlaLine>,
}

struct SlaLine {
    what: &'static str,
    class: &'static str,
    state: &'static str,
    at: String,
    short: String,
}

fn sla_lines(s: &switchboard_store::ConversationSla, now: chrono::DateTime<chrono::Utc>) -> Vec<SlaLine> {
    use switchboard_domain::sla::SlaOutcome;
    let line = |what, due: Option<chrono::DateTime<chrono::Utc>>, outcome: Option<SlaOutcome>| {
        let due = due?;
        let (class, state) = match outcome {
            Some(SlaOutcome::Met) => ("met", "met"),
            Some(SlaOutcome::Breached) => ("overdue", "missed"),
            None if now >= due => ("overdue", "overdue"),
            None => ("due", "due"),
        };
        Some(SlaLine { what, class, state, at: thread::iso(&due), short: thread::short(&due) })
    };
    [
        line("First response", s.first_response_due_at, s.first_response),
        line("Resolution", s.resolution_due_at, s.resolution),
    ]
    .into_iter()
    .flatten()
    .collect()
}

pub(super) async fn panel_html(
    state: &AppState,
    me: &Agent,
    c: &ConversationView,
    agents: &[Agent],
    view: &str,
) -> Result<String, ConsoleError> {
    let applied = state.store.conversation_labels(c.id).await?;
    let all = state.store.labels().await?;
    let chip = |l: &switchboard_store::Label| LabelChip {
        id: l.id,
        name: l.name.as_str().to_owned(),
        colour: l.colour.as_str().to_owned(),
    };
    let labels: Vec<LabelChip> = applied.iter().map(|a| chip(&a.label)).collect();
    let other_labels = all.iter().filter(|l| !applied.iter().any(|a| a.label.id == l.id)).map(chip).collect();
    let assignee = c.assignee_id.map(|a| {
        agents.iter().find(|x| x.id == a).map_or_else(|| "an agent".to_owned(), |x| x.name.as_str().to_owned())
    });
    let transferred_to = state.store.conversation_state(c.id).await?.and_then(|s| s.transferred_to);
    let teams = state.store.teams().await?;
    let team = c
        .team_id
        .map(|t| teams.iter().find(|x| x.id == t).map_or_else(|| "a team".to_owned(), |x| x.name.as_str().to_owned()));
    rendered(&Panel {
        id: c.id,
        view: view.to_owned(),
        status: c.status.as_str(),
        status_label: status_label(c.status),
        snoozed_until: c.snoozed_until.map(|t| (thread::iso(&t), thread::short(&t))),
        sla: sla_lines(&c.sla, chrono::Utc::now()),
        assignee,
        mine: c.assignee_id == Some(me.id),
        unassigned: c.assignee_id.is_none(),
        resolved: c.status == ConversationStatus::Resolved,
        admin: is_admin(me),
        agents: agents
            .iter()
            .filter(|a| a.active)
            .map(|a| AgentOption { id: a.id, name: a.name.as_str().to_owned(), current: c.assignee_id == Some(a.id) })
            .collect(),
        team,
        follows_channel: transferred_to.is_none(),
        may_transfer: switchboard_core::may_transfer(me, c.assignee_id),
        teams: teams
            .iter()
            .map(|t| TeamOption { id: t.id, name: t.name.as_str().to_owned(), current: transferred_to == Some(t.id) })
            .collect(),
        labels,
        other_labels,
    })
}

/// The panel as it is now.
async fn fresh_panel(state: &AppState, v: &VisibleConversation, view: &str) -> Result<String, ConsoleError> {
    let c = conversation(state, v.id).await?;
    let agents = super::agents(state).await?;
    panel_html(state, &v.agent.0, &c, &agents, view).await
}

/// `GET /c/{id}/panel`: status, assignee and labels.
pub(super) async fn panel(
    Page(v): Page<VisibleConversation>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let view = list_param(&req)?.query();
    let html = fresh_panel(&state, &v, &view).await?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html))
}

/// `POST /c/{id}/claim`: assigns it to the caller (as `POST …/assign` with their id).
pub(super) async fn claim(
    Page(v): Page<VisibleConversation>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    state.inbox().assign(&v.agent.0, v.id, Some(v.agent.0.id)).await?;
    let view = list_param(&req)?.query();
    Ok(done(&req, v.id, Some(fresh_panel(&state, &v, &view).await?)))
}

#[derive(Deserialize)]
pub(super) struct AssignForm {
    /// An agent's id, `me`, or empty to unassign.
    agent_id: Option<String>,
}

/// `POST /c/{id}/assign`: to an agent, or nobody (`agent_id` empty).
pub(super) async fn assign(
    Page(v): Page<VisibleConversation>,
    req: HttpRequest,
    Form(form): Form<AssignForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let target = match form.agent_id.as_deref().map(str::trim) {
        None => return Err(ApiError::field("agent_id", "is required: an agent, or empty to unassign").into()),
        Some("") => None,
        Some("me") => Some(v.agent.0.id),
        Some(raw) => Some(raw.parse::<AgentId>().map_err(|_| ApiError::field("agent_id", "is not an agent id"))?),
    };
    state.inbox().assign(&v.agent.0, v.id, target).await?;
    let view = list_param(&req)?.query();
    Ok(done(&req, v.id, Some(fresh_panel(&state, &v, &view).await?)))
}

#[derive(Deserialize)]
pub(super) struct TeamForm {
    /// A team's id, or empty for the channel's routing.
    team_id: Option<String>,
}

/// `POST /c/{id}/team`: transfers it to a team, or back to its channel's routing
/// (`team_id` empty). If the caller may no longer see it afterwards, to the inbox.
pub(super) async fn transfer(
    Page(v): Page<VisibleConversation>,
    req: HttpRequest,
    Form(form): Form<TeamForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let team = match form.team_id.as_deref().map(str::trim) {
        None => {
            return Err(ApiError::field("team_id", "is required: a team, or empty for the channel's routing").into());
        }
        Some("") => None,
        Some(raw) => Some(raw.parse::<TeamId>().map_err(|_| ApiError::field("team_id", "is not a team id"))?),
    };
    state.inbox().transfer(&v.agent.0, v.id, team).await?;
    let list = list_param(&req)?;
    if !state.store.may_see_conversation(viewer(&v.agent), v.id).await? {
        // Gone to a team the caller is not in.
        return Ok(go(&req, &inbox_url(&list)));
    }
    Ok(done(&req, v.id, Some(fresh_panel(&state, &v, &list.query()).await?)))
}

#[derive(Deserialize)]
pub(super) struct StatusForm {
    status: Option<String>,
    /// `2026-12-07T14:30` in the browser's time zone (`datetime-local`), or RFC 3339.
    snooze_until: Option<String>,
    /// The browser's `Date.getTimezoneOffset()` (minutes behind UTC); 0 if absent.
    tz_offset: Option<String>,
}

/// A snooze time from the form: RFC 3339, or a local `datetime-local` value and the
/// browser's offset.
fn snooze_time(raw: &str, tz_offset: Option<&str>) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    let local = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S"))
        .ok()?;
    let offset: i64 = tz_offset.map(str::trim).filter(|o| !o.is_empty()).map_or(Some(0), |o| o.parse().ok())?;
    if offset.abs() > 18 * 60 {
        return None;
    }
    Some(local.and_utc() + Duration::minutes(offset))
}

/// The status and snooze time a status form asks for.
fn parse_status(form: &StatusForm) -> Result<(ConversationStatus, Option<DateTime<Utc>>), ApiError> {
    let mut errors = Vec::new();
    let status = form.status.as_deref().map(str::trim).and_then(ConversationStatus::parse);
    if status.is_none() {
        errors.push(FieldError::new("status", "must be one of open, pending, snoozed, resolved"));
    }
    let until = match form.snooze_until.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => snooze_time(raw, form.tz_offset.as_deref()).or_else(|| {
            errors.push(FieldError::new("snooze_until", "must be a date and time, e.g. 2026-01-02T09:00"));
            None
        }),
    };
    match status {
        // A time left in the field while choosing another status is not an error here.
        Some(s) if errors.is_empty() => Ok((s, until.filter(|_| s == ConversationStatus::Snoozed))),
        _ => Err(ApiError::Validation(errors)),
    }
}

/// `POST /c/{id}/status`: open, pending, snoozed until a time, resolved.
pub(super) async fn status(
    Page(v): Page<VisibleConversation>,
    req: HttpRequest,
    Form(form): Form<StatusForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let (status, until) = parse_status(&form)?;
    state.inbox().set_status(&v.agent.0, v.id, status, until, Utc::now()).await?;
    let view = list_param(&req)?.query();
    Ok(done(&req, v.id, Some(fresh_panel(&state, &v, &view).await?)))
}

/// `POST /c/{id}/resolve-next`: resolves it, claims the next conversation waiting for the
/// caller and goes there (to the inbox if nothing waits).
pub(super) async fn resolve_next(
    Page(v): Page<VisibleConversation>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let list = list_param(&req)?;
    state.inbox().set_status(&v.agent.0, v.id, ConversationStatus::Resolved, None, Utc::now()).await?;
    let url = match state.inbox().claim(&v.agent.0).await {
        Ok(Some(next)) => page_url(next.id, &list),
        Ok(None) => inbox_url(&list),
        // Resolved, but at capacity (or deactivated meanwhile): to the inbox, which says why.
        Err(e) => {
            tracing::debug!(conversation_id = %v.id, error = %e, "resolved; nothing claimed");
            inbox_url(&list)
        }
    };
    Ok(go(&req, &url))
}

#[derive(Deserialize)]
pub(super) struct LabelForm {
    /// A label's id or name.
    label: Option<String>,
}

/// `POST /c/{id}/labels`: puts a label (by id or name) on it.
pub(super) async fn add_label(
    Page(v): Page<VisibleConversation>,
    req: HttpRequest,
    Form(form): Form<LabelForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let label = form.label.as_deref().map(str::trim).unwrap_or_default();
    if label.is_empty() {
        return Err(ApiError::field("label", "choose a label").into());
    }
    state.inbox().add_labels(&v.agent.0, v.id, &[label.to_owned()]).await?;
    let view = list_param(&req)?.query();
    Ok(done(&req, v.id, Some(fresh_panel(&state, &v, &view).await?)))
}

/// `POST /c/{id}/labels/{label_id}/remove`: takes a label off it.
pub(super) async fn remove_label(
    Page(PathAfter { first: v, path: label }): Page<PathAfter<VisibleConversation, LabelId>>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    state.inbox().remove_label(&v.agent.0, v.id, label).await?;
    let view = list_param(&req)?.query();
    Ok(done(&req, v.id, Some(fresh_panel(&state, &v, &view).await?)))
}

struct HistoryItem {
    at_iso: String,
    at_short: String,
    text: String,
}

#[derive(Template)]
#[template(path = "console/conversation_history.html")]
struct History {
    items: Vec<HistoryItem>,
    more: bool,
}

/// `GET /c/{id}/history`: who assigned and changed what, oldest first (the REST
/// history's first page of 100).
pub(super) async fn history(
    Page(v): Page<VisibleConversation>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let page = state.store.history(v.id, 100, None).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::NotFound { what: "conversation" },
        e => e.into(),
    })?;
    let agents = super::agents(&state).await?;
    let teams = state.store.teams().await?;
    let name = |raw: Option<&serde_json::Value>| {
        raw.and_then(serde_json::Value::as_str)
            .and_then(|s| s.parse::<AgentId>().ok())
            .map(|id| agents.iter().find(|a| a.id == id).map_or("an agent", |a| a.name.as_str()).to_owned())
    };
    let items = page
        .items
        .iter()
        .map(|e| {
            let actor = e
                .actor_id
                .map(|a| agents.iter().find(|x| x.id == a).map_or("An agent", |x| x.name.as_str()).to_owned())
                .unwrap_or_else(|| "The system".into());
            let text = match e.kind {
                switchboard_store::HistoryKind::Assigned => {
                    let to = name(e.data.get("agent_id")).unwrap_or_else(|| "an agent".into());
                    match name(e.data.get("previous_agent_id")) {
                        Some(from) => format!("{actor} transferred it from {from} to {to}"),
                        None => format!("{actor} assigned it to {to}"),
                    }
                }
                switchboard_store::HistoryKind::Unassigned => {
                    let from = name(e.data.get("agent_id")).unwrap_or_else(|| "its agent".into());
                    match e.data.get("reason").and_then(serde_json::Value::as_str) {
                        Some("team_changed") => {
                            format!("{actor} unassigned it from {from}, who is not in its new team")
                        }
                        Some("agent_deactivated") => format!("{actor} unassigned it from {from}, who was deactivated"),
                        Some("reply_timeout") => {
                            format!("{actor} unassigned it from {from}, who did not answer in time")
                        }
                        _ => format!("{actor} unassigned it from {from}"),
                    }
                }
                switchboard_store::HistoryKind::TeamChanged => {
                    let team = |raw: Option<&serde_json::Value>| {
                        raw.and_then(serde_json::Value::as_str).and_then(|s| s.parse::<TeamId>().ok()).map(|id| {
                            teams
                                .iter()
                                .find(|t| t.id == id)
                                .map_or("a team that was deleted", |t| t.name.as_str())
                                .to_owned()
                        })
                    };
                    let to = team(e.data.get("to")).unwrap_or_else(|| "no team".into());
                    let from = team(e.data.get("from")).unwrap_or_else(|| "no team".into());
                    if e.data.get("transferred_to").is_some_and(serde_json::Value::is_null) {
                        format!("{actor} sent it back to its channel's routing ({to}; it was with {from})")
                    } else {
                        format!("{actor} transferred it from {from} to {to}")
                    }
                }
                switchboard_store::HistoryKind::StatusChanged => {
                    let to = e.data.get("to").and_then(serde_json::Value::as_str).unwrap_or("?");
                    match e.data.get("snoozed_until").and_then(serde_json::Value::as_str) {
                        Some(until) => format!("{actor} snoozed it until {until}"),
                        None => format!("{actor} set it {to}"),
                    }
                }
            };
            HistoryItem { at_iso: thread::iso(&e.at), at_short: thread::short(&e.at), text }
        })
        .collect();
    let html = rendered(&History { items, more: page.next.is_some() })?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html))
}

/// How far back `[` looks for the conversation before this one (pages of 500).
const PREVIOUS_SCAN_PAGES: usize = 4;

/// `GET /c/{id}/next?<the list's query>&dir=next|prev`: to the next (or previous)
/// conversation of the list the agent came from (`view=mine` when none is named); back
/// to that list at either end.
pub(super) async fn neighbour(
    Page(v): Page<VisibleConversation>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let params = query_pairs(&req)?;
    let mut list = List::from_params(&params)?;
    if list.pairs.is_empty() {
        list.pairs.push(("view".into(), "mine".into()));
    }
    let backwards = match params.iter().find(|(k, _)| k == "dir").map(|(_, d)| d.as_str()) {
        None | Some("next") => false,
        Some("prev") => true,
        Some(_) => return Err(ApiError::field("dir", "must be next or prev").into()),
    };
    if list.is_mentions() {
        // Opening a conversation sees its mentions, so it has left the list: the next is
        // the (new) first one with unseen mentions; the previous, the list itself.
        let next = if backwards {
            None
        } else {
            let page = state.store.mentioned_conversations(v.agent.0.id, viewer(&v.agent), 2, None).await?;
            page.items.into_iter().map(|m| m.conversation.id).find(|id| *id != v.id)
        };
        let url = next.map_or_else(|| inbox_url(&list), |id| page_url(id, &list));
        return Ok(HttpResponse::SeeOther().insert_header(("Location", url)).finish());
    }
    let Some(mut q) = list.view_query(&v.agent)? else {
        return Ok(HttpResponse::SeeOther().insert_header(("Location", inbox_url(&list))).finish());
    };
    let current = conversation(&state, v.id).await?;
    let target = if backwards {
        // The store reads views forwards only: scan from the top, a bounded way.
        q.limit = 500;
        let mut previous = None;
        let mut found = None;
        for _ in 0..PREVIOUS_SCAN_PAGES {
            let page = state.store.view_conversations(&q).await?;
            for c in &page.items {
                if c.id == v.id {
                    found = Some(previous);
                    break;
                }
                previous = Some(c.id);
            }
            if found.is_some() {
                break;
            }
            match page.next {
                Some(next) => q.after = Some(next),
                None => break,
            }
        }
        found.flatten()
    } else {
        q.limit = 1;
        q.after = Some(ViewCursor::after(q.sort, &current));
        state.store.view_conversations(&q).await?.items.first().map(|c| c.id)
    };
    let url = target.map_or_else(|| inbox_url(&list), |id| page_url(id, &list));
    Ok(HttpResponse::SeeOther().insert_header(("Location", url)).finish())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use switchboard_store::ViewSort;

    use super::*;

    #[test]
    fn a_local_snooze_time_is_read_with_the_browsers_offset() {
        let t = snooze_time("2026-12-07T14:30", Some("-60")).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-07T13:30:00+00:00", "UTC+1 is 60 minutes ahead");
        assert_eq!(snooze_time("2026-12-07T14:30", None).unwrap().to_rfc3339(), "2026-12-07T14:30:00+00:00");
        assert_eq!(snooze_time("2026-12-07T14:30:00Z", Some("x")).unwrap().to_rfc3339(), "2026-12-07T14:30:00+00:00");
        assert!(snooze_time("tomorrow", None).is_none());
        assert!(snooze_time("2026-12-07T14:30", Some("soon")).is_none());
        assert!(snooze_time("2026-12-07T14:30", Some("100000")).is_none());
    }

    #[test]
    fn a_list_is_read_as_the_inbox_names_it_and_carried_as_its_query() {
        let p =
            |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<Vec<_>>();
        let team = switchboard_store::TeamId::new();
        let list = List::from_params(&p(&[
            ("view", "team"),
            ("team", &team.to_string()),
            ("label", "x"),
            ("sort", "waiting"),
            ("other", "y"),
        ]))
        .unwrap();
        assert_eq!(list.query(), format!("view=team&team={team}&sort=waiting"));
        let q = list.view_query_for(Visibility::All, AgentId::new()).unwrap();
        assert_eq!(
            (q.team, q.sort, q.statuses.clone()),
            (Some(team), ViewSort::Waiting, vec![ConversationStatus::Open])
        );
        assert_eq!(List::from_params(&p(&[("q", "x")])).unwrap(), List::default(), "no view, no list");
        assert!(List::from_params(&p(&[("view", "elsewhere")])).is_err());
        assert!(List::from_params(&p(&[("view", "team")])).is_err());
        assert!(List::from_params(&p(&[("view", "all"), ("status", "gone")])).is_err());
        let all = List::from_params(&p(&[("view", "all"), ("status", "all"), ("q", "a b&c")])).unwrap();
        assert_eq!(all.query(), "view=all&status=all&q=a%20b%26c");
    }
}
