//! Privacy: erasing one contact (right to erasure) and retention policies per channel.
//!
//! Both remove the *content* of messages and conversations and keep the facts reports
//! count (the conversation rows, their KPI seconds, message rows with their direction,
//! type, state and times): one scrub, written once in the store, used by both.
//!
//! An erasure is a durable job ([`ErasureJob`]) worked in bounded steps
//! ([`ErasureStore::erasure_step`]), each its own short transaction:
//!
//! 1. `messages`: the contact's messages in id order, a batch at a time (the cursor is the
//!    last message erased): bodies, captions, raw payloads, media ids, contexts, wamids;
//!    their outbox requests (a queued send is cancelled);
//! 2. `events`: the event log's raw bodies that mention the contact's number, a slice of
//!    ids at a time (the cursor is the last id scanned);
//! 3. `contact`: notes on their conversations, CSAT comments, ad referrals, live events,
//!    parked statuses, recorded changes, outgoing webhook payloads and responses that
//!    mention them, and last the contact row itself (number replaced by a random value no
//!    real number can have, names and attributes removed); the job is then `done`.
//!
//! Each step is idempotent, so a crash anywhere is repaired by running the job on.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::{AgentId, ChannelId, ContactId, ErasureId};

use crate::Result;

/// Where an erasure is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErasurePhase {
    Messages,
    Events,
    Contact,
    Done,
}

impl ErasurePhase {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Messages => "messages",
            Self::Events => "events",
            Self::Contact => "contact",
            Self::Done => "done",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "messages" => Self::Messages,
            "events" => Self::Events,
            "contact" => Self::Contact,
            "done" => Self::Done,
            _ => return None,
        })
    }
}

/// One erasure of one contact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErasureJob {
    pub id: ErasureId,
    pub contact_id: ContactId,
    /// `None` from the command line, or once the agent is deleted.
    pub requested_by: Option<AgentId>,
    pub phase: ErasurePhase,
    /// Messages whose content was removed so far.
    pub messages: i64,
    /// Event log bodies removed so far.
    pub events: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl ErasureJob {
    #[must_use]
    pub const fn is_done(&self) -> bool {
        matches!(self.phase, ErasurePhase::Done)
    }
}

/// How big one step of an erasure or a retention pass is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScrubLimits {
    /// Messages per transaction.
    pub messages: u32,
    /// Event log ids scanned per transaction.
    pub events: u32,
    /// Conversations per transaction (retention).
    pub conversations: u32,
    /// Retention: a transaction anonymises at most this many messages (a longer
    /// conversation takes several, each going on where the last stopped).
    pub retention_messages: u32,
}

impl Default for ScrubLimits {
    fn default() -> Self {
        Self { messages: 1000, events: 20_000, conversations: 50, retention_messages: 50 }
    }
}

/// A channel's retention policy: `None` keeps that kind of data forever.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Resolved conversations' content is removed this many days after resolution.
    pub conversations_days: Option<u32>,
    /// Media (the file, and the message's reference to it) is removed this many days
    /// after the message.
    pub media_days: Option<u32>,
}

/// What a retention pass would remove (the dry run) or removed, in one channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetentionCounts {
    pub conversations: i64,
    pub messages: i64,
    pub media: i64,
}

/// One bounded retention step in one channel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionStep {
    pub counts: RetentionCounts,
    /// The media ids whose references were removed: their cached files go too.
    pub media_ids: Vec<String>,
    /// `true` when nothing is left to do in this channel at this time.
    pub finished: bool,
}

#[async_trait]
pub trait ErasureStore: Send + Sync {
    /// Starts erasing a contact, or returns the erasure of it already running. `None`: no
    /// such contact.
    async fn begin_erasure(
        &self,
        contact: ContactId,
        by: Option<AgentId>,
        at: DateTime<Utc>,
    ) -> Result<Option<ErasureJob>>;

    async fn erasure(&self, id: ErasureId) -> Result<Option<ErasureJob>>;

    /// Erasures not finished (a crash stopped them), oldest first.
    async fn unfinished_erasures(&self) -> Result<Vec<ErasureJob>>;

    /// The media ids of the messages the next `messages` step will erase (the same batch),
    /// so their files can be removed before their references are.
    async fn erasure_media(&self, id: ErasureId, limits: ScrubLimits) -> Result<Vec<String>>;

    /// One bounded step of the job's current phase; returns the job after it. A finished
    /// job is returned as it is.
    async fn erasure_step(&self, id: ErasureId, limits: ScrubLimits, at: DateTime<Utc>) -> Result<ErasureJob>;

    /// Database-level clean-up after an erasure finished (SQLite: merges the search
    /// indexes so deleted entries leave them, and truncates the write-ahead log; nothing on
    /// PostgreSQL, whose dead rows are for VACUUM). Bounded by the database's size.
    async fn compact_after_erasure(&self) -> Result<()>;

    /// Every channel's retention policy (channels without one are left out).
    async fn retention_policies(&self) -> Result<Vec<(ChannelId, RetentionPolicy)>>;

    /// `None`: no such channel.
    async fn retention_policy(&self, channel: ChannelId) -> Result<Option<RetentionPolicy>>;

    /// `false`: no such channel.
    async fn set_retention_policy(
        &self,
        channel: ChannelId,
        policy: RetentionPolicy,
        at: DateTime<Utc>,
    ) -> Result<bool>;

    /// What `retention_step` would remove in `channel` at `now` under `policy` (the dry run).
    async fn retention_preview(
        &self,
        channel: ChannelId,
        policy: RetentionPolicy,
        now: DateTime<Utc>,
    ) -> Result<RetentionCounts>;

    /// Removes a bounded batch of what `policy` says has expired in `channel` at `now`.
    async fn retention_step(
        &self,
        channel: ChannelId,
        policy: RetentionPolicy,
        limits: ScrubLimits,
        now: DateTime<Utc>,
    ) -> Result<RetentionStep>;
}
