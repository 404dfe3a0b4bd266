//! Previews for admins, computed by the engine itself and changing nothing: what a sample
//! message would get from a channel's auto-replies (and why), and what a quick reply being
//! edited would send.

use chrono::{DateTime, Utc};
use switchboard_domain::autoreply::{
    AgentSend, AutoReplyConfig, CompiledConfig, Evaluation, Facts, QuickReply, QuickReplyRef, ReplyBody, RuleRef,
};
use switchboard_domain::{ChannelId, MessageContent};
use switchboard_store::{ChannelInfo, StoreError};

use super::{AdminError, Config};
use crate::inbox::Invalid;

/// A sample inbound message, who sends it, where and when.
pub struct RulesSample {
    pub channel: ChannelId,
    pub at: DateTime<Utc>,
    pub facts: Facts,
    pub content: MessageContent,
}

/// What a sample message would get: the evaluation as the ingest worker would make it, and
/// the configuration in force it was made with.
pub struct RulesPreview {
    pub channel: ChannelId,
    pub at: DateTime<Utc>,
    /// The configuration version evaluated.
    pub version: i64,
    pub config: AutoReplyConfig,
    pub evaluation: Evaluation,
}

impl RulesPreview {
    /// A keyword rule's name (greeting, away and quick replies have none).
    #[must_use]
    pub fn rule_name(&self, rule: RuleRef) -> Option<&str> {
        match rule {
            RuleRef::Keyword(id) => self.config.rules.iter().find(|k| k.id == id).map(|k| k.name.as_str()),
            _ => None,
        }
    }
}

/// Who a previewed quick reply goes to and who sends it.
pub struct QuickReplySample<'a> {
    /// The channel whose business name, language and hours fill the variables (default:
    /// the first channel, or none).
    pub channel: Option<ChannelId>,
    pub contact_name: Option<&'a str>,
    pub agent_name: &'a str,
    pub now: DateTime<Utc>,
}

/// What a quick reply would send, and on which channel's settings.
pub struct QuickReplyPreview {
    pub channel: Option<ChannelInfo>,
    pub replies: Vec<ReplyBody>,
}

impl Config<'_> {
    /// What `sample` would get from its channel's configuration in force, and why; nothing
    /// is sent or stored. An unknown channel is invalid (`channel_id`); a configuration the
    /// engine cannot compile is [`AdminError::InvalidConfiguration`].
    pub async fn preview_rules(&self, sample: RulesSample) -> Result<RulesPreview, AdminError> {
        let version = self.store.auto_reply_config_version().await?;
        let config = self.store.auto_reply_config(sample.channel).await.map_err(|e| match e {
            StoreError::NotFound => AdminError::invalid("channel_id", "no such channel"),
            e => e.into(),
        })?;
        let compiled = CompiledConfig::new(&config).map_err(|e| AdminError::InvalidConfiguration(e.to_string()))?;
        let evaluation = compiled.evaluate_content(&sample.facts, &sample.content, sample.at);
        Ok(RulesPreview { channel: sample.channel, at: sample.at, version, config, evaluation })
    }

    /// The messages `qr` (as written, not necessarily stored) would send to the sample
    /// contact, variables filled with the channel's settings, exactly as an agent's
    /// `/shortcut` would. Problems in `qr` are invalid, named as in its body (`text`,
    /// `buttons[0].title`).
    pub async fn preview_quick_reply(
        &self,
        qr: &QuickReply,
        sample: &QuickReplySample<'_>,
    ) -> Result<QuickReplyPreview, AdminError> {
        let channels = self.store.channels().await?;
        let channel = match sample.channel {
            Some(id) => Some(
                channels
                    .into_iter()
                    .find(|c| c.id == id)
                    .ok_or_else(|| AdminError::invalid("channel_id", "no such channel"))?,
            ),
            None => channels.into_iter().next(),
        };
        let in_force = match &channel {
            Some(c) => self.store.auto_reply_config(c.id).await?,
            None => AutoReplyConfig::default(),
        };
        // Only what the quick reply needs, as when an agent sends it.
        let config = AutoReplyConfig {
            business_name: in_force.business_name,
            locale: in_force.locale,
            hours: in_force.hours,
            quick_replies: vec![qr.clone()],
            ..AutoReplyConfig::default()
        };
        let compiled = CompiledConfig::new(&config).map_err(|e| {
            AdminError::Invalid(
                e.errors
                    .into_iter()
                    .map(|f| {
                        let field = f.path.strip_prefix("quick_replies[0]").unwrap_or(&f.path);
                        let field = field.strip_prefix('.').unwrap_or(field);
                        Invalid::new(if field.is_empty() { "body" } else { field }, f.message)
                    })
                    .collect(),
            )
        })?;
        let ctx = AgentSend {
            contact_name: sample.contact_name,
            contact_locale: None,
            agent_name: Some(sample.agent_name),
            now: sample.now,
        };
        let replies = compiled
            .expand_quick_reply(&QuickReplyRef::Id(qr.id), &ctx)
            .map_err(|e| AdminError::invalid("shortcut", e.to_string()))?;
        Ok(QuickReplyPreview { channel, replies })
    }
}
