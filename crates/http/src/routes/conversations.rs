//! `/api/v1/conversations`: the inbox as agents read it.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::message::{MessageContent, MessageContext, Referral, StatusError};
use switchboard_domain::{
    AgentId, ChannelId, ContactId, ConversationId, ConversationStatus, DeliveryState, Direction, MessageId, window,
};
use switchboard_store::{
    ContactView, ConversationCursor, ConversationQuery, ConversationView, Label, MessageCursor, MessageQuery,
    MessageView, Page,
};

use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::error::{ApiError, FieldError};
use crate::routes::labels::LabelRefJson;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/conversations").route(web::get().to(list)))
        .service(web::resource("/conversations/{id}").route(web::get().to(get)))
        .service(
            web::resource("/conversations/{id}/messages")
                .route(web::get().to(messages))
                .route(web::post().to(super::replies::reply)),
        );
}

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;

/// Query parameters arrive as strings so a bad value is reported with its field name.
#[derive(Deserialize)]
struct ListParams {
    status: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

#[derive(Serialize)]
struct PageJson<T> {
    items: Vec<T>,
    next_cursor: Option<String>,
}

fn parse_limit(raw: Option<&str>, errors: &mut Vec<FieldError>) -> u32 {
    match raw.map(str::parse::<u32>) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            errors.push(FieldError::new("limit", format!("must be a whole number from 1 to {MAX_LIMIT}")));
            DEFAULT_LIMIT
        }
    }
}

fn conversation_cursor(raw: &str) -> Option<ConversationCursor> {
    let (ms, id) = raw.split_once('.')?;
    let last_message_at = DateTime::from_timestamp_millis(ms.parse().ok()?)?;
    Some(ConversationCursor { last_message_at, id: id.parse().ok()? })
}

async fn list(
    _agent: AuthenticatedAgent,
    params: web::Query<ListParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let status = match params.status.as_deref() {
        None | Some("all") => None,
        Some(s) => ConversationStatus::parse(s).or_else(|| {
            errors.push(FieldError::new("status", "must be one of open, pending, snoozed, resolved, all"));
            None
        }),
    };
    let limit = parse_limit(params.limit.as_deref(), &mut errors);
    let after = match params.cursor.as_deref() {
        None => None,
        Some(c) => conversation_cursor(c).or_else(|| {
            errors.push(FieldError::new("cursor", "is not a cursor this API returned"));
            None
        }),
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let Page { items, next } = state.store.list_conversations(&ConversationQuery { status, limit, after }).await?;
    let now = Utc::now();
    let ids: Vec<ConversationId> = items.iter().map(|c| c.id).collect();
    let mut labels = state.store.labels_of_conversations(&ids).await?;
    Ok(HttpResponse::Ok().json(PageJson {
        items: items
            .into_iter()
            .map(|c| {
                let l = labels.remove(&c.id).unwrap_or_default();
                ConversationJson::new(c, now).with_labels(l)
            })
            .collect(),
        next_cursor: next.map(|c| format!("{}.{}", c.last_message_at.timestamp_millis(), c.id)),
    }))
}

fn path_id(raw: &str) -> Result<ConversationId, ApiError> {
    // An id that cannot exist is simply not found.
    raw.parse().map_err(|_| ApiError::NotFound { what: "conversation" })
}

async fn get(
    _agent: AuthenticatedAgent,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let c = state.store.conversation(id).await?.ok_or(ApiError::NotFound { what: "conversation" })?;
    let labels = state.store.labels_of_conversations(&[id]).await?.remove(&id).unwrap_or_default();
    Ok(HttpResponse::Ok().json(ConversationJson::new(c, Utc::now()).with_labels(labels)))
}

#[derive(Deserialize)]
struct MessageParams {
    limit: Option<String>,
    cursor: Option<String>,
}

async fn messages(
    _agent: AuthenticatedAgent,
    path: web::Path<String>,
    params: web::Query<MessageParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
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

#[derive(Serialize)]
struct ContactJson {
    id: ContactId,
    wa_id: String,
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
}

impl From<ContactView> for ContactJson {
    fn from(c: ContactView) -> Self {
        Self { id: c.id, wa_id: c.wa_id.into(), name: c.profile_name, user_id: c.user_id, username: c.username }
    }
}

#[derive(Serialize)]
struct ConversationJson {
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
    /// The labels on it, by name.
    labels: Vec<LabelRefJson>,
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
            labels: Vec::new(),
        }
    }

    fn with_labels(mut self, labels: Vec<Label>) -> Self {
        self.labels = labels.into_iter().map(Into::into).collect();
        self
    }
}

#[derive(Serialize)]
pub(crate) struct MessageJson {
    id: MessageId,
    conversation_id: ConversationId,
    direction: Direction,
    wamid: Option<String>,
    #[serde(rename = "type")]
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
