//! What a sample message would get from the auto-replies, and why.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_core::admin::{RulesPreview, RulesSample};
use switchboard_domain::autoreply::{self, Action, Explanation, Facts, Locale, RuleFiring, RuleRef};
use switchboard_domain::message::{InteractiveReply, Media, MessageContent};
use switchboard_domain::{ChannelId, WaId, instant};
use utoipa::ToSchema;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::Admin;
use crate::json::Body;
use crate::openapi::Problem;

/// A sample inbound message: `{"type": "text", "text": …}`, `{"type": "button_reply",
/// "id": …}`, `{"type": "list_reply", "id": …}`, `{"type": "template_button", "payload":
/// …}`, or any other message type by name (`image`, `reaction`, `request_welcome`, …).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SampleMessage {
    /// `text`, `button_reply`, `list_reply`, `template_button`, `image`, `video`, `audio`,
    /// `document`, `sticker`, `location`, `contacts`, `reaction`, `order`, `system`,
    /// `request_welcome` or `unsupported`.
    #[serde(rename = "type")]
    kind: String,
    /// A text's body (required for `text`); a template button's or an order's text.
    #[serde(default)]
    text: Option<String>,
    /// The button or list row id (required for `button_reply` and `list_reply`).
    #[serde(default)]
    id: Option<String>,
    /// The button or list row title (default: the id).
    #[serde(default)]
    title: Option<String>,
    /// The template button's payload (required for `template_button`).
    #[serde(default)]
    payload: Option<String>,
    /// A media caption (image, video, document).
    #[serde(default)]
    caption: Option<String>,
}

impl SampleMessage {
    fn content(self) -> Result<MessageContent, ApiError> {
        let need = |v: Option<String>, field: &str| {
            v.filter(|s| !s.is_empty()).ok_or_else(|| {
                ApiError::field(&format!("message.{field}"), format!("is required for a {} message", self.kind))
            })
        };
        let media = |caption: Option<String>| Media { caption, ..Media::default() };
        Ok(match self.kind.as_str() {
            "text" => MessageContent::Text { body: need(self.text.clone(), "text")? },
            "button_reply" => {
                let id = need(self.id.clone(), "id")?;
                MessageContent::Interactive(InteractiveReply::ButtonReply {
                    title: self.title.clone().unwrap_or_else(|| id.clone()),
                    id,
                })
            }
            "list_reply" => {
                let id = need(self.id.clone(), "id")?;
                MessageContent::Interactive(InteractiveReply::ListReply {
                    title: self.title.clone().unwrap_or_else(|| id.clone()),
                    id,
                    description: None,
                })
            }
            "template_button" => {
                let payload = need(self.payload.clone(), "payload")?;
                MessageContent::Button {
                    text: self.text.clone().unwrap_or_else(|| payload.clone()),
                    payload: Some(payload),
                }
            }
            "image" => MessageContent::Image(media(self.caption)),
            "video" => MessageContent::Video(media(self.caption)),
            "audio" => MessageContent::Audio(media(None)),
            "document" => MessageContent::Document(media(self.caption)),
            "sticker" => MessageContent::Sticker(media(None)),
            "location" => {
                MessageContent::Location { latitude: 0.0, longitude: 0.0, name: None, address: None, url: None }
            }
            "contacts" => MessageContent::Contacts { contacts: Vec::new() },
            "reaction" => MessageContent::Reaction { message_id: String::new(), emoji: Some("👍".into()) },
            "order" => MessageContent::Order { catalog_id: None, text: self.text.clone(), product_items: Vec::new() },
            "system" => MessageContent::System {
                kind: "user_changed_number".into(),
                body: None,
                new_wa_id: None,
                user_id: None,
            },
            "request_welcome" => MessageContent::RequestWelcome,
            "unsupported" => MessageContent::Unsupported,
            other => {
                return Err(ApiError::field(
                    "message.type",
                    format!(
                        "{other:?} is not a message type (text, button_reply, list_reply, template_button, image, video, \
                         audio, document, sticker, location, contacts, reaction, order, system, request_welcome, unsupported)"
                    ),
                ));
            }
        })
    }
}

/// Who sends the sample message.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SampleContact {
    /// Their WhatsApp id: the phone number in international format, digits only.
    #[schema(value_type = String, pattern = r"^\+?[0-9]{1,20}$")]
    wa_id: WaId,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    locale: Option<Locale>,
    /// Never seen before (the default when `last_seen_at` is not given).
    #[serde(default)]
    new: Option<bool>,
    /// Their last message either way, if not new.
    #[serde(default)]
    last_seen_at: Option<DateTime<Utc>>,
}

/// The conversation the sample message arrives in (default: a new one).
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SampleConversation {
    #[serde(default)]
    last_agent_reply_at: Option<DateTime<Utc>>,
    #[serde(default)]
    assigned_agent_name: Option<String>,
    /// When rules last fired in it: `[{"rule": "away", "at": …}]`.
    #[serde(default)]
    rule_fired: Vec<RuleFiring>,
    #[serde(default)]
    auto_replies_last_hour: u32,
}

/// A sample message, who sends it and where, for the preview.
#[derive(Deserialize, ToSchema)]
#[schema(as = PreviewRequest)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreviewJson {
    channel_id: ChannelId,
    /// When the message arrives (default: now).
    #[serde(default)]
    at: Option<DateTime<Utc>>,
    message: SampleMessage,
    contact: SampleContact,
    #[serde(default)]
    conversation: SampleConversation,
}

/// Why a greeting, away message or rule fired or not: `rule`, `outcome` and the outcome's
/// own fields.
#[derive(Serialize, ToSchema)]
#[schema(as = PreviewTrace)]
struct TraceJson {
    #[serde(flatten)]
    explanation: Explanation,
    /// The rule's name, for keyword rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// The outcome in a sentence.
    explanation_text: String,
}

/// A message the preview would send.
#[derive(Serialize, ToSchema)]
#[schema(as = PreviewReply)]
struct ReplyJson {
    rule: RuleRef,
    reply: autoreply::ReplyBody,
    /// The message as the conversation would show it.
    content: MessageContent,
}

/// What a sample message would get, and why.
#[derive(Serialize, ToSchema)]
struct PreviewResult {
    channel_id: ChannelId,
    at: DateTime<Utc>,
    version: i64,
    /// The rules that would fire, in order.
    fired: Vec<RuleRef>,
    /// Every action, in the order it would be taken.
    actions: Vec<Action>,
    /// The messages that would be sent, rendered.
    replies: Vec<ReplyJson>,
    /// Why each rule fired or not.
    trace: Vec<TraceJson>,
}

/// Previews what a sample message would get, and why; nothing is sent or stored (admins).
///
/// The configuration in force on the channel answers it, as the ingest worker would.
#[utoipa::path(post, path = "/admin/rules/preview", request_body = PreviewJson,
    responses(
        (status = 200, body = PreviewResult),
        (status = 403, description = "Admins only", body = Problem),
        (status = 409, description = "The channel's configuration is invalid (`invalid_configuration`)",
            body = Problem),
    ))]
pub(super) async fn preview(
    _: Admin,
    body: Body<PreviewJson>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let sample = body.read()?.sample()?;
    let preview = state.config().preview_rules(sample).await?;
    Ok(HttpResponse::Ok().json(PreviewResult::from(&preview)))
}

impl PreviewJson {
    /// The sample as the engine takes it: times checked (`at` defaults to now), the
    /// message's content built, the contact's facts (new unless `last_seen_at` is given).
    pub(crate) fn sample(self) -> Result<RulesSample, ApiError> {
        let p = self;
        let fired = p
            .conversation
            .rule_fired
            .iter()
            .enumerate()
            .map(|(i, f)| (format!("conversation.rule_fired[{i}].at"), Some(f.at)));
        let times = [
            ("at".to_owned(), p.at),
            ("contact.last_seen_at".to_owned(), p.contact.last_seen_at),
            ("conversation.last_agent_reply_at".to_owned(), p.conversation.last_agent_reply_at),
        ];
        for (field, t) in times.into_iter().chain(fired) {
            if let Some(Err(e)) = t.map(instant::check) {
                return Err(ApiError::field(&field, e.to_string()));
            }
        }
        let is_new = p.contact.new.unwrap_or(p.contact.last_seen_at.is_none());
        let facts = Facts {
            contact_wa_id: p.contact.wa_id,
            contact_name: p.contact.name,
            contact_locale: p.contact.locale,
            is_new_contact: is_new,
            last_contact_activity: if is_new { None } else { p.contact.last_seen_at },
            last_agent_reply: p.conversation.last_agent_reply_at,
            assigned_agent_name: p.conversation.assigned_agent_name,
            rule_fired: p.conversation.rule_fired,
            auto_replies_last_hour: p.conversation.auto_replies_last_hour,
        };
        Ok(RulesSample {
            channel: p.channel_id,
            at: p.at.unwrap_or_else(Utc::now),
            facts,
            content: p.message.content()?,
        })
    }
}

impl From<&RulesPreview> for PreviewResult {
    fn from(p: &RulesPreview) -> Self {
        let evaluation = &p.evaluation;
        Self {
            channel_id: p.channel,
            at: p.at,
            version: p.version,
            fired: evaluation.fired().collect(),
            replies: evaluation
                .replies()
                .map(|(rule, reply)| ReplyJson { rule, content: reply.to_content(), reply: reply.clone() })
                .collect(),
            trace: evaluation
                .trace
                .iter()
                .map(|e| TraceJson {
                    explanation: *e,
                    name: p.rule_name(e.rule).map(str::to_owned),
                    explanation_text: e.outcome.to_string(),
                })
                .collect(),
            actions: evaluation.actions.clone(),
        }
    }
}
