//! The inbox: the conversations an agent works on (`GET /`), claim next (`POST /next`),
//! the agent's availability (`POST /availability`) and the console's live stream
//! (`GET /live`, in [`live`]).
//!
//! `GET /` takes the view in its query string so it can be bookmarked:
//! `view` (`mine`, the default; `unassigned`, `all`, `mentions`, `team` with `team=<id>`,
//! `label` with `label=<id>`), `status` (`open`, the default; `pending`, `snoozed`,
//! `resolved`, `all`), `sort` (`last_activity`, the default; `waiting`,
//! `window_closing`), `q` (the API's search) and `cursor` (the next page). It is read
//! by the same code as `GET /api/v1/conversations` (`routes::conversations::view_query`),
//! with the caller's visibility, so a view shows exactly what the API would list.
//! `mentions` is the conversations (any status) in which someone mentioned the agent in
//! a note they have not seen yet, newest mention first (`NoteStore::mentioned_conversations`;
//! the API: `GET /api/v1/mentions?unseen=true`); opening the conversation sees them, so
//! it leaves the view. It takes no status, sort or search.
//!
//! htmx asks for parts of the page, named by the element it swaps (`HX-Target`):
//! `inbox-list` (the list region: a view change, a live refresh), `inbox-more` (the next
//! page's rows and a new "load more" button, which replace the button: the rows append)
//! and `views` (the nav with every view's count). Any other request gets the whole page,
//! whose nav has no counts yet: counting every view reads every conversation that is not
//! resolved (tens of milliseconds at 100,000), so the page answers without it and
//! inbox.js asks for the counts at once, and again after changes (`sse:inbox`), at most
//! every few seconds.
//!
//! Live: inbox.js hears the `inbox` events of `/live` and refreshes the list's first
//! rows (as many as the agent has loaded, `loaded=`), at once and then at most every
//! 300 ms while events keep coming, keeping focus on the same conversation.

mod live;

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Duration, Utc};
use switchboard_domain::message::MessageKind;
use switchboard_domain::{AgentId, AgentRole, Availability, ConversationStatus, Direction, LabelId, window};
use switchboard_store::{ConversationView, LastMessage, Note, NoteId, TeamId, ViewCursor, ViewSort};

use super::{ConsoleError, Layout, Page, render};
use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::error::{ApiError, FieldError};
use crate::extract::Caller;
use crate::guard::viewer;
use crate::routes::conversations::{encode_cursor, view_query};
use crate::routes::labels::resolve_labels;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(inbox))
        .route("/next", web::post().to(claim_next))
        .route("/availability", web::post().to(set_availability))
        .route("/live", web::get().to(live::live));
}

/// Rows per page.
const PAGE_ROWS: u32 = 50;
/// A live refresh re-reads as many rows as the agent has loaded, up to this.
const MAX_REFRESH_ROWS: u32 = 500;
/// A window closing within this is "closing soon".
const CLOSING_SOON: Duration = Duration::hours(2);

/// Which conversations the list shows.
#[derive(Clone, Debug, PartialEq, Eq)]
enum View {
    Mine,
    Unassigned,
    All,
    Mentions,
    Team(TeamId),
    Label(LabelId),
}

impl View {
    /// The view's query parameters (`view=…`, and its id).
    fn query(&self) -> String {
        match self {
            Self::Mine => "view=mine".into(),
            Self::Unassigned => "view=unassigned".into(),
            Self::All => "view=all".into(),
            Self::Mentions => "view=mentions".into(),
            Self::Team(t) => format!("view=team&team={t}"),
            Self::Label(l) => format!("view=label&label={l}"),
        }
    }
}

/// The query string as pairs.
type Params = web::Query<Vec<(String, String)>>;

fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
}

/// What the page was asked for, checked.
struct Selection {
    view: View,
    /// As given (`open` by default), for links and the form.
    status: String,
    sort: ViewSort,
    q: String,
}

impl Selection {
    fn parse(params: &[(String, String)], errors: &mut Vec<FieldError>) -> Self {
        fn id<T: std::str::FromStr>(params: &[(String, String)], key: &str, errors: &mut Vec<FieldError>) -> Option<T> {
            let parsed = param(params, key).and_then(|raw| raw.parse().ok());
            if parsed.is_none() {
                errors.push(FieldError::new(key, format!("must be a {key} id for view={key}")));
            }
            parsed
        }
        let view = match param(params, "view") {
            None | Some("mine") => View::Mine,
            Some("unassigned") => View::Unassigned,
            Some("all") => View::All,
            Some("mentions") => View::Mentions,
            Some("team") => id(params, "team", errors).map_or(View::Mine, View::Team),
            Some("label") => id(params, "label", errors).map_or(View::Mine, View::Label),
            Some(_) => {
                errors.push(FieldError::new("view", "must be mine, unassigned, all, mentions, team or label"));
                View::Mine
            }
        };
        let sort = crate::routes::conversations::parse_sort(param(params, "sort"), errors);
        Self {
            view,
            status: param(params, "status").unwrap_or("open").to_owned(),
            sort,
            q: param(params, "q").unwrap_or_default().to_owned(),
        }
    }

    const fn sort_name(&self) -> &'static str {
        match self.sort {
            ViewSort::Waiting => "waiting",
            ViewSort::WindowClosing => "window_closing",
            ViewSort::SlaDue => "sla_due",
            ViewSort::LastActivity | ViewSort::Newest => "last_activity",
        }
    }

    /// The page's address for `view` with this selection's filters (the first page).
    fn url_for(&self, view: &View) -> String {
        let mut url = format!("/?{}", view.query());
        if view != &View::Mentions {
            url.push_str(&format!("&status={}&sort={}", urlencode(&self.status), self.sort_name()));
            if !self.q.is_empty() {
                url.push_str(&format!("&q={}", urlencode(&self.q)));
            }
        }
        url
    }

    fn url(&self) -> String {
        self.url_for(&self.view)
    }
}

/// The view's address, and its query alone (`?view=…`) for the rows' links.
fn view_urls(sel: &Selection) -> (String, String) {
    let url = sel.url();
    let query = url.trim_start_matches('/').to_owned();
    (url, query)
}

/// Percent-encodes a query value.
fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One conversation in the list.
struct Row {
    id: String,
    name: String,
    number: String,
    /// The last message's text (or its type's name), and whether we sent it.
    preview: String,
    outbound: bool,
    /// A symbol for media and other non-text messages (empty for text), and its name for
    /// screen readers.
    icon: &'static str,
    icon_name: &'static str,
    channel: String,
    assignee: Option<String>,
    labels: Vec<String>,
    status: &'static str,
    /// How long the customer has been waiting for an answer, and since when.
    waiting: Option<String>,
    waiting_since: String,
    /// The soonest SLA due time still pending: `due` or `overdue`, what to say, and when.
    sla: Option<(&'static str, String, String)>,
    /// `open`, `closing` or `closed`, and what to say about it.
    window: &'static str,
    window_text: String,
    /// The customer wrote and nobody has answered yet.
    unread: bool,
    last_activity: String,
    last_activity_ago: String,
    /// The Mentions view: the newest note mentioning the agent that they have not seen.
    mention: Option<MentionLine>,
}

/// Who mentioned the agent in a conversation, and how (the Mentions view's rows).
struct MentionLine {
    author: String,
    text: String,
    at: String,
    ago: String,
    /// Unseen mentions in the conversation beyond this one.
    more: u64,
}

/// The list region.
struct List {
    view_url: String,
    /// What a row's link carries after `/c/{id}`: this view's query, so the conversation
    /// page's previous and next (`[`, `]`) walk this list.
    row_query: String,
    heading: String,
    mentions: bool,
    rows: Vec<Row>,
    /// The next page's address, if there is one.
    more: Option<String>,
}

/// One entry of the views nav.
struct NavItem {
    label: String,
    url: String,
    count: Option<u64>,
    current: bool,
}

struct Nav {
    /// Whether the counts are in (else inbox.js asks for them).
    counted: bool,
    views: Vec<NavItem>,
    teams: Vec<NavItem>,
    labels: Vec<NavItem>,
    /// Conversations waiting in the queue.
    queue: Option<u64>,
}

/// The filter form's view fields (swapped with the list, so the form follows the view).
struct Filters {
    view: &'static str,
    team: Option<String>,
    label: Option<String>,
    status: String,
    sort: &'static str,
    q: String,
}

#[derive(Template)]
#[template(path = "console/inbox.html")]
struct Inbox {
    layout: Layout,
    nav: Nav,
    list: List,
    filters: Filters,
    oob: bool,
}

/// `HX-Target: inbox-list`.
#[derive(Template)]
#[template(path = "console/inbox_list_part.html")]
struct ListPart {
    list: List,
    filters: Filters,
    oob: bool,
}

/// `HX-Target: views`.
#[derive(Template)]
#[template(path = "console/inbox_nav.html")]
struct NavPart {
    nav: Nav,
}

/// `HX-Target: inbox-more`.
#[derive(Template)]
#[template(path = "console/inbox_more_part.html")]
struct MorePart {
    list: List,
}

/// What part of the page a request wants.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Whole,
    List,
    More,
    Nav,
}

fn part(req: &HttpRequest) -> Part {
    if !req.headers().contains_key("HX-Request") || req.headers().contains_key("HX-Boosted") {
        return Part::Whole;
    }
    match req.headers().get("HX-Target").and_then(|v| v.to_str().ok()) {
        Some("inbox-list") => Part::List,
        Some("inbox-more") => Part::More,
        Some("views") => Part::Nav,
        _ => Part::Whole,
    }
}

/// `GET /`: the inbox, or the part of it htmx asks for.
async fn inbox(
    Page(caller): Page<Caller>,
    req: HttpRequest,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let agent = &caller.agent;
    let part = part(&req);
    let mut errors = Vec::new();
    let sel = Selection::parse(&params, &mut errors);
    // A live refresh re-reads the rows the agent has loaded (inbox.js says how many).
    let limit = match (part, param(&params, "loaded").and_then(|n| n.parse::<u32>().ok())) {
        (Part::List, Some(n)) => n.clamp(PAGE_ROWS, MAX_REFRESH_ROWS),
        _ => PAGE_ROWS,
    };
    let cursor = param(&params, "cursor");
    if part == Part::Nav {
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors).into());
        }
        return render(&NavPart { nav: nav(&state, agent, &sel, true).await? });
    }
    let list = if sel.view == View::Mentions {
        let before = match cursor.map(str::parse::<NoteId>) {
            None => None,
            Some(Ok(id)) => Some(id),
            Some(Err(_)) => {
                errors.push(FieldError::new("cursor", "is not a cursor this page returned"));
                None
            }
        };
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors).into());
        }
        mentions(&state, agent, &sel, limit, before).await?
    } else {
        conversations(&state, agent, &sel, &params, limit, cursor, errors).await?
    };
    match part {
        Part::More => render(&MorePart { list }),
        Part::List => render(&ListPart { list, filters: filters(&sel), oob: true }),
        Part::Nav | Part::Whole => render(&Inbox {
            layout: Layout::signed_in("Inbox", agent),
            nav: nav(&state, agent, &sel, false).await?,
            list,
            filters: filters(&sel),
            oob: false,
        }),
    }
}

fn filters(sel: &Selection) -> Filters {
    let (view, team, label) = match &sel.view {
        View::Mine => ("mine", None, None),
        View::Unassigned => ("unassigned", None, None),
        View::All => ("all", None, None),
        View::Mentions => ("mentions", None, None),
        View::Team(t) => ("team", Some(t.to_string()), None),
        View::Label(l) => ("label", None, Some(l.to_string())),
    };
    Filters { view, team, label, status: sel.status.clone(), sort: sel.sort_name(), q: sel.q.clone() }
}

/// A page of the conversations of the selected view, read as `GET /api/v1/conversations`
/// reads them.
async fn conversations(
    state: &AppState,
    agent: &AuthenticatedAgent,
    sel: &Selection,
    params: &[(String, String)],
    limit: u32,
    cursor: Option<&str>,
    mut errors: Vec<FieldError>,
) -> Result<List, ConsoleError> {
    let mut api: Vec<(String, String)> = Vec::new();
    let mut labels = Vec::new();
    match &sel.view {
        View::Mine => api.push(("assignee".into(), "me".into())),
        View::Unassigned => api.push(("assignee".into(), "unassigned".into())),
        View::All | View::Mentions => {}
        View::Team(t) => api.push(("team".into(), t.to_string())),
        View::Label(l) => labels.push(l.to_string()),
    }
    api.push(("status".into(), sel.status.clone()));
    api.push(("sort".into(), sel.sort_name().into()));
    if let Some(q) = param(params, "q") {
        api.push(("q".into(), q.to_owned()));
    }
    if let Some(c) = cursor {
        api.push(("cursor".into(), c.to_owned()));
    }
    api.push(("limit".into(), limit.to_string()));
    let mut q = view_query(agent, &api, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors).into());
    }
    q.labels = resolve_labels(state, &labels, "label").await?;
    let page = state.store.view_conversations(&q).await.map_err(ApiError::from)?;
    let rows = rows(state, page.items.into_iter().map(|c| (c, None)).collect()).await?;
    let more =
        page.next.as_ref().map(|c: &ViewCursor| format!("{}&cursor={}", sel.url(), urlencode(&encode_cursor(c))));
    let (view_url, row_query) = view_urls(sel);
    Ok(List { view_url, row_query, heading: heading(sel), mentions: false, rows, more })
}

/// The list's rows for conversations (with the newest unseen note mentioning the agent
/// and how many there are, in the Mentions view): their labels, last messages, channels
/// and agents' names in one query each.
async fn rows(state: &AppState, items: Vec<(ConversationView, Option<(Note, u64)>)>) -> Result<Vec<Row>, ConsoleError> {
    let ids: Vec<_> = items.iter().map(|(c, _)| c.id).collect();
    let (mut labels, mut last, names, channels) = futures_util::try_join!(
        state.store.labels_of_conversations(&ids),
        state.store.last_messages(&ids),
        agent_names(state),
        state.store.channels(),
    )
    .map_err(ApiError::from)?;
    let channels: HashMap<_, _> = channels.into_iter().map(|c| (c.id, c.name)).collect();
    let now = Utc::now();
    Ok(items
        .into_iter()
        .map(|(c, mention)| {
            let labels = labels.remove(&c.id).unwrap_or_default().into_iter().map(|l| l.name.as_str().to_owned());
            let channel = channels.get(&c.channel_id).cloned().unwrap_or_else(|| c.phone_number_id.to_string());
            let last = last.remove(&c.id);
            let mut r = row(c, last, &names, channel, labels.collect(), now);
            r.mention = mention.map(|(n, unseen)| MentionLine {
                author: n.author_id.and_then(|a| names.get(&a).cloned()).unwrap_or_else(|| "A former agent".into()),
                text: n.text.chars().take(switchboard_store::PREVIEW_CHARS).collect(),
                at: n.created_at.to_rfc3339(),
                ago: span(now - n.created_at),
                more: unseen.saturating_sub(1),
            });
            r
        })
        .collect())
}

/// Agents' names by id (one query; a team's agents are few).
async fn agent_names(state: &AppState) -> Result<HashMap<AgentId, String>, switchboard_store::StoreError> {
    Ok(state.store.agents().await?.into_iter().map(|a| (a.id, a.name.as_str().to_owned())).collect())
}

fn heading(sel: &Selection) -> String {
    match &sel.view {
        View::Mine => "Mine".into(),
        View::Unassigned => "Unassigned".into(),
        View::All => "All conversations".into(),
        View::Mentions => "Mentions".into(),
        View::Team(_) => "Team".into(),
        View::Label(_) => "Label".into(),
    }
}

fn row(
    c: ConversationView,
    last: Option<LastMessage>,
    names: &HashMap<AgentId, String>,
    channel: String,
    labels: Vec<String>,
    now: DateTime<Utc>,
) -> Row {
    let number = format!("+{}", c.contact.wa_id.as_str());
    let name = c.contact.name.clone().or_else(|| c.contact.profile_name.clone()).unwrap_or_else(|| number.clone());
    let (preview, outbound, icon) = match last {
        None => (String::new(), false, None),
        Some(m) => {
            let icon = kind_icon(m.kind);
            let text = m.text.filter(|t| !t.trim().is_empty()).unwrap_or_else(|| icon.map_or("", |(_, n)| n).into());
            (text, m.direction == Direction::Outbound, icon)
        }
    };
    let (window, window_text) = match c.window_closes_at {
        Some(at) if window::is_open(Some(at), now) && at - now <= CLOSING_SOON => {
            ("closing", format!("Window closes in {}", span(at - now)))
        }
        Some(at) if window::is_open(Some(at), now) => ("open", "Window open".into()),
        _ => ("closed", "Window closed".into()),
    };
    let open = c.status == ConversationStatus::Open;
    let (icon, icon_name) = icon.unwrap_or(("", ""));
    Row {
        id: c.id.to_string(),
        name,
        number,
        preview,
        outbound,
        icon,
        icon_name,
        channel,
        assignee: c.assignee_id.map(|a| names.get(&a).cloned().unwrap_or_else(|| "another agent".into())),
        labels,
        status: c.status.as_str(),
        waiting: c.waiting_since.filter(|_| open).map(|w| match now - w {
            d if d < Duration::minutes(1) => "under a minute".to_owned(),
            d => span(d),
        }),
        waiting_since: c.waiting_since.map(|w| w.to_rfc3339()).unwrap_or_default(),
        sla: sla_badge(c.sla_due_at, now),
        window,
        window_text,
        unread: open && c.waiting_since.is_some(),
        last_activity: c.last_message_at.to_rfc3339(),
        last_activity_ago: span(now - c.last_message_at),
        mention: None,
    }
}

/// The inbox row's SLA badge for the soonest due time still pending, if any.
pub(crate) fn sla_badge(due: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<(&'static str, String, String)> {
    let due = due?;
    let len = |d: Duration| if d < Duration::minutes(1) { "under a minute".to_owned() } else { span(d) };
    Some(if now >= due {
        ("overdue", format!("SLA overdue by {}", len(now - due)), due.to_rfc3339())
    } else {
        ("due", format!("SLA due in {}", len(due - now)), due.to_rfc3339())
    })
}

/// A symbol and a name for messages that are not plain text.
const fn kind_icon(kind: MessageKind) -> Option<(&'static str, &'static str)> {
    Some(match kind {
        MessageKind::Text => return None,
        MessageKind::Image => ("\u{1f5bc}", "Photo"),
        MessageKind::Video => ("\u{1f3ac}", "Video"),
        MessageKind::Audio => ("\u{1f3a4}", "Audio"),
        MessageKind::Document => ("\u{1f4c4}", "Document"),
        MessageKind::Sticker => ("\u{1f5bc}", "Sticker"),
        MessageKind::Location => ("\u{1f4cd}", "Location"),
        MessageKind::Contacts => ("\u{1f464}", "Contact card"),
        MessageKind::Interactive | MessageKind::Button => ("\u{1f518}", "Button reply"),
        MessageKind::Reaction => ("\u{2764}", "Reaction"),
        MessageKind::Order => ("\u{1f6d2}", "Order"),
        MessageKind::Template => ("\u{1f4cb}", "Template"),
        MessageKind::System | MessageKind::RequestWelcome => ("\u{2139}", "Notice"),
        MessageKind::Unsupported | MessageKind::Unknown => ("\u{2753}", "Unsupported message"),
    })
}

/// A duration as people say it: `just now`, `5 min`, `3 h`, `2 d`.
fn span(d: Duration) -> String {
    let m = d.num_minutes().max(0);
    match m {
        0 => "just now".into(),
        1..=59 => format!("{m} min"),
        60..=2879 => format!("{} h", m / 60),
        _ => format!("{} d", m / 1440),
    }
}

/// A page of the conversations in which the caller has unseen mentions, newest mention
/// first (the cursor: the last row's newest unseen mention).
async fn mentions(
    state: &AppState,
    agent: &AuthenticatedAgent,
    sel: &Selection,
    limit: u32,
    before: Option<NoteId>,
) -> Result<List, ConsoleError> {
    let page =
        state.store.mentioned_conversations(agent.0.id, viewer(agent), limit, before).await.map_err(ApiError::from)?;
    let items = page.items.into_iter().map(|m| (m.conversation, Some((m.latest, m.unseen)))).collect();
    let rows = rows(state, items).await?;
    let more = page.next.map(|id| format!("{}&cursor={id}", sel.url()));
    let (view_url, row_query) = view_urls(sel);
    Ok(List { view_url, row_query, heading: heading(sel), mentions: true, rows, more })
}

/// The views nav, with the caller's counts if `counted`.
async fn nav(
    state: &AppState,
    agent: &AuthenticatedAgent,
    sel: &Selection,
    counted: bool,
) -> Result<Nav, ConsoleError> {
    let admin = agent.0.role == AgentRole::Admin;
    let (counts, mentions, groups, teams, labels, mine) = futures_util::try_join!(
        async { if counted { state.store.view_counts(agent.0.id, viewer(agent)).await.map(Some) } else { Ok(None) } },
        async {
            if counted {
                state.store.mentioned_conversation_count(agent.0.id, viewer(agent)).await.map(Some)
            } else {
                Ok(None)
            }
        },
        async {
            if counted {
                state.store.open_counts_by_team_and_label(viewer(agent)).await
            } else {
                Ok(switchboard_store::GroupCounts::default())
            }
        },
        state.store.teams(),
        state.store.labels(),
        async { if admin { Ok(Vec::new()) } else { state.store.agent_teams(agent.0.id).await } },
    )
    .map_err(ApiError::from)?;
    let item = |label: &str, view: View, count: Option<u64>| NavItem {
        label: label.to_owned(),
        url: sel.url_for(&view),
        count,
        current: sel.view == view,
    };
    let views = vec![
        item("Mine", View::Mine, counts.map(|c| c.mine)),
        item("Unassigned", View::Unassigned, counts.map(|c| c.unassigned)),
        item("All", View::All, counts.map(|c| c.open)),
        item("Mentions", View::Mentions, mentions),
    ];
    let count = |n: Option<&u64>| counted.then(|| n.copied().unwrap_or(0));
    let teams = teams
        .into_iter()
        .filter(|t| admin || mine.contains(&t.id))
        .map(|t| item(t.name.as_str(), View::Team(t.id), count(groups.teams.get(&t.id))))
        .collect();
    let labels =
        labels.into_iter().map(|l| item(l.name.as_str(), View::Label(l.id), count(groups.labels.get(&l.id)))).collect();
    Ok(Nav { counted, views, teams, labels, queue: counts.map(|c| c.queue) })
}

/// `POST /next`: claims the longest-waiting conversation the caller may take (the core's
/// claim, as `POST /api/v1/queue/claim`) and opens it; "nothing to claim" otherwise.
async fn claim_next(
    Page(caller): Page<Caller>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let htmx = req.headers().contains_key("HX-Request");
    match state.inbox().claim(&caller.agent.0).await.map_err(ApiError::from)? {
        Some(c) => {
            let to = format!("/c/{}", c.id);
            Ok(if htmx {
                HttpResponse::Ok().insert_header(("HX-Redirect", to)).finish()
            } else {
                HttpResponse::SeeOther().insert_header((header::LOCATION, to)).finish()
            })
        }
        None => Ok(if htmx {
            // The claim button targets #flash.
            HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .body("<p class=\"notice\">Nothing to claim: no conversation you may take is waiting.</p>")
        } else {
            HttpResponse::SeeOther().insert_header((header::LOCATION, "/")).finish()
        }),
    }
}

/// The header's availability control.
#[derive(Template)]
#[template(path = "console/availability.html")]
struct AvailabilityPart {
    availability: Availability,
}

/// `POST /availability` (`availability=online|away|offline`): the caller's own
/// availability, through the same use case as `PUT /api/v1/agents/me/availability`
/// (which wakes the assigner). htmx gets the control back; a plain form post goes back
/// to the inbox.
async fn set_availability(
    Page(caller): Page<Caller>,
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let raw = param(&form, "availability").unwrap_or_default();
    let availability =
        Availability::parse(raw).ok_or_else(|| ApiError::field("availability", "must be online, away or offline"))?;
    let agent = state.config().set_availability(caller.agent.0.id, availability).await.map_err(ApiError::from)?;
    tracing::debug!(agent_id = %agent.id, %availability, "availability set from the console");
    if req.headers().contains_key("HX-Request") {
        render(&AvailabilityPart { availability: agent.availability })
    } else {
        Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, "/")).finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(span(Duration::seconds(20)), "just now");
        assert_eq!(span(Duration::minutes(5)), "5 min");
        assert_eq!(span(Duration::minutes(185)), "3 h");
        assert_eq!(span(Duration::days(3)), "3 d");
        assert_eq!(span(Duration::minutes(-5)), "just now");
    }

    #[test]
    fn view_urls_keep_the_filters_and_encode_the_search() {
        let params = vec![
            ("view".to_owned(), "unassigned".to_owned()),
            ("sort".to_owned(), "waiting".to_owned()),
            ("q".to_owned(), "late & lost".to_owned()),
        ];
        let mut errors = Vec::new();
        let sel = Selection::parse(&params, &mut errors);
        assert!(errors.is_empty());
        assert_eq!(sel.url(), "/?view=unassigned&status=open&sort=waiting&q=late%20%26%20lost");
        assert_eq!(sel.url_for(&View::Mentions), "/?view=mentions");
        let bad = vec![("view".to_owned(), "team".to_owned())];
        Selection::parse(&bad, &mut errors);
        assert_eq!(errors[0].field, "team");
    }
}
