//! Channels (our WhatsApp business numbers) as admins configure them: the name, the
//! WhatsApp Business Account, the throughput tier, and what a secret may be.

use crate::phone::IdError;

/// Why a channel's field was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidChannel {
    #[error("must be 1 to 100 characters, without control characters")]
    Name,
    #[error(transparent)]
    Waba(#[from] IdError),
    #[error("must be between {MIN_THROUGHPUT} and {MAX_THROUGHPUT} messages per second")]
    Throughput,
    #[error("must be 1 to 1000 visible ASCII characters")]
    Secret,
}

/// A channel's name, as agents see it: trimmed, 1–100 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelName(String);

impl ChannelName {
    pub fn parse(s: &str) -> Result<Self, InvalidChannel> {
        let s = s.trim();
        if s.is_empty() || s.chars().count() > 100 || s.chars().any(char::is_control) {
            return Err(InvalidChannel::Name);
        }
        Ok(Self(s.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A WhatsApp Business Account id (digits), where the channel's templates live.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WabaId(String);

impl WabaId {
    pub fn parse(s: &str) -> Result<Self, InvalidChannel> {
        if s.is_empty() {
            return Err(IdError::Empty { what: "waba_id" }.into());
        }
        if s.len() > 32 {
            return Err(IdError::TooLong { what: "waba_id", max: 32 }.into());
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdError::NotDigits { what: "waba_id" }.into());
        }
        Ok(Self(s.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub const MIN_THROUGHPUT: u32 = 1;
/// Meta's highest messaging throughput tier for one number.
pub const MAX_THROUGHPUT: u32 = 1000;

/// Messages per second Meta lets one number send (80 by default; Meta raises eligible
/// numbers up to 1,000).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throughput(u32);

impl Throughput {
    pub fn parse(n: i64) -> Result<Self, InvalidChannel> {
        u32::try_from(n)
            .ok()
            .filter(|n| (MIN_THROUGHPUT..=MAX_THROUGHPUT).contains(n))
            .map(Self)
            .ok_or(InvalidChannel::Throughput)
    }

    #[must_use]
    pub const fn get(self) -> u32 {
        self.0
    }
}

/// A credential given to us (an access token, an app secret): visible ASCII, at most
/// 1,000 characters, so it fits an HTTP header. Its `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct ChannelSecret(String);

impl ChannelSecret {
    pub fn parse(s: &str) -> Result<Self, InvalidChannel> {
        if s.is_empty() || s.len() > 1000 || !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidChannel::Secret);
        }
        Ok(Self(s.to_owned()))
    }

    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ChannelSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChannelSecret([REDACTED])")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fields_parse_within_their_bounds() {
        assert_eq!(ChannelName::parse("  Sales ").unwrap().as_str(), "Sales");
        assert!(ChannelName::parse(" ").is_err());
        assert!(ChannelName::parse("a\nb").is_err());
        assert!(WabaId::parse("102290129340398").is_ok());
        assert!(WabaId::parse("12a").is_err());
        assert_eq!(Throughput::parse(80).unwrap().get(), 80);
        assert!(Throughput::parse(0).is_err());
        assert!(Throughput::parse(1001).is_err());
        assert!(ChannelSecret::parse("EAA bad").is_err());
        let s = ChannelSecret::parse("EAAsecret").unwrap();
        assert!(!format!("{s:?}").contains("EAAsecret"));
    }
}
