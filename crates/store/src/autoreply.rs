//! Auto-replies: each channel's configuration as admins write it, the quick replies, the
//! keyword rules, and what the engine needs to know about a conversation's history.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::autoreply::{
    AutoReplyConfig, Away, Greeting, KeywordRule, Limits, Locale, QuickReply, RuleFiring, RuleRef, Shortcut,
};
use switchboard_domain::hours::BusinessHours;
use switchboard_domain::{ChannelId, QuickReplyId, RuleId};

use crate::Result;

/// What the database knows that the auto-reply engine's facts need, read inside the
/// ingest transaction right after the inbound message was stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AutoReplyFacts {
    /// The contact's latest message before this one, in any of their conversations, in
    /// either direction (`None`: they never wrote and were never written to before).
    pub contact_last_activity: Option<DateTime<Utc>>,
    /// When an agent last sent a message in this conversation (auto-replies do not count).
    pub last_agent_message: Option<DateTime<Utc>>,
    /// When each rule last sent something in this conversation (a stored rule string
    /// that is not a [`RuleRef`] is skipped).
    pub rules_last_fired: Vec<RuleFiring>,
    /// Auto-replies sent to this contact, in any conversation, in the hour before `now`.
    pub auto_replies_last_hour: u32,
    /// The contact's `language` attribute (`de`, `pt-BR`…), when it is a string: the
    /// language replies format their variables in, instead of the channel's.
    pub contact_language: Option<String>,
    /// The contact opted out of automatic messages: rules may still label and assign,
    /// but send nothing.
    pub contact_opted_out: bool,
}

impl AutoReplyFacts {
    /// When `rule` last sent something in this conversation.
    #[must_use]
    pub fn last_fired(&self, rule: RuleRef) -> Option<DateTime<Utc>> {
        self.rules_last_fired.iter().find(|f| f.rule == rule).map(|f| f.at)
    }
}

/// A channel's own auto-reply settings, as stored (the quick replies and keyword rules
/// are shared by all channels and stored apart). `None` is "not set".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChannelAutoReplies {
    /// `{{business.name}}`; the channel's name when not set.
    pub business_name: Option<String>,
    pub locale: Option<Locale>,
    pub hours: Option<BusinessHours>,
    pub greeting: Option<Greeting>,
    pub away: Option<Away>,
    pub limits: Option<Limits>,
}

/// A partial update of a channel's settings: `None` leaves a setting alone, `Some(None)`
/// clears it, `Some(Some(v))` sets it.
#[derive(Clone, Copy, Debug, Default)]
pub struct ChannelAutoRepliesPatch<'a> {
    pub business_name: Option<Option<&'a str>>,
    pub locale: Option<Option<&'a Locale>>,
    pub hours: Option<Option<&'a BusinessHours>>,
    pub greeting: Option<Option<&'a Greeting>>,
    pub away: Option<Option<&'a Away>>,
    pub limits: Option<Option<&'a Limits>>,
}

impl<'a> ChannelAutoRepliesPatch<'a> {
    /// A patch that replaces every setting with `s`'s.
    #[must_use]
    pub fn replace_all(s: &'a ChannelAutoReplies) -> Self {
        Self {
            business_name: Some(s.business_name.as_deref()),
            locale: Some(s.locale.as_ref()),
            hours: Some(s.hours.as_ref()),
            greeting: Some(s.greeting.as_ref()),
            away: Some(s.away.as_ref()),
            limits: Some(s.limits.as_ref()),
        }
    }

    /// `current` with this patch applied.
    #[must_use]
    pub fn apply(&self, current: &ChannelAutoReplies) -> ChannelAutoReplies {
        fn pick<T: Clone>(patch: Option<Option<&T>>, current: &Option<T>) -> Option<T> {
            match patch {
                None => current.clone(),
                Some(v) => v.cloned(),
            }
        }
        ChannelAutoReplies {
            business_name: match self.business_name {
                None => current.business_name.clone(),
                Some(v) => v.map(str::to_owned),
            },
            locale: pick(self.locale, &current.locale),
            hours: pick(self.hours, &current.hours),
            greeting: pick(self.greeting, &current.greeting),
            away: pick(self.away, &current.away),
            limits: pick(self.limits, &current.limits),
        }
    }
}

/// A keyword rule as stored: the rule, and the channel it is limited to (`None`: every
/// channel).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRule {
    pub channel: Option<ChannelId>,
    pub rule: KeywordRule,
}

/// The auto-reply configuration admins write. Every write bumps the configuration's
/// version in the same transaction (see [`AutoReplyStore::auto_reply_config_version`]).
#[async_trait]
pub trait AutoReplyStore: Send + Sync {
    /// The channel's settings as stored (all `None` if it was never configured).
    /// `NotFound` if the channel does not exist.
    async fn channel_auto_replies(&self, channel: ChannelId) -> Result<ChannelAutoReplies>;

    /// Updates the channel's settings (creating them on first write). `NotFound` if the
    /// channel does not exist. Returns the new configuration version.
    async fn patch_channel_auto_replies(
        &self,
        channel: ChannelId,
        patch: &ChannelAutoRepliesPatch<'_>,
        at: DateTime<Utc>,
    ) -> Result<i64>;

    /// Every quick reply, by shortcut.
    async fn quick_replies(&self) -> Result<Vec<QuickReply>>;

    async fn quick_reply(&self, id: QuickReplyId) -> Result<Option<QuickReply>>;

    async fn quick_reply_by_shortcut(&self, shortcut: &Shortcut) -> Result<Option<QuickReply>>;

    /// `Conflict { what: "quick reply shortcut" }` if the shortcut is taken,
    /// `Conflict { what: "quick reply" }` if the id is.
    async fn create_quick_reply(&self, qr: &QuickReply, at: DateTime<Utc>) -> Result<()>;

    /// Replaces the quick reply with `qr.id`. `NotFound`, or `Conflict` as for create.
    async fn update_quick_reply(&self, qr: &QuickReply, at: DateTime<Utc>) -> Result<()>;

    /// `NotFound` if there is no such quick reply.
    async fn delete_quick_reply(&self, id: QuickReplyId, at: DateTime<Utc>) -> Result<()>;

    /// Every keyword rule, in evaluation order.
    async fn keyword_rules(&self) -> Result<Vec<StoredRule>>;

    async fn keyword_rule(&self, id: RuleId) -> Result<Option<StoredRule>>;

    /// Adds a rule after the others. `NotFound` if its channel does not exist,
    /// `Conflict { what: "rule" }` if its id is taken.
    async fn create_keyword_rule(&self, rule: &StoredRule, at: DateTime<Utc>) -> Result<()>;

    /// Replaces the rule with `rule.rule.id`, keeping its place. `NotFound` if there is no
    /// such rule (or its new channel does not exist).
    async fn update_keyword_rule(&self, rule: &StoredRule, at: DateTime<Utc>) -> Result<()>;

    /// `NotFound` if there is no such rule.
    async fn delete_keyword_rule(&self, id: RuleId, at: DateTime<Utc>) -> Result<()>;

    /// Puts the rules in this order. `order` must name every rule exactly once:
    /// otherwise `Conflict { what: "rule order" }` (or `NotFound` for an unknown id) and
    /// nothing changes.
    async fn reorder_keyword_rules(&self, order: &[RuleId], at: DateTime<Utc>) -> Result<()>;

    /// Everything in force for the channel, assembled: its settings (the business name
    /// defaults to the channel's name, unset limits and locale to the defaults), every
    /// quick reply, and the rules for every channel and for this one, in order.
    /// `NotFound` if the channel does not exist.
    async fn auto_reply_config(&self, channel: ChannelId) -> Result<AutoReplyConfig>;

    /// The configuration's version: it grows with every write above, on every instance
    /// sharing the database, so a worker can keep a compiled configuration until it moves.
    async fn auto_reply_config_version(&self) -> Result<i64>;
}
