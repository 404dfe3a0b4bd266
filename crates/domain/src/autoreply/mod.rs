//! Auto-replies: greeting, away message, keyword rules and quick replies, as a pure
//! function `(configuration, facts, message, now) → actions`.
//!
//! The ingest worker builds a [`CompiledConfig`] once per channel configuration (regexes
//! compiled, keywords normalised, templates parsed), gathers the [`Facts`] about the
//! conversation from the store, and calls [`CompiledConfig::evaluate`] inside the event's
//! transaction. The [`Evaluation`] lists ready-to-send [`Action`]s, each tagged with the
//! [`RuleRef`] that produced it (stored on the conversation, and the source of the
//! cooldown facts next time), and a trace that explains every rule's outcome (for the
//! admin preview endpoint).
//!
//! # Order
//!
//! 1. **Safety.** Nothing answers a reaction, a system notice, an unsupported message (what
//!    Meta sends for a deleted or unviewable one), a message of an unknown type, or an
//!    outbound kind (a template or interactive message we sent: our own echoes). A
//!    `request_welcome` (the customer opened the chat) gets the greeting only.
//! 2. **Greeting** — first contact, or no message either way for `after_days_of_silence`
//!    days; recipients; optionally only while open; never twice in one conversation within
//!    the silence period (so a greeting sent on `request_welcome` is not repeated on the
//!    first message).
//! 3. **Away** — while the schedule says away; recipients; not when an agent replied in the
//!    conversation within `skip_if_agent_replied_within_minutes`; at most once per away
//!    period per conversation (and `min_interval_minutes` apart).
//! 4. **Keyword rules**, in their order: the first matching rule fires and, with
//!    `stop: true` (the default), ends the evaluation; with `stop: false` later rules may
//!    fire too. A rule in its per-conversation cooldown is skipped (and does not stop).
//!    Keyword lists of all rules are searched in one pass (Aho-Corasick over the normalised
//!    text); exact texts and button/list ids by hash lookup; a rule's regex runs only when
//!    the evaluation reaches that rule. Text matchers see a text's body, a media caption, a
//!    tapped button's or list row's title and an order's note.
//!
//! When the greeting and the away message both fire, **the greeting comes first, then the
//! away message**, then keyword answers: actions are returned in sending order.
//!
//! **Cap.** At most `limits.max_auto_replies_per_contact_per_hour` messages go to one
//! contact in any hour, counting [`Facts::auto_replies_last_hour`] plus the ones this
//! evaluation adds (a quick reply with audio and text counts two). A greeting, away message
//! or rule whose messages do not fit is skipped whole (trace: `cap_reached`); later rules
//! that only label or assign still fire. This stops loops with other bots.
//!
//! # For the caller
//!
//! - Build [`Facts`] from what was stored *before* this message: the contact's last
//!   activity either way (a `request_welcome` counts), the last agent reply in the
//!   conversation, the latest firing of each rule in the conversation, and the automatic
//!   messages sent to the contact in the last hour (any conversation).
//! - Record every rule in [`Evaluation::fired`] with the evaluation's `now`, including rules
//!   that only label or assign (their cooldowns key on it); [`RuleRef`]'s string form is
//!   stable for storage.
//! - Send the [`Effect::Reply`] bodies in order. They are within Meta's limits (rendered
//!   text is clipped to them) and [`ReplyBody::to_content`] is what to show in the timeline.
//! - `{{agent.name}}` in an automatic message is the assigned agent's name
//!   ([`Facts::assigned_agent_name`]); in a quick reply an agent sends, the agent's.
//!
//! # JSON
//!
//! A complete configuration (every field shown; most have defaults):
//!
//! ```json
//! {
//!   "business_name": "Acme Bikes",
//!   "locale": "es",
//!   "hours": {
//!     "time_zone": "Europe/Madrid",
//!     "weekly": {
//!       "mon": [{"start": "09:00", "end": "14:00"}, {"start": "16:00", "end": "20:00"}],
//!       "tue": [{"start": "09:00", "end": "20:00"}],
//!       "wed": [], "thu": [], "fri": [{"start": "22:00", "end": "02:00"}], "sat": [], "sun": []
//!     },
//!     "overrides": [{"date": "2026-12-25", "label": "Navidad"}]
//!   },
//!   "greeting": {
//!     "enabled": true,
//!     "text": "¡Hola {{contact.first_name}}! Gracias por escribir a {{business.name}}.",
//!     "after_days_of_silence": 14,
//!     "recipients": {"type": "everyone"},
//!     "only_within_business_hours": false
//!   },
//!   "away": {
//!     "enabled": true,
//!     "text": "Estamos cerrados. Volvemos {{next_open}}.",
//!     "schedule": {"type": "outside_business_hours"},
//!     "recipients": {"type": "all_except", "wa_ids": ["34600000000"]},
//!     "cooldown": {"once_per_period": true, "min_interval_minutes": 0},
//!     "skip_if_agent_replied_within_minutes": 5
//!   },
//!   "quick_replies": [{
//!     "id": "0193a5b0-0000-7000-8000-000000000001",
//!     "shortcut": "hours",
//!     "text": "Abrimos {{next_open}}.",
//!     "media": {"kind": "image", "link": "https://example.com/hours.png"},
//!     "buttons": [{"id": "book", "title": "Reservar"}]
//!   }],
//!   "rules": [{
//!     "id": "0193a5b0-0000-7000-8000-000000000002",
//!     "name": "Horario",
//!     "enabled": true,
//!     "matcher": {"type": "contains_word", "words": ["horario", "abierto"]},
//!     "actions": [
//!       {"type": "send_quick_reply", "quick_reply": "hours"},
//!       {"type": "add_labels", "labels": ["0193a5b0-0000-7000-8000-000000000003"]}
//!     ],
//!     "stop": true,
//!     "cooldown_minutes": 60
//!   }],
//!   "limits": {"max_auto_replies_per_contact_per_hour": 10}
//! }
//! ```
//!
//! Matchers: `{"type":"contains_word","words":[…]}`, `{"type":"contains","texts":[…]}`,
//! `{"type":"exact","texts":[…]}`, `{"type":"regex","pattern":"…"}`,
//! `{"type":"button_id","ids":[…]}`, `{"type":"list_id","ids":[…]}`. Actions:
//! `send_quick_reply{quick_reply}` (id or shortcut), `send_text{text}`,
//! `send_buttons{body,buttons}`, `send_list{body,button,sections:[{title,rows:[{id,title,description?}]}]}`,
//! `add_labels{labels}`, `assign{agent}`. Recipients: `everyone`, `new_contacts`,
//! `all_except{wa_ids}`, `only{wa_ids}`. Away schedules: `always`, `outside_business_hours`,
//! `custom{hours}` (a business-hours object whose open times are the away times).

mod check;
mod config;
mod engine;
pub mod normalize;
pub mod reply;
pub mod template;
pub mod validate;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use config::{
    AutoReplyConfig, Away, AwayCooldown, AwaySchedule, DEFAULT_AGENT_REPLIED_MINUTES, DEFAULT_MAX_PER_CONTACT_PER_HOUR,
    DEFAULT_SILENCE_DAYS, Greeting, KeywordRule, Limits, ListRow, ListSection, Matcher, MediaAttachment, MediaKind,
    QuickReply, QuickReplyRef, Recipients, RuleAction, Shortcut, ShortcutError,
};
pub use engine::{AgentSend, CompiledConfig, QuickReplyError};
pub use reply::ReplyBody;
pub use template::{
    Lang, Locale, LocaleError, Template, TemplateError, Var, Vars, format_next_open, format_when, render,
};
pub use validate::{ErrorCode, FieldError, ValidationErrors};

use crate::ids::{AgentId, LabelId, QuickReplyId, RuleId, TeamId};
use crate::message::MessageKind;
use crate::phone::WaId;

/// Which part of the configuration produced an action. Stored with every auto-reply and
/// every firing, as a stable string: `greeting`, `away`, `keyword:<uuid>`,
/// `quick_reply:<uuid>` (a quick reply an agent sent), `csat` (the satisfaction survey
/// and its follow-up question, see [`crate::csat`]), `consent` (the confirmation of an
/// opt-out or opt-in keyword, see [`crate::consent`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum RuleRef {
    Greeting,
    Away,
    Keyword(RuleId),
    QuickReply(QuickReplyId),
    Csat,
    Consent,
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for RuleRef {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .description(Some(
                "Which part of the configuration: `greeting`, `away`, `keyword:<rule id>`, \
                 `quick_reply:<quick reply id>` (one an agent sent), `csat` (the satisfaction survey) \
                 or `consent` (the confirmation of an opt-out or opt-in keyword).",
            ))
            .examples(["greeting", "away", "keyword:0193a5b0-0000-7000-8000-000000000002"])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for RuleRef {}

/// A string that is not a [`RuleRef`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{input:?} is not a rule reference (expected greeting, away, csat, consent, keyword:<uuid> or quick_reply:<uuid>)"
)]
pub struct RuleRefError {
    pub input: String,
}

impl RuleRef {
    pub fn parse(s: &str) -> Result<Self, RuleRefError> {
        let err = || RuleRefError { input: s.to_owned() };
        match s {
            "greeting" => Ok(Self::Greeting),
            "away" => Ok(Self::Away),
            "csat" => Ok(Self::Csat),
            "consent" => Ok(Self::Consent),
            _ => {
                if let Some(id) = s.strip_prefix("keyword:") {
                    RuleId::from_str(id).map(Self::Keyword).map_err(|_| err())
                } else if let Some(id) = s.strip_prefix("quick_reply:") {
                    QuickReplyId::from_str(id).map(Self::QuickReply).map_err(|_| err())
                } else {
                    Err(err())
                }
            }
        }
    }
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Greeting => f.write_str("greeting"),
            Self::Away => f.write_str("away"),
            Self::Keyword(id) => write!(f, "keyword:{id}"),
            Self::QuickReply(id) => write!(f, "quick_reply:{id}"),
            Self::Csat => f.write_str("csat"),
            Self::Consent => f.write_str("consent"),
        }
    }
}

impl FromStr for RuleRef {
    type Err = RuleRefError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for RuleRef {
    type Error = RuleRefError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<RuleRef> for String {
    fn from(r: RuleRef) -> Self {
        r.to_string()
    }
}

/// When a rule last fired in this conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RuleFiring {
    pub rule: RuleRef,
    pub at: DateTime<Utc>,
}

/// What the store knows about the contact and the conversation, before this message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facts {
    pub contact_wa_id: WaId,
    /// The WhatsApp profile name, if known.
    #[serde(default)]
    pub contact_name: Option<String>,
    /// The contact's language, if known; otherwise the configuration's `locale` is used.
    #[serde(default)]
    pub contact_locale: Option<Locale>,
    /// The contact was never seen before this message (on this channel).
    #[serde(default)]
    pub is_new_contact: bool,
    /// The contact's last message either way before this one (any conversation).
    #[serde(default)]
    pub last_contact_activity: Option<DateTime<Utc>>,
    /// When an agent last replied in this conversation.
    #[serde(default)]
    pub last_agent_reply: Option<DateTime<Utc>>,
    /// The assigned agent's name, for `{{agent.name}}` in auto-replies.
    #[serde(default)]
    pub assigned_agent_name: Option<String>,
    /// When rules last fired in this conversation (more than one entry per rule is fine:
    /// the latest counts).
    #[serde(default)]
    pub rule_fired: Vec<RuleFiring>,
    /// Automatic messages sent to this contact in the last hour (any conversation).
    #[serde(default)]
    pub auto_replies_last_hour: u32,
}

impl Facts {
    /// A contact never seen before, with nothing else known.
    #[must_use]
    pub fn new_contact(contact_wa_id: WaId) -> Self {
        Self {
            contact_wa_id,
            contact_name: None,
            contact_locale: None,
            is_new_contact: true,
            last_contact_activity: None,
            last_agent_reply: None,
            assigned_agent_name: None,
            rule_fired: Vec::new(),
            auto_replies_last_hour: 0,
        }
    }

    /// When `rule` last fired in this conversation.
    #[must_use]
    pub fn last_fired(&self, rule: RuleRef) -> Option<DateTime<Utc>> {
        self.rule_fired.iter().filter(|f| f.rule == rule).map(|f| f.at).max()
    }
}

/// One thing to do, and which rule wants it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Action {
    pub rule: RuleRef,
    pub effect: Effect,
}

/// What an action does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Effect {
    /// Send this message to the contact (through the outbox).
    Reply { reply: ReplyBody },
    /// Put these labels on the conversation.
    AddLabels { labels: Vec<LabelId> },
    /// Assign the conversation to this agent.
    Assign { agent: AgentId },
    /// Assign the conversation to a member of this team (see [`RuleAction::AssignTeam`]).
    AssignTeam { team: TeamId },
}

/// The result of one evaluation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// In order: greeting, away, then keyword rules' actions in rule order.
    pub actions: Vec<Action>,
    /// One entry per configured greeting, away message and rule, in evaluation order.
    pub trace: Vec<Explanation>,
}

impl Evaluation {
    /// The rules that fired (record them with `now` for cooldowns), in order.
    pub fn fired(&self) -> impl Iterator<Item = RuleRef> + '_ {
        self.trace.iter().filter(|e| e.outcome == Outcome::Fired).map(|e| e.rule)
    }

    /// The messages to send, in order.
    pub fn replies(&self) -> impl Iterator<Item = (RuleRef, &ReplyBody)> + '_ {
        self.actions.iter().filter_map(|a| match &a.effect {
            Effect::Reply { reply } => Some((a.rule, reply)),
            _ => None,
        })
    }
}

/// Why a rule did or did not fire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Explanation {
    pub rule: RuleRef,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// A rule's outcome. JSON: `{"outcome": "cooldown", "until": "…"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// It fired: its actions are in the evaluation.
    Fired,
    /// It is switched off.
    Disabled,
    /// Messages of this kind are never answered (or, for `request_welcome`, only greeted).
    NotAnswerable { kind: MessageKind },
    /// The contact is not among its recipients.
    NotRecipient,
    /// Greeting: the contact was active within the silence period.
    NotDue { last_activity: DateTime<Utc> },
    /// Greeting only within business hours, and closed now.
    OutsideBusinessHours,
    /// Away: the schedule does not say away now; `until` is when it will, if within 8 days.
    NotAway { until: Option<DateTime<Utc>> },
    /// Away outside business hours, but the configuration has no hours.
    NoHours,
    /// Away: already sent at `at` in this away period.
    AlreadySentThisPeriod { at: DateTime<Utc> },
    /// An agent replied at `at`, within the configured minutes.
    AgentRecentlyReplied { at: DateTime<Utc> },
    /// It fired recently in this conversation; it may fire again from `until`.
    Cooldown { until: DateTime<Utc> },
    /// The message does not match.
    NoMatch,
    /// Its messages would exceed the per-contact cap (`limit` per hour).
    CapReached { limit: u32 },
    /// An earlier rule fired and stopped the evaluation.
    StoppedBy { rule: RuleRef },
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fired => f.write_str("fired"),
            Self::Disabled => f.write_str("disabled"),
            Self::NotAnswerable { kind } => write!(f, "{} messages are not answered by this", kind.as_str()),
            Self::NotRecipient => f.write_str("the contact is not among the recipients"),
            Self::NotDue { last_activity } => {
                write!(f, "the contact was active at {last_activity}, within the silence period")
            }
            Self::OutsideBusinessHours => f.write_str("only sent within business hours, and it is closed"),
            Self::NotAway { until: Some(t) } => write!(f, "not away now (until {t})"),
            Self::NotAway { until: None } => f.write_str("not away now, nor in the next 8 days"),
            Self::NoHours => f.write_str("away outside business hours, but no business hours are set"),
            Self::AlreadySentThisPeriod { at } => write!(f, "already sent at {at} in this away period"),
            Self::AgentRecentlyReplied { at } => write!(f, "an agent replied at {at}"),
            Self::Cooldown { until } => write!(f, "in its cooldown until {until}"),
            Self::NoMatch => f.write_str("the message does not match"),
            Self::CapReached { limit } => write!(f, "the contact already got {limit} automatic messages this hour"),
            Self::StoppedBy { rule } => write!(f, "stopped by {rule}, which fired first"),
        }
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.rule, self.outcome)
    }
}

#[cfg(test)]
mod tests;
