//! Teams of agents: what a team's name may be.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a team name must be 1 to 100 characters")]
pub struct InvalidTeamName;

/// A team's name: trimmed, 1–100 characters, unique regardless of case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamName(String);

impl TeamName {
    pub fn parse(s: &str) -> Result<Self, InvalidTeamName> {
        let s = s.trim();
        if s.is_empty() || s.chars().count() > 100 || s.chars().any(char::is_control) {
            return Err(InvalidTeamName);
        }
        Ok(Self(s.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What uniqueness is checked on: the name lowercased.
    #[must_use]
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_compared_without_case() {
        let name = TeamName::parse("  Sales EU ").unwrap();
        assert_eq!(name.as_str(), "Sales EU");
        assert_eq!(name.key(), "sales eu");
        assert_eq!(TeamName::parse("   "), Err(InvalidTeamName));
        assert_eq!(TeamName::parse("a\u{7}b"), Err(InvalidTeamName));
        assert!(TeamName::parse(&"é".repeat(100)).is_ok());
        assert_eq!(TeamName::parse(&"é".repeat(101)), Err(InvalidTeamName));
    }
}
