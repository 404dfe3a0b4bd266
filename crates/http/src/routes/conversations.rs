//! `/api/v1/conversations`: the inbox as agents read it.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::message::{MessageContent, MessageContext, MessageKind, Referral, StatusError};
use switchboard_domain::{
    AgentId, ChannelId, ContactId, ConversationId, ConversationStatus, DeliveryState, Direction, MessageId, window,
};
use switchboard_store::{
    AssigneeFilter, ContactView, ConversationView, Label, MIN_SEARCH_CHARS, MessageCursor, MessageQuery, MessageView,
    Page, TeamId, ViewCursor, ViewQuery, ViewSort, WindowFilter,
};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::error::{ApiError, FieldError};
use crate::guard::{VisibleConversation, viewer};
use crate::routes::attachments;
use crate::routes::labels::{LabelRefJson, resolve_labels};
use crate::routes::replies::{__path_reply, reply};

routes! {
    "/conversations" => { get: list },
    "/conversations/counts" => { get: counts },
    "/conversations/{id}" => { get: get },
    "/conversations/{id}/messages" => { get: messages, post: reply },
    "/conversations/{id}/attachments" => { post: attachments::upload },
}

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;
/// The longest text search, in characters.
const MAX_SEARCH_CHARS: usize = 200;

/// A page of a list; the next page is asked for with `cursor=<next_cursor>`.
#[derive(Serialize, ToSchema)]
pub(crate) struct PageJson<T> {
    pub(crate) items: Vec<T>,
    /// `null` on the last page.
    pub(crate) next_cursor: Option<String>,
}

pub(crate) fn parse_limit(raw: Option<&str>, errors: &mut Vec<FieldError>) -> u32 {
    match raw.map(str::parse::<u32>) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            errors.push(FieldError::new("limit", format!("must be a whole number from 1 to {MAX_LIMIT}")));
            DEFAULT_LIMIT
        }
    }
}

/// A view's `sort` (absent: last activity).
pub(crate) fn parse_sort(raw: Option<&str>, errors: &mut Vec<FieldError>) -> ViewSort {
    match raw {
        None | Some("last_activity") => ViewSort::LastActivity,
        Some("waiting") => ViewSort::Waiting,
        Some("window_closing") => ViewSort::WindowClosing,
        Some("sla_due") => ViewSort::SlaDue,
        Some(_) => {
            errors.push(FieldError::new("sort", "must be waiting, last_activity, window_closing or sla_due"));
            ViewSort::LastActivity
        }
    }
}

/// A text search parameter: trimmed, [`MIN_SEARCH_CHARS`] to [`MAX_SEARCH_CHARS`]
/// characters; `None` when absent or empty.
pub(crate) fn parse_search(raw: Option<&str>, errors: &mut Vec<FieldError>) -> Option<String> {
    let q = raw.map(str::trim).filter(|q| !q.is_empty())?;
    let n = q.chars().count();
    if !(MIN_SEARCH_CHARS..=MAX_SEARCH_CHARS).contains(&n) || q.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "q",
            format!("must be {MIN_SEARCH_CHARS} to {MAX_SEARCH_CHARS} characters, without control characters"),
        ));
        return None;
    }
    Some(q.to_owned())
}

/// Cursors are opaque to clients. Last activity keeps the original form (`<ms>.<id>`);
/// the other sorts are tagged: `w.<ms or ->.<id>`, `c.<ms>.<id>`, `n.<ms>.<id>`,
/// `s.<ms or ->.<id>`.
pub(crate) fn encode_cursor(c: &ViewCursor) -> String {
    match *c {
        ViewCursor::LastActivity { last_message_at, id } => format!("{}.{id}", last_message_at.timestamp_millis()),
        ViewCursor::Waiting { waiting_since: Some(w), id } => format!("w.{}.{id}", w.timestamp_millis()),
        ViewCursor::Waiting { waiting_since: None, id } => format!("w.-.{id}"),
        ViewCursor::WindowClosing { window_closes_at, id } => format!("c.{}.{id}", window_closes_at.timestamp_millis()),
        ViewCursor::Newest { created_at, id } => format!("n.{}.{id}", created_at.timestamp_millis()),
        ViewCursor::SlaDue { due_at: Some(d), id } => format!("s.{}.{id}", d.timestamp_millis()),
        ViewCursor::SlaDue { due_at: None, id } => format!("s.-.{id}"),
    }
}

pub(crate) fn decode_cursor(raw: &str) -> Option<ViewCursor> {
    let time = |ms: &str| DateTime::from_timestamp_millis(ms.parse().ok()?);
    let parts: Vec<&str> = raw.split('.').collect();
    Some(match parts.as_slice() {
        [ms, id] => ViewCursor::LastActivity { last_message_at: time(ms)?, id: id.parse().ok()? },
        ["w", "-", id] => ViewCursor::Waiting { waiting_since: None, id: id.parse().ok()? },
        ["w", ms, id] => ViewCursor::Waiting { waiting_since: Some(time(ms)?), id: id.parse().ok()? },
        ["c", ms, id] => ViewCursor::WindowClosing { window_closes_at: time(ms)?, id: id.parse().ok()? },
        ["n", ms, id] => ViewCursor::Newest { created_at: time(ms)?, id: id.parse().ok()? },
        ["s", "-", id] => ViewCursor::SlaDue { due_at: None, id: id.parse().ok()? },
        ["s", ms, id] => ViewCursor::SlaDue { due_at: Some(time(ms)?), id: id.parse().ok()? },
        _ => return None,
    })
}

/// The query string as pairs: filters may repeat (`label=a&label=b`).
type Params = web::Query<Vec<(String, String)>>;

/// The view parameters of `GET /conversations`, as [`view_query`] and [`list`] read them
/// from [`Params`]; all optional, and they all apply together.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Describes what `view_query` reads; never built.
struct ViewParams {
    /// `open`, `pending`, `snoozed`, `resolved` or `all` (the default); several repeated or
    /// comma-separated (`open,pending`).
    #[param(value_type = Option<Vec<StatusParam>>, inline)]
    status: Option<Vec<String>>,
    /// `me`, `unassigned` or an agent's id.
    #[param(
        pattern = r"^(?:me|unassigned|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
    )]
    assignee: Option<String>,
    /// Conversations of channels routed to this team.
    team: Option<TeamId>,
    /// Labels (ids or names) the conversations all have; repeated for several.
    label: Option<Vec<String>>,
    channel: Option<ChannelId>,
    contact: Option<ContactId>,
    /// `open` or `closed`: whether the customer-service window is open now.
    #[param(value_type = Option<WindowParam>, inline)]
    window: Option<String>,
    /// A case-insensitive part of the contact's name or number, or of a message's text
    /// (3 to 200 characters after trimming; empty: no search).
    #[param(
        pattern = r"^(?:[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]{1,198}[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?$"
    )]
    q: Option<String>,
    /// `last_activity` (the default, newest first), `waiting` (longest waiting first),
    /// `window_closing` (open windows only, soonest closing first) or `sla_due` (soonest
    /// SLA due time still pending first, overdue ones first of all; those with none after).
    #[param(value_type = Option<SortParam>, inline)]
    sort: Option<String>,
    /// 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page (of the same sort).
    #[param(
        pattern = r"^(?:-?[0-9]{1,15}|w\.(?:-?[0-9]{1,15}|-)|c\.-?[0-9]{1,15})\.[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    )]
    cursor: Option<String>,
}

/// The values of `status` (the comma-separated form is not described).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // Describes what `view_query` reads; never built.
enum StatusParam {
    Open,
    Pending,
    Snoozed,
    Resolved,
    All,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // Describes what `view_query` reads; never built.
enum WindowParam {
    Open,
    Closed,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // Describes what `view_query` reads; never built.
enum SortParam {
    LastActivity,
    Waiting,
    WindowClosing,
    SlaDue,
}

fn values<'a>(params: &'a [(String, String)], key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    params.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn single<'a>(params: &'a [(String, String)], key: &str, errors: &mut Vec<FieldError>) -> Option<&'a str> {
    let mut found = params.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let first = found.next();
    if found.next().is_some() {
        errors.push(FieldError::new(key, "may be given once"));
    }
    first
}

fn parse_id<T: std::str::FromStr>(
    raw: Option<&str>,
    field: &str,
    what: &str,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    let raw = raw?;
    raw.trim().parse().ok().or_else(|| {
        errors.push(FieldError::new(field, format!("must be {what} id")));
        None
    })
}

/// Parses the view parameters (everything but `label`, which needs the store).
pub(crate) fn view_query(
    agent: &AuthenticatedAgent,
    params: &[(String, String)],
    errors: &mut Vec<FieldError>,
) -> ViewQuery {
    let mut q = ViewQuery::new(viewer(agent), Utc::now());
    for raw in values(params, "status").flat_map(|v| v.split(',')) {
        match raw.trim() {
            "all" => {}
            s => match ConversationStatus::parse(s) {
                Some(s) if !q.statuses.contains(&s) => q.statuses.push(s),
                Some(_) => {}
                None => errors.push(FieldError::new(
                    "status",
                    "must be open, pending, snoozed, resolved or all (several: open,pending)",
                )),
            },
        }
    }
    if values(params, "status").any(|v| v.split(',').any(|s| s.trim() == "all")) {
        q.statuses.clear();
    }
    q.assignee = match single(params, "assignee", errors).map(str::trim) {
        None => None,
        Some("me") => Some(AssigneeFilter::Agent(agent.0.id)),
        Some("unassigned") => Some(AssigneeFilter::Unassigned),
        Some(raw) => raw.parse().ok().map(AssigneeFilter::Agent).or_else(|| {
            errors.push(FieldError::new("assignee", "must be me, unassigned or an agent id"));
            None
        }),
    };
    q.team = parse_id(single(params, "team", errors), "team", "a team", errors);
    q.channel = parse_id(single(params, "channel", errors), "channel", "a channel", errors);
    q.contact = parse_id(single(params, "contact", errors), "contact", "a contact", errors);
    q.window = match single(params, "window", errors).map(str::trim) {
        None => None,
        Some("open") => Some(WindowFilter::Open),
        Some("closed") => Some(WindowFilter::Closed),
        Some(_) => {
            errors.push(FieldError::new("window", "must be open or closed"));
            None
        }
    };
    q.search = parse_search(single(params, "q", errors), errors);
    q.sort = parse_sort(single(params, "sort", errors).map(str::trim), errors);
    q.limit = parse_limit(single(params, "limit", errors), errors);
    q.after = match single(params, "cursor", errors) {
        None => None,
        Some(c) => match decode_cursor(c) {
            Some(c) if c.sort() == q.sort => Some(c),
            Some(_) => {
                errors.push(FieldError::new("cursor", "belongs to another sort"));
                None
            }
            None => {
                errors.push(FieldError::new("cursor", "is not a cursor this API returned"));
                None
            }
        },
    };
    q
}

/// A page of conversations as JSON, with their labels (one query for the page).
pub(crate) async fn conversation_page(
    state: &AppState,
    page: Page<ConversationView, ViewCursor>,
) -> Result<PageJson<ConversationJson>, ApiError> {
    let now = Utc::now();
    let ids: Vec<ConversationId> = page.items.iter().map(|c| c.id).collect();
    let mut labels = state.store.labels_of_conversations(&ids).await?;
    Ok(PageJson {
        items: page
            .items
            .into_iter()
            .map(|c| {
                let l = labels.remove(&c.id).unwrap_or_default();
                ConversationJson::new(c, now).with_labels(l)
            })
            .collect(),
        next_cursor: page.next.as_ref().map(encode_cursor),
    })
}

/// A view of the inbox: the conversations the caller may see, filtered and sorted.
#[utoipa::path(get, path = "/conversations", params(ViewParams),
    responses((status = 200, body = PageJson<ConversationJson>)))]
async fn list(agent: AuthenticatedAgent, params: Params, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let mut q = view_query(&agent, &params, &mut errors);
    let labels: Vec<String> = values(&params, "label").map(str::to_owned).collect();
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    q.labels = resolve_labels(&state, &labels, "label").await?;
    let page = state.store.view_conversations(&q).await?;
    Ok(HttpResponse::Ok().json(conversation_page(&state, page).await?))
}

/// The sizes of the standard views, as the caller sees them.
#[derive(Serialize, ToSchema)]
#[schema(as = ConversationCounts)]
struct CountsJson {
    mine: u64,
    unassigned: u64,
    queue: u64,
    open: u64,
    pending: u64,
    snoozed: u64,
    /// Conversations in which the caller was mentioned in a note they have not seen
    /// (any status).
    mentions: u64,
}

/// The standard views' sizes, as the caller sees them.
#[utoipa::path(get, path = "/conversations/counts", responses((status = 200, body = CountsJson)))]
async fn counts(agent: AuthenticatedAgent, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (c, mentions) = futures_util::try_join!(
        state.store.view_counts(agent.0.id, viewer(&agent)),
        state.store.mentioned_conversation_count(agent.0.id, viewer(&agent)),
    )?;
    Ok(HttpResponse::Ok().json(CountsJson {
        mentions,
        mine: c.mine,
        unassigned: c.unassigned,
        queue: c.queue,
        open: c.open,
        pending: c.pending,
        snoozed: c.snoozed,
    }))
}

/// One conversation, with its contact and labels.
#[utoipa::path(get, path = "/conversations/{id}", params(("id" = ConversationId, Path)),
    responses((status = 200, body = ConversationJson)))]
async fn get(
    VisibleConversation { id, .. }: VisibleConversation,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let c = state.store.conversation(id).await?.ok_or(ApiError::NotFound { what: "conversation" })?;
    let labels = state.store.labels_of_conversations(&[id]).await?.remove(&id).unwrap_or_default();
    Ok(HttpResponse::Ok().json(ConversationJson::new(c, Utc::now()).with_labels(labels)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct MessageParams {
    /// 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]
    cursor: Option<String>,
}

/// A conversation's messages, oldest first.
#[utoipa::path(get, path = "/conversations/{id}/messages", params(("id" = ConversationId, Path), MessageParams),
    responses((status = 200, body = PageJson<MessageJson>)))]
async fn messages(
    VisibleConversation { id, .. }: VisibleConversation,
    params: web::Query<MessageParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let limit = parse_limit(params.limit.as_deref(), &mut errors);
    let after = match params.cursor.as_deref() {
        None => None,
        Some(c) => c.parse::<MessageId>().ok().map(|id| MessageCursor { id }).or_else(|| {
            errors.push(FieldError::new("cursor", "is not a cursor this API returned"));
            None
        }),
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let page = state.store.list_messages(id, &MessageQuery { limit, after }).await.map_err(|e| match e {
        switchboard_store::StoreError::NotFound => ApiError::NotFound { what: "conversation" },
        e => e.into(),
    })?;
    Ok(HttpResponse::Ok().json(PageJson {
        items: page.items.into_iter().map(MessageJson::from).collect(),
        next_cursor: page.next.map(|c| c.id.to_string()),
    }))
}

/// The customer of a conversation.
#[derive(Serialize, ToSchema)]
#[schema(as = ConversationContact)]
pub(crate) struct ContactJson {
    id: ContactId,
    wa_id: String,
    /// The name agents gave the contact, else their WhatsApp profile name.
    name: Option<String>,
    profile_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    /// Opted out of automatic messages and templates since then (`null`: opted in).
    /// Agents' free-form replies inside the window still go; templates are refused.
    opted_out_at: Option<DateTime<Utc>>,
}

impl From<ContactView> for ContactJson {
    fn from(c: ContactView) -> Self {
        Self {
            id: c.id,
            wa_id: c.wa_id.into(),
            name: c.name.or_else(|| c.profile_name.clone()),
            profile_name: c.profile_name,
            user_id: c.user_id,
            username: c.username,
            opted_out_at: c.opted_out_at,
        }
    }
}

/// A conversation with one customer on one of our numbers.
#[derive(Serialize, ToSchema)]
#[schema(as = Conversation)]
pub(crate) struct ConversationJson {
    id: ConversationId,
    channel_id: ChannelId,
    phone_number_id: String,
    contact: ContactJson,
    status: ConversationStatus,
    assignee_id: Option<AgentId>,
    window_closes_at: Option<DateTime<Utc>>,
    window_open: bool,
    last_inbound_at: Option<DateTime<Utc>>,
    last_message_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
    message_count: i64,
    /// Its effective team: the one it was transferred to, else its channel's.
    team_id: Option<TeamId>,
    /// The click-to-chat link (or ad) that started it, if any.
    link_id: Option<switchboard_domain::LinkId>,
    /// Since when the customer has been waiting for an agent's answer.
    waiting_since: Option<DateTime<Utc>>,
    /// Set while snoozed.
    snoozed_until: Option<DateTime<Utc>>,
    /// Its SLA targets (from its team's or channel's policy when it was created).
    sla: ConversationSlaJson,
    /// The labels on it, by name.
    labels: Vec<LabelRefJson>,
}

/// Where an SLA target stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SlaStatusJson {
    /// Not met yet, and not due yet.
    Pending,
    /// Met by its due time.
    Met,
    /// Missed: not met by its due time (whether or not it was met later).
    Breached,
}

/// A conversation's SLA targets: due times in business time of its channel's hours, and
/// where each stands (`null`: no such target).
#[derive(Serialize, ToSchema)]
#[schema(as = ConversationSla)]
pub(crate) struct ConversationSlaJson {
    first_response_due_at: Option<DateTime<Utc>>,
    first_response: Option<SlaStatusJson>,
    resolution_due_at: Option<DateTime<Utc>>,
    resolution: Option<SlaStatusJson>,
}

impl ConversationSlaJson {
    pub(crate) fn new(s: &switchboard_store::ConversationSla, now: DateTime<Utc>) -> Self {
        use switchboard_domain::sla::SlaOutcome;
        let status = |due: Option<DateTime<Utc>>, outcome: Option<SlaOutcome>| {
            Some(match (outcome, due?) {
                (Some(SlaOutcome::Met), _) => SlaStatusJson::Met,
                (Some(SlaOutcome::Breached), _) => SlaStatusJson::Breached,
                (None, d) if now >= d => SlaStatusJson::Breached,
                (None, _) => SlaStatusJson::Pending,
            })
        };
        Self {
            first_response_due_at: s.first_response_due_at,
            first_response: status(s.first_response_due_at, s.first_response),
            resolution_due_at: s.resolution_due_at,
            resolution: status(s.resolution_due_at, s.resolution),
        }
    }
}

impl ConversationJson {
    fn new(c: ConversationView, now: DateTime<Utc>) -> Self {
        Self {
            id: c.id,
            channel_id: c.channel_id,
            phone_number_id: c.phone_number_id.into(),
            contact: c.contact.into(),
            status: c.status,
            assignee_id: c.assignee_id,
            window_open: window::is_open(c.window_closes_at, now),
            window_closes_at: c.window_closes_at,
            last_inbound_at: c.last_inbound_at,
            last_message_at: c.last_message_at,
            created_at: c.created_at,
            resolved_at: c.resolved_at,
            message_count: c.message_count,
            team_id: c.team_id,
            link_id: c.link_id,
            waiting_since: c.waiting_since,
            snoozed_until: c.snoozed_until,
            sla: ConversationSlaJson::new(&c.sla, now),
            labels: Vec::new(),
        }
    }

    fn with_labels(mut self, labels: Vec<Label>) -> Self {
        self.labels = labels.into_iter().map(Into::into).collect();
        self
    }
}

/// A message, inbound or outbound, with its delivery state.
#[derive(Serialize, ToSchema)]
#[schema(as = Message)]
pub(crate) struct MessageJson {
    id: MessageId,
    conversation_id: ConversationId,
    direction: Direction,
    /// WhatsApp's id of the message; `null` until an outbound one is sent.
    wamid: Option<String>,
    /// The type of `content`.
    #[serde(rename = "type")]
    #[schema(value_type = MessageKind)]
    kind: &'static str,
    text: Option<String>,
    content: MessageContent,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<MessageContext>,
    #[serde(skip_serializing_if = "Option::is_none")]
    referral: Option<Referral>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<StatusError>,
    status: DeliveryState,
    timestamp: DateTime<Utc>,
    created_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
    delivered_at: Option<DateTime<Utc>>,
    read_at: Option<DateTime<Utc>>,
    failed_at: Option<DateTime<Utc>>,
    error: Option<StatusError>,
    sent_by: Option<AgentId>,
    /// The auto-reply rule that sent it (`greeting`, `away`, `rule:<id>`…); null otherwise.
    auto_rule: Option<String>,
}

impl From<MessageView> for MessageJson {
    fn from(m: MessageView) -> Self {
        Self {
            id: m.id,
            conversation_id: m.conversation_id,
            direction: m.direction,
            wamid: m.wamid.map(Into::into),
            kind: m.content.kind().as_str(),
            text: m.text,
            content: m.content,
            context: m.context,
            referral: m.referral,
            errors: m.errors,
            status: m.state,
            timestamp: m.timestamp,
            created_at: m.created_at,
            sent_at: m.sent_at,
            delivered_at: m.delivered_at,
            read_at: m.read_at,
            failed_at: m.failed_at,
            error: m.error,
            sent_by: m.sent_by,
            auto_rule: m.auto_rule,
        }
    }
}
