//! Meta's identifiers: a user's WhatsApp id, our business number's Graph id, message ids.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why an identifier from Meta or a user was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} must contain only digits")]
    NotDigits { what: &'static str },
    #[error("{what} is longer than {max} characters")]
    TooLong { what: &'static str, max: usize },
}

fn digits(what: &'static str, s: &str, max: usize) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty { what });
    }
    if s.len() > max {
        return Err(IdError::TooLong { what, max });
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdError::NotDigits { what });
    }
    Ok(())
}

/// A WhatsApp user's id (`wa_id`): their phone number in international format, digits only.
/// Personal data: never log it above debug level.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WaId(String);

impl WaId {
    /// Accepts digits, with an optional leading `+` (as Meta echoes in `contacts[].input`).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let s = s.strip_prefix('+').unwrap_or(s);
        digits("wa_id", s, 20)?;
        Ok(Self(s.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WaId {
    // Personal data: keep it out of accidental `{:?}` logging.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WaId(…)")
    }
}

impl fmt::Display for WaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for WaId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<WaId> for String {
    fn from(v: WaId) -> Self {
        v.0
    }
}

/// The Graph API id of one of our business phone numbers (`metadata.phone_number_id`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumberId(String);

impl PhoneNumberId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        digits("phone_number_id", s, 32)?;
        Ok(Self(s.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PhoneNumberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for PhoneNumberId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<PhoneNumberId> for String {
    fn from(v: PhoneNumberId) -> Self {
        v.0
    }
}

/// Meta's id of one message (`wamid.…`). Opaque: the `wamid.` prefix is usual but not
/// guaranteed, so only emptiness, length and control characters are refused.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Wamid(String);

impl Wamid {
    pub const MAX_LEN: usize = 512;

    pub fn parse(s: &str) -> Result<Self, IdError> {
        if s.is_empty() {
            return Err(IdError::Empty { what: "wamid" });
        }
        if s.len() > Self::MAX_LEN {
            return Err(IdError::TooLong { what: "wamid", max: Self::MAX_LEN });
        }
        if s.chars().any(char::is_control) {
            return Err(IdError::NotDigits { what: "wamid" });
        }
        Ok(Self(s.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Wamid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Wamid {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Wamid> for String {
    fn from(v: Wamid) -> Self {
        v.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wa_id_accepts_digits_and_a_leading_plus() {
        assert_eq!(WaId::parse("+16505551234").map(|w| w.to_string()), Ok("16505551234".into()));
        assert!(WaId::parse("").is_err());
        assert!(WaId::parse("1650 555").is_err());
        assert!(WaId::parse("123456789012345678901").is_err());
    }

    #[test]
    fn wa_id_debug_hides_the_number() {
        let w = WaId::parse("16505551234").expect("valid");
        assert!(!format!("{w:?}").contains("1650"));
    }

    #[test]
    fn wamid_is_opaque_but_not_empty() {
        assert!(Wamid::parse("ABGGFlA5Fpa").is_ok());
        assert!(Wamid::parse("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=").is_ok());
        assert!(Wamid::parse("").is_err());
        assert!(Wamid::parse("a\nb").is_err());
    }
}
