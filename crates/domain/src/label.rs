//! Labels admins define and agents (and links, and rules) put on conversations.

use std::fmt;

/// Why a label's name or colour is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("must not be empty")]
    EmptyName,
    #[error("must be at most {max} characters", max = LabelName::MAX_CHARS)]
    NameTooLong,
    #[error("must not contain control characters")]
    ControlCharacters,
    #[error("must be a colour written #rrggbb, e.g. #1f883d")]
    Colour,
}

/// A label's name: 1 to 50 characters, trimmed, no control characters. Names are unique
/// regardless of case ([`LabelName::key`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LabelName(String);

impl LabelName {
    pub const MAX_CHARS: usize = 50;

    pub fn parse(input: &str) -> Result<Self, LabelError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(LabelError::EmptyName);
        }
        if s.chars().count() > Self::MAX_CHARS {
            return Err(LabelError::NameTooLong);
        }
        if s.chars().any(char::is_control) {
            return Err(LabelError::ControlCharacters);
        }
        Ok(Self(s.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as uniqueness sees it: Unicode lowercase (`VIP`, `vip` and `Vip` are one
    /// label; so are `ÉTÉ` and `été`).
    #[must_use]
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for LabelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A label's colour, `#rrggbb` (stored lowercase).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LabelColour(String);

impl LabelColour {
    /// The colour of labels created without one (a neutral grey).
    pub const DEFAULT: &'static str = "#6b7280";

    pub fn parse(input: &str) -> Result<Self, LabelError> {
        let s = input.trim();
        let hex = s.strip_prefix('#').ok_or(LabelError::Colour)?;
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(LabelError::Colour);
        }
        Ok(Self(s.to_ascii_lowercase()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for LabelColour {
    fn default() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_are_trimmed_and_keyed_case_insensitively() {
        let n = LabelName::parse("  VIP Customer ").unwrap();
        assert_eq!(n.as_str(), "VIP Customer");
        assert_eq!(n.key(), "vip customer");
        assert_eq!(LabelName::parse("ÉTÉ").unwrap().key(), LabelName::parse("été").unwrap().key());
        assert_eq!(LabelName::parse("   "), Err(LabelError::EmptyName));
        assert_eq!(LabelName::parse(&"x".repeat(51)), Err(LabelError::NameTooLong));
        assert!(LabelName::parse(&"অ".repeat(50)).is_ok());
        assert_eq!(LabelName::parse("a\nb"), Err(LabelError::ControlCharacters));
    }

    #[test]
    fn colours_are_hex_rgb() {
        assert_eq!(LabelColour::parse("#1F883D").unwrap().as_str(), "#1f883d");
        for bad in ["1f883d", "#1f883", "#1f883dd", "#gggggg", "red", ""] {
            assert_eq!(LabelColour::parse(bad), Err(LabelError::Colour), "{bad}");
        }
        assert_eq!(LabelColour::default().as_str(), LabelColour::DEFAULT);
    }
}
