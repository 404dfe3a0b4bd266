//! Outgoing webhooks (Standard Webhooks): the event types endpoints subscribe to, the
//! endpoint's URL, which addresses count as private, and the retry schedule.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What happened, as the payload's `type` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum WebhookEventType {
    /// A message was stored, inbound or outbound (agents' replies and auto-replies).
    #[serde(rename = "message.created")]
    MessageCreated,
    /// An outbound message's delivery state moved (sent, delivered, read, failed).
    #[serde(rename = "message.status_changed")]
    MessageStatusChanged,
    #[serde(rename = "conversation.created")]
    ConversationCreated,
    /// Assigned to an agent, or unassigned.
    #[serde(rename = "conversation.assigned")]
    ConversationAssigned,
    /// open, pending, snoozed, resolved.
    #[serde(rename = "conversation.status_changed")]
    ConversationStatusChanged,
    /// A label was put on the conversation.
    #[serde(rename = "conversation.labelled")]
    ConversationLabelled,
    /// A label was taken off.
    #[serde(rename = "conversation.unlabelled")]
    ConversationUnlabelled,
    #[serde(rename = "contact.created")]
    ContactCreated,
    /// Its profile name, name, username or attributes changed.
    #[serde(rename = "contact.updated")]
    ContactUpdated,
    /// The customer rated the conversation in its CSAT survey, changed the rating, or
    /// added the follow-up comment.
    #[serde(rename = "csat.answered")]
    CsatAnswered,
    /// Opted out of automatic messages and templates, or back in (a keyword, an agent,
    /// the API).
    #[serde(rename = "contact.consent_changed")]
    ContactConsentChanged,
}

impl WebhookEventType {
    pub const ALL: [Self; 11] = [
        Self::MessageCreated,
        Self::MessageStatusChanged,
        Self::ConversationCreated,
        Self::ConversationAssigned,
        Self::ConversationStatusChanged,
        Self::ConversationLabelled,
        Self::ConversationUnlabelled,
        Self::ContactCreated,
        Self::ContactUpdated,
        Self::CsatAnswered,
        Self::ContactConsentChanged,
    ];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MessageCreated => "message.created",
            Self::MessageStatusChanged => "message.status_changed",
            Self::ConversationCreated => "conversation.created",
            Self::ConversationAssigned => "conversation.assigned",
            Self::ConversationStatusChanged => "conversation.status_changed",
            Self::ConversationLabelled => "conversation.labelled",
            Self::ConversationUnlabelled => "conversation.unlabelled",
            Self::ContactCreated => "contact.created",
            Self::ContactUpdated => "contact.updated",
            Self::CsatAnswered => "csat.answered",
            Self::ContactConsentChanged => "contact.consent_changed",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether an endpoint subscribed to `filter` (empty: every type) gets this type.
    #[must_use]
    pub fn matches(self, filter: &[Self]) -> bool {
        filter.is_empty() || filter.contains(&self)
    }
}

impl fmt::Display for WebhookEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a URL cannot be an endpoint.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidWebhookUrl {
    #[error("must be an absolute http or https URL")]
    NotHttp,
    #[error("must be at most {0} characters")]
    TooLong(usize),
    #[error("must not carry a user name or password")]
    Credentials,
    #[error("must not have a fragment")]
    Fragment,
    #[error("is a loopback, private or link-local address")]
    PrivateAddress,
}

/// An endpoint's URL: absolute http(s) with a host, no credentials or fragment.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(url::Url);

impl WebhookUrl {
    pub const MAX_LEN: usize = 2000;

    /// Parses `raw`. A URL whose host is a literal IP address is refused here when that
    /// address is not public, unless `allowed` lists it; host names are checked when
    /// they are resolved, before every delivery.
    pub fn parse(raw: &str, allowed: &[IpAddr]) -> Result<Self, InvalidWebhookUrl> {
        if raw.chars().count() > Self::MAX_LEN {
            return Err(InvalidWebhookUrl::TooLong(Self::MAX_LEN));
        }
        let url = url::Url::parse(raw.trim()).map_err(|_| InvalidWebhookUrl::NotHttp)?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(InvalidWebhookUrl::NotHttp);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(InvalidWebhookUrl::Credentials);
        }
        if url.fragment().is_some() {
            return Err(InvalidWebhookUrl::Fragment);
        }
        let me = Self(url);
        if let Some(ip) = me.ip()
            && !address_allowed(ip, allowed)
        {
            return Err(InvalidWebhookUrl::PrivateAddress);
        }
        Ok(me)
    }

    /// Reads back a stored URL (checked when it was stored).
    pub fn from_stored(raw: &str) -> Result<Self, InvalidWebhookUrl> {
        let url = url::Url::parse(raw).map_err(|_| InvalidWebhookUrl::NotHttp)?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(InvalidWebhookUrl::NotHttp);
        }
        Ok(Self(url))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The host when it is a literal IP address.
    #[must_use]
    pub fn ip(&self) -> Option<IpAddr> {
        match self.0.host()? {
            url::Host::Ipv4(a) => Some(IpAddr::V4(a)),
            url::Host::Ipv6(a) => Some(IpAddr::V6(a)),
            url::Host::Domain(_) => None,
        }
    }

    /// The host name or address (without brackets), and the port (the scheme's default
    /// when not written).
    #[must_use]
    pub fn host_and_port(&self) -> (String, u16) {
        let host = match self.0.host() {
            Some(url::Host::Domain(d)) => d.to_owned(),
            Some(url::Host::Ipv4(a)) => a.to_string(),
            Some(url::Host::Ipv6(a)) => a.to_string(),
            None => String::new(),
        };
        (host, self.0.port_or_known_default().unwrap_or(80))
    }
}

impl fmt::Debug for WebhookUrl {
    // The path and query may carry a token of the receiver's: only the origin is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookUrl({})", self.0.origin().ascii_serialization())
    }
}

/// Whether deliveries may go to `ip`: a public address, or one `allowed` lists
/// (`webhooks_out.allowed_private_addresses`).
#[must_use]
pub fn address_allowed(ip: IpAddr, allowed: &[IpAddr]) -> bool {
    allowed.contains(&ip) || is_public(ip)
}

/// Not loopback, private, link-local, shared (CGNAT), unspecified, multicast,
/// broadcast, documentation or reserved; IPv4-mapped IPv6 addresses are judged as IPv4.
#[must_use]
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => is_public_v4(a),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(a),
        },
    }
}

fn is_public_v4(a: Ipv4Addr) -> bool {
    let [o0, o1, ..] = a.octets();
    !(a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_unspecified()
        || a.is_multicast()
        || a.is_broadcast()
        || a.is_documentation()
        || o0 == 0
        || (o0 == 100 && (64..128).contains(&o1)) // shared address space (RFC 6598)
        || (o0 == 192 && o1 == 0 && a.octets()[2] == 0) // IETF protocol assignments
        || (o0 == 198 && (18..20).contains(&o1)) // benchmarking
        || o0 >= 240) // reserved
}

fn is_public_v6(a: Ipv6Addr) -> bool {
    let s0 = a.segments()[0];
    !(a.is_loopback()
        || a.is_unspecified()
        || a.is_multicast()
        || (s0 & 0xfe00) == 0xfc00 // unique local
        || (s0 & 0xffc0) == 0xfe80 // link-local
        || (s0 & 0xffc0) == 0xfec0 // site-local (deprecated)
        || s0 == 0x2001 && a.segments()[1] == 0x0db8 // documentation
        || s0 == 0x0064 && a.segments()[1] == 0xff9b) // NAT64 (maps to IPv4 of any kind)
}

/// The Standard Webhooks retry schedule: the first attempt at once, then these delays
/// after each failure (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h): eight attempts.
pub const RETRY_DELAYS: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// The delay before the next attempt after `attempts` failed ones (1-based), `None` when
/// the schedule is exhausted.
#[must_use]
pub fn retry_delay(attempts: u32) -> Option<Duration> {
    let i = usize::try_from(attempts).ok()?.checked_sub(1)?;
    RETRY_DELAYS.get(i).copied()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn event_types_round_trip_through_their_names() {
        for t in WebhookEventType::ALL {
            assert_eq!(WebhookEventType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        assert!(WebhookEventType::MessageCreated.matches(&[]));
        assert!(!WebhookEventType::MessageCreated.matches(&[WebhookEventType::ContactCreated]));
    }

    #[test]
    fn urls_must_be_http_and_public_unless_allowed() {
        assert!(WebhookUrl::parse("https://crm.example.com/hooks?t=1", &[]).is_ok());
        assert_eq!(WebhookUrl::parse("ftp://example.com/", &[]), Err(InvalidWebhookUrl::NotHttp));
        assert_eq!(WebhookUrl::parse("not a url", &[]), Err(InvalidWebhookUrl::NotHttp));
        assert_eq!(WebhookUrl::parse("https://u:p@example.com/", &[]), Err(InvalidWebhookUrl::Credentials));
        for private in [
            "http://127.0.0.1:8080/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
            "http://100.64.0.1/",
        ] {
            assert_eq!(WebhookUrl::parse(private, &[]), Err(InvalidWebhookUrl::PrivateAddress), "{private}");
        }
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(WebhookUrl::parse("http://127.0.0.1:9/", &[lo]).is_ok());
        assert!(is_public("93.184.216.34".parse().unwrap()));
        assert!(is_public("2606:2800:220:1::1".parse().unwrap()));
    }

    #[test]
    fn debug_hides_the_path_and_query() {
        let u = WebhookUrl::parse("https://crm.example.com/hooks/secret-token?key=abc", &[]).unwrap();
        assert_eq!(format!("{u:?}"), "WebhookUrl(https://crm.example.com)");
    }

    #[test]
    fn the_schedule_has_eight_attempts() {
        assert_eq!(retry_delay(1), Some(Duration::from_secs(5)));
        assert_eq!(retry_delay(7), Some(Duration::from_secs(36_000)));
        assert_eq!(retry_delay(8), None);
        assert_eq!(retry_delay(0), None);
    }
}
