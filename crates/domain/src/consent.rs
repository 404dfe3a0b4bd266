//! Consent to automatic messages and templates: a contact opts out (by sending an opt-out
//! keyword such as `STOP`, or an agent or API client records it) and opts back in (a
//! keyword such as `START`, or an admin records it). Every change is an entry of the
//! contact's consent history ([`ConsentEvent`]).
//!
//! While a contact is opted out nothing automatic goes to them (greeting, away message,
//! keyword rules, satisfaction surveys) and no template; agents' free-form replies inside
//! the customer-service window the customer opened still go. The one automatic message
//! allowed is the confirmation of the opt-out itself, when an admin configured one (as
//! SMS practice has it).
//!
//! Keywords are matched against the WHOLE message: a text, or a tapped button's payload
//! or title, equals a keyword after the auto-replies' normalisation
//! ([`normalize`](crate::autoreply::normalize::normalize): case, accents, width and
//! whitespace do not matter) with punctuation at either end dropped, so `Stop.`, ` stop `
//! and `ＳＴＯＰ` opt out, `please don't stop` does not. [`ConsentSettings::parse`] turns
//! what an admin wrote into lists that match, or names every offending field.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::autoreply::normalize::normalize;
use crate::autoreply::{ErrorCode, FieldError, ValidationErrors};
use crate::ids::{AgentId, MessageId};
use crate::message::{InteractiveReply, MessageContent};

/// At most this many keywords in each list.
pub const MAX_KEYWORDS: usize = 100;
/// The longest keyword, in characters.
pub const MAX_KEYWORD_CHARS: usize = 64;
/// The longest confirmation text, in characters.
pub const MAX_CONFIRMATION_CHARS: usize = 1024;
/// The longest note on a recorded change, in characters.
pub const MAX_NOTE_CHARS: usize = 500;

/// The opt-out keywords used until an admin sets them: English (the US carriers' set),
/// Spanish, Portuguese, French, German, Italian and Dutch.
pub const DEFAULT_OPT_OUT_KEYWORDS: &[&str] = &[
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "OPT OUT",
    "OPTOUT",
    "OPT-OUT",
    "REVOKE",
    // Spanish
    "BAJA",
    "DAR DE BAJA",
    "PARAR",
    "CANCELAR",
    "DETENER",
    // Portuguese
    "SAIR",
    "DESCADASTRAR",
    "CANCELAR INSCRIÇÃO",
    // French
    "ARRÊT",
    "ARRÊTER",
    "DÉSABONNER",
    "DÉSINSCRIRE",
    // German
    "STOPP",
    "ABMELDEN",
    "ABBESTELLEN",
    // Italian
    "BASTA",
    "ANNULLA",
    "DISISCRIVIMI",
    // Dutch
    "AFMELDEN",
    "UITSCHRIJVEN",
];

/// The opt-in keywords used until an admin sets them.
pub const DEFAULT_OPT_IN_KEYWORDS: &[&str] = &[
    "START",
    "UNSTOP",
    "SUBSCRIBE",
    "OPT IN",
    "OPTIN",
    "OPT-IN",
    // Spanish
    "SUSCRIBIR",
    "REANUDAR",
    // Portuguese
    "INSCREVER",
    // French
    "ABONNER",
    "DÉMARRER",
    // German
    "ANMELDEN",
    "STARTEN",
    // Italian
    "ISCRIVIMI",
    // Dutch
    "AANMELDEN",
];

/// Whether a contact accepts automatic messages and templates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ConsentState))]
#[serde(rename_all = "snake_case")]
pub enum ConsentState {
    /// Nothing automatic and no template goes to them.
    OptedOut,
    /// The default: every contact is opted in until they opt out.
    OptedIn,
}

impl ConsentState {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OptedOut => "opted_out",
            Self::OptedIn => "opted_in",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "opted_out" => Some(Self::OptedOut),
            "opted_in" => Some(Self::OptedIn),
            _ => None,
        }
    }
}

/// Who changed a contact's consent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ConsentSource))]
#[serde(rename_all = "snake_case")]
pub enum ConsentSource {
    /// The customer sent a keyword (the message is recorded).
    Keyword,
    /// An agent recorded it (in the console, or through the API on their behalf).
    Agent,
    /// An integration recorded it through the API.
    Api,
    /// Imported from another system.
    Import,
}

impl ConsentSource {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Keyword => "keyword",
            Self::Agent => "agent",
            Self::Api => "api",
            Self::Import => "import",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "keyword" => Some(Self::Keyword),
            "agent" => Some(Self::Agent),
            "api" => Some(Self::Api),
            "import" => Some(Self::Import),
            _ => None,
        }
    }
}

/// One entry of a contact's consent history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentEvent {
    pub state: ConsentState,
    pub source: ConsentSource,
    /// The customer's message that carried the keyword.
    pub message_id: Option<MessageId>,
    /// The agent who recorded it.
    pub agent_id: Option<AgentId>,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

/// A note on a recorded change: trimmed, 1 to [`MAX_NOTE_CHARS`] characters; `None` if
/// blank. `Err` names the problem.
pub fn parse_note(note: Option<&str>) -> Result<Option<String>, String> {
    let Some(note) = note.map(str::trim).filter(|n| !n.is_empty()) else { return Ok(None) };
    let n = note.chars().count();
    if n > MAX_NOTE_CHARS {
        return Err(format!("has {n} characters; at most {MAX_NOTE_CHARS} are allowed"));
    }
    if note.chars().any(|c| c.is_control() && c != '\n') {
        return Err("must not contain control characters".into());
    }
    Ok(Some(note.to_owned()))
}

/// The consent settings as an admin writes them; [`ConsentSettings::parse`] reads them.
/// A list left out takes the defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ConsentSettings))]
#[serde(deny_unknown_fields)]
pub struct ConsentSettingsInput {
    /// Whole messages that opt the contact out (1 to 100 keywords of 1 to 64 characters;
    /// default: STOP, UNSUBSCRIBE, … in seven languages).
    #[serde(default)]
    pub opt_out_keywords: Option<Vec<String>>,
    /// Whole messages that opt the contact back in (0 to 100 keywords; none: only an
    /// admin can opt a contact back in; default: START, UNSTOP, SUBSCRIBE, …).
    #[serde(default)]
    pub opt_in_keywords: Option<Vec<String>>,
    /// Sent once when a keyword opts the contact out (the only automatic message an
    /// opted-out contact gets); none: nothing is sent.
    #[serde(default)]
    pub opt_out_confirmation: Option<String>,
    /// Sent once when a keyword opts the contact back in; none: nothing is sent.
    #[serde(default)]
    pub opt_in_confirmation: Option<String>,
}

/// Consent settings that hold: keyword lists without duplicates (after normalisation),
/// none in both lists, confirmations within Meta's limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentSettings {
    pub opt_out_keywords: Vec<String>,
    pub opt_in_keywords: Vec<String>,
    pub opt_out_confirmation: Option<String>,
    pub opt_in_confirmation: Option<String>,
}

impl Default for ConsentSettings {
    fn default() -> Self {
        Self {
            opt_out_keywords: DEFAULT_OPT_OUT_KEYWORDS.iter().map(|s| (*s).to_owned()).collect(),
            opt_in_keywords: DEFAULT_OPT_IN_KEYWORDS.iter().map(|s| (*s).to_owned()).collect(),
            opt_out_confirmation: None,
            opt_in_confirmation: None,
        }
    }
}

impl From<ConsentSettings> for ConsentSettingsInput {
    fn from(s: ConsentSettings) -> Self {
        Self {
            opt_out_keywords: Some(s.opt_out_keywords),
            opt_in_keywords: Some(s.opt_in_keywords),
            opt_out_confirmation: s.opt_out_confirmation,
            opt_in_confirmation: s.opt_in_confirmation,
        }
    }
}

/// A keyword's matching form: normalised, punctuation at either end dropped.
#[must_use]
pub fn keyword_key(s: &str) -> String {
    let n = normalize(s);
    let trimmed =
        n.trim_matches(|c: char| c.is_ascii_punctuation() || "¡¿。！？、，…".contains(c) || c.is_whitespace());
    trimmed.to_owned()
}

impl ConsentSettings {
    /// Reads what an admin wrote: every field that breaks a rule is named
    /// (`opt_out_keywords[2]`, `opt_in_confirmation`, …).
    pub fn parse(i: ConsentSettingsInput) -> Result<Self, ValidationErrors> {
        let defaults = Self::default();
        let mut errors = Vec::new();
        let opt_out = i.opt_out_keywords.unwrap_or(defaults.opt_out_keywords);
        let opt_in = i.opt_in_keywords.unwrap_or(defaults.opt_in_keywords);
        let out_keys = keywords(&mut errors, "opt_out_keywords", &opt_out, &HashSet::new());
        if opt_out.is_empty() {
            errors.push(FieldError::new(
                "opt_out_keywords",
                ErrorCode::Required,
                "at least one opt-out keyword is needed: customers must be able to opt out",
            ));
        }
        keywords(&mut errors, "opt_in_keywords", &opt_in, &out_keys);
        let opt_out_confirmation = confirmation(&mut errors, "opt_out_confirmation", i.opt_out_confirmation);
        let opt_in_confirmation = confirmation(&mut errors, "opt_in_confirmation", i.opt_in_confirmation);
        ValidationErrors::check(errors)?;
        Ok(Self {
            opt_out_keywords: opt_out.into_iter().map(|k| k.trim().to_owned()).collect(),
            opt_in_keywords: opt_in.into_iter().map(|k| k.trim().to_owned()).collect(),
            opt_out_confirmation,
            opt_in_confirmation,
        })
    }

    /// The keywords compiled for matching.
    #[must_use]
    pub fn matcher(&self) -> ConsentKeywords {
        ConsentKeywords {
            opt_out: self.opt_out_keywords.iter().map(|k| keyword_key(k)).filter(|k| !k.is_empty()).collect(),
            opt_in: self.opt_in_keywords.iter().map(|k| keyword_key(k)).filter(|k| !k.is_empty()).collect(),
        }
    }

    /// The confirmation to send when a keyword moved the contact to `state`.
    #[must_use]
    pub fn confirmation(&self, state: ConsentState) -> Option<&str> {
        match state {
            ConsentState::OptedOut => self.opt_out_confirmation.as_deref(),
            ConsentState::OptedIn => self.opt_in_confirmation.as_deref(),
        }
    }
}

/// Checks one list; answers its keys.
fn keywords(errors: &mut Vec<FieldError>, field: &str, list: &[String], other: &HashSet<String>) -> HashSet<String> {
    if list.len() > MAX_KEYWORDS {
        errors.push(FieldError::new(
            field,
            ErrorCode::TooMany,
            format!("has {} keywords; at most {MAX_KEYWORDS} are allowed", list.len()),
        ));
    }
    let mut keys = HashSet::with_capacity(list.len());
    for (i, k) in list.iter().enumerate() {
        let path = format!("{field}[{i}]");
        let n = k.chars().count();
        let key = keyword_key(k);
        if key.is_empty() {
            errors.push(FieldError::new(path, ErrorCode::Required, "must have a letter or digit"));
        } else if n > MAX_KEYWORD_CHARS {
            errors.push(FieldError::new(
                path,
                ErrorCode::TooLong,
                format!("has {n} characters; at most {MAX_KEYWORD_CHARS} are allowed"),
            ));
        } else if other.contains(&key) {
            errors.push(FieldError::new(path, ErrorCode::Duplicate, format!("{k:?} is an opt-out keyword too")));
        } else if !keys.insert(key) {
            errors.push(FieldError::new(
                path,
                ErrorCode::Duplicate,
                format!("{k:?} is in the list already (case and accents do not count)"),
            ));
        }
    }
    keys
}

fn confirmation(errors: &mut Vec<FieldError>, field: &str, text: Option<String>) -> Option<String> {
    let text = text?;
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    let n = t.chars().count();
    if n > MAX_CONFIRMATION_CHARS {
        errors.push(FieldError::new(
            field,
            ErrorCode::TooLong,
            format!("has {n} characters; at most {MAX_CONFIRMATION_CHARS} are allowed"),
        ));
    }
    Some(t.to_owned())
}

/// The keyword lists in their matching form ([`ConsentSettings::matcher`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsentKeywords {
    opt_out: HashSet<String>,
    opt_in: HashSet<String>,
}

impl ConsentKeywords {
    /// The state a customer's message asks for: a text that is exactly a keyword, or a
    /// tapped button whose payload (or title) is one. Opting out wins when both match.
    #[must_use]
    pub fn of(&self, content: &MessageContent) -> Option<ConsentState> {
        let candidates: [Option<&str>; 2] = match content {
            MessageContent::Text { body } => [Some(body), None],
            MessageContent::Button { payload, text } => [payload.as_deref(), Some(text)],
            MessageContent::Interactive(
                InteractiveReply::ButtonReply { id, title } | InteractiveReply::ListReply { id, title, .. },
            ) => [Some(id), Some(title)],
            _ => return None,
        };
        let keys: Vec<String> = candidates.into_iter().flatten().map(keyword_key).collect();
        if keys.iter().any(|k| self.opt_out.contains(k)) {
            Some(ConsentState::OptedOut)
        } else if keys.iter().any(|k| self.opt_in.contains(k)) {
            Some(ConsentState::OptedIn)
        } else {
            None
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn text(s: &str) -> MessageContent {
        MessageContent::Text { body: s.to_owned() }
    }

    #[test]
    fn defaults_match_whole_messages_in_any_case_accent_or_spacing() {
        let k = ConsentSettings::default().matcher();
        for s in ["STOP", "stop", " Stop. ", "ＳＴＯＰ", "arret", "ARRÊT", "Arrêt!", "opt   out", "stopp", "BAJA"]
        {
            assert_eq!(k.of(&text(s)), Some(ConsentState::OptedOut), "{s:?}");
        }
        for s in ["START", "start", "Unstop", "démarrer", "demarrer"] {
            assert_eq!(k.of(&text(s)), Some(ConsentState::OptedIn), "{s:?}");
        }
        for s in ["please don't stop", "stop it now", "stopping", "", "hello"] {
            assert_eq!(k.of(&text(s)), None, "{s:?}");
        }
    }

    #[test]
    fn a_button_payload_or_title_carries_a_keyword() {
        let k = ConsentSettings::default().matcher();
        let b = MessageContent::Button { payload: Some("STOP".into()), text: "No more offers".into() };
        assert_eq!(k.of(&b), Some(ConsentState::OptedOut));
        let b =
            MessageContent::Interactive(InteractiveReply::ButtonReply { id: "x1".into(), title: "Subscribe".into() });
        assert_eq!(k.of(&b), Some(ConsentState::OptedIn));
    }

    #[test]
    fn settings_name_every_bad_field() {
        let e = ConsentSettings::parse(ConsentSettingsInput {
            opt_out_keywords: Some(vec!["STOP".into(), "stop".into(), " ".into(), "x".repeat(65)]),
            opt_in_keywords: Some(vec!["Stop!".into()]),
            opt_out_confirmation: Some("y".repeat(1025)),
            opt_in_confirmation: None,
        })
        .unwrap_err();
        let paths: Vec<&str> = e.errors.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "opt_out_keywords[1]",
                "opt_out_keywords[2]",
                "opt_out_keywords[3]",
                "opt_in_keywords[0]",
                "opt_out_confirmation"
            ]
        );
        let e = ConsentSettings::parse(ConsentSettingsInput { opt_out_keywords: Some(vec![]), ..Default::default() })
            .unwrap_err();
        assert_eq!(e.errors[0].path, "opt_out_keywords");
    }

    #[test]
    fn defaults_parse_and_custom_lists_replace_them() {
        let d = ConsentSettings::parse(ConsentSettingsInput::default()).unwrap();
        assert_eq!(d, ConsentSettings::default());
        let s = ConsentSettings::parse(ConsentSettingsInput {
            opt_out_keywords: Some(vec![" HALT ".into()]),
            opt_in_keywords: Some(vec![]),
            opt_out_confirmation: Some(" You will get no more messages. ".into()),
            opt_in_confirmation: Some("   ".into()),
        })
        .unwrap();
        assert_eq!(s.opt_out_keywords, ["HALT"]);
        assert_eq!(s.opt_out_confirmation.as_deref(), Some("You will get no more messages."));
        assert_eq!(s.opt_in_confirmation, None);
        let k = s.matcher();
        assert_eq!(k.of(&text("halt")), Some(ConsentState::OptedOut));
        assert_eq!(k.of(&text("stop")), None);
        assert_eq!(k.of(&text("start")), None);
    }
}
