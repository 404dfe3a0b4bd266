//! The compiled configuration and the evaluation of one inbound message.

use std::collections::{HashMap, HashSet};

use aho_corasick::{AhoCorasick, MatchKind};
use chrono::{DateTime, TimeDelta, Utc};
use regex::{Regex, RegexBuilder};

use crate::hours::BusinessHours;
use crate::ids::{AgentId, LabelId, TeamId};
use crate::inbound::InboundMessage;
use crate::message::{Choice, InteractiveReply, MessageContent};
use crate::phone::WaId;

use super::config::{
    AutoReplyConfig, AwaySchedule, ListSection, Matcher, MediaKind, QuickReply, QuickReplyRef, Recipients, RuleAction,
    Shortcut,
};
use super::normalize::{exact_form, is_diacritic, is_word_char, needs_boundary, normalize, normalize_into};
use super::reply::{MAX_BUTTONS_BODY_CHARS, MAX_CAPTION_CHARS, MAX_LIST_BODY_CHARS, MAX_TEXT_CHARS, ReplyBody, clip};
use super::template::{Lang, Locale, Template, Vars};
use super::validate::{ErrorCode, FieldError, ValidationErrors};
use super::{Action, Effect, Evaluation, Explanation, Facts, Outcome, RuleRef};

/// How far ahead the trace looks for the start of the next away period.
const NOT_AWAY_LOOKAHEAD_DAYS: u32 = 8;

/// `at + d`, or the end of time if that is past chrono's range (times come from users).
fn later(at: DateTime<Utc>, d: TimeDelta) -> DateTime<Utc> {
    at.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Compiled size limit of one regular expression.
pub(crate) const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// A channel's configuration, validated and compiled for fast evaluation. Build it once per
/// configuration change and share it (it is `Send + Sync`).
#[derive(Debug)]
pub struct CompiledConfig {
    config: AutoReplyConfig,
    lang: Lang,
    greeting: Option<CompiledGreeting>,
    away: Option<CompiledAway>,
    quick_replies: Vec<Template>,
    rules: Vec<CompiledRule>,
    index: MatchIndex,
}

#[derive(Debug)]
struct CompiledGreeting {
    text: Template,
    recipients: RecipientSet,
}

#[derive(Debug)]
struct CompiledAway {
    text: Template,
    recipients: RecipientSet,
}

#[derive(Debug)]
enum RecipientSet {
    Everyone,
    NewContacts,
    AllExcept(HashSet<WaId>),
    Only(HashSet<WaId>),
}

impl RecipientSet {
    fn new(r: &Recipients) -> Self {
        match r {
            Recipients::Everyone => Self::Everyone,
            Recipients::NewContacts => Self::NewContacts,
            Recipients::AllExcept { wa_ids } => Self::AllExcept(wa_ids.iter().cloned().collect()),
            Recipients::Only { wa_ids } => Self::Only(wa_ids.iter().cloned().collect()),
        }
    }

    fn includes(&self, facts: &Facts) -> bool {
        match self {
            Self::Everyone => true,
            Self::NewContacts => facts.is_new_contact,
            Self::AllExcept(set) => !set.contains(&facts.contact_wa_id),
            Self::Only(set) => set.contains(&facts.contact_wa_id),
        }
    }
}

#[derive(Debug)]
struct CompiledRule {
    actions: Vec<CompiledAction>,
    /// Messages the rule sends when it fires.
    replies: u32,
}

#[derive(Debug)]
enum CompiledAction {
    QuickReply(usize),
    Text(Template),
    Buttons { body: Template, buttons: Vec<Choice> },
    List { body: Template, button: String, sections: Vec<ListSection> },
    AddLabels(Vec<LabelId>),
    Assign(AgentId),
    AssignTeam(TeamId),
}

/// One distinct normalised keyword of the Aho-Corasick automaton.
#[derive(Debug)]
struct Keyword {
    /// A word boundary is needed before / after the keyword (for whole-word matches).
    boundary_start: bool,
    boundary_end: bool,
    /// (rule index, whole words only).
    rules: Vec<(usize, bool)>,
}

/// Every rule's matcher, merged into a few structures searched once per message.
#[derive(Debug, Default)]
struct MatchIndex {
    keywords: Vec<Keyword>,
    automaton: Option<AhoCorasick>,
    exact: HashMap<String, Vec<usize>>,
    /// The longest exact text, in bytes: longer messages skip the lookup.
    exact_max_len: usize,
    /// Per rule, its regex (run lazily, only for the rules evaluation reaches).
    regexes: Vec<Option<Regex>>,
    button_ids: HashMap<String, Vec<usize>>,
    list_ids: HashMap<String, Vec<usize>>,
}

/// A quick reply that is not configured (the HTTP layer answers 422).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuickReplyError {
    #[error("no quick reply {reference:?}")]
    Unknown { reference: String },
}

/// Who an agent's quick reply goes to, for its variables.
#[derive(Clone, Copy, Debug)]
pub struct AgentSend<'a> {
    pub contact_name: Option<&'a str>,
    pub contact_locale: Option<&'a Locale>,
    /// The agent sending it (`{{agent.name}}`).
    pub agent_name: Option<&'a str>,
    pub now: DateTime<Utc>,
}

impl CompiledConfig {
    /// Validates `config` (see [`AutoReplyConfig::validate`]) and compiles it.
    pub fn new(config: &AutoReplyConfig) -> Result<Self, ValidationErrors> {
        config.validate()?;
        let parse = |path: String, text: &str| {
            Template::parse(text).map_err(|e| FieldError::new(path, ErrorCode::InvalidTemplate, e.to_string()))
        };
        let greeting = match &config.greeting {
            Some(g) => Some(CompiledGreeting {
                text: parse("greeting.text".into(), &g.text)?,
                recipients: RecipientSet::new(&g.recipients),
            }),
            None => None,
        };
        let away = match &config.away {
            Some(a) => Some(CompiledAway {
                text: parse("away.text".into(), &a.text)?,
                recipients: RecipientSet::new(&a.recipients),
            }),
            None => None,
        };
        let quick_replies = config
            .quick_replies
            .iter()
            .enumerate()
            .map(|(i, q)| parse(format!("quick_replies[{i}].text"), &q.text))
            .collect::<Result<Vec<_>, _>>()?;
        let mut rules = Vec::with_capacity(config.rules.len());
        for (i, rule) in config.rules.iter().enumerate() {
            let mut actions = Vec::with_capacity(rule.actions.len());
            let mut replies = 0;
            for (j, action) in rule.actions.iter().enumerate() {
                let path = |f: &str| format!("rules[{i}].actions[{j}].{f}");
                let compiled = match action {
                    RuleAction::SendQuickReply { quick_reply } => {
                        let k = config.quick_replies.iter().position(|q| quick_reply.names(q)).ok_or_else(|| {
                            FieldError::new(
                                path("quick_reply"),
                                ErrorCode::UnknownQuickReply,
                                format!("no quick reply {quick_reply}"),
                            )
                        })?;
                        replies += message_count(&config.quick_replies[k]);
                        CompiledAction::QuickReply(k)
                    }
                    RuleAction::SendText { text } => {
                        replies += 1;
                        CompiledAction::Text(parse(path("text"), text)?)
                    }
                    RuleAction::SendButtons { body, buttons } => {
                        replies += 1;
                        CompiledAction::Buttons { body: parse(path("body"), body)?, buttons: buttons.clone() }
                    }
                    RuleAction::SendList { body, button, sections } => {
                        replies += 1;
                        CompiledAction::List {
                            body: parse(path("body"), body)?,
                            button: button.clone(),
                            sections: sections.clone(),
                        }
                    }
                    RuleAction::AddLabels { labels } => CompiledAction::AddLabels(labels.clone()),
                    RuleAction::Assign { agent } => CompiledAction::Assign(*agent),
                    RuleAction::AssignTeam { team } => CompiledAction::AssignTeam(*team),
                };
                actions.push(compiled);
            }
            rules.push(CompiledRule { actions, replies });
        }
        let index = MatchIndex::build(config)?;
        Ok(Self { lang: config.locale.lang(), config: config.clone(), greeting, away, quick_replies, rules, index })
    }

    /// The configuration this was compiled from.
    #[must_use]
    pub const fn config(&self) -> &AutoReplyConfig {
        &self.config
    }

    /// Decides the automatic actions for one inbound message. See the [module
    /// docs](super) for the order and the rules.
    #[must_use]
    pub fn evaluate(&self, facts: &Facts, message: &InboundMessage, now: DateTime<Utc>) -> Evaluation {
        self.evaluate_content(facts, &message.content, now)
    }

    /// [`evaluate`](Self::evaluate) given only the message's content (for previews).
    #[must_use]
    pub fn evaluate_content(&self, facts: &Facts, content: &MessageContent, now: DateTime<Utc>) -> Evaluation {
        let mut ev = Evaluation { actions: Vec::new(), trace: Vec::with_capacity(self.rules.len() + 2) };
        let kind = content.kind();
        let answerable = is_answerable(content);
        let welcome_only = matches!(content, MessageContent::RequestWelcome);
        let limit = self.config.limits.max_auto_replies_per_contact_per_hour;
        let mut budget = limit.saturating_sub(facts.auto_replies_last_hour);
        let lang = facts.contact_locale.as_ref().map_or(self.lang, Locale::lang);
        let vars = Vars {
            contact_name: facts.contact_name.as_deref(),
            agent_name: facts.assigned_agent_name.as_deref(),
            business_name: Some(self.config.business_name.as_str()),
            hours: self.config.hours.as_ref(),
            lang,
            now,
        };

        if let (Some(g), Some(cfg)) = (&self.greeting, &self.config.greeting) {
            let silence = TimeDelta::days(i64::from(cfg.after_days_of_silence));
            let outcome = if !answerable {
                Outcome::NotAnswerable { kind }
            } else if !cfg.enabled {
                Outcome::Disabled
            } else if !g.recipients.includes(facts) {
                Outcome::NotRecipient
            } else if let Some(last) =
                facts.last_contact_activity.filter(|t| !facts.is_new_contact && now < later(*t, silence))
            {
                Outcome::NotDue { last_activity: last }
            } else if let Some(until) =
                facts.last_fired(RuleRef::Greeting).map(|l| later(l, silence)).filter(|until| now < *until)
            {
                // Already greeted in this conversation within the period (e.g. on the
                // request_welcome before this first message).
                Outcome::Cooldown { until }
            } else if cfg.only_within_business_hours && self.config.hours.as_ref().is_some_and(|h| !h.is_open(now)) {
                Outcome::OutsideBusinessHours
            } else if budget < 1 {
                Outcome::CapReached { limit }
            } else {
                budget -= 1;
                let body = clip(g.text.render(&vars), MAX_TEXT_CHARS);
                ev.actions.push(reply(RuleRef::Greeting, ReplyBody::Text { body }));
                Outcome::Fired
            };
            ev.trace.push(Explanation { rule: RuleRef::Greeting, outcome });
        }

        if let (Some(a), Some(cfg)) = (&self.away, &self.config.away) {
            let outcome = if !answerable || welcome_only {
                Outcome::NotAnswerable { kind }
            } else if !cfg.enabled {
                Outcome::Disabled
            } else if !a.recipients.includes(facts) {
                Outcome::NotRecipient
            } else {
                match self.away_period(&cfg.schedule, now) {
                    Err(outcome) => outcome,
                    Ok(since) => {
                        let last = facts.last_fired(RuleRef::Away);
                        let agent_window = TimeDelta::minutes(i64::from(cfg.skip_if_agent_replied_within_minutes));
                        let min_gap = TimeDelta::minutes(i64::from(cfg.cooldown.min_interval_minutes));
                        if let Some(at) = facts
                            .last_agent_reply
                            .filter(|t| cfg.skip_if_agent_replied_within_minutes > 0 && now < later(*t, agent_window))
                        {
                            Outcome::AgentRecentlyReplied { at }
                        } else if let Some(at) =
                            last.filter(|l| cfg.cooldown.once_per_period && since.is_none_or(|s| *l >= s))
                        {
                            Outcome::AlreadySentThisPeriod { at }
                        } else if let Some(until) = last.map(|l| later(l, min_gap)).filter(|until| now < *until) {
                            Outcome::Cooldown { until }
                        } else if budget < 1 {
                            Outcome::CapReached { limit }
                        } else {
                            budget -= 1;
                            let body = clip(a.text.render(&vars), MAX_TEXT_CHARS);
                            ev.actions.push(reply(RuleRef::Away, ReplyBody::Text { body }));
                            Outcome::Fired
                        }
                    }
                }
            };
            ev.trace.push(Explanation { rule: RuleRef::Away, outcome });
        }

        if self.rules.is_empty() {
            return ev;
        }
        let matched = (answerable && !welcome_only).then(|| self.index.matches(content, self.rules.len()));
        let mut stopped_by: Option<RuleRef> = None;
        for (i, (rule, cfg)) in self.rules.iter().zip(&self.config.rules).enumerate() {
            let rref = RuleRef::Keyword(cfg.id);
            let outcome = if !answerable || welcome_only {
                Outcome::NotAnswerable { kind }
            } else if let Some(by) = stopped_by {
                Outcome::StoppedBy { rule: by }
            } else if !cfg.enabled {
                Outcome::Disabled
            } else if !matched.as_ref().is_some_and(|m| m.rule(i)) {
                Outcome::NoMatch
            } else if let Some(until) = (cfg.cooldown_minutes > 0)
                .then(|| facts.last_fired(rref))
                .flatten()
                .map(|l| later(l, TimeDelta::minutes(i64::from(cfg.cooldown_minutes))))
                .filter(|until| now < *until)
            {
                Outcome::Cooldown { until }
            } else if rule.replies > budget {
                Outcome::CapReached { limit }
            } else {
                budget -= rule.replies;
                self.push_rule_actions(rref, rule, &vars, &mut ev.actions);
                if cfg.stop {
                    stopped_by = Some(rref);
                }
                Outcome::Fired
            };
            ev.trace.push(Explanation { rule: rref, outcome });
        }
        ev
    }

    /// Whether the away schedule says away at `now`, and since when (`None`: always).
    fn away_period(&self, schedule: &AwaySchedule, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, Outcome> {
        let (hours, away_when_open): (&BusinessHours, bool) = match schedule {
            AwaySchedule::Always => return Ok(None),
            AwaySchedule::OutsideBusinessHours => match &self.config.hours {
                Some(h) => (h, false),
                None => return Err(Outcome::NoHours),
            },
            AwaySchedule::Custom { hours } => (hours, true),
        };
        if hours.is_open(now) == away_when_open {
            Ok(hours.period_since(now))
        } else {
            Err(Outcome::NotAway { until: hours.next_change_within(now, NOT_AWAY_LOOKAHEAD_DAYS) })
        }
    }

    fn push_rule_actions(&self, rref: RuleRef, rule: &CompiledRule, vars: &Vars<'_>, out: &mut Vec<Action>) {
        for action in &rule.actions {
            match action {
                CompiledAction::QuickReply(k) => {
                    for body in self.expand_at(*k, vars) {
                        out.push(reply(rref, body));
                    }
                }
                CompiledAction::Text(t) => {
                    out.push(reply(rref, ReplyBody::Text { body: clip(t.render(vars), MAX_TEXT_CHARS) }));
                }
                CompiledAction::Buttons { body, buttons } => out.push(reply(
                    rref,
                    ReplyBody::Buttons {
                        header: None,
                        body: clip(body.render(vars), MAX_BUTTONS_BODY_CHARS),
                        buttons: buttons.clone(),
                    },
                )),
                CompiledAction::List { body, button, sections } => out.push(reply(
                    rref,
                    ReplyBody::List {
                        body: clip(body.render(vars), MAX_LIST_BODY_CHARS),
                        button: button.clone(),
                        sections: sections.clone(),
                    },
                )),
                CompiledAction::AddLabels(labels) => {
                    out.push(Action { rule: rref, effect: Effect::AddLabels { labels: labels.clone() } });
                }
                CompiledAction::Assign(agent) => {
                    out.push(Action { rule: rref, effect: Effect::Assign { agent: *agent } });
                }
                CompiledAction::AssignTeam(team) => {
                    out.push(Action { rule: rref, effect: Effect::AssignTeam { team: *team } });
                }
            }
        }
    }

    /// The messages quick reply `k` sends, rendered.
    fn expand_at(&self, k: usize, vars: &Vars<'_>) -> Vec<ReplyBody> {
        let (Some(qr), Some(t)) = (self.config.quick_replies.get(k), self.quick_replies.get(k)) else {
            return Vec::new();
        };
        let text = t.render(vars);
        match (&qr.media, qr.buttons.is_empty()) {
            (header, false) => vec![ReplyBody::Buttons {
                header: header.clone(),
                body: clip(text, MAX_BUTTONS_BODY_CHARS),
                buttons: qr.buttons.clone(),
            }],
            (None, true) => vec![ReplyBody::Text { body: clip(text, MAX_TEXT_CHARS) }],
            (Some(m), true) if m.kind.takes_caption() || text.trim().is_empty() => {
                let caption = (!text.trim().is_empty()).then(|| clip(text, MAX_CAPTION_CHARS));
                vec![ReplyBody::Media { media: m.clone(), caption }]
            }
            (Some(m), true) => vec![
                ReplyBody::Media { media: m.clone(), caption: None },
                ReplyBody::Text { body: clip(text, MAX_TEXT_CHARS) },
            ],
        }
    }

    /// The configured quick replies (agents list them).
    #[must_use]
    pub fn quick_replies(&self) -> &[QuickReply] {
        &self.config.quick_replies
    }

    /// The quick reply named by id or shortcut.
    #[must_use]
    pub fn find_quick_reply(&self, r: &QuickReplyRef) -> Option<&QuickReply> {
        self.config.quick_replies.iter().find(|q| r.names(q))
    }

    /// The messages an agent sends with quick reply `r` (`{"quick_reply": "hours"}`),
    /// variables filled. Unknown → [`QuickReplyError::Unknown`].
    pub fn expand_quick_reply(
        &self,
        r: &QuickReplyRef,
        ctx: &AgentSend<'_>,
    ) -> Result<Vec<ReplyBody>, QuickReplyError> {
        let k = self
            .config
            .quick_replies
            .iter()
            .position(|q| r.names(q))
            .ok_or_else(|| QuickReplyError::Unknown { reference: r.to_string() })?;
        let vars = Vars {
            contact_name: ctx.contact_name,
            agent_name: ctx.agent_name,
            business_name: Some(self.config.business_name.as_str()),
            hours: self.config.hours.as_ref(),
            lang: ctx.contact_locale.map_or(self.lang, Locale::lang),
            now: ctx.now,
        };
        Ok(self.expand_at(k, &vars))
    }

    /// An agent's text that is exactly `/shortcut` (see [`Shortcut::from_command`]):
    /// `Some` with the expansion (or an unknown-shortcut error); `None` for any other
    /// text, which is sent as typed.
    #[must_use]
    pub fn expand_command(&self, text: &str, ctx: &AgentSend<'_>) -> Option<Result<Vec<ReplyBody>, QuickReplyError>> {
        let shortcut = Shortcut::from_command(text)?;
        Some(self.expand_quick_reply(&QuickReplyRef::Shortcut(shortcut), ctx))
    }
}

fn reply(rule: RuleRef, reply: ReplyBody) -> Action {
    Action { rule, effect: Effect::Reply { reply } }
}

/// How many messages a quick reply sends: two for audio with text (audio has no caption).
fn message_count(qr: &QuickReply) -> u32 {
    match &qr.media {
        Some(m) if m.kind == MediaKind::Audio && qr.buttons.is_empty() && !qr.text.trim().is_empty() => 2,
        _ => 1,
    }
}

/// Whether any automatic message may answer this content (see the module docs).
fn is_answerable(content: &MessageContent) -> bool {
    match content {
        MessageContent::Text { .. }
        | MessageContent::Image(_)
        | MessageContent::Video(_)
        | MessageContent::Audio(_)
        | MessageContent::Document(_)
        | MessageContent::Sticker(_)
        | MessageContent::Location { .. }
        | MessageContent::Contacts { .. }
        | MessageContent::Interactive(_)
        | MessageContent::Button { .. }
        | MessageContent::Order { .. }
        | MessageContent::RequestWelcome => true,
        MessageContent::Reaction { .. }
        | MessageContent::System { .. }
        | MessageContent::Unsupported
        | MessageContent::Unknown { .. }
        | MessageContent::Template { .. }
        | MessageContent::InteractiveMessage { .. } => false,
    }
}

/// The text keyword matchers look at: a text's body, a media caption, the title of a
/// tapped button or picked list row, an order's note.
fn matchable_text(content: &MessageContent) -> Option<&str> {
    match content {
        MessageContent::Text { body } => Some(body),
        MessageContent::Image(m)
        | MessageContent::Video(m)
        | MessageContent::Audio(m)
        | MessageContent::Document(m)
        | MessageContent::Sticker(m) => m.caption.as_deref(),
        MessageContent::Interactive(
            InteractiveReply::ButtonReply { title, .. } | InteractiveReply::ListReply { title, .. },
        ) => Some(title),
        MessageContent::Button { text, .. } => Some(text),
        MessageContent::Order { text, .. } => text.as_deref(),
        _ => None,
    }
}

/// A regex pattern with diacritics removed from its literal characters (it is matched
/// against normalised text). Escapes and classes are ASCII and unaffected; case is left
/// alone (`\W` must stay `\W`) since the regex is case-insensitive anyway.
pub(crate) fn normalize_pattern(pattern: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    pattern.nfkd().filter(|c| !is_diacritic(*c)).nfc().collect()
}

impl MatchIndex {
    fn build(config: &AutoReplyConfig) -> Result<Self, FieldError> {
        let mut index = Self::default();
        let mut keyword_ids: HashMap<String, usize> = HashMap::new();
        let mut patterns: Vec<String> = Vec::new();
        for (i, rule) in config.rules.iter().enumerate() {
            match &rule.matcher {
                Matcher::ContainsWord { words: list } | Matcher::Contains { texts: list } => {
                    let whole = matches!(rule.matcher, Matcher::ContainsWord { .. });
                    for w in list {
                        let n = normalize(w);
                        if n.is_empty() {
                            continue;
                        }
                        let k = *keyword_ids.entry(n.clone()).or_insert_with(|| {
                            let first = n.chars().next().is_some_and(needs_boundary);
                            let last = n.chars().next_back().is_some_and(needs_boundary);
                            patterns.push(n);
                            index.keywords.push(Keyword {
                                boundary_start: first,
                                boundary_end: last,
                                rules: Vec::new(),
                            });
                            index.keywords.len() - 1
                        });
                        let entry = &mut index.keywords[k].rules;
                        if !entry.contains(&(i, whole)) {
                            entry.push((i, whole));
                        }
                    }
                }
                Matcher::Exact { texts } => {
                    for t in texts {
                        let n = normalize(t);
                        let key = exact_form(&n).to_owned();
                        index.exact_max_len = index.exact_max_len.max(key.len());
                        let rules = index.exact.entry(key).or_default();
                        if !rules.contains(&i) {
                            rules.push(i);
                        }
                    }
                }
                Matcher::Regex { pattern } => {
                    let re = RegexBuilder::new(&normalize_pattern(pattern))
                        .case_insensitive(true)
                        .size_limit(REGEX_SIZE_LIMIT)
                        .build()
                        .map_err(|e| {
                            FieldError::new(
                                format!("rules[{i}].matcher.pattern"),
                                ErrorCode::InvalidRegex,
                                e.to_string(),
                            )
                        })?;
                    index.regexes.resize(i, None);
                    index.regexes.push(Some(re));
                }
                Matcher::ButtonId { ids } => {
                    for id in ids {
                        index.button_ids.entry(id.clone()).or_default().push(i);
                    }
                }
                Matcher::ListId { ids } => {
                    for id in ids {
                        index.list_ids.entry(id.clone()).or_default().push(i);
                    }
                }
            }
        }
        if !patterns.is_empty() {
            let ac = AhoCorasick::builder().match_kind(MatchKind::Standard).build(&patterns).map_err(|e| {
                FieldError::new("rules", ErrorCode::TooMany, format!("the keywords are too many or too long: {e}"))
            })?;
            index.automaton = Some(ac);
        }
        Ok(index)
    }

    /// Which rules' matchers match `content`, except regexes (see [`Matches::rule`]).
    fn matches(&self, content: &MessageContent, rules: usize) -> Matches<'_> {
        let mut hit = vec![false; rules];
        let mut mark = |list: &[usize]| {
            for &r in list {
                if let Some(h) = hit.get_mut(r) {
                    *h = true;
                }
            }
        };
        match content {
            MessageContent::Interactive(InteractiveReply::ButtonReply { id, .. })
            | MessageContent::Button { payload: Some(id), .. } => {
                if let Some(list) = self.button_ids.get(id) {
                    mark(list);
                }
            }
            MessageContent::Interactive(InteractiveReply::ListReply { id, .. }) => {
                if let Some(list) = self.list_ids.get(id) {
                    mark(list);
                }
            }
            _ => {}
        }
        let Some(text) = matchable_text(content) else { return Matches { index: self, hit, text: None } };
        let mut norm = String::new();
        normalize_into(text, &mut norm);
        if let Some(ac) = &self.automaton {
            for m in ac.find_overlapping_iter(norm.as_str()) {
                let Some(kw) = self.keywords.get(m.pattern().as_usize()) else { continue };
                let word_ok = (!kw.boundary_start || !norm[..m.start()].chars().next_back().is_some_and(is_word_char))
                    && (!kw.boundary_end || !norm[m.end()..].chars().next().is_some_and(is_word_char));
                for &(r, whole) in &kw.rules {
                    if (word_ok || !whole)
                        && let Some(h) = hit.get_mut(r)
                    {
                        *h = true;
                    }
                }
            }
        }
        let exact = exact_form(&norm);
        if let Some(list) = (exact.len() <= self.exact_max_len).then(|| self.exact.get(exact)).flatten() {
            for &r in list {
                if let Some(h) = hit.get_mut(r) {
                    *h = true;
                }
            }
        }
        Matches { index: self, hit, text: Some(norm) }
    }
}

/// The matching state of one message.
struct Matches<'a> {
    index: &'a MatchIndex,
    /// Rules matched by keywords, exact texts, button and list ids.
    hit: Vec<bool>,
    /// The normalised text, if the message has text.
    text: Option<String>,
}

impl Matches<'_> {
    /// Whether rule `i` matches; its regex, if it has one, runs now.
    fn rule(&self, i: usize) -> bool {
        if self.hit.get(i).copied().unwrap_or(false) {
            return true;
        }
        match (self.index.regexes.get(i), &self.text) {
            (Some(Some(re)), Some(text)) => re.is_match(text),
            _ => false,
        }
    }
}
