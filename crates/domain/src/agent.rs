//! Agents and admins, and the API tokens they authenticate with.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AgentRole {
    Admin,
    Agent,
}

impl AgentRole {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Agent => "agent",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "agent" => Some(Self::Agent),
            _ => None,
        }
    }
}

impl fmt::Display for AgentRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    #[error("email must look like name@example.com")]
    InvalidEmail,
    #[error("name must be 1 to 200 characters")]
    InvalidName,
}

/// An e-mail address, lower-cased, with one `@` and a dot in its domain.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, AgentError> {
        let s = s.trim();
        let (local, domain) = s.split_once('@').ok_or(AgentError::InvalidEmail)?;
        let ok = !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
            && s.len() <= 254
            && !s.chars().any(|c| c.is_whitespace() || c.is_control());
        if ok { Ok(Self(s.to_lowercase())) } else { Err(AgentError::InvalidEmail) }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(…)")
    }
}

impl TryFrom<String> for Email {
    type Error = AgentError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Email> for String {
    fn from(v: Email) -> Self {
        v.0
    }
}

/// A display name: trimmed, 1–200 characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AgentName(String);

impl AgentName {
    pub fn parse(s: &str) -> Result<Self, AgentError> {
        let s = s.trim();
        if s.is_empty() || s.chars().count() > 200 {
            return Err(AgentError::InvalidName);
        }
        Ok(Self(s.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AgentName {
    type Error = AgentError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<AgentName> for String {
    fn from(v: AgentName) -> Self {
        v.0
    }
}

/// What it takes to create an agent.
#[derive(Clone, Debug)]
pub struct NewAgent {
    pub name: AgentName,
    pub email: Email,
    pub role: AgentRole,
}

/// The SHA-256 of an API token: what we store and look up. The token itself is shown
/// once, when created, and never kept.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    #[must_use]
    pub const fn from_bytes(b: [u8; 32]) -> Self {
        Self(b)
    }

    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(…)")
    }
}

/// Whether an agent is at work: only `online` agents are assigned conversations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    Online,
    Away,
    #[default]
    Offline,
}

impl Availability {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Away => "away",
            Self::Offline => "offline",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "online" => Self::Online,
            "away" => Self::Away,
            "offline" => Self::Offline,
            _ => return None,
        })
    }
}

impl fmt::Display for Availability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_parsed_and_lowercased() {
        assert_eq!(Email::parse(" Ana@Example.COM ").map(|e| e.as_str().to_owned()), Ok("ana@example.com".into()));
        for bad in ["", "ana", "ana@", "@x.com", "ana@com", "a b@x.com", "ana@x.com."] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}

/// A password an agent chose: 10 to 1024 characters (any, spaces included; counted as
/// characters, not bytes). Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

/// Why a password is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPassword {
    #[error("must be at least {} characters", Password::MIN_CHARS)]
    TooShort,
    #[error("must be at most {} characters", Password::MAX_CHARS)]
    TooLong,
}

impl Password {
    pub const MIN_CHARS: usize = 10;
    pub const MAX_CHARS: usize = 1024;

    pub fn parse(raw: &str) -> Result<Self, InvalidPassword> {
        let n = raw.chars().count();
        if n < Self::MIN_CHARS {
            Err(InvalidPassword::TooShort)
        } else if n > Self::MAX_CHARS {
            Err(InvalidPassword::TooLong)
        } else {
            Ok(Self(raw.to_owned()))
        }
    }

    /// The password itself, to hash.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(…)")
    }
}

#[cfg(test)]
mod password_tests {
    use super::*;

    #[test]
    fn passwords_are_10_to_1024_characters_and_never_shown() {
        assert_eq!(Password::parse("short"), Err(InvalidPassword::TooShort));
        assert_eq!(Password::parse(&"é".repeat(9)), Err(InvalidPassword::TooShort));
        assert!(Password::parse(&"é".repeat(10)).is_ok());
        assert!(Password::parse(&"x".repeat(1024)).is_ok());
        assert_eq!(Password::parse(&"x".repeat(1025)), Err(InvalidPassword::TooLong));
        let p = Password::parse("correct horse battery").map(|p| format!("{p:?}"));
        assert_eq!(p.as_deref(), Ok("Password(…)"));
    }
}
