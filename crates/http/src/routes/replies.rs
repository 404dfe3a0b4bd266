//! `POST /api/v1/conversations/{id}/messages`: an agent's reply, queued in the outbox
//! (the use case: `switchboard_core::inbox`, `Inbox::reply`).
//!
//! A quick reply is sent with `{"quick_reply": "hours"}` (a shortcut or a quick reply's
//! id, optionally with `reply_to`) or with a text that is exactly `/hours`: it is expanded
//! with its variables filled in (`{{agent.name}}` is the sending agent) and sent as text,
//! media or buttons. An unknown shortcut is a 422 naming the field (`quick_reply` or
//! `text`); it is never sent as typed. A quick reply of an audio file and a text sends two
//! messages; the answer is the first.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Deserializer};
use switchboard_cloudapi::{
    InteractiveHeader, ListRow, ListSection, MediaKind, MediaSource, OutboundBody, ReplyButton,
};
use switchboard_core::inbox::{Compose, Outgoing};
use switchboard_core::templates::TemplateSend;
use switchboard_domain::autoreply::QuickReplyRef;
use switchboard_domain::message::{Choice, Media, MessageContent};
use switchboard_domain::{ConversationId, MessageId};
use utoipa::ToSchema;

use crate::AppState;
use crate::error::ApiError;
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
        /// The file of a media header (image, video or document).
        header_media: Option<TemplateHeaderMedia>,
        /// The variable parts of dynamic URL buttons.
        #[serde(default)]
        url_buttons: Vec<TemplateUrlButton>,
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

/// A template's media header: exactly one of `id` and `link`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TemplateHeaderMedia {
    /// `image`, `video` or `document`.
    #[schema(pattern = "^(image|video|document)$")]
    r#type: String,
    id: Option<String>,
    link: Option<String>,
    /// A document's file name.
    filename: Option<String>,
}

/// The suffix of dynamic URL button `index` (0-based, as the template lists its buttons).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TemplateUrlButton {
    #[schema(maximum = 9)]
    index: u8,
    #[schema(min_length = 1, max_length = 2000)]
    text: String,
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

/// What agents see of a reply, and the Graph API body.
fn build(reply: Reply) -> Result<Outgoing, ApiError> {
    let (body, content, reply_to) = match reply {
        Reply::Text { text, preview_url, reply_to } => {
            (OutboundBody::Text { body: text.clone(), preview_url }, MessageContent::Text { body: text }, reply_to)
        }
        Reply::Image(m) => return media(MediaKind::Image, m, MessageContent::Image),
        Reply::Video(m) => return media(MediaKind::Video, m, MessageContent::Video),
        Reply::Audio(m) => return media(MediaKind::Audio, m, MessageContent::Audio),
        Reply::Document(m) => return media(MediaKind::Document, m, MessageContent::Document),
        Reply::Sticker(m) => return media(MediaKind::Sticker, m, MessageContent::Sticker),
        Reply::Template { name, language, parameters, header, button_payloads, header_media, url_buttons } => {
            let header_media = match header_media {
                None => None,
                Some(m) => {
                    let source = match (m.id, m.link) {
                        (Some(id), None) => MediaSource::Id(id),
                        (None, Some(link)) => MediaSource::Link(link),
                        _ => return Err(ApiError::field("header_media", "give exactly one of id and link")),
                    };
                    Some(
                        TemplateSend::header_media(&m.r#type, source, m.filename)
                            .ok_or_else(|| ApiError::field("header_media.type", "must be image, video or document"))?,
                    )
                }
            };
            if url_buttons.iter().any(|b| b.index > 9) {
                return Err(ApiError::field("url_buttons", "index must be 0 to 9"));
            }
            if button_payloads.len() > usize::from(u8::MAX) {
                return Err(ApiError::field("button_payloads", "at most 10"));
            }
            let send = TemplateSend {
                name,
                language,
                parameters,
                header,
                header_media,
                url_buttons: url_buttons.into_iter().map(|b| (b.index, b.text)).collect(),
                button_payloads,
            };
            return Ok(send.into_outgoing());
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
    };
    Ok(Outgoing { body, content, reply_to })
}

fn choices(c: &[ChoiceReply]) -> Vec<Choice> {
    c.iter().map(|c| Choice { id: c.id.clone(), title: c.title.clone() }).collect()
}

fn media(kind: MediaKind, m: MediaReply, content: fn(Media) -> MessageContent) -> Result<Outgoing, ApiError> {
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
    Ok(Outgoing {
        body: OutboundBody::Media { kind, source, caption: m.caption, filename: m.filename },
        content: content(shown),
        reply_to: m.reply_to,
    })
}

pub(crate) fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
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
pub(crate) enum ReplyRequest {
    QuickReply(QuickReplyRequest),
    Message(Reply),
}

impl<'de> Deserialize<'de> for ReplyRequest {
    /// By the presence of `quick_reply` (untagged, serde would try each in turn and name
    /// neither's error).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let body = serde_json::Value::deserialize(d)?;
        if body.get("quick_reply").is_some() {
            serde_json::from_value(body).map(Self::QuickReply).map_err(D::Error::custom)
        } else {
            serde_json::from_value(body).map(Self::Message).map_err(D::Error::custom)
        }
    }
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
    body: Json<ReplyRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let compose = match body.into_inner() {
        ReplyRequest::QuickReply(q) => Compose::QuickReply {
            reference: QuickReplyRef::parse(&q.quick_reply)
                .map_err(|e| ApiError::field("quick_reply", e.to_string()))?,
            reply_to: q.reply_to,
        },
        ReplyRequest::Message(reply) => Compose::Message(build(reply)?),
    };
    let message = state.inbox().reply(&agent.0, id, compose, key.as_deref()).await?;
    Ok(HttpResponse::Accepted().json(MessageJson::from(message)))
}

/// `{"quick_reply": "hours"}` (a shortcut or a quick reply's id).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuickReplyRequest {
    quick_reply: String,
    reply_to: Option<MessageId>,
}
