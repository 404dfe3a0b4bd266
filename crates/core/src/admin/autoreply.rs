//! Auto-replies: a channel's settings, the shared quick replies, the keyword rules and
//! their order; each write checked against every configuration it produces.

use std::collections::HashSet;

use chrono::Utc;
use serde_json::{Value, json};
use switchboard_domain::autoreply::{self, AutoReplyConfig, CompiledConfig, KeywordRule, QuickReply};
use switchboard_domain::{ChannelId, QuickReplyId, RuleId};
use switchboard_store::{ChannelAutoReplies, ChannelAutoRepliesPatch, ChannelInfo, StoreError, StoredRule};

use super::{AdminError, Config};
use crate::inbox::Invalid;

/// A channel's configuration in force, with the configuration version (it grows with
/// every change: any channel's settings, a quick reply, a rule).
pub struct SettingsInForce {
    pub version: i64,
    pub config: AutoReplyConfig,
}

/// Everything wrong with `config`, as the engine's compiler sees it.
fn problems(config: &AutoReplyConfig) -> Vec<autoreply::FieldError> {
    match CompiledConfig::new(config) {
        Ok(_) => Vec::new(),
        Err(e) => e.errors,
    }
}

/// `path` relative to `prefix` when it lies under it (`hours.weekly` under `hours` is
/// `weekly`; `hours` itself is `hours`).
fn under(path: &str, prefix: &str) -> Option<String> {
    if prefix.is_empty() {
        return Some(path.to_owned());
    }
    if path == prefix {
        return Some(path.to_owned());
    }
    let rest = path.strip_prefix(prefix)?;
    if let Some(r) = rest.strip_prefix('.') {
        Some(r.to_owned())
    } else if rest.starts_with('[') {
        Some(rest.to_owned())
    } else {
        None
    }
}

/// One configuration before and after a write, and where the written body sits in it
/// (`None`: the write removes something).
struct Change {
    before: AutoReplyConfig,
    after: AutoReplyConfig,
    body_at: Option<String>,
}

/// Refuses a write whose configurations have problems they did not have before: those in
/// the body are `Invalid` naming the field (relative to the body), any other
/// `BreaksConfiguration`.
fn check(changes: &[Change]) -> Result<(), AdminError> {
    let mut in_body: Vec<Invalid> = Vec::new();
    let mut elsewhere: Vec<String> = Vec::new();
    for c in changes {
        let before = problems(&c.before);
        for p in problems(&c.after) {
            if before.contains(&p) {
                continue;
            }
            match c.body_at.as_deref().and_then(|at| under(&p.path, at)) {
                Some(field) => {
                    if !in_body.iter().any(|f| f.field == field && f.message == p.message) {
                        in_body.push(Invalid::new(field, p.message));
                    }
                }
                None => {
                    let line = format!("{}: {}", p.path, p.message);
                    if !elsewhere.contains(&line) {
                        elsewhere.push(line);
                    }
                }
            }
        }
    }
    if !in_body.is_empty() {
        return Err(AdminError::Invalid(in_body));
    }
    if !elsewhere.is_empty() {
        return Err(AdminError::BreaksConfiguration(elsewhere));
    }
    Ok(())
}

/// The configuration in force with `settings` instead of the stored ones.
fn with_settings(mut config: AutoReplyConfig, channel: &ChannelInfo, s: &ChannelAutoReplies) -> AutoReplyConfig {
    config.business_name = s.business_name.clone().unwrap_or_else(|| channel.name.clone());
    config.locale = s.locale.clone().unwrap_or_default();
    config.hours = s.hours.clone();
    config.greeting = s.greeting.clone();
    config.away = s.away.clone();
    config.limits = s.limits.unwrap_or_default();
    config
}

/// The quick replies with `qr` in place of the one with its id (or added, or, for
/// `None`, `removed` taken out); the index of `qr`, in shortcut order as stored.
fn replace_quick_reply(
    list: &[QuickReply],
    qr: Option<&QuickReply>,
    removed: Option<QuickReplyId>,
) -> (Vec<QuickReply>, Option<usize>) {
    let gone = qr.map(|q| q.id).or(removed);
    let mut out: Vec<QuickReply> = list.iter().filter(|q| Some(q.id) != gone).cloned().collect();
    if let Some(q) = qr {
        out.push(q.clone());
    }
    out.sort_by(|a, b| a.shortcut.cmp(&b.shortcut));
    let at = qr.and_then(|q| out.iter().position(|x| x.id == q.id));
    (out, at)
}

impl Config<'_> {
    /// Every channel's configuration in force: the shared quick replies and rules must be
    /// valid on every channel. With no channel yet, one made of the shared quick replies
    /// and rules alone, so they are still validated.
    async fn configs_in_force(&self) -> Result<Vec<(Option<ChannelInfo>, AutoReplyConfig)>, AdminError> {
        let channels = self.store.channels().await?;
        if channels.is_empty() {
            let config = AutoReplyConfig {
                quick_replies: self.store.quick_replies().await?,
                rules: self.store.keyword_rules().await?.into_iter().map(|r| r.rule).collect(),
                ..AutoReplyConfig::default()
            };
            return Ok(vec![(None, config)]);
        }
        let mut out = Vec::with_capacity(channels.len());
        for ch in channels {
            let config = self.store.auto_reply_config(ch.id).await?;
            out.push((Some(ch), config));
        }
        Ok(out)
    }

    // --- a channel's settings ---

    /// The channel, or `NotFound` "channel".
    pub async fn channel(&self, id: ChannelId) -> Result<ChannelInfo, AdminError> {
        self.store.channels().await?.into_iter().find(|c| c.id == id).ok_or(AdminError::NotFound { what: "channel" })
    }

    /// The channel's configuration in force, with the configuration version.
    pub async fn settings_in_force(&self, channel: ChannelId) -> Result<SettingsInForce, AdminError> {
        let version = self.store.auto_reply_config_version().await?;
        let config = self.store.auto_reply_config(channel).await.map_err(AdminError::not_found("channel"))?;
        Ok(SettingsInForce { version, config })
    }

    /// The channel's stored settings (what it sets itself), or `NotFound` "channel".
    pub async fn channel_settings(&self, channel: ChannelId) -> Result<ChannelAutoReplies, AdminError> {
        self.store.channel_auto_replies(channel).await.map_err(AdminError::not_found("channel"))
    }

    /// Replaces the channel's settings, whole. `quick_replies` and `rules`, if given (as a
    /// GET shows them, to be edited and sent back), must be those in force: they are
    /// shared by all channels and edited at their own place.
    pub async fn replace_settings(
        &self,
        channel: &ChannelInfo,
        settings: &ChannelAutoReplies,
        quick_replies: Option<&Value>,
        rules: Option<&Value>,
    ) -> Result<(), AdminError> {
        let in_force = self.store.auto_reply_config(channel.id).await.map_err(AdminError::not_found("channel"))?;
        for (field, given, current, url) in [
            ("quick_replies", quick_replies, json!(in_force.quick_replies), "/api/v1/admin/quick-replies"),
            ("rules", rules, json!(in_force.rules), "/api/v1/admin/rules"),
        ] {
            if given.is_some_and(|g| *g != current) {
                return Err(AdminError::invalid(field, format!("is shared by all channels and edited at {url}")));
            }
        }
        self.write_settings(channel, &ChannelAutoRepliesPatch::replace_all(settings), Some("")).await
    }

    /// Validates and stores a change of the channel's settings; `body_at` is where the
    /// body sits in the configuration (`""` for the whole settings document, a section's
    /// name for one section, `None` for a removal).
    pub async fn write_settings(
        &self,
        channel: &ChannelInfo,
        patch: &ChannelAutoRepliesPatch<'_>,
        body_at: Option<&str>,
    ) -> Result<(), AdminError> {
        let not_found = AdminError::not_found("channel");
        let stored = self.store.channel_auto_replies(channel.id).await.map_err(&not_found)?;
        let before = self.store.auto_reply_config(channel.id).await.map_err(&not_found)?;
        let after = with_settings(before.clone(), channel, &patch.apply(&stored));
        check(&[Change { before, after, body_at: body_at.map(str::to_owned) }])?;
        self.store.patch_channel_auto_replies(channel.id, patch, Utc::now()).await.map_err(&not_found)?;
        Ok(())
    }

    // --- quick replies ---

    async fn check_quick_reply(
        &self,
        qr: Option<&QuickReply>,
        removed: Option<QuickReplyId>,
    ) -> Result<(), AdminError> {
        let mut changes = Vec::new();
        for (_, before) in self.configs_in_force().await? {
            let (quick_replies, at) = replace_quick_reply(&before.quick_replies, qr, removed);
            let after = AutoReplyConfig { quick_replies, ..before.clone() };
            changes.push(Change { before, after, body_at: at.map(|i| format!("quick_replies[{i}]")) });
        }
        check(&changes)
    }

    /// Creates a quick reply: its shortcut must be free, every configuration valid after.
    pub async fn create_quick_reply(&self, qr: &QuickReply) -> Result<(), AdminError> {
        if self.store.quick_reply_by_shortcut(&qr.shortcut).await?.is_some() {
            return Err(AdminError::Conflict { what: "quick reply shortcut" });
        }
        self.check_quick_reply(Some(qr), None).await?;
        self.store.create_quick_reply(qr, Utc::now()).await?;
        Ok(())
    }

    /// Replaces the quick reply `qr.id`: its shortcut must be free (or its own).
    pub async fn update_quick_reply(&self, qr: &QuickReply) -> Result<(), AdminError> {
        let not_found = AdminError::not_found("quick reply");
        self.store.quick_reply(qr.id).await?.ok_or(AdminError::NotFound { what: "quick reply" })?;
        if self.store.quick_reply_by_shortcut(&qr.shortcut).await?.is_some_and(|other| other.id != qr.id) {
            return Err(AdminError::Conflict { what: "quick reply shortcut" });
        }
        self.check_quick_reply(Some(qr), None).await?;
        self.store.update_quick_reply(qr, Utc::now()).await.map_err(not_found)?;
        Ok(())
    }

    /// Deletes a quick reply, unless a rule sends it.
    pub async fn delete_quick_reply(&self, id: QuickReplyId) -> Result<(), AdminError> {
        self.store.quick_reply(id).await?.ok_or(AdminError::NotFound { what: "quick reply" })?;
        self.check_quick_reply(None, Some(id)).await?;
        self.store.delete_quick_reply(id, Utc::now()).await.map_err(AdminError::not_found("quick reply"))?;
        Ok(())
    }

    // --- keyword rules ---

    /// Validates the rules as they would be after a write, on every channel.
    async fn check_rules(&self, rules: &[StoredRule], written: Option<RuleId>) -> Result<(), AdminError> {
        let mut changes = Vec::new();
        for (channel, before) in self.configs_in_force().await? {
            let applies = |r: &&StoredRule| match (&channel, r.channel) {
                (_, None) => true,
                (Some(ch), Some(c)) => ch.id == c,
                (None, Some(_)) => false,
            };
            let after_rules: Vec<KeywordRule> = rules.iter().filter(applies).map(|r| r.rule.clone()).collect();
            let at = written.and_then(|id| after_rules.iter().position(|r| r.id == id));
            let after = AutoReplyConfig { rules: after_rules, ..before.clone() };
            changes.push(Change { before, after, body_at: at.map(|i| format!("rules[{i}]")) });
        }
        check(&changes)
    }

    async fn require_rule_channel(&self, rule: &StoredRule) -> Result<(), AdminError> {
        if let Some(ch) = rule.channel
            && !self.store.channels().await?.iter().any(|c| c.id == ch)
        {
            return Err(AdminError::invalid("channel_id", "no such channel"));
        }
        Ok(())
    }

    /// Adds a keyword rule, last in the order: its id must be free, its channel (if any)
    /// exist, every configuration valid after.
    pub async fn create_rule(&self, rule: &StoredRule) -> Result<(), AdminError> {
        self.require_rule_channel(rule).await?;
        let mut rules = self.store.keyword_rules().await?;
        if rules.iter().any(|r| r.rule.id == rule.rule.id) {
            return Err(AdminError::Conflict { what: "rule" });
        }
        rules.push(rule.clone());
        self.check_rules(&rules, Some(rule.rule.id)).await?;
        self.store.create_keyword_rule(rule, Utc::now()).await?;
        Ok(())
    }

    /// Replaces the keyword rule `rule.rule.id`, in place.
    pub async fn update_rule(&self, rule: &StoredRule) -> Result<(), AdminError> {
        let id = rule.rule.id;
        self.require_rule_channel(rule).await?;
        let mut rules = self.store.keyword_rules().await?;
        let slot = rules.iter_mut().find(|r| r.rule.id == id).ok_or(AdminError::NotFound { what: "rule" })?;
        *slot = rule.clone();
        self.check_rules(&rules, Some(id)).await?;
        self.store.update_keyword_rule(rule, Utc::now()).await.map_err(AdminError::not_found("rule"))?;
        Ok(())
    }

    /// Deletes a keyword rule.
    pub async fn delete_rule(&self, id: RuleId) -> Result<(), AdminError> {
        self.store.delete_keyword_rule(id, Utc::now()).await.map_err(AdminError::not_found("rule"))
    }

    /// Sets the order rules are evaluated in: `order` lists every rule, each once
    /// (`Invalid` on `order[i]` or `order` otherwise). Answers the rules in that order.
    pub async fn reorder_rules(&self, order: &[RuleId]) -> Result<Vec<StoredRule>, AdminError> {
        let rules = self.store.keyword_rules().await?;
        let known: HashSet<RuleId> = rules.iter().map(|r| r.rule.id).collect();
        let mut seen = HashSet::new();
        let mut errors = Vec::new();
        for (i, id) in order.iter().enumerate() {
            if !known.contains(id) {
                errors.push(Invalid::new(format!("order[{i}]"), format!("no rule {id}")));
            } else if !seen.insert(*id) {
                errors.push(Invalid::new(format!("order[{i}]"), format!("rule {id} is listed twice")));
            }
        }
        let missing: Vec<String> =
            rules.iter().filter(|r| !seen.contains(&r.rule.id)).map(|r| r.rule.id.to_string()).collect();
        if errors.is_empty() && !missing.is_empty() {
            errors.push(Invalid::new("order", format!("must list every rule; missing: {}", missing.join(", "))));
        }
        if !errors.is_empty() {
            return Err(AdminError::Invalid(errors));
        }
        self.store.reorder_keyword_rules(order, Utc::now()).await.map_err(|e| match e {
            // A rule was added or removed meanwhile.
            StoreError::Conflict { .. } | StoreError::NotFound => AdminError::RulesChanged,
            e => e.into(),
        })?;
        Ok(self.store.keyword_rules().await?)
    }
}
