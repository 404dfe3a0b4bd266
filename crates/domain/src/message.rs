//! Messages: what was said (content), which way, and how far an outbound one got.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::phone::Wamid;

/// Which way a message travelled.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Inbound => "inbound",
            Self::Outbound => "outbound",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "inbound" => Some(Self::Inbound),
            "outbound" => Some(Self::Outbound),
            _ => None,
        }
    }
}

/// Delivery state of a message. Inbound messages are `Received` (and `Read` once an agent
/// marked them read); outbound ones move forward only:
/// `queued < sent < delivered < read < played`, with `failed` reachable from `queued` or
/// `sent` (Meta may report an asynchronous failure after `sent`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Received,
    Queued,
    Sent,
    Delivered,
    Read,
    Played,
    Failed,
}

impl DeliveryState {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Played => "played",
            Self::Failed => "failed",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "received" => Self::Received,
            "queued" => Self::Queued,
            "sent" => Self::Sent,
            "delivered" => Self::Delivered,
            "read" => Self::Read,
            "played" => Self::Played,
            "failed" => Self::Failed,
            _ => return None,
        })
    }

    /// Position on the forward-only ladder; `Failed` and `Received` stand apart.
    const fn rank(self) -> u8 {
        match self {
            Self::Received | Self::Queued => 0,
            Self::Sent => 1,
            Self::Delivered => 2,
            Self::Read => 3,
            Self::Played => 4,
            Self::Failed => 5,
        }
    }

    /// Whether a status report of `next` moves a message that is now in `self`.
    /// Reports never move a message backwards (statuses arrive out of order), and a
    /// failure only counts before delivery: a message the customer has is not failed.
    #[must_use]
    pub const fn advances_to(self, next: Self) -> bool {
        match (self, next) {
            (Self::Failed, _) | (_, Self::Received | Self::Queued) => false,
            (Self::Queued | Self::Sent, Self::Failed) => true,
            (_, Self::Failed) => false,
            (cur, next) => next.rank() > cur.rank(),
        }
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl DeliveryState {
    /// The order in which reports with the same timestamp are applied: along the
    /// ladder, with a failure last (a message the customer has is not failed).
    #[must_use]
    pub const fn report_order(self) -> u8 {
        self.rank()
    }
}

/// A message's delivery columns, folded forward by status reports.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    pub state: DeliveryState,
    pub sent_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    /// Set when a failure moved the message to `failed`: Meta's first error.
    pub error: Option<StatusError>,
}

impl Delivery {
    /// A new outbound message in `state` at `at`: the state's own timestamp is filled
    /// (a message recorded as sent has `sent_at`).
    #[must_use]
    pub fn new(state: DeliveryState, at: DateTime<Utc>) -> Self {
        let mut d = Self {
            state: DeliveryState::Queued,
            sent_at: None,
            delivered_at: None,
            read_at: None,
            failed_at: None,
            error: None,
        };
        d.apply(state, at, &[]);
        d.state = state;
        d
    }

    /// Applies one report: its own timestamp column is filled if empty (`played` counts
    /// as read), and the state moves only if [`DeliveryState::advances_to`] says so.
    /// Returns whether the state moved.
    pub fn apply(&mut self, state: DeliveryState, at: DateTime<Utc>, errors: &[StatusError]) -> bool {
        let slot = match state {
            DeliveryState::Sent => &mut self.sent_at,
            DeliveryState::Delivered => &mut self.delivered_at,
            DeliveryState::Read | DeliveryState::Played => &mut self.read_at,
            DeliveryState::Failed => &mut self.failed_at,
            DeliveryState::Received | DeliveryState::Queued => return false,
        };
        if slot.is_none() {
            *slot = Some(at);
        }
        if !self.state.advances_to(state) {
            return false;
        }
        self.state = state;
        if state == DeliveryState::Failed {
            self.error = errors.first().cloned();
        }
        true
    }
}

/// An error Meta attached to a status, an unsupported message or a whole change.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusError {
    pub code: i64,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
}

/// A media attachment as Meta describes it (inbound: by id; outbound: by id or link).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// As Meta sent it: base64 in webhooks, hex elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Audio recorded as a voice note.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub voice: bool,
    /// Animated sticker.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub animated: bool,
}

/// One product line of an order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderItem {
    pub product_retailer_id: String,
    pub quantity: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_price: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// One choice offered by an interactive message.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub id: String,
    pub title: String,
}

/// A reply to an interactive message.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InteractiveReply {
    ButtonReply {
        id: String,
        title: String,
    },
    ListReply {
        id: String,
        title: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    /// A WhatsApp Flow's answer; `response_json` is the JSON string Meta sent.
    FlowReply {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
        response_json: String,
    },
    /// An interactive type we do not know yet, or one Meta sent without its object;
    /// the message's raw JSON keeps everything.
    Other {
        subtype: String,
    },
}

/// What a message says. Every type of cloudapi.md §3 has a variant; anything else is
/// `Unknown` and the raw JSON is kept beside it, never dropped.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MessageContent {
    Text {
        body: String,
    },
    Image(Media),
    Video(Media),
    Audio(Media),
    Document(Media),
    Sticker(Media),
    Location {
        latitude: f64,
        longitude: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
    },
    /// Shared contact cards, as Meta's structured vCards.
    Contacts {
        contacts: Vec<serde_json::Value>,
    },
    Interactive(InteractiveReply),
    /// A quick-reply button of a template.
    Button {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payload: Option<String>,
        text: String,
    },
    /// A reaction to `message_id`; `emoji: None` removes an earlier reaction.
    Reaction {
        message_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        emoji: Option<String>,
    },
    Order {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        catalog_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        product_items: Vec<OrderItem>,
    },
    /// A system notice (number changed, user id changed, identity changed).
    System {
        kind: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        new_wa_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_id: Option<String>,
    },
    /// The user opened the chat for the first time.
    RequestWelcome,
    /// A template we sent (the only kind allowed outside the 24-hour window).
    Template {
        name: String,
        language: String,
        /// The body's text parameters, in order, for display.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        parameters: Vec<String>,
    },
    /// Interactive buttons or a list we sent.
    InteractiveMessage {
        /// `button` or `list`.
        style: String,
        body: String,
        /// The choices offered: (id, title).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        options: Vec<Choice>,
    },
    /// Meta could not show this message (also what a deleted message becomes).
    Unsupported,
    /// A type this version does not know; see the message's raw JSON.
    Unknown {
        original_type: String,
    },
}

/// The short name of a message's type, as stored and filtered on.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Text,
    Image,
    Video,
    Audio,
    Document,
    Sticker,
    Location,
    Contacts,
    Interactive,
    Button,
    Reaction,
    Order,
    System,
    RequestWelcome,
    Template,
    Unsupported,
    Unknown,
}

impl MessageKind {
    /// Every kind, in declaration order.
    pub const ALL: [Self; 17] = [
        Self::Text,
        Self::Image,
        Self::Video,
        Self::Audio,
        Self::Document,
        Self::Sticker,
        Self::Location,
        Self::Contacts,
        Self::Interactive,
        Self::Button,
        Self::Reaction,
        Self::Order,
        Self::System,
        Self::RequestWelcome,
        Self::Template,
        Self::Unsupported,
        Self::Unknown,
    ];

    /// The kind named `s` (as [`as_str`](Self::as_str) writes it).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Image => "image",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Document => "document",
            Self::Sticker => "sticker",
            Self::Location => "location",
            Self::Contacts => "contacts",
            Self::Interactive => "interactive",
            Self::Button => "button",
            Self::Reaction => "reaction",
            Self::Order => "order",
            Self::System => "system",
            Self::RequestWelcome => "request_welcome",
            Self::Template => "template",
            Self::Unsupported => "unsupported",
            Self::Unknown => "unknown",
        }
    }
}

impl MessageContent {
    #[must_use]
    pub const fn kind(&self) -> MessageKind {
        match self {
            Self::Text { .. } => MessageKind::Text,
            Self::Image(_) => MessageKind::Image,
            Self::Video(_) => MessageKind::Video,
            Self::Audio(_) => MessageKind::Audio,
            Self::Document(_) => MessageKind::Document,
            Self::Sticker(_) => MessageKind::Sticker,
            Self::Location { .. } => MessageKind::Location,
            Self::Contacts { .. } => MessageKind::Contacts,
            Self::Interactive(_) | Self::InteractiveMessage { .. } => MessageKind::Interactive,
            Self::Template { .. } => MessageKind::Template,
            Self::Button { .. } => MessageKind::Button,
            Self::Reaction { .. } => MessageKind::Reaction,
            Self::Order { .. } => MessageKind::Order,
            Self::System { .. } => MessageKind::System,
            Self::RequestWelcome => MessageKind::RequestWelcome,
            Self::Unsupported => MessageKind::Unsupported,
            Self::Unknown { .. } => MessageKind::Unknown,
        }
    }

    /// The human-readable text of the message, for previews and search: the body, a
    /// caption, a button's title, an emoji.
    #[must_use]
    pub fn text(&self) -> Option<&str> {
        match self {
            Self::Text { body } => Some(body),
            Self::Image(m) | Self::Video(m) | Self::Audio(m) | Self::Document(m) | Self::Sticker(m) => {
                m.caption.as_deref()
            }
            Self::Location { name, address, .. } => name.as_deref().or(address.as_deref()),
            Self::Interactive(
                InteractiveReply::ButtonReply { title, .. } | InteractiveReply::ListReply { title, .. },
            ) => Some(title),
            Self::Interactive(InteractiveReply::FlowReply { body, .. }) => body.as_deref(),
            Self::Button { text, .. } => Some(text),
            Self::Reaction { emoji, .. } => emoji.as_deref(),
            Self::Order { text, .. } => text.as_deref(),
            Self::System { body, .. } => body.as_deref(),
            Self::InteractiveMessage { body, .. } => Some(body),
            Self::Template { name, .. } => Some(name),
            Self::Interactive(InteractiveReply::Other { .. })
            | Self::Contacts { .. }
            | Self::RequestWelcome
            | Self::Unsupported
            | Self::Unknown { .. } => None,
        }
    }

    /// The media attachment, if the message has one.
    #[must_use]
    pub const fn media(&self) -> Option<&Media> {
        match self {
            Self::Image(m) | Self::Video(m) | Self::Audio(m) | Self::Document(m) | Self::Sticker(m) => Some(m),
            _ => None,
        }
    }

    /// Whether this message is a customer speaking to us, as opposed to a reaction, a
    /// system notice or a chat-opened signal. Only such messages open the 24-hour window
    /// count as customer activity for auto-replies.
    #[must_use]
    pub const fn is_conversational(&self) -> bool {
        !matches!(self, Self::Reaction { .. } | Self::System { .. } | Self::Unsupported)
    }
}

/// What an inbound message replied to, and whether it was forwarded.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageContext {
    /// The wamid of the message replied to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Who sent the message replied to (our display number, usually).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forwarded: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub frequently_forwarded: bool,
    /// A product the customer asked about (catalog messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referred_product: Option<serde_json::Value>,
}

/// A Click-to-WhatsApp ad (or post) that started the conversation.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headline: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctwa_clid: Option<String>,
}

impl Referral {
    /// A Click-to-WhatsApp ad opens a 72-hour free entry point window.
    #[must_use]
    pub fn is_ad(&self) -> bool {
        self.ctwa_clid.is_some() || self.source_type.as_deref() == Some("ad")
    }
}

/// Convenience for code that has a wamid in a reaction/context and wants it typed.
impl MessageContext {
    #[must_use]
    pub fn replied_to(&self) -> Option<Wamid> {
        self.message_id.as_deref().and_then(|s| Wamid::parse(s).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::DeliveryState::*;

    #[test]
    fn delivery_state_moves_forward_only() {
        assert!(Queued.advances_to(Sent));
        assert!(Sent.advances_to(Read)); // delivered may be skipped
        assert!(!Read.advances_to(Delivered));
        assert!(!Delivered.advances_to(Sent));
        assert!(Read.advances_to(Played));
        assert!(Sent.advances_to(Failed));
        assert!(Queued.advances_to(Failed));
        assert!(!Delivered.advances_to(Failed));
        assert!(!Failed.advances_to(Read));
        assert!(!Sent.advances_to(Sent));
    }

    #[test]
    fn content_serialises_with_a_type_tag() {
        let c = super::MessageContent::Text { body: "হ্যালো".into() };
        let json = serde_json::to_value(&c).expect("serialises");
        assert_eq!(json, serde_json::json!({"type": "text", "body": "হ্যালো"}));
        let back: super::MessageContent = serde_json::from_value(json).expect("parses");
        assert_eq!(back, c);
    }
}

#[cfg(test)]
mod delivery_tests {
    use super::*;
    use DeliveryState::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(s, 0).single().expect("valid")
    }

    fn fresh(state: DeliveryState) -> Delivery {
        Delivery { state, sent_at: None, delivered_at: None, read_at: None, failed_at: None, error: None }
    }

    #[test]
    fn a_stale_report_fills_its_timestamp_but_keeps_the_state() {
        let mut d = fresh(Read);
        assert!(!d.apply(Delivered, t(5), &[]));
        assert_eq!((d.state, d.delivered_at), (Read, Some(t(5))));
        assert!(!d.apply(Delivered, t(9), &[]));
        assert_eq!(d.delivered_at, Some(t(5)));
    }

    #[test]
    fn played_fills_read_at_and_failure_keeps_the_first_error() {
        let mut d = fresh(Sent);
        assert!(d.apply(Played, t(3), &[]));
        assert_eq!((d.state, d.read_at), (Played, Some(t(3))));

        let mut d = fresh(Sent);
        let e = |c| StatusError { code: c, title: "x".into(), details: None, href: None };
        assert!(d.apply(Failed, t(4), &[e(131_047), e(1)]));
        assert_eq!(d.error.map(|e| e.code), Some(131_047));
    }
}
