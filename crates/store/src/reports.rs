//! Reports: what happened to conversations over a report's days, counted and listed by the
//! store per day (all the days in one statement). The use case
//! (`switchboard_core::reports`) turns the lists of durations into medians and percentiles.
//!
//! Which conversations a figure counts:
//! - started, open, first response, replies: those started (`created_at`) in the span;
//!   open = of those, the ones not resolved now;
//! - resolved, resolution time: those resolved (`resolved_at`, and resolved now) in the span;
//! - auto-replies: automatic messages sent (`auto_replies` with a message) in the span;
//! - CSAT: the surveys sent (`csat_queued_at`, when the resolution queued them) in the
//!   span, and of those the answered ones, counted per scale and score.

use std::collections::BTreeMap;
use std::ops::Range;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::{AgentId, ChannelId, ConversationId, ConversationStatus, LinkId, TeamId};
use uuid::Uuid;

use crate::Result;

/// What a report's figures are grouped by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportGrouping {
    Channel,
    /// The conversation's team, else its channel's.
    Team,
    /// The assignee, else the first person who answered.
    Agent,
    /// A conversation with two labels counts in both; one with none in the "no label" group.
    Label,
    /// The click-to-chat link that started it.
    Link,
}

impl ReportGrouping {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Channel => "channel",
            Self::Team => "team",
            Self::Agent => "agent",
            Self::Label => "label",
            Self::Link => "link",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Channel, Self::Team, Self::Agent, Self::Label, Self::Link].into_iter().find(|g| g.as_str() == s)
    }

    /// Whether every conversation is in exactly one group (all but labels), so the groups
    /// add up to the whole.
    #[must_use]
    pub const fn partitions(self) -> bool {
        !matches!(self, Self::Label)
    }
}

/// Which conversations, over which span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportSpan {
    pub start: DateTime<Utc>,
    /// Exclusive.
    pub end: DateTime<Utc>,
    pub grouping: Option<ReportGrouping>,
    /// Only this agent's conversations (assigned to them, else first answered by them).
    pub agent: Option<AgentId>,
}

/// A report's days, for [`ReportStore::report_days`]: day `i` spans
/// `[bounds[i], bounds[i + 1])`, so `bounds` holds one more instant than there are days,
/// in increasing order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportDays {
    pub bounds: Vec<DateTime<Utc>>,
    pub grouping: Option<ReportGrouping>,
    /// Only this agent's conversations (assigned to them, else first answered by them).
    pub agent: Option<AgentId>,
}

impl ReportDays {
    /// How many days.
    #[must_use]
    pub fn len(&self) -> usize {
        self.bounds.len().saturating_sub(1)
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The counts and durations of one group (or of all) over a span.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportCounts {
    pub started: u64,
    /// Of those started, not resolved now.
    pub open: u64,
    pub resolved: u64,
    /// Messages people sent in the conversations started.
    pub replies: u64,
    pub auto_replies: u64,
    /// First response times of the conversations started (those answered), seconds.
    pub first_response: Vec<i64>,
    pub first_response_business: Vec<i64>,
    /// Resolution times of the conversations resolved, seconds.
    pub resolution: Vec<i64>,
    pub resolution_business: Vec<i64>,
    /// SLA targets met and breached.
    pub sla: crate::SlaCounts,
    /// CSAT surveys sent in the span.
    pub csat_surveys: u64,
    /// Of those, the answered ones: how many per `(scale's points, score)`.
    pub csat_answers: BTreeMap<(u8, u8), u64>,
}

impl ReportCounts {
    /// Adds `other`'s counts and durations to these.
    pub fn add(&mut self, other: &Self) {
        self.started += other.started;
        self.open += other.open;
        self.resolved += other.resolved;
        self.replies += other.replies;
        self.auto_replies += other.auto_replies;
        self.first_response.extend_from_slice(&other.first_response);
        self.first_response_business.extend_from_slice(&other.first_response_business);
        self.resolution.extend_from_slice(&other.resolution);
        self.resolution_business.extend_from_slice(&other.resolution_business);
        self.sla.add(&other.sla);
        self.csat_surveys += other.csat_surveys;
        for (k, n) in &other.csat_answers {
            *self.csat_answers.entry(*k).or_default() += n;
        }
    }
}

/// A group: the id of what it is (channel, team, agent, label, link; `None` for "none")
/// and its name (a link's slug) as it is now.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReportGroupKey {
    pub id: Option<Uuid>,
    pub name: Option<String>,
}

/// A span's figures: in all, or per group (by the group's id; `None` for "none") when
/// grouped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportSpanCounts {
    All(ReportCounts),
    Groups(Vec<(Option<Uuid>, ReportCounts)>),
}

/// Where a page of [`ReportConversation`]s continues: after this start and id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportCursor {
    pub created_at: DateTime<Utc>,
    pub id: ConversationId,
}

/// One conversation with its KPI facts, as the CSV export lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportConversation {
    pub id: ConversationId,
    pub contact_id: switchboard_domain::ContactId,
    pub channel_id: ChannelId,
    pub channel: String,
    pub team_id: Option<TeamId>,
    pub team: Option<String>,
    /// Assignee, else first responder.
    pub agent_id: Option<AgentId>,
    pub agent: Option<String>,
    pub status: ConversationStatus,
    /// Names, sorted.
    pub labels: Vec<String>,
    pub link_id: Option<LinkId>,
    pub link: Option<String>,
    pub created_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub first_response_by: Option<AgentId>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub first_response_seconds: Option<i64>,
    pub first_response_business_seconds: Option<i64>,
    pub resolution_seconds: Option<i64>,
    pub resolution_business_seconds: Option<i64>,
    pub replies: u64,
    pub auto_replies: u64,
    /// Its SLA due times and outcomes.
    pub sla: crate::ConversationSla,
    /// Its CSAT survey, if one was sent.
    pub csat: Option<ReportCsat>,
}

/// A conversation's CSAT survey and answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportCsat {
    /// The scale's points (3 or 5).
    pub scale: u8,
    /// When the resolution queued it (it is sent after the channel's delay).
    pub surveyed_at: DateTime<Utc>,
    /// The rating, if the customer answered.
    pub score: Option<u8>,
    /// When they (last) answered.
    pub answered_at: Option<DateTime<Utc>>,
    /// Their comment, if asked for one and given.
    pub comment: Option<String>,
}

/// Where a page of [`CsatAnswerRow`]s continues: after this survey time and conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CsatCursor {
    pub surveyed_at: DateTime<Utc>,
    pub id: ConversationId,
}

/// One answered survey, as the CSAT export lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsatAnswerRow {
    pub conversation_id: ConversationId,
    pub contact_id: switchboard_domain::ContactId,
    pub channel_id: ChannelId,
    pub channel: String,
    pub team_id: Option<TeamId>,
    pub team: Option<String>,
    /// Assignee, else first responder.
    pub agent_id: Option<AgentId>,
    pub agent: Option<String>,
    pub scale: u8,
    pub score: u8,
    pub comment: Option<String>,
    pub surveyed_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait ReportStore {
    /// The counts of each day of `days`, in order (`days.len()` of them), in all or per
    /// group (groups with nothing in them left out).
    async fn report_days(&self, days: &ReportDays) -> Result<Vec<ReportSpanCounts>>;

    /// The figures of the report slots (`switchboard_domain::report::SLOT_SECONDS` long,
    /// UTC, numbered from the epoch) in `slots` cached for `grouping` (`None`: in all)
    /// and still valid (nothing they count changed since), in slot order; the others are
    /// left out.
    async fn cached_report_slots(
        &self,
        grouping: Option<ReportGrouping>,
        slots: Range<i64>,
    ) -> Result<Vec<(i64, ReportSpanCounts)>>;

    /// The slots of `slots` whose figures [`Self::cached_report_slots`] would return, in
    /// order, without reading the figures.
    async fn valid_report_slots(&self, grouping: Option<ReportGrouping>, slots: Range<i64>) -> Result<Vec<i64>>;

    /// Computes the figures of `slots` for `grouping` from the facts (as
    /// [`Self::report_days`] would), caches them and returns them in the order of
    /// `slots`. Only slots that ended before anything changes them any more belong
    /// here: those that ended more than three hours ago.
    async fn fill_report_slots(&self, grouping: Option<ReportGrouping>, slots: &[i64])
    -> Result<Vec<ReportSpanCounts>>;

    /// Merges each slot's marks into one number (their sum, so every cached figure stays
    /// as valid as it was), where the backend keeps one per writer, whose count grows with
    /// the writers seen; returns how many slots it merged.
    async fn compact_report_marks(&self) -> Result<u64>;

    /// When the first conversation started, if there is one.
    async fn first_conversation_at(&self) -> Result<Option<DateTime<Utc>>>;

    /// The names of some groups as they are now (a link's slug), those that exist.
    async fn report_group_names(&self, grouping: ReportGrouping, ids: &[Uuid]) -> Result<Vec<(Uuid, String)>>;

    /// Conversations started in `[span.start, span.end)` (only the agent's, if given),
    /// oldest first, at most `limit` after `after`. The grouping is ignored.
    async fn report_conversations(
        &self,
        span: &ReportSpan,
        after: Option<ReportCursor>,
        limit: u32,
    ) -> Result<Vec<ReportConversation>>;

    /// Answered CSAT surveys sent in `[span.start, span.end)` (only the agent's
    /// conversations, if given), in survey order, at most `limit` after `after`. The
    /// grouping is ignored.
    async fn report_csat_answers(
        &self,
        span: &ReportSpan,
        after: Option<CsatCursor>,
        limit: u32,
    ) -> Result<Vec<CsatAnswerRow>>;
}
