//! Customer satisfaction (CSAT) surveys in WhatsApp: a channel's survey settings, the
//! survey message they produce, and the answers a customer's tap carries back.
//!
//! When a conversation is resolved, a channel with the survey on asks the customer to
//! rate it: reply buttons for a 3-point scale, a list for 1–5 (WhatsApp allows at most 3
//! reply buttons) while the customer-service window is open, else the configured approved
//! template with quick-reply buttons. Every choice carries the payload
//! `csat:<conversation id>:<score>` ([`SurveyAnswer`]), so the tap names the conversation
//! it rates, whatever conversation the contact has since.
//!
//! [`CsatSettings`] are parsed, not validated: [`CsatSettings::parse`] turns what an admin
//! wrote ([`CsatSettingsInput`]) into settings that always produce a message within Meta's
//! limits, or names every offending field.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::autoreply::reply::{
    MAX_BUTTON_TITLE_CHARS, MAX_BUTTONS_BODY_CHARS, MAX_LIST_BUTTON_CHARS, MAX_ROW_TITLE_CHARS, MAX_TEXT_CHARS,
};
use crate::autoreply::{ErrorCode, FieldError, ListRow, ListSection, ReplyBody, ValidationErrors};
use crate::ids::{ConversationId, LabelId};
use crate::message::{Choice, MessageContent};

/// Default for [`CsatSettings::response_window_days`].
pub const DEFAULT_RESPONSE_WINDOW_DAYS: u32 = 7;
/// At most this many days to answer.
pub const MAX_RESPONSE_WINDOW_DAYS: u32 = 30;
/// At most this long a delay after the resolution (7 days).
pub const MAX_DELAY_MINUTES: u32 = 7 * 24 * 60;
/// The prefix of every survey choice's payload.
pub const PAYLOAD_PREFIX: &str = "csat:";

const fn default_window_days() -> u32 {
    DEFAULT_RESPONSE_WINDOW_DAYS
}

/// How many points the rating has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CsatScale {
    /// 1 to 5, sent as a list (more than 3 choices).
    #[default]
    FivePoint,
    /// 1 to 3, sent as reply buttons.
    ThreePoint,
}

impl CsatScale {
    #[must_use]
    pub const fn points(self) -> u8 {
        match self {
            Self::FivePoint => 5,
            Self::ThreePoint => 3,
        }
    }

    /// The scale with this many points.
    #[must_use]
    pub const fn of_points(points: i64) -> Option<Self> {
        match points {
            5 => Some(Self::FivePoint),
            3 => Some(Self::ThreePoint),
            _ => None,
        }
    }

    /// The default choices, best first (English).
    fn default_options(self) -> Vec<String> {
        let o: &[&str] = match self {
            Self::FivePoint => &["Excellent", "Good", "Okay", "Poor", "Very poor"],
            Self::ThreePoint => &["Great", "Okay", "Bad"],
        };
        o.iter().map(|s| (*s).to_owned()).collect()
    }
}

/// A rating on a scale: 1 (worst) to the scale's points (best).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = u8, minimum = 1, maximum = 5))]
pub struct Score(u8);

impl Score {
    /// A score on `scale`.
    #[must_use]
    pub fn on(scale: CsatScale, value: i64) -> Option<Self> {
        let v = u8::try_from(value).ok()?;
        (1..=scale.points()).contains(&v).then_some(Self(v))
    }

    #[must_use]
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What a survey's choice says: which conversation, which score. Its text form is the
/// choice's id (reply button, list row) or the template quick-reply button's payload:
/// `csat:<conversation id>:<score>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SurveyAnswer {
    pub conversation: ConversationId,
    /// 1 to 5; checked against the survey's scale when it is recorded.
    pub score: u8,
}

impl SurveyAnswer {
    /// The answer a choice id or payload carries, if it is one of ours.
    #[must_use]
    pub fn parse(id: &str) -> Option<Self> {
        let rest = id.strip_prefix(PAYLOAD_PREFIX)?;
        let (conversation, score) = rest.split_once(':')?;
        let conversation = conversation.parse().ok()?;
        let score: u8 = score.parse().ok()?;
        (1..=5).contains(&score).then_some(Self { conversation, score })
    }

    /// The answer a customer's message carries: a tapped reply button or list row, or a
    /// template's quick-reply button.
    #[must_use]
    pub fn of(content: &MessageContent) -> Option<Self> {
        use crate::message::InteractiveReply as R;
        match content {
            MessageContent::Interactive(R::ButtonReply { id, .. } | R::ListReply { id, .. }) => Self::parse(id),
            MessageContent::Button { payload: Some(p), .. } => Self::parse(p),
            _ => None,
        }
    }
}

impl fmt::Display for SurveyAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PAYLOAD_PREFIX}{}:{}", self.conversation, self.score)
    }
}

/// Which resolved conversations get the survey, by one label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LabelCondition {
    /// Only conversations with this label.
    With { label_id: LabelId },
    /// Only conversations without this label.
    Without { label_id: LabelId },
}

impl LabelCondition {
    /// Whether a conversation with `labels` passes.
    #[must_use]
    pub fn admits(&self, labels: &[LabelId]) -> bool {
        match self {
            Self::With { label_id } => labels.contains(label_id),
            Self::Without { label_id } => !labels.contains(label_id),
        }
    }
}

/// An approved template with one quick-reply button per choice, in the choices' order
/// (best first): sent when the customer-service window is closed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CsatTemplate {
    /// The template's name: `[a-z0-9_]`, 1 to 512 characters.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[a-z0-9_]{1,512}$"))]
    pub name: String,
    /// Its language code, such as `en` or `pt_BR`.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[a-z]{2,3}(_[A-Za-z0-9]{2,8})?$"))]
    pub language: String,
}

/// A channel's survey settings as an admin writes them; [`CsatSettings::parse`] reads them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = CsatSettings))]
#[serde(deny_unknown_fields)]
pub struct CsatSettingsInput {
    /// Send the survey when a conversation of this channel is resolved.
    #[serde(default)]
    pub enabled: bool,
    /// Only conversations with (or without) a label; none: every resolved conversation.
    #[serde(default)]
    pub label: Option<LabelCondition>,
    /// Minutes after the resolution (0 to 10080).
    #[serde(default)]
    pub delay_minutes: u32,
    #[serde(default)]
    pub scale: CsatScale,
    /// The question (1 to 1024 characters, any language).
    pub question: String,
    /// The choices' titles, best first: as many as the scale has points. Default: English.
    /// Reply buttons take 20 characters, list rows 24.
    #[serde(default)]
    pub options: Option<Vec<String>>,
    /// The label of the button that opens the 1–5 list (1 to 20 characters; default "Rate").
    #[serde(default)]
    pub list_button: Option<String>,
    /// Asked once after the first rating; the customer's next text is kept as the comment.
    #[serde(default)]
    pub follow_up: Option<String>,
    /// Days a customer may answer (and change the answer) after the survey is queued (1 to 30).
    #[serde(default = "default_window_days")]
    pub response_window_days: u32,
    /// Sent instead when the customer-service window is closed; without one, no survey is
    /// sent then.
    #[serde(default)]
    pub template: Option<CsatTemplate>,
}

/// A channel's survey settings, within Meta's limits (see [`CsatSettings::parse`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CsatSettingsInput", into = "CsatSettingsInput")]
pub struct CsatSettings(CsatSettingsInput);

impl TryFrom<CsatSettingsInput> for CsatSettings {
    type Error = ValidationErrors;
    fn try_from(i: CsatSettingsInput) -> Result<Self, ValidationErrors> {
        Self::parse(i)
    }
}

impl From<CsatSettings> for CsatSettingsInput {
    fn from(s: CsatSettings) -> Self {
        s.0
    }
}

fn text_errors(errors: &mut Vec<FieldError>, path: &str, value: &str, max: usize) {
    if value.trim().is_empty() {
        errors.push(FieldError::new(path, ErrorCode::Required, "must not be empty"));
    }
    let n = value.chars().count();
    if n > max {
        errors.push(FieldError::new(
            path,
            ErrorCode::TooLong,
            format!("has {n} characters; at most {max} are allowed"),
        ));
    }
}

fn valid_language(s: &str) -> bool {
    let (lang, region) = s.split_once('_').map_or((s, None), |(l, r)| (l, Some(r)));
    (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && region.is_none_or(|r| (2..=8).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric()))
}

impl CsatSettings {
    /// Reads what an admin wrote: fills the default choices and list button, and names
    /// every field that breaks a rule (paths as in the JSON: `options[1]`, `template.name`).
    pub fn parse(mut i: CsatSettingsInput) -> Result<Self, ValidationErrors> {
        let mut errors = Vec::new();
        text_errors(&mut errors, "question", &i.question, MAX_BUTTONS_BODY_CHARS);
        if i.delay_minutes > MAX_DELAY_MINUTES {
            errors.push(FieldError::new(
                "delay_minutes",
                ErrorCode::OutOfRange,
                format!("must be 0 to {MAX_DELAY_MINUTES}"),
            ));
        }
        if !(1..=MAX_RESPONSE_WINDOW_DAYS).contains(&i.response_window_days) {
            errors.push(FieldError::new(
                "response_window_days",
                ErrorCode::OutOfRange,
                format!("must be 1 to {MAX_RESPONSE_WINDOW_DAYS}"),
            ));
        }
        let options = i.options.take().unwrap_or_else(|| i.scale.default_options());
        let points = usize::from(i.scale.points());
        if options.len() != points {
            errors.push(FieldError::new(
                "options",
                ErrorCode::Invalid,
                format!("the scale has {points} points: give {points} titles, best first"),
            ));
        }
        let max_title = match i.scale {
            CsatScale::ThreePoint => MAX_BUTTON_TITLE_CHARS,
            CsatScale::FivePoint => MAX_ROW_TITLE_CHARS,
        };
        for (n, o) in options.iter().enumerate() {
            text_errors(&mut errors, &format!("options[{n}]"), o, max_title);
            if options[..n].iter().any(|p| p.trim() == o.trim()) {
                errors.push(FieldError::new(format!("options[{n}]"), ErrorCode::Duplicate, "titles must differ"));
            }
        }
        i.options = Some(options);
        let button = i.list_button.take().unwrap_or_else(|| "Rate".to_owned());
        text_errors(&mut errors, "list_button", &button, MAX_LIST_BUTTON_CHARS);
        i.list_button = Some(button);
        if let Some(f) = &i.follow_up {
            text_errors(&mut errors, "follow_up", f, MAX_TEXT_CHARS);
        }
        if let Some(t) = &i.template {
            let ok = !t.name.is_empty()
                && t.name.len() <= 512
                && t.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok {
                errors.push(FieldError::new("template.name", ErrorCode::Invalid, "use 1 to 512 of a-z, 0-9 and _"));
            }
            if !valid_language(&t.language) {
                errors.push(FieldError::new(
                    "template.language",
                    ErrorCode::Invalid,
                    "is not a language code such as en or pt_BR",
                ));
            }
        }
        ValidationErrors::check(errors)?;
        Ok(Self(i))
    }

    /// The settings as written, defaults filled in.
    #[must_use]
    pub const fn as_input(&self) -> &CsatSettingsInput {
        &self.0
    }

    #[must_use]
    pub const fn enabled(&self) -> bool {
        self.0.enabled
    }

    #[must_use]
    pub const fn scale(&self) -> CsatScale {
        self.0.scale
    }

    #[must_use]
    pub fn follow_up(&self) -> Option<&str> {
        self.0.follow_up.as_deref()
    }

    #[must_use]
    pub const fn template(&self) -> Option<&CsatTemplate> {
        self.0.template.as_ref()
    }

    /// How long after the resolution the survey goes out.
    #[must_use]
    pub fn delay(&self) -> Duration {
        Duration::minutes(i64::from(self.0.delay_minutes))
    }

    /// How long after the survey is queued an answer counts.
    #[must_use]
    pub fn response_window(&self) -> Duration {
        Duration::days(i64::from(self.0.response_window_days))
    }

    /// Whether a conversation with `labels` gets the survey (the label condition).
    #[must_use]
    pub fn admits(&self, labels: &[LabelId]) -> bool {
        self.0.label.is_none_or(|c| c.admits(labels))
    }

    fn options(&self) -> &[String] {
        self.0.options.as_deref().unwrap_or_default()
    }

    /// The choices for `conversation`, best first: each id is its [`SurveyAnswer`].
    #[must_use]
    pub fn choices(&self, conversation: ConversationId) -> Vec<Choice> {
        let points = self.scale().points();
        self.options()
            .iter()
            .zip((1..=points).rev())
            .map(|(title, score)| Choice {
                id: SurveyAnswer { conversation, score }.to_string(),
                title: title.trim().to_owned(),
            })
            .collect()
    }

    /// The survey as an interactive message (inside the customer-service window): reply
    /// buttons for 3 points, a list for 5.
    #[must_use]
    pub fn interactive(&self, conversation: ConversationId) -> ReplyBody {
        let body = self.0.question.clone();
        let choices = self.choices(conversation);
        match self.scale() {
            CsatScale::ThreePoint => ReplyBody::Buttons { header: None, body, buttons: choices },
            CsatScale::FivePoint => ReplyBody::List {
                body,
                button: self.0.list_button.clone().unwrap_or_default(),
                sections: vec![ListSection {
                    title: String::new(),
                    rows: choices
                        .into_iter()
                        .map(|c| ListRow { id: c.id, title: c.title, description: None })
                        .collect(),
                }],
            },
        }
    }

    /// The title of `score`'s choice.
    #[must_use]
    pub fn title_of(&self, score: Score) -> Option<&str> {
        let points = self.scale().points();
        let i = usize::from(points.checked_sub(score.get())?);
        self.options().get(i).map(String::as_str)
    }
}

/// When a survey queued at `queued_at` (with these settings) stops taking answers.
#[must_use]
pub fn answers_until(settings: &CsatSettings, queued_at: DateTime<Utc>) -> DateTime<Utc> {
    queued_at + settings.response_window()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(v: serde_json::Value) -> Result<CsatSettings, ValidationErrors> {
        CsatSettings::parse(serde_json::from_value(v).unwrap())
    }

    #[test]
    fn defaults_fill_the_choices_and_the_window() {
        let s = settings(json!({"enabled": true, "question": "¿Qué tal te atendimos?"})).unwrap();
        assert_eq!(s.scale(), CsatScale::FivePoint);
        assert_eq!(s.response_window(), Duration::days(7));
        let c = ConversationId::new();
        let choices = s.choices(c);
        assert_eq!(choices.len(), 5);
        assert_eq!(choices[0].id, format!("csat:{c}:5"), "best first");
        assert_eq!(choices[4].id, format!("csat:{c}:1"));
        assert!(matches!(s.interactive(c), ReplyBody::List { .. }));
        assert_eq!(s.title_of(Score::on(CsatScale::FivePoint, 5).unwrap()), Some("Excellent"));
        // What is stored reads back the same.
        let back: CsatSettings = serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn three_points_are_reply_buttons_in_any_language() {
        let s = settings(
            json!({"scale": "three_point", "question": "評価してください", "options": ["良い", "普通", "悪い"]}),
        )
        .unwrap();
        let ReplyBody::Buttons { buttons, .. } = s.interactive(ConversationId::new()) else { panic!() };
        assert_eq!(buttons.iter().map(|b| b.title.as_str()).collect::<Vec<_>>(), ["良い", "普通", "悪い"]);
    }

    #[test]
    fn every_broken_field_is_named() {
        let e = settings(json!({
            "question": " ", "scale": "three_point", "options": ["A very very long button title", "B", "B"],
            "delay_minutes": 999_999, "response_window_days": 0, "list_button": "",
            "template": {"name": "Bad Name", "language": "english"}
        }))
        .unwrap_err();
        for path in [
            "question",
            "options[0]",
            "options[2]",
            "delay_minutes",
            "response_window_days",
            "list_button",
            "template.name",
            "template.language",
        ] {
            assert!(e.has(path), "{path}: {e}");
        }
        assert!(settings(json!({"question": "Q", "options": ["a", "b"]})).unwrap_err().has("options"));
    }

    #[test]
    fn answers_are_read_from_ids_and_payloads() {
        let c = ConversationId::new();
        let a = SurveyAnswer::parse(&format!("csat:{c}:4")).unwrap();
        assert_eq!((a.conversation, a.score), (c, 4));
        assert_eq!(SurveyAnswer::parse(&a.to_string()), Some(a));
        for bad in ["csat:nope:4", &format!("csat:{c}:0"), &format!("csat:{c}:6"), &format!("x:{c}:3"), "csat:"] {
            assert_eq!(SurveyAnswer::parse(bad), None, "{bad}");
        }
        let tap = MessageContent::Button { payload: Some(format!("csat:{c}:2")), text: "Poor".into() };
        assert_eq!(SurveyAnswer::of(&tap).map(|a| a.score), Some(2));
        assert_eq!(SurveyAnswer::of(&MessageContent::Text { body: format!("csat:{c}:2") }), None, "typed, not tapped");
    }

    #[test]
    fn the_label_condition_picks_conversations() {
        let l = LabelId::new();
        let with = settings(json!({"question": "Q", "label": {"type": "with", "label_id": l}})).unwrap();
        assert!(with.admits(&[l]) && !with.admits(&[]));
        let without = settings(json!({"question": "Q", "label": {"type": "without", "label_id": l}})).unwrap();
        assert!(!without.admits(&[l]) && without.admits(&[LabelId::new()]));
    }
}
