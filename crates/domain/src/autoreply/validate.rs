//! Validation errors that name the offending JSON field.
//!
//! Every check of the auto-reply configuration reports a [`FieldError`] whose `path` is the
//! field's location in the configuration's JSON, written the way a person reads it:
//! `rules[2].matcher.pattern`, `hours.weekly.mon[0].end`, `quick_replies[1].buttons`.
//! Checks collect every problem rather than stopping at the first, so an admin fixes a
//! form in one round trip. The HTTP layer maps [`ValidationErrors`] to a 422 problem
//! response whose fields are `errors[].path`, `errors[].code` and `errors[].message`.
//!
//! Values that cannot even be parsed (a time `"25:00"`, an unknown time zone, a shortcut
//! with a space) are refused earlier, by serde, while decoding the JSON; their messages say
//! what was expected, and a path-tracking deserializer (e.g. `serde_path_to_error`) gives
//! their location.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What kind of problem a [`FieldError`] reports: a stable, machine-readable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A value that must be given is missing or empty.
    Required,
    /// A text is longer than allowed.
    TooLong,
    /// A list has more entries than allowed.
    TooMany,
    /// A number or date is outside its allowed range.
    OutOfRange,
    /// A value is malformed or not allowed here.
    Invalid,
    /// Two time intervals of the same day overlap.
    Overlap,
    /// A value that must be unique appears twice.
    Duplicate,
    /// A regular expression does not compile or is too large.
    InvalidRegex,
    /// A reply template uses a variable that does not exist.
    UnknownVariable,
    /// A reply template is malformed (an unclosed `{{`).
    InvalidTemplate,
    /// A rule refers to a quick reply that is not configured.
    UnknownQuickReply,
    /// The field needs another part of the configuration that is not set (for example an
    /// away message outside business hours without business hours).
    Unsatisfied,
}

impl ErrorCode {
    /// The code as it appears in JSON.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::TooLong => "too_long",
            Self::TooMany => "too_many",
            Self::OutOfRange => "out_of_range",
            Self::Invalid => "invalid",
            Self::Overlap => "overlap",
            Self::Duplicate => "duplicate",
            Self::InvalidRegex => "invalid_regex",
            Self::UnknownVariable => "unknown_variable",
            Self::InvalidTemplate => "invalid_template",
            Self::UnknownQuickReply => "unknown_quick_reply",
            Self::Unsatisfied => "unsatisfied",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with one field of the configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FieldError {
    /// Where the field is in the configuration's JSON, e.g. `rules[2].matcher.pattern`.
    pub path: String,
    pub code: ErrorCode,
    /// A sentence for the admin, in English.
    pub message: String,
}

impl FieldError {
    #[must_use]
    pub fn new(path: impl Into<String>, code: ErrorCode, message: impl Into<String>) -> Self {
        Self { path: path.into(), code, message: message.into() }
    }
}

/// Every problem found in a configuration (never empty).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct ValidationErrors {
    pub errors: Vec<FieldError>,
}

impl ValidationErrors {
    /// `Ok(())` for no errors, otherwise the errors.
    pub fn check(errors: Vec<FieldError>) -> Result<(), Self> {
        if errors.is_empty() { Ok(()) } else { Err(Self { errors }) }
    }

    /// Whether some error is about `path` exactly.
    #[must_use]
    pub fn has(&self, path: &str) -> bool {
        self.errors.iter().any(|e| e.path == path)
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid auto-reply configuration: ")?;
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Collects errors under a path prefix (`""` at the top).
#[derive(Debug, Default)]
pub(crate) struct Errors {
    pub(crate) list: Vec<FieldError>,
}

impl Errors {
    pub(crate) fn push(&mut self, path: impl Into<String>, code: ErrorCode, message: impl Into<String>) {
        self.list.push(FieldError::new(path, code, message));
    }

    /// Checks a text's length in characters (`max`) and, if `required`, that it is not blank.
    pub(crate) fn text(&mut self, path: &str, value: &str, required: bool, max: usize) {
        if required && value.trim().is_empty() {
            self.push(path, ErrorCode::Required, "must not be empty");
        }
        let n = value.chars().count();
        if n > max {
            self.push(path, ErrorCode::TooLong, format!("has {n} characters; at most {max} are allowed"));
        }
    }
}

/// `prefix.field`, or `field` at the top.
pub(crate) fn join(prefix: &str, field: &str) -> String {
    if prefix.is_empty() { field.to_owned() } else { format!("{prefix}.{field}") }
}

/// `prefix[i]`.
pub(crate) fn index(prefix: &str, i: usize) -> String {
    format!("{prefix}[{i}]")
}
