use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use switchboard_domain::link::{AgentFamily, PhoneNumber, RefCode, Slug};
use switchboard_domain::{AgentId, ChannelId, ConversationId, LabelId, LinkId, MessageId};

use crate::{Label, Page, Result};

/// A click-to-chat link: a short link `/l/{slug}` that redirects to wa.me with a
/// prefilled text carrying `ref_code`, so the conversation it starts is attributed to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub id: LinkId,
    pub channel_id: ChannelId,
    pub slug: Slug,
    pub ref_code: RefCode,
    /// The number the wa.me URL opens.
    pub phone: PhoneNumber,
    /// The prefilled text, without the reference (it is appended when the URL is built).
    pub text: Option<String>,
    pub campaign: Option<String>,
    pub source: Option<String>,
    pub tags: Vec<String>,
    /// A Click-to-WhatsApp ad's `referral.source_id`: conversations the ad starts are
    /// attributed to this link.
    pub ad_source_id: Option<String>,
    /// Labels put on the conversations it starts, by name.
    pub labels: Vec<Label>,
    pub enabled: bool,
    pub created_by: Option<AgentId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct NewLink {
    pub channel_id: ChannelId,
    pub slug: Slug,
    pub ref_code: RefCode,
    pub phone: PhoneNumber,
    pub text: Option<String>,
    pub campaign: Option<String>,
    pub source: Option<String>,
    pub tags: Vec<String>,
    pub ad_source_id: Option<String>,
    pub labels: Vec<LabelId>,
    pub created_by: Option<AgentId>,
    pub at: DateTime<Utc>,
}

/// Changes to a link: `None` leaves a field as it is; `Some(None)` clears an optional one.
/// The slug, reference code and number never change: they are printed on posters.
#[derive(Clone, Debug, Default)]
pub struct LinkPatch {
    pub text: Option<Option<String>>,
    pub campaign: Option<Option<String>>,
    pub source: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub ad_source_id: Option<Option<String>>,
    pub labels: Option<Vec<LabelId>>,
    pub enabled: Option<bool>,
}

/// Links are listed newest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkCursor {
    pub id: LinkId,
}

#[derive(Clone, Debug)]
pub struct LinkQuery {
    /// 1..=500
    pub limit: u32,
    pub after: Option<LinkCursor>,
}

/// One click on a short link: nothing that identifies the person.
#[derive(Clone, Debug)]
pub struct NewClick {
    pub link: LinkId,
    pub at: DateTime<Utc>,
    pub referrer_host: Option<String>,
    pub agent_family: AgentFamily,
}

/// Clicks on one link counted together: in one UTC hour, from one referrer host (or
/// none), by one browser family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClickCount {
    pub link: LinkId,
    /// The start of the UTC hour.
    pub hour: DateTime<Utc>,
    pub referrer_host: Option<String>,
    pub agent_family: AgentFamily,
    pub clicks: i64,
}

/// A link's activity on one UTC day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkDay {
    pub day: NaiveDate,
    /// Clicks, bots excluded.
    pub clicks: i64,
    /// Clicks by crawlers and link-preview bots.
    pub bot_clicks: i64,
    /// Conversations attributed to the link, by the day they started.
    pub conversations_started: i64,
    /// Conversations attributed to the link, by the day they were resolved.
    pub conversations_resolved: i64,
}

/// How a conversation came from a link.
#[derive(Clone, Copy, Debug)]
pub enum AttributionSource<'a> {
    /// The first message carried a link's reference code; `stripped_text` is the
    /// message's text without it (what agents see; the content keeps the original).
    RefCode { code: &'a RefCode, stripped_text: &'a str },
    /// A Click-to-WhatsApp ad's referral.
    Ad { source_id: &'a str, ctwa_clid: Option<&'a str>, headline: Option<&'a str> },
}

/// Attributes a new conversation to the link its first message came from.
#[derive(Clone, Copy, Debug)]
pub struct Attribution<'a> {
    pub conversation: ConversationId,
    pub message: MessageId,
    pub source: AttributionSource<'a>,
    pub at: DateTime<Utc>,
}

impl AttributionSource<'_> {
    /// How the attribution is recorded on the conversation (a JSON document).
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::RefCode { code, .. } => serde_json::json!({"via": "ref", "ref_code": code.as_str()}),
            Self::Ad { source_id, ctwa_clid, headline } => serde_json::json!({
                "via": "ad",
                "source_id": source_id,
                "ctwa_clid": ctwa_clid,
                "headline": headline,
            }),
        }
    }
}

/// The link a conversation is attributed to, and how ([`LinkStore::conversation_attribution`]).
/// Clicks themselves are counted anonymously (per hour, referrer host and browser
/// family); this is what ties a person to a link.
#[derive(Clone, Debug, PartialEq)]
pub struct ConversationAttribution {
    pub link_id: LinkId,
    pub slug: String,
    pub campaign: Option<String>,
    pub source: Option<String>,
    pub attributed_at: Option<DateTime<Utc>>,
    /// As recorded: `{"via": "ref", "ref_code": …}` or `{"via": "ad", "source_id": …, …}`.
    pub how: Option<serde_json::Value>,
}

#[async_trait]
pub trait LinkStore: Send + Sync {
    /// `Conflict { what: "link slug" | "link reference code" | "link ad source id" }`;
    /// `NotFound` if the channel or a label does not exist.
    async fn create_link(&self, link: &NewLink) -> Result<Link>;

    async fn link(&self, id: LinkId) -> Result<Option<Link>>;

    /// The link behind a short URL, enabled or not.
    async fn link_by_slug(&self, slug: &Slug) -> Result<Option<Link>>;

    async fn list_links(&self, q: &LinkQuery) -> Result<Page<Link, LinkCursor>>;

    /// `NotFound` for an unknown link or label; `Conflict` as in create.
    async fn update_link(&self, id: LinkId, patch: &LinkPatch, at: DateTime<Utc>) -> Result<Link>;

    /// Adds counted clicks to their links' totals, in one transaction of a few statements
    /// whatever their number. Counts that share a key add up.
    async fn record_clicks(&self, counts: &[ClickCount]) -> Result<()>;

    /// The link's activity per UTC day in `from..=to`, days without any left out.
    /// `NotFound` for an unknown link.
    async fn link_stats(&self, id: LinkId, from: NaiveDate, to: NaiveDate) -> Result<Vec<LinkDay>>;

    /// Records the number customers dial for a channel (wa.me links open it). `NotFound`
    /// for an unknown channel.
    async fn set_display_phone_number(&self, channel: ChannelId, phone: &PhoneNumber) -> Result<()>;

    /// The number customers dial for a channel, if known. `NotFound` for an unknown
    /// channel.
    async fn display_phone_number(&self, channel: ChannelId) -> Result<Option<PhoneNumber>>;

    /// The link `conversation` is attributed to, if any (`None` also for an unknown
    /// conversation).
    async fn conversation_attribution(&self, conversation: ConversationId) -> Result<Option<ConversationAttribution>>;
}
