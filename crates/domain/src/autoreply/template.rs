//! Reply templates: text with `{{variables}}`, checked when configured, filled when sent.
//!
//! Variables:
//!
//! | variable | value | when missing |
//! | --- | --- | --- |
//! | `{{contact.name}}` | the contact's WhatsApp profile name | empty |
//! | `{{contact.first_name}}` | its first word | empty |
//! | `{{agent.name}}` | the sending agent (quick replies), the assigned agent (auto-replies) | empty |
//! | `{{business.name}}` | the configuration's `business_name` | empty |
//! | `{{next_open}}` | the next opening time in the channel's time zone, in the contact's language ("tomorrow at 09:00", "mañana a las 09:00"), "now" when open | "soon" (in the language) |
//!
//! A missing value can be given a fallback after a `|`: `Hi {{contact.first_name|there}}!`
//! renders "Hi there!" for a contact without a name. Without a fallback a missing value is
//! empty, and the space before it is dropped when punctuation or a space follows (but never
//! after a brace), so `Hi {{contact.name}}, welcome` renders "Hi, welcome".
//!
//! A fallback is plain text: braces in it are refused (no nested variables).
//!
//! An unknown variable (`{{contact.email}}`) or an unclosed `{{` is an error when the
//! template is parsed, i.e. when the configuration is validated: a template is never sent
//! with a raw `{{…}}` in it. Spaces inside the braces are ignored (`{{ contact.name }}`).

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::hours::BusinessHours;

/// A language tag such as `en`, `pt-BR`, `de`: the language `{{next_open}}` is written in.
/// Normalised to a lowercase language and an uppercase region (`pt_br` → `pt-BR`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(pattern = r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,3}$")
)]
#[serde(try_from = "String", into = "String")]
pub struct Locale(String);

/// A language tag that is not one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a language tag (expected e.g. \"en\", \"es\", \"pt-BR\")")]
pub struct LocaleError {
    pub input: String,
}

impl Locale {
    pub fn parse(s: &str) -> Result<Self, LocaleError> {
        let err = || LocaleError { input: s.to_owned() };
        let mut out = String::with_capacity(s.len());
        for (i, part) in s.split(['-', '_']).enumerate() {
            let ok = match i {
                0 => (2..=3).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_alphabetic()),
                _ => (1..=8).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_alphanumeric()),
            };
            if !ok || i > 3 {
                return Err(err());
            }
            if i == 0 {
                out.push_str(&part.to_ascii_lowercase());
            } else {
                out.push('-');
                if part.len() == 2 {
                    out.push_str(&part.to_ascii_uppercase());
                } else {
                    out.push_str(part);
                }
            }
        }
        Ok(Self(out))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The contact attribute in which agents record a contact's language. The stores
    /// read it in SQL too (`AutoReplyFacts::contact_language`: the attribute when it is
    /// a string).
    pub const CONTACT_ATTRIBUTE: &'static str = "language";

    /// The language agents recorded on a contact (its [`Self::CONTACT_ATTRIBUTE`], a
    /// string), when it is one replies can be formatted in; else `None`, and replies use
    /// the channel's.
    #[must_use]
    pub fn of_contact(attributes: &serde_json::Map<String, serde_json::Value>) -> Option<Self> {
        Self::recorded(attributes.get(Self::CONTACT_ATTRIBUTE)?.as_str())
    }

    /// [`Self::of_contact`] from the attribute's text, as the stores read it.
    #[must_use]
    pub fn recorded(language: Option<&str>) -> Option<Self> {
        Self::parse(language?).ok()
    }

    /// The language used for formatting (English for languages not translated).
    #[must_use]
    pub fn lang(&self) -> Lang {
        Lang::from_tag(&self.0)
    }
}

impl Default for Locale {
    fn default() -> Self {
        Self("en".to_owned())
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Locale {
    type Error = LocaleError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Locale> for String {
    fn from(l: Locale) -> Self {
        l.0
    }
}

/// A language the engine writes dates in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Lang {
    /// English, 24-hour clock.
    #[default]
    En,
    /// English (United States), 12-hour clock.
    EnUs,
    Es,
    Pt,
    Fr,
    De,
    It,
}

impl Lang {
    /// The language of a tag; English when not translated. Case-insensitive.
    #[must_use]
    pub fn from_tag(tag: &str) -> Self {
        let mut parts = tag.split(['-', '_']);
        let lang = parts.next().unwrap_or_default().to_ascii_lowercase();
        match lang.as_str() {
            "en" if parts.next().is_some_and(|r| r.eq_ignore_ascii_case("us")) => Self::EnUs,
            "es" => Self::Es,
            "pt" => Self::Pt,
            "fr" => Self::Fr,
            "de" => Self::De,
            "it" => Self::It,
            _ => Self::En,
        }
    }

    fn weekday(self, d: Weekday) -> &'static str {
        let i = d.num_days_from_monday() as usize;
        let names: [&str; 7] = match self {
            Self::En | Self::EnUs => ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
            Self::Es => ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"],
            Self::Pt => {
                ["segunda-feira", "terça-feira", "quarta-feira", "quinta-feira", "sexta-feira", "sábado", "domingo"]
            }
            Self::Fr => ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"],
            Self::De => ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"],
            Self::It => ["lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica"],
        };
        names[i]
    }

    fn month(self, m: u32) -> &'static str {
        let names: [&str; 12] = match self {
            Self::En | Self::EnUs => [
                "January",
                "February",
                "March",
                "April",
                "May",
                "June",
                "July",
                "August",
                "September",
                "October",
                "November",
                "December",
            ],
            Self::Es => [
                "enero",
                "febrero",
                "marzo",
                "abril",
                "mayo",
                "junio",
                "julio",
                "agosto",
                "septiembre",
                "octubre",
                "noviembre",
                "diciembre",
            ],
            Self::Pt => [
                "janeiro",
                "fevereiro",
                "março",
                "abril",
                "maio",
                "junho",
                "julho",
                "agosto",
                "setembro",
                "outubro",
                "novembro",
                "dezembro",
            ],
            Self::Fr => [
                "janvier",
                "février",
                "mars",
                "avril",
                "mai",
                "juin",
                "juillet",
                "août",
                "septembre",
                "octobre",
                "novembre",
                "décembre",
            ],
            Self::De => [
                "Januar",
                "Februar",
                "März",
                "April",
                "Mai",
                "Juni",
                "Juli",
                "August",
                "September",
                "Oktober",
                "November",
                "Dezember",
            ],
            Self::It => [
                "gennaio",
                "febbraio",
                "marzo",
                "aprile",
                "maggio",
                "giugno",
                "luglio",
                "agosto",
                "settembre",
                "ottobre",
                "novembre",
                "dicembre",
            ],
        };
        names[(m.clamp(1, 12) - 1) as usize]
    }

    /// "now" in this language.
    #[must_use]
    pub const fn now_word(self) -> &'static str {
        match self {
            Self::En | Self::EnUs => "now",
            Self::Es => "ahora",
            Self::Pt => "agora",
            Self::Fr => "maintenant",
            Self::De => "jetzt",
            Self::It => "ora",
        }
    }

    /// "soon" in this language: `{{next_open}}` when no opening is known.
    #[must_use]
    pub const fn soon_word(self) -> &'static str {
        match self {
            Self::En | Self::EnUs => "soon",
            Self::Es => "pronto",
            Self::Pt => "em breve",
            Self::Fr => "bientôt",
            Self::De => "bald",
            Self::It => "presto",
        }
    }

    fn clock(self, hour: u32, minute: u32) -> String {
        match self {
            Self::EnUs => {
                let h12 = match hour % 12 {
                    0 => 12,
                    h => h,
                };
                let ampm = if hour < 12 { "AM" } else { "PM" };
                format!("{h12}:{minute:02} {ampm}")
            }
            Self::De => format!("{hour:02}:{minute:02} Uhr"),
            _ => format!("{hour:02}:{minute:02}"),
        }
    }

    /// Writes `at` (already in local time) relative to `today` (local): "today at 09:00",
    /// "tomorrow at 09:00", "Monday at 09:00" within a week, else with the date.
    fn when(self, at: &NaiveDateTime, today: chrono::NaiveDate) -> String {
        let date = at.date();
        let days = (date - today).num_days();
        let t = self.clock(at.hour(), at.minute());
        let wd = self.weekday(at.weekday());
        let (d, m) = (at.day(), self.month(at.month()));
        match (self, days) {
            (Self::En | Self::EnUs, 0) => format!("today at {t}"),
            (Self::En | Self::EnUs, 1) => format!("tomorrow at {t}"),
            (Self::En | Self::EnUs, 2..=6) => format!("{wd} at {t}"),
            (Self::En, _) => format!("{wd} {d} {m} at {t}"),
            (Self::EnUs, _) => format!("{wd}, {m} {d} at {t}"),
            (Self::Es, 0) => format!("hoy a las {t}"),
            (Self::Es, 1) => format!("mañana a las {t}"),
            (Self::Es, 2..=6) => format!("el {wd} a las {t}"),
            (Self::Es, _) => format!("el {wd} {d} de {m} a las {t}"),
            (Self::Pt, 0) => format!("hoje às {t}"),
            (Self::Pt, 1) => format!("amanhã às {t}"),
            (Self::Pt, 2..=6) => format!("{wd} às {t}"),
            (Self::Pt, _) => format!("{wd}, {d} de {m} às {t}"),
            (Self::Fr, 0) => format!("aujourd'hui à {t}"),
            (Self::Fr, 1) => format!("demain à {t}"),
            (Self::Fr, 2..=6) => format!("{wd} à {t}"),
            (Self::Fr, _) if d == 1 => format!("{wd} 1er {m} à {t}"),
            (Self::Fr, _) => format!("{wd} {d} {m} à {t}"),
            (Self::De, 0) => format!("heute um {t}"),
            (Self::De, 1) => format!("morgen um {t}"),
            (Self::De, 2..=6) => format!("{wd} um {t}"),
            (Self::De, _) => format!("{wd}, {d}. {m} um {t}"),
            (Self::It, 0) => format!("oggi alle {t}"),
            (Self::It, 1) => format!("domani alle {t}"),
            (Self::It, 2..=6) => format!("{wd} alle {t}"),
            (Self::It, _) => format!("{wd} {d} {m} alle {t}"),
        }
    }
}

/// Formats the next opening after `now` as `{{next_open}}` does: `None` when `hours` never
/// opens again (the caller's fallback applies), the language's "now" when open.
#[must_use]
pub fn format_next_open(hours: &BusinessHours, now: DateTime<Utc>, lang: Lang) -> Option<String> {
    let at = hours.next_open(now)?;
    if at <= now {
        return Some(lang.now_word().to_owned());
    }
    format_when(hours, at, now, lang)
}

/// Writes `at` as `{{next_open}}` writes an opening: in the hours' time zone, relative to
/// `now` ("today at 18:00", "tomorrow at 02:00", "Monday at 09:00", then with the date).
/// For other moments than the next opening (the next closing, in the admin's preview).
/// `None` for instants outside the years 1970 to 9999.
#[must_use]
pub fn format_when(hours: &BusinessHours, at: DateTime<Utc>, now: DateTime<Utc>, lang: Lang) -> Option<String> {
    let local = hours.local_time(at)?;
    let today = hours.local_time(now)?.date();
    Some(lang.when(&local, today))
}

/// A template variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Var {
    ContactName,
    ContactFirstName,
    AgentName,
    BusinessName,
    NextOpen,
}

impl Var {
    /// All variables, for documentation and admin UIs.
    pub const ALL: [Self; 5] =
        [Self::ContactName, Self::ContactFirstName, Self::AgentName, Self::BusinessName, Self::NextOpen];

    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "contact.name" => Self::ContactName,
            "contact.first_name" => Self::ContactFirstName,
            "agent.name" => Self::AgentName,
            "business.name" => Self::BusinessName,
            "next_open" => Self::NextOpen,
            _ => return None,
        })
    }

    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::ContactName => "contact.name",
            Self::ContactFirstName => "contact.first_name",
            Self::AgentName => "agent.name",
            Self::BusinessName => "business.name",
            Self::NextOpen => "next_open",
        }
    }
}

/// Why a template cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error(
        "unknown variable {{{{{name}}}}}; known variables are contact.name, contact.first_name, agent.name, business.name and next_open"
    )]
    UnknownVariable { name: String },
    #[error("`{{{{` at character {at} is not closed by `}}}}`")]
    Unclosed { at: usize },
    #[error("the fallback of {{{{{name}}}}} contains a brace: a fallback is plain text")]
    BraceInFallback { name: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Text(String),
    Var { var: Var, fallback: Option<String> },
}

/// A parsed reply template: cheap to render, never fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
}

/// The values variables take when a template is rendered.
#[derive(Clone, Copy, Debug)]
pub struct Vars<'a> {
    pub contact_name: Option<&'a str>,
    pub agent_name: Option<&'a str>,
    pub business_name: Option<&'a str>,
    /// For `{{next_open}}`.
    pub hours: Option<&'a BusinessHours>,
    pub lang: Lang,
    pub now: DateTime<Utc>,
}

impl<'a> Vars<'a> {
    /// No values known, English, at `now`.
    #[must_use]
    pub const fn new(now: DateTime<Utc>) -> Self {
        Self { contact_name: None, agent_name: None, business_name: None, hours: None, lang: Lang::En, now }
    }

    fn value(&self, var: Var) -> Option<Cow<'a, str>> {
        let nonblank = |s: Option<&'a str>| s.map(str::trim).filter(|s| !s.is_empty());
        match var {
            Var::ContactName => nonblank(self.contact_name).map(Cow::Borrowed),
            Var::ContactFirstName => {
                nonblank(self.contact_name).and_then(|n| n.split_whitespace().next()).map(Cow::Borrowed)
            }
            Var::AgentName => nonblank(self.agent_name).map(Cow::Borrowed),
            Var::BusinessName => nonblank(self.business_name).map(Cow::Borrowed),
            Var::NextOpen => self.hours.and_then(|h| format_next_open(h, self.now, self.lang)).map(Cow::Owned),
        }
    }

    /// What a missing value becomes when the template gives no fallback.
    const fn default_for(&self, var: Var) -> &'static str {
        match var {
            Var::NextOpen => self.lang.soon_word(),
            _ => "",
        }
    }
}

impl Template {
    /// Parses a template, refusing unknown variables and unclosed braces.
    pub fn parse(s: &str) -> Result<Self, TemplateError> {
        let mut segments = Vec::new();
        let mut rest = s;
        let mut offset = 0;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                segments.push(Segment::Text(rest[..open].to_owned()));
            }
            let inner_start = open + 2;
            let Some(close) = rest[inner_start..].find("}}") else {
                return Err(TemplateError::Unclosed { at: s[..offset + open].chars().count() });
            };
            let inner = &rest[inner_start..inner_start + close];
            let (name, fallback) = match inner.split_once('|') {
                Some((n, f)) => (n.trim(), Some(f.trim().to_owned())),
                None => (inner.trim(), None),
            };
            let var = Var::parse(name).ok_or_else(|| TemplateError::UnknownVariable { name: name.to_owned() })?;
            // `{{contact.name|{{contact.email}}}}` would otherwise end at the first `}}` and
            // send `{{contact.email}}` raw; a fallback is plain text.
            if fallback.as_deref().is_some_and(|f| f.contains(['{', '}'])) {
                return Err(TemplateError::BraceInFallback { name: name.to_owned() });
            }
            segments.push(Segment::Var { var, fallback });
            let consumed = inner_start + close + 2;
            rest = &rest[consumed..];
            offset += consumed;
        }
        if !rest.is_empty() {
            segments.push(Segment::Text(rest.to_owned()));
        }
        Ok(Self { segments })
    }

    /// The variables used, in order of appearance.
    pub fn variables(&self) -> impl Iterator<Item = Var> + '_ {
        self.segments.iter().filter_map(|s| match s {
            Segment::Var { var, .. } => Some(*var),
            Segment::Text(_) => None,
        })
    }

    /// Whether the template uses `var`.
    #[must_use]
    pub fn uses(&self, var: Var) -> bool {
        self.variables().any(|v| v == var)
    }

    /// Fills in the variables (see the module docs for missing values).
    #[must_use]
    pub fn render(&self, vars: &Vars<'_>) -> String {
        let mut out = String::new();
        for (i, seg) in self.segments.iter().enumerate() {
            match seg {
                Segment::Text(t) => out.push_str(t),
                Segment::Var { var, fallback } => {
                    let value = vars.value(*var);
                    let text: &str = match (&value, fallback) {
                        (Some(v), _) => v,
                        (None, Some(f)) => f,
                        (None, None) => vars.default_for(*var),
                    };
                    if text.is_empty() {
                        let next = match self.segments.get(i + 1) {
                            Some(Segment::Text(t)) => t.chars().next(),
                            _ => None,
                        };
                        let tidy =
                            next.is_none_or(|c| c.is_whitespace() || matches!(c, ',' | '.' | '!' | '?' | ';' | ':'));
                        // Never drop a space after a brace: `{ {{contact.name}}{x}}` must not
                        // become `{{x}}`.
                        let after_brace = out
                            .strip_suffix(' ')
                            .and_then(|o| o.chars().next_back())
                            .is_some_and(|c| matches!(c, '{' | '}'));
                        if tidy && out.ends_with(' ') && !after_brace {
                            out.pop();
                        }
                    } else {
                        out.push_str(text);
                    }
                }
            }
        }
        out
    }
}

/// Parses and renders `template` in one go.
pub fn render(template: &str, vars: &Vars<'_>) -> Result<String, TemplateError> {
    Template::parse(template).map(|t| t.render(vars))
}
