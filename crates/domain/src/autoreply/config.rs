//! One channel's auto-reply configuration, as admins edit it and the API serves it.
//!
//! Every type here is `Serialize + Deserialize` with the JSON shape shown in the
//! [module docs](super); unknown fields are refused so a typo is an error, not a silent
//! default. Decoding only checks what a type can check on its own (a time, a time zone, a
//! shortcut's spelling, a wa_id); [`AutoReplyConfig::validate`] checks everything else and
//! names the offending field.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::hours::BusinessHours;
use crate::ids::{AgentId, LabelId, QuickReplyId, RuleId, TeamId};
use crate::message::Choice;
use crate::phone::WaId;

use super::template::Locale;

pub(crate) const fn yes() -> bool {
    true
}

/// Default for [`Greeting::after_days_of_silence`], as in the WhatsApp Business app.
pub const DEFAULT_SILENCE_DAYS: u32 = 14;
/// Default for [`Away::skip_if_agent_replied_within_minutes`].
pub const DEFAULT_AGENT_REPLIED_MINUTES: u32 = 5;
/// Default for [`Limits::max_auto_replies_per_contact_per_hour`].
pub const DEFAULT_MAX_PER_CONTACT_PER_HOUR: u32 = 10;

const fn default_silence_days() -> u32 {
    DEFAULT_SILENCE_DAYS
}
const fn default_agent_replied_minutes() -> u32 {
    DEFAULT_AGENT_REPLIED_MINUTES
}
const fn default_max_per_hour() -> u32 {
    DEFAULT_MAX_PER_CONTACT_PER_HOUR
}

/// One channel's whole auto-reply configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AutoReplyConfig {
    /// `{{business.name}}`.
    #[serde(default)]
    pub business_name: String,
    /// The language `{{next_open}}` is written in when the contact's is unknown.
    #[serde(default)]
    pub locale: Locale,
    /// Opening hours; needed by an away message outside business hours, by a greeting only
    /// within business hours and by `{{next_open}}`.
    #[serde(default)]
    pub hours: Option<BusinessHours>,
    #[serde(default)]
    pub greeting: Option<Greeting>,
    #[serde(default)]
    pub away: Option<Away>,
    /// Canned answers agents expand with `/shortcut` and rules send.
    #[serde(default)]
    pub quick_replies: Vec<QuickReply>,
    /// Keyword rules, evaluated in this order.
    #[serde(default)]
    pub rules: Vec<KeywordRule>,
    #[serde(default)]
    pub limits: Limits,
}

/// Who an automatic message may go to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Recipients {
    /// Every contact.
    #[default]
    Everyone,
    /// Only contacts writing for the first time (never seen before on this channel).
    NewContacts,
    /// Every contact except those listed.
    AllExcept {
        #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
        wa_ids: Vec<WaId>,
    },
    /// Only the contacts listed.
    Only {
        #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
        wa_ids: Vec<WaId>,
    },
}

impl Recipients {
    /// Whether a contact is a recipient.
    #[must_use]
    pub fn includes(&self, wa_id: &WaId, is_new_contact: bool) -> bool {
        match self {
            Self::Everyone => true,
            Self::NewContacts => is_new_contact,
            Self::AllExcept { wa_ids } => !wa_ids.contains(wa_id),
            Self::Only { wa_ids } => wa_ids.contains(wa_id),
        }
    }
}

/// The greeting: sent when a contact writes for the first time, or again after
/// `after_days_of_silence` days without messages either way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Greeting {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// A reply template (variables allowed).
    pub text: String,
    #[serde(default = "default_silence_days")]
    pub after_days_of_silence: u32,
    #[serde(default)]
    pub recipients: Recipients,
    /// Send it only while the business is open (needs `hours`).
    #[serde(default)]
    pub only_within_business_hours: bool,
}

/// When the away message applies.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AwaySchedule {
    /// At all times (vacation mode); a period is then the whole conversation.
    Always,
    /// Whenever the channel's `hours` say closed.
    #[default]
    OutsideBusinessHours,
    /// Whenever this schedule says "open" (its intervals are the away times).
    Custom { hours: BusinessHours },
}

/// How often the away message may repeat in one conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AwayCooldown {
    /// At most once per away period (closed period, custom-schedule period, or the whole
    /// conversation for `always`).
    #[serde(default = "yes")]
    pub once_per_period: bool,
    /// And at least this many minutes apart (0: no minimum).
    #[serde(default)]
    pub min_interval_minutes: u32,
}

impl Default for AwayCooldown {
    fn default() -> Self {
        Self { once_per_period: true, min_interval_minutes: 0 }
    }
}

/// The away message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Away {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// A reply template (variables allowed; `{{next_open}}` is the usual one).
    pub text: String,
    #[serde(default)]
    pub schedule: AwaySchedule,
    #[serde(default)]
    pub recipients: Recipients,
    #[serde(default)]
    pub cooldown: AwayCooldown,
    /// Not sent when an agent replied in the conversation this recently (0: always send).
    #[serde(default = "default_agent_replied_minutes")]
    pub skip_if_agent_replied_within_minutes: u32,
}

/// A quick reply's shortcut: lowercase `[a-z0-9_-]`, 1 to 32 characters. Agents type it
/// after a slash (`/hours`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(pattern = r"^[a-z0-9_-]{1,32}$"))]
#[serde(try_from = "String", into = "String")]
pub struct Shortcut(String);

/// A shortcut that is not spelled as one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a shortcut: use 1 to 32 characters among lowercase a-z, digits, `_` and `-`")]
pub struct ShortcutError {
    pub input: String,
}

impl Shortcut {
    pub const MAX_LEN: usize = 32;

    pub fn parse(s: &str) -> Result<Self, ShortcutError> {
        let ok = !s.is_empty()
            && s.len() <= Self::MAX_LEN
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if ok { Ok(Self(s.to_owned())) } else { Err(ShortcutError { input: s.to_owned() }) }
    }

    /// The shortcut an agent's message invokes: the whole text (trimmed) is `/` and a
    /// shortcut, ASCII case ignored (`/Hours` is `hours`). Anything else is `None` and is
    /// sent as typed.
    #[must_use]
    pub fn from_command(text: &str) -> Option<Self> {
        let rest = text.trim().strip_prefix('/')?;
        if rest.len() > Self::MAX_LEN {
            return None;
        }
        Self::parse(&rest.to_ascii_lowercase()).ok()
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Shortcut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Shortcut {
    type Error = ShortcutError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Shortcut> for String {
    fn from(s: Shortcut) -> Self {
        s.0
    }
}

impl FromStr for Shortcut {
    type Err = ShortcutError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A media type a reply can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Video,
    Document,
    Audio,
}

impl MediaKind {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Document => "document",
            Self::Audio => "audio",
        }
    }

    /// Whether Meta shows a caption with this kind (audio has none).
    #[must_use]
    pub const fn takes_caption(self) -> bool {
        !matches!(self, Self::Audio)
    }
}

/// Media attached to a reply: an uploaded media id or a public HTTPS link (exactly one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MediaAttachment {
    pub kind: MediaKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// A document's file name as the customer sees it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

/// A canned answer. Sent as text; with media, as the media with the text as caption; with
/// buttons, as an interactive message (the media, if any, as its header).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct QuickReply {
    /// Generated when absent.
    #[serde(default)]
    pub id: QuickReplyId,
    pub shortcut: Shortcut,
    /// A reply template (variables allowed).
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaAttachment>,
    /// Up to 3 reply buttons, titles up to 20 characters, unique ids and titles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Choice>,
}

/// A quick reply named by id or by shortcut. JSON: a string, read as an id when it is a
/// UUID and as a shortcut otherwise (a shortcut is at most 32 characters, a UUID 36).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum QuickReplyRef {
    Id(QuickReplyId),
    Shortcut(Shortcut),
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for QuickReplyRef {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .description(Some("A quick reply named by its id (a UUID) or by its shortcut."))
            .pattern(Some(
                r"^(?:[a-z0-9_-]{1,32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$",
            ))
            .examples(["hours", "0193a5b0-0000-7000-8000-000000000001"])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for QuickReplyRef {}

impl QuickReplyRef {
    pub fn parse(s: &str) -> Result<Self, ShortcutError> {
        if let Ok(id) = QuickReplyId::from_str(s) {
            return Ok(Self::Id(id));
        }
        Shortcut::parse(s).map(Self::Shortcut)
    }

    /// Whether `qr` is the quick reply named.
    #[must_use]
    pub fn names(&self, qr: &QuickReply) -> bool {
        match self {
            Self::Id(id) => qr.id == *id,
            Self::Shortcut(s) => qr.shortcut == *s,
        }
    }
}

impl fmt::Display for QuickReplyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => id.fmt(f),
            Self::Shortcut(s) => s.fmt(f),
        }
    }
}

impl TryFrom<String> for QuickReplyRef {
    type Error = ShortcutError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<QuickReplyRef> for String {
    fn from(r: QuickReplyRef) -> Self {
        r.to_string()
    }
}

/// What a keyword rule matches. Text is compared case- and accent-insensitively, in any
/// script (see [`super::normalize`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Matcher {
    /// Some word or phrase occurs as whole words (`price` matches "the price?" but not
    /// "priceless"). In scripts written without spaces (Chinese, Japanese, Thai, …) and in
    /// Korean a word matches anywhere.
    ContainsWord { words: Vec<String> },
    /// Some text occurs anywhere, even inside a word.
    Contains { texts: Vec<String> },
    /// The whole message is one of the texts (ignoring surrounding spaces and punctuation).
    Exact { texts: Vec<String> },
    /// A regular expression (always case-insensitive) finds a match in the message, with
    /// accents removed from both (write `preco` to match "preço").
    Regex { pattern: String },
    /// The customer tapped a reply button with one of these ids (or a template's
    /// quick-reply button with this payload).
    ButtonId { ids: Vec<String> },
    /// The customer picked a list row with one of these ids.
    ListId { ids: Vec<String> },
}

/// A row of a list message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ListRow {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A section of a list message (a title is required when there are several).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ListSection {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    pub rows: Vec<ListRow>,
}

/// What a keyword rule does when it fires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleAction {
    /// Send a configured quick reply.
    SendQuickReply { quick_reply: QuickReplyRef },
    /// Send a text (a reply template).
    SendText { text: String },
    /// Send up to 3 reply buttons under a body (a reply template).
    SendButtons { body: String, buttons: Vec<Choice> },
    /// Send a list: a body (a reply template), the button that opens it, and its sections.
    SendList { body: String, button: String, sections: Vec<ListSection> },
    /// Put labels on the conversation.
    AddLabels { labels: Vec<LabelId> },
    /// Assign the conversation to an agent.
    Assign { agent: AgentId },
    /// Assign the conversation to a member of a team: an online member with room, chosen
    /// by the team's auto-assignment policy (least loaded when it is off). When nobody can
    /// take it now, it stays in the queue.
    AssignTeam { team: TeamId },
}

impl RuleAction {
    /// Whether the action sends a message (and so counts towards the per-contact cap).
    #[must_use]
    pub const fn sends(&self) -> bool {
        matches!(
            self,
            Self::SendQuickReply { .. } | Self::SendText { .. } | Self::SendButtons { .. } | Self::SendList { .. }
        )
    }
}

/// A keyword rule: when `matcher` matches, do `actions`; then stop (default) or go on to the
/// next rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KeywordRule {
    /// Generated when absent.
    #[serde(default)]
    pub id: RuleId,
    /// A name for admins.
    #[serde(default)]
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub matcher: Matcher,
    pub actions: Vec<RuleAction>,
    /// After firing, skip the later rules (default `true`).
    #[serde(default = "yes")]
    pub stop: bool,
    /// Fires at most once per this many minutes per conversation (0: every time).
    #[serde(default)]
    pub cooldown_minutes: u32,
}

/// Loop protection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// At most this many automatic messages to one contact in any hour (0: none at all).
    #[serde(default = "default_max_per_hour")]
    pub max_auto_replies_per_contact_per_hour: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_auto_replies_per_contact_per_hour: DEFAULT_MAX_PER_CONTACT_PER_HOUR }
    }
}
