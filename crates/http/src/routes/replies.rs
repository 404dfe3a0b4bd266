//! `POST /api/v1/conversations/{id}/messages`: an agent's reply, queued in the outbox.
//!
//! A quick reply is sent with `{"quick_reply": "hours"}` (a shortcut or a quick reply's
//! id, optionally with `reply_to`) or with a text that is exactly `/hours`: it is expanded
//! with its variables filled in (`{{agent.name}}` is the sending agent) and sent as text,
//! media or buttons. An unknown shortcut is a 422 naming the field (`quick_reply` or
//! `text`); it is never sent as typed. A quick reply of an audio file and a text sends two
//! messages; the answer is the first.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use switchboard_cloudapi::{
    InteractiveHeader, ListRow, ListSection, MediaKind, MediaSource, OutboundBody, OutboundMessage, ReplyButton,
    TemplateComponent, TemplateParameter,
};
use switchboard_domain::autoreply::{
    AgentSend, AutoReplyConfig, CompiledConfig, Locale, QuickReplyError, QuickReplyRef, ReplyBody, Shortcut,
};
use switchboard_domain::message::{Choice, Media, MessageContent};
use switchboard_domain::{ConversationId, MessageId, Wamid, window};
use switchboard_store::{ConversationView, NewOutbound, StoreError};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::error::{ApiError, FieldError};
use crate::guard::VisibleConversation;
use crate::json::Json;
use crate::openapi::Problem;
use crate::routes::conversations::MessageJson;

const IDEMPOTENCY_KEY_MAX: usize = 200;

/// A message to send, by `type`. Only a template may be sent outside the customer-service
/// window.
#[derive(Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Reply {
    Text {
        /// A text that is exactly `/shortcut` sends that quick reply.
        text: String,
        #[serde(default)]
        preview_url: bool,
        reply_to: Option<MessageId>,
    },
    #[schema(value_type = MediaReplyFields)]
    Image(MediaReply),
    #[schema(value_type = MediaReplyFields)]
    Video(MediaReply),
    #[schema(value_type = MediaReplyFields)]
    Audio(MediaReply),
    #[schema(value_type = MediaReplyFields)]
    Document(MediaReply),
    #[schema(value_type = MediaReplyFields)]
    Sticker(MediaReply),
    Template {
        name: String,
        language: String,
        /// The body's text parameters, in order.
        #[serde(default)]
        parameters: Vec<String>,
        /// A text header parameter.
        header: Option<String>,
        /// Payloads of quick-reply buttons, by index.
        #[serde(default)]
        button_payloads: Vec<String>,
    },
    Buttons {
        body: String,
        buttons: Vec<ChoiceReply>,
        header: Option<String>,
        footer: Option<String>,
        reply_to: Option<MessageId>,
    },
    List {
        body: String,
        button: String,
        sections: Vec<SectionReply>,
        header: Option<String>,
        footer: Option<String>,
        reply_to: Option<MessageId>,
    },
}

/// A file to send: exactly one of `id` and `link`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MediaReply {
    /// An uploaded media id…
    id: Option<String>,
    /// …or a public https URL.
    link: Option<String>,
    caption: Option<String>,
    filename: Option<String>,
    reply_to: Option<MessageId>,
}

/// [`MediaReply`]'s schema where it is part of a [`Reply`], beside the `type` tag: without
/// the `additionalProperties: false` of `deny_unknown_fields`, which would forbid the tag in
/// the `allOf` (the `Reply` is still read with `deny_unknown_fields`).
struct MediaReplyFields;

impl utoipa::PartialSchema for MediaReplyFields {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let mut schema = <MediaReply as utoipa::PartialSchema>::schema();
        if let utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::Object(o)) = &mut schema {
            o.additional_properties = None;
        }
        schema
    }
}

impl ToSchema for MediaReplyFields {
    fn name() -> std::borrow::Cow<'static, str> {
        <MediaReply as ToSchema>::name()
    }
}

/// A button or a list row.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChoiceReply {
    id: String,
    title: String,
    description: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SectionReply {
    title: Option<String>,
    rows: Vec<ChoiceReply>,
}

/// The Graph API body, what agents will see, and the message replied to.
fn build(reply: Reply) -> Result<(OutboundBody, MessageContent, Option<MessageId>), ApiError> {
    Ok(match reply {
        Reply::Text { text, preview_url, reply_to } => {
            (OutboundBody::Text { body: text.clone(), preview_url }, MessageContent::Text { body: text }, reply_to)
        }
        Reply::Image(m) => media(MediaKind::Image, m, MessageContent::Image)?,
        Reply::Video(m) => media(MediaKind::Video, m, MessageContent::Video)?,
        Reply::Audio(m) => media(MediaKind::Audio, m, MessageContent::Audio)?,
        Reply::Document(m) => media(MediaKind::Document, m, MessageContent::Document)?,
        Reply::Sticker(m) => media(MediaKind::Sticker, m, MessageContent::Sticker)?,
        Reply::Template { name, language, parameters, header, button_payloads } => {
            let mut components = Vec::new();
            if let Some(h) = header {
                components.push(TemplateComponent::Header(vec![TemplateParameter::text(h)]));
            }
            if !parameters.is_empty() {
                components.push(TemplateComponent::Body(parameters.iter().map(TemplateParameter::text).collect()));
            }
            for (i, payload) in button_payloads.into_iter().enumerate() {
                let index = u8::try_from(i).map_err(|_| ApiError::field("button_payloads", "at most 10"))?;
                components.push(TemplateComponent::QuickReplyButton { index, payload });
            }
            let content = MessageContent::Template { name: name.clone(), language: language.clone(), parameters };
            (OutboundBody::Template { name, language, components }, content, None)
        }
        Reply::Buttons { body, buttons, header, footer, reply_to } => {
            let content = MessageContent::InteractiveMessage {
                style: "button".into(),
                body: body.clone(),
                options: choices(&buttons),
            };
            let buttons = buttons.into_iter().map(|b| ReplyButton { id: b.id, title: b.title }).collect();
            (
                OutboundBody::Buttons { header: header.map(InteractiveHeader::Text), body, footer, buttons },
                content,
                reply_to,
            )
        }
        Reply::List { body, button, sections, header, footer, reply_to } => {
            let options = sections.iter().flat_map(|s| choices(&s.rows)).collect();
            let content = MessageContent::InteractiveMessage { style: "list".into(), body: body.clone(), options };
            let sections = sections
                .into_iter()
                .map(|s| ListSection {
                    title: s.title,
                    rows: s
                        .rows
                        .into_iter()
                        .map(|r| ListRow { id: r.id, title: r.title, description: r.description })
                        .collect(),
                })
                .collect();
            (OutboundBody::List { header, body, footer, button, sections }, content, reply_to)
        }
    })
}

fn choices(c: &[ChoiceReply]) -> Vec<Choice> {
    c.iter().map(|c| Choice { id: c.id.clone(), title: c.title.clone() }).collect()
}

fn media(
    kind: MediaKind,
    m: MediaReply,
    content: fn(Media) -> MessageContent,
) -> Result<(OutboundBody, MessageContent, Option<MessageId>), ApiError> {
    let source = match (m.id.clone(), m.link.clone()) {
        (Some(id), None) => MediaSource::Id(id),
        (None, Some(link)) => MediaSource::Link(link),
        _ => {
            return Err(ApiError::field(
                "id",
                "give exactly one of `id` (an uploaded media id) or `link` (an https URL)",
            ));
        }
    };
    let shown =
        Media { id: m.id, link: m.link, caption: m.caption.clone(), filename: m.filename.clone(), ..Media::default() };
    Ok((OutboundBody::Media { kind, source, caption: m.caption, filename: m.filename }, content(shown), m.reply_to))
}

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(v) = req.headers().get("idempotency-key") else { return Ok(None) };
    match v.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= IDEMPOTENCY_KEY_MAX => Ok(Some(k.to_owned())),
        _ => Err(ApiError::field(
            "Idempotency-Key",
            format!("must be 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters"),
        )),
    }
}

/// The body of a reply: a quick reply when it has `quick_reply`, else a message by `type`.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // Describes what `reply` reads; never built.
enum ReplyRequest {
    QuickReply(QuickReplyRequest),
    Message(Reply),
}

/// Replies in a conversation: queues a message, or the messages of a quick reply, to send.
#[utoipa::path(post, path = "/conversations/{id}/messages",
    params(
        ("id" = ConversationId, Path),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 200,
            description = "1 to 200 visible ASCII characters; a request repeated with the same key queues nothing new \
                and answers the message queued the first time."),
    ),
    request_body = ReplyRequest,
    responses(
        (status = 202, description = "Queued in the outbox (for a quick reply of two messages, the first)", body = MessageJson),
        (status = 409, description = "The quick reply cannot be used until its channel's configuration is fixed \
            (`invalid_configuration`)", body = Problem),
        (status = 422, description = "Invalid fields, each named in `errors`; or the customer-service window is closed \
            (`window_closed`, with `window_closes_at` and a `hint`) and only a template may be sent", body = Problem),
    ))]
pub(crate) async fn reply(
    VisibleConversation { id, agent }: VisibleConversation,
    req: HttpRequest,
    body: Json<serde_json::Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let conversation = state.store.conversation(id).await?.ok_or(ApiError::NotFound { what: "conversation" })?;
    let body = body.into_inner();
    // A quick reply, by name or as a text that is exactly `/shortcut`.
    let (reference, field, reply_to) = if body.get("quick_reply").is_some() {
        let q: QuickReplyRequest = serde_json::from_value(body)
            .map_err(|e| ApiError::BadRequest { code: "invalid_body", detail: e.to_string() })?;
        let reference =
            QuickReplyRef::parse(&q.quick_reply).map_err(|e| ApiError::field("quick_reply", e.to_string()))?;
        (reference, "quick_reply", q.reply_to)
    } else {
        let reply: Reply = serde_json::from_value(body)
            .map_err(|e| ApiError::BadRequest { code: "invalid_body", detail: e.to_string() })?;
        if let Reply::Text { text, reply_to, .. } = &reply
            && let Some(shortcut) = Shortcut::from_command(text)
        {
            (QuickReplyRef::Shortcut(shortcut), "text", *reply_to)
        } else {
            let prepared = prepare(&state, &conversation, build(reply)?).await?;
            return enqueue(&agent, &state, &conversation, prepared, key.as_deref()).await;
        }
    };
    let replies = expand_quick_reply(&agent, &state, &conversation, &reference, field).await?;
    // Everything is checked before anything is queued. The first message quotes
    // `reply_to`; a second one (the text after an audio) gets the key with a suffix, so a
    // retried request returns both again.
    let mut prepared = Vec::with_capacity(replies.len());
    for (i, reply) in replies.iter().enumerate() {
        let quoted = if i == 0 { reply_to } else { None };
        prepared.push(prepare(&state, &conversation, (OutboundBody::from(reply), reply.to_content(), quoted)).await?);
    }
    let mut first = None;
    for (i, p) in prepared.into_iter().enumerate() {
        let key = key.as_ref().map(|k| if i == 0 { k.clone() } else { format!("{k}#{i}") });
        let res = enqueue(&agent, &state, &conversation, p, key.as_deref()).await?;
        first.get_or_insert(res);
    }
    tracing::info!(conversation_id = %id, agent_id = %agent.0.id, messages = replies.len(), "quick reply expanded");
    first.ok_or_else(|| ApiError::field(field, "the quick reply has nothing to send"))
}

/// `{"quick_reply": "hours"}` (a shortcut or a quick reply's id).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct QuickReplyRequest {
    quick_reply: String,
    reply_to: Option<MessageId>,
}

/// The messages quick reply `reference` sends in this conversation, variables filled in
/// (`{{agent.name}}` is the sending agent). Unknown: a 422 naming `field`.
async fn expand_quick_reply(
    agent: &AuthenticatedAgent,
    state: &AppState,
    conversation: &ConversationView,
    reference: &QuickReplyRef,
    field: &str,
) -> Result<Vec<ReplyBody>, ApiError> {
    let in_force = state.store.auto_reply_config(conversation.channel_id).await?;
    let unknown = || ApiError::field(field, format!("no quick reply {reference}; list them at /api/v1/quick-replies"));
    let qr = in_force.quick_replies.into_iter().find(|q| reference.names(q)).ok_or_else(unknown)?;
    // Only what this quick reply needs: compiling is then cheap, and a problem elsewhere
    // in the configuration does not stop agents.
    let config = AutoReplyConfig {
        business_name: in_force.business_name,
        locale: in_force.locale,
        hours: in_force.hours,
        quick_replies: vec![qr],
        ..AutoReplyConfig::default()
    };
    let compiled = CompiledConfig::new(&config).map_err(|e| ApiError::StateConflict {
        code: "invalid_configuration",
        detail: format!("this quick reply cannot be used on this channel until its configuration is fixed: {e}"),
    })?;
    // The language agents recorded on the contact (attribute `language`), when it is one
    // replies can be formatted in; else the channel's.
    let contact = state.store.contact(conversation.contact.id).await?;
    let locale = contact
        .as_ref()
        .and_then(|c| c.attributes.get("language"))
        .and_then(serde_json::Value::as_str)
        .and_then(|l| Locale::parse(l).ok());
    let ctx = AgentSend {
        contact_name: conversation.contact.profile_name.as_deref(),
        contact_locale: locale.as_ref(),
        agent_name: Some(agent.0.name.as_str()),
        now: Utc::now(),
    };
    compiled.expand_quick_reply(reference, &ctx).map_err(|_: QuickReplyError| unknown())
}

/// A reply checked against the window and Meta's limits, ready to queue.
struct Prepared {
    content: MessageContent,
    request: serde_json::Value,
}

/// Checks the window and Meta's limits.
async fn prepare(
    state: &AppState,
    conversation: &ConversationView,
    (body, content, reply_to): (OutboundBody, MessageContent, Option<MessageId>),
) -> Result<Prepared, ApiError> {
    let is_template = matches!(body, OutboundBody::Template { .. });
    if !is_template && !window::is_open(conversation.window_closes_at, Utc::now()) {
        return Err(window_closed(conversation.window_closes_at));
    }
    let reply_to = match reply_to {
        None => None,
        Some(mid) => Some(replied_wamid(state, conversation.id, mid).await?),
    };
    let msg =
        OutboundMessage { to: conversation.contact.wa_id.clone(), reply_to, body, biz_opaque_callback_data: None };
    msg.validate().map_err(|errors| {
        ApiError::Validation(errors.into_iter().map(|e| FieldError::new(e.field.clone(), e.message.clone())).collect())
    })?;
    Ok(Prepared { content, request: msg.to_json() })
}

/// Queues a prepared reply in the outbox and answers with the message.
async fn enqueue(
    agent: &AuthenticatedAgent,
    state: &AppState,
    conversation: &ConversationView,
    p: Prepared,
    key: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    let id = conversation.id;
    let enqueued = state
        .store
        .enqueue_outbound(&NewOutbound {
            conversation_id: id,
            content: &p.content,
            request: &p.request,
            sent_by: Some(agent.0.id),
            idempotency_key: key,
            at: Utc::now(),
        })
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::NotFound { what: "conversation" },
            e => e.into(),
        })?;
    if enqueued.created {
        state.outbox.notify_one();
        tracing::info!(conversation_id = %id, message_id = %enqueued.message_id, agent_id = %agent.0.id, "reply queued");
    }
    let message = state.store.message(enqueued.message_id).await?.ok_or(ApiError::NotFound { what: "message" })?;
    Ok(HttpResponse::Accepted().json(MessageJson::from(message)))
}

/// The wamid of the message being replied to, which must be in this conversation.
async fn replied_wamid(state: &AppState, conversation: ConversationId, id: MessageId) -> Result<Wamid, ApiError> {
    match state.store.message(id).await? {
        Some(m) if m.conversation_id == conversation => m
            .wamid
            .ok_or_else(|| ApiError::field("reply_to", "that message has not been sent yet, so it cannot be quoted")),
        _ => Err(ApiError::field("reply_to", "no such message in this conversation")),
    }
}

fn window_closed(closed_at: Option<DateTime<Utc>>) -> ApiError {
    ApiError::WindowClosed {
        detail: match closed_at {
            Some(t) => format!("the customer-service window closed at {}; outside it only an approved template can be sent", t.to_rfc3339()),
            None => "the customer has not written yet, so there is no customer-service window; only an approved template can be sent".into(),
        },
        extra: json!({"window_closes_at": closed_at, "hint": "send a template: {\"type\": \"template\", \"name\": …, \"language\": …}"}),
    }
}
