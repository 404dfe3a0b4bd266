//! [`AutoReplyConfig::validate`]: every rule a configuration must follow, with the path of
//! the offending field.

use std::collections::HashSet;

use regex::RegexBuilder;

use crate::message::Choice;

use super::config::{
    AutoReplyConfig, AwaySchedule, ListSection, Matcher, MediaAttachment, MediaKind, QuickReply, Recipients, RuleAction,
};
use super::engine::{REGEX_SIZE_LIMIT, normalize_pattern};
use super::normalize::normalize;
use super::reply::{
    MAX_BUTTON_ID_CHARS, MAX_BUTTON_TITLE_CHARS, MAX_BUTTONS, MAX_BUTTONS_BODY_CHARS, MAX_CAPTION_CHARS,
    MAX_LIST_BODY_CHARS, MAX_LIST_BUTTON_CHARS, MAX_LIST_ROWS, MAX_LIST_SECTIONS, MAX_ROW_DESCRIPTION_CHARS,
    MAX_ROW_ID_CHARS, MAX_ROW_TITLE_CHARS, MAX_SECTION_TITLE_CHARS, MAX_TEXT_CHARS,
};
use super::template::{Template, TemplateError, Var};
use super::validate::{ErrorCode, Errors, ValidationErrors, index, join};

/// At most this many quick replies, and keyword rules.
pub const MAX_QUICK_REPLIES: usize = 500;
pub const MAX_RULES: usize = 500;
/// At most this many words, texts or ids in one matcher; characters per word.
pub const MAX_MATCHER_ENTRIES: usize = 200;
pub const MAX_KEYWORD_CHARS: usize = 200;
/// A regex pattern's length.
pub const MAX_PATTERN_CHARS: usize = 1000;
/// At most this many regex rules (each compiles to up to 256 KiB).
pub const MAX_REGEX_RULES: usize = 50;
/// At most this many characters of keywords and texts across all rules.
pub const MAX_KEYWORD_TOTAL_CHARS: usize = 100_000;
/// At most this many wa_ids in a recipients list.
pub const MAX_RECIPIENTS: usize = 10_000;
/// Names (business, rule) and file names.
pub const MAX_NAME_CHARS: usize = 200;
/// The greeting's silence period, in days.
pub const MAX_SILENCE_DAYS: u32 = 365;
/// Cooldowns, in minutes (a year).
pub const MAX_COOLDOWN_MINUTES: u32 = 525_600;
/// Away's agent-replied window, in minutes (a week).
pub const MAX_AGENT_REPLIED_MINUTES: u32 = 10_080;
/// The per-contact hourly cap.
pub const MAX_PER_HOUR: u32 = 1000;

impl AutoReplyConfig {
    /// Checks everything decoding could not: lengths and counts (Meta's limits included),
    /// overlapping intervals, regexes, template variables, references between parts,
    /// duplicates. Reports every problem with its JSON path.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errs = Errors::default();
        let has_hours = self.hours.is_some();
        errs.text("business_name", &self.business_name, false, MAX_NAME_CHARS);
        if let Some(h) = &self.hours {
            h.validate_at("hours", &mut errs);
        }
        if let Some(g) = &self.greeting {
            template(&mut errs, "greeting.text", &g.text, true, MAX_TEXT_CHARS, has_hours);
            if !(1..=MAX_SILENCE_DAYS).contains(&g.after_days_of_silence) {
                errs.push(
                    "greeting.after_days_of_silence",
                    ErrorCode::OutOfRange,
                    format!("must be between 1 and {MAX_SILENCE_DAYS} days"),
                );
            }
            recipients(&mut errs, "greeting.recipients", &g.recipients);
            if g.only_within_business_hours && !has_hours {
                errs.push(
                    "greeting.only_within_business_hours",
                    ErrorCode::Unsatisfied,
                    "needs business hours: set `hours` first",
                );
            }
        }
        if let Some(a) = &self.away {
            template(&mut errs, "away.text", &a.text, true, MAX_TEXT_CHARS, has_hours);
            match &a.schedule {
                AwaySchedule::OutsideBusinessHours if !has_hours => {
                    errs.push("away.schedule", ErrorCode::Unsatisfied, "outside business hours needs `hours`");
                }
                AwaySchedule::Custom { hours } => hours.validate_at("away.schedule.hours", &mut errs),
                _ => {}
            }
            recipients(&mut errs, "away.recipients", &a.recipients);
            if a.cooldown.min_interval_minutes > MAX_COOLDOWN_MINUTES {
                errs.push(
                    "away.cooldown.min_interval_minutes",
                    ErrorCode::OutOfRange,
                    format!("at most {MAX_COOLDOWN_MINUTES} minutes"),
                );
            }
            if a.skip_if_agent_replied_within_minutes > MAX_AGENT_REPLIED_MINUTES {
                errs.push(
                    "away.skip_if_agent_replied_within_minutes",
                    ErrorCode::OutOfRange,
                    format!("at most {MAX_AGENT_REPLIED_MINUTES} minutes"),
                );
            }
        }
        // Quick replies and keyword rules are shared by every channel, and a channel
        // without hours renders `{{next_open}}` as "soon": no hours needed for them.
        self.validate_quick_replies(&mut errs);
        self.validate_rules(&mut errs);
        if self.limits.max_auto_replies_per_contact_per_hour > MAX_PER_HOUR {
            errs.push(
                "limits.max_auto_replies_per_contact_per_hour",
                ErrorCode::OutOfRange,
                format!("at most {MAX_PER_HOUR}"),
            );
        }
        ValidationErrors::check(errs.list)
    }

    fn validate_quick_replies(&self, errs: &mut Errors) {
        if self.quick_replies.len() > MAX_QUICK_REPLIES {
            errs.push("quick_replies", ErrorCode::TooMany, format!("at most {MAX_QUICK_REPLIES} quick replies"));
        }
        let mut shortcuts = HashSet::new();
        let mut ids = HashSet::new();
        for (i, qr) in self.quick_replies.iter().enumerate() {
            let p = index("quick_replies", i);
            if !ids.insert(qr.id) {
                errs.push(join(&p, "id"), ErrorCode::Duplicate, format!("another quick reply has id {}", qr.id));
            }
            if !shortcuts.insert(qr.shortcut.as_str()) {
                errs.push(
                    join(&p, "shortcut"),
                    ErrorCode::Duplicate,
                    format!("another quick reply has shortcut {:?}", qr.shortcut.as_str()),
                );
            }
            quick_reply(errs, &p, qr);
        }
    }

    fn validate_rules(&self, errs: &mut Errors) {
        if self.rules.len() > MAX_RULES {
            errs.push("rules", ErrorCode::TooMany, format!("at most {MAX_RULES} rules"));
        }
        let mut ids = HashSet::new();
        let (mut regexes, mut keyword_chars) = (0, 0);
        for (i, rule) in self.rules.iter().enumerate() {
            let p = index("rules", i);
            match &rule.matcher {
                Matcher::Regex { .. } => {
                    regexes += 1;
                    if regexes == MAX_REGEX_RULES + 1 {
                        errs.push(
                            join(&p, "matcher"),
                            ErrorCode::TooMany,
                            format!("at most {MAX_REGEX_RULES} rules may use a regex"),
                        );
                    }
                }
                Matcher::ContainsWord { words: list }
                | Matcher::Contains { texts: list }
                | Matcher::Exact { texts: list } => {
                    let before = keyword_chars;
                    keyword_chars += list.iter().map(|w| w.chars().count()).sum::<usize>();
                    if before <= MAX_KEYWORD_TOTAL_CHARS && keyword_chars > MAX_KEYWORD_TOTAL_CHARS {
                        errs.push(
                            join(&p, "matcher"),
                            ErrorCode::TooMany,
                            format!(
                                "all rules together may have at most {MAX_KEYWORD_TOTAL_CHARS} characters of keywords"
                            ),
                        );
                    }
                }
                Matcher::ButtonId { .. } | Matcher::ListId { .. } => {}
            }
            if !ids.insert(rule.id) {
                errs.push(join(&p, "id"), ErrorCode::Duplicate, format!("another rule has id {}", rule.id));
            }
            errs.text(&join(&p, "name"), &rule.name, false, MAX_NAME_CHARS);
            matcher(errs, &join(&p, "matcher"), &rule.matcher);
            if rule.cooldown_minutes > MAX_COOLDOWN_MINUTES {
                errs.push(
                    join(&p, "cooldown_minutes"),
                    ErrorCode::OutOfRange,
                    format!("at most {MAX_COOLDOWN_MINUTES} minutes"),
                );
            }
            let actions = join(&p, "actions");
            if rule.actions.is_empty() {
                errs.push(&actions, ErrorCode::Required, "a rule needs at least one action");
            }
            if rule.actions.len() > 10 {
                errs.push(&actions, ErrorCode::TooMany, "at most 10 actions");
            }
            for (j, action) in rule.actions.iter().enumerate() {
                let ap = index(&actions, j);
                match action {
                    RuleAction::SendQuickReply { quick_reply } => {
                        if !self.quick_replies.iter().any(|q| quick_reply.names(q)) {
                            errs.push(
                                join(&ap, "quick_reply"),
                                ErrorCode::UnknownQuickReply,
                                format!("no quick reply {quick_reply}"),
                            );
                        }
                    }
                    RuleAction::SendText { text } => {
                        template(errs, &join(&ap, "text"), text, true, MAX_TEXT_CHARS, true);
                    }
                    RuleAction::SendButtons { body, buttons: bs } => {
                        template(errs, &join(&ap, "body"), body, true, MAX_BUTTONS_BODY_CHARS, true);
                        buttons(errs, &join(&ap, "buttons"), bs, true);
                    }
                    RuleAction::SendList { body, button, sections } => {
                        template(errs, &join(&ap, "body"), body, true, MAX_LIST_BODY_CHARS, true);
                        errs.text(&join(&ap, "button"), button, true, MAX_LIST_BUTTON_CHARS);
                        list_sections(errs, &join(&ap, "sections"), sections);
                    }
                    RuleAction::AddLabels { labels } => {
                        if labels.is_empty() {
                            errs.push(join(&ap, "labels"), ErrorCode::Required, "list at least one label");
                        }
                    }
                    RuleAction::Assign { .. } | RuleAction::AssignTeam { .. } => {}
                }
            }
        }
    }
}

/// Checks a reply template: required, length, variables, `{{next_open}}` needs hours.
fn template(errs: &mut Errors, path: &str, text: &str, required: bool, max: usize, has_hours: bool) {
    errs.text(path, text, required, max);
    match Template::parse(text) {
        Err(e @ TemplateError::UnknownVariable { .. }) => errs.push(path, ErrorCode::UnknownVariable, e.to_string()),
        Err(e @ (TemplateError::Unclosed { .. } | TemplateError::BraceInFallback { .. })) => {
            errs.push(path, ErrorCode::InvalidTemplate, e.to_string());
        }
        Ok(t) if t.uses(Var::NextOpen) && !has_hours => {
            errs.push(path, ErrorCode::Unsatisfied, "{{next_open}} needs business hours: set `hours` first");
        }
        Ok(_) => {}
    }
}

fn recipients(errs: &mut Errors, path: &str, r: &Recipients) {
    match r {
        Recipients::Only { wa_ids } | Recipients::AllExcept { wa_ids } => {
            let p = join(path, "wa_ids");
            if wa_ids.is_empty() && matches!(r, Recipients::Only { .. }) {
                errs.push(&p, ErrorCode::Required, "list at least one wa_id (or use everyone)");
            }
            if wa_ids.len() > MAX_RECIPIENTS {
                errs.push(&p, ErrorCode::TooMany, format!("at most {MAX_RECIPIENTS} wa_ids"));
            }
        }
        Recipients::Everyone | Recipients::NewContacts => {}
    }
}

fn quick_reply(errs: &mut Errors, p: &str, qr: &QuickReply) {
    let with_buttons = !qr.buttons.is_empty();
    let (required, max) = match (&qr.media, with_buttons) {
        (_, true) => (true, MAX_BUTTONS_BODY_CHARS),
        (None, false) => (true, MAX_TEXT_CHARS),
        (Some(m), false) if m.kind.takes_caption() => (false, MAX_CAPTION_CHARS),
        (Some(_), false) => (false, MAX_TEXT_CHARS),
    };
    template(errs, &join(p, "text"), &qr.text, required, max, true);
    if let Some(m) = &qr.media {
        media(errs, &join(p, "media"), m);
        if with_buttons && m.kind == MediaKind::Audio {
            errs.push(
                join(p, "media.kind"),
                ErrorCode::Invalid,
                "audio cannot head a buttons message: use image, video or document",
            );
        }
    }
    if with_buttons {
        buttons(errs, &join(p, "buttons"), &qr.buttons, false);
    }
}

fn media(errs: &mut Errors, p: &str, m: &MediaAttachment) {
    match (&m.id, &m.link) {
        (None, None) => errs.push(p, ErrorCode::Required, "give the media's `id` or its `link`"),
        (Some(_), Some(_)) => errs.push(p, ErrorCode::Invalid, "give either `id` or `link`, not both"),
        (Some(id), None) => errs.text(&join(p, "id"), id, true, 256),
        (None, Some(link)) => {
            if !link.starts_with("https://") || link.len() <= "https://".len() {
                errs.push(join(p, "link"), ErrorCode::Invalid, "must be an https:// URL");
            }
            errs.text(&join(p, "link"), link, true, 2048);
        }
    }
    if let Some(f) = &m.filename {
        if m.kind != MediaKind::Document {
            errs.push(join(p, "filename"), ErrorCode::Invalid, "only documents have a file name");
        }
        errs.text(&join(p, "filename"), f, true, MAX_NAME_CHARS);
    }
}

fn buttons(errs: &mut Errors, p: &str, bs: &[Choice], required: bool) {
    if required && bs.is_empty() {
        errs.push(p, ErrorCode::Required, "give at least one button");
    }
    if bs.len() > MAX_BUTTONS {
        errs.push(p, ErrorCode::TooMany, format!("at most {MAX_BUTTONS} buttons"));
    }
    let (mut ids, mut titles) = (HashSet::new(), HashSet::new());
    for (k, b) in bs.iter().enumerate() {
        let bp = index(p, k);
        errs.text(&join(&bp, "id"), &b.id, true, MAX_BUTTON_ID_CHARS);
        errs.text(&join(&bp, "title"), &b.title, true, MAX_BUTTON_TITLE_CHARS);
        if !ids.insert(b.id.as_str()) {
            errs.push(join(&bp, "id"), ErrorCode::Duplicate, "button ids must be unique");
        }
        if !titles.insert(b.title.as_str()) {
            errs.push(join(&bp, "title"), ErrorCode::Duplicate, "button titles must be unique");
        }
    }
}

fn list_sections(errs: &mut Errors, p: &str, sections: &[ListSection]) {
    if sections.is_empty() {
        errs.push(p, ErrorCode::Required, "give at least one section");
    }
    if sections.len() > MAX_LIST_SECTIONS {
        errs.push(p, ErrorCode::TooMany, format!("at most {MAX_LIST_SECTIONS} sections"));
    }
    let rows: usize = sections.iter().map(|s| s.rows.len()).sum();
    if rows > MAX_LIST_ROWS {
        errs.push(p, ErrorCode::TooMany, format!("at most {MAX_LIST_ROWS} rows across all sections"));
    }
    let mut ids = HashSet::new();
    for (k, s) in sections.iter().enumerate() {
        let sp = index(p, k);
        errs.text(&join(&sp, "title"), &s.title, sections.len() > 1, MAX_SECTION_TITLE_CHARS);
        if s.rows.is_empty() {
            errs.push(join(&sp, "rows"), ErrorCode::Required, "give at least one row");
        }
        for (r, row) in s.rows.iter().enumerate() {
            let rp = index(&join(&sp, "rows"), r);
            errs.text(&join(&rp, "id"), &row.id, true, MAX_ROW_ID_CHARS);
            errs.text(&join(&rp, "title"), &row.title, true, MAX_ROW_TITLE_CHARS);
            if let Some(d) = &row.description {
                errs.text(&join(&rp, "description"), d, false, MAX_ROW_DESCRIPTION_CHARS);
            }
            if !ids.insert(row.id.as_str()) {
                errs.push(join(&rp, "id"), ErrorCode::Duplicate, "row ids must be unique in the list");
            }
        }
    }
}

fn matcher(errs: &mut Errors, p: &str, m: &Matcher) {
    let entries = |errs: &mut Errors, field: &str, list: &[String], max: usize, normalized: bool| {
        let lp = join(p, field);
        if list.is_empty() {
            errs.push(&lp, ErrorCode::Required, "give at least one entry");
        }
        if list.len() > MAX_MATCHER_ENTRIES {
            errs.push(&lp, ErrorCode::TooMany, format!("at most {MAX_MATCHER_ENTRIES} entries"));
        }
        for (k, w) in list.iter().enumerate() {
            let wp = index(&lp, k);
            let blank = if normalized { normalize(w).is_empty() } else { w.is_empty() };
            if blank {
                errs.push(&wp, ErrorCode::Required, "must not be empty");
            }
            errs.text(&wp, w, false, max);
        }
    };
    match m {
        Matcher::ContainsWord { words } => entries(errs, "words", words, MAX_KEYWORD_CHARS, true),
        Matcher::Contains { texts } | Matcher::Exact { texts } => {
            entries(errs, "texts", texts, MAX_KEYWORD_CHARS, true);
        }
        Matcher::ButtonId { ids } => entries(errs, "ids", ids, MAX_BUTTON_ID_CHARS, false),
        Matcher::ListId { ids } => entries(errs, "ids", ids, MAX_ROW_ID_CHARS, false),
        Matcher::Regex { pattern } => {
            let pp = join(p, "pattern");
            errs.text(&pp, pattern, true, MAX_PATTERN_CHARS);
            if !pattern.trim().is_empty()
                && let Err(e) = RegexBuilder::new(&normalize_pattern(pattern))
                    .case_insensitive(true)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
            {
                errs.push(&pp, ErrorCode::InvalidRegex, e.to_string());
            }
        }
    }
}
