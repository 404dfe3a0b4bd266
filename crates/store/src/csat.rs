//! CSAT surveys: each channel's settings, each conversation's survey and answer. The
//! survey is queued by the resolution's transaction
//! ([`QueueStore::set_status_with_survey`](crate::QueueStore::set_status_with_survey));
//! answers and comments are recorded by the ingest transaction
//! ([`IngestTx::record_csat_answer`](crate::IngestTx::record_csat_answer),
//! [`IngestTx::record_csat_comment`](crate::IngestTx::record_csat_comment)).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::csat::{CsatScale, CsatSettings, Score, SurveyAnswer};
use switchboard_domain::inbound::InboundMessage;
use switchboard_domain::{ChannelId, ContactId, ConversationId, EventId, MessageContent, MessageId, WaId};

use crate::Result;

/// The survey to queue with a conversation's resolution: an automatic message (rule
/// `csat`) whose outbox job runs at `run_at`.
#[derive(Clone, Debug)]
pub struct NewSurvey {
    /// What agents see in the conversation.
    pub content: MessageContent,
    /// The Graph API request body.
    pub request: serde_json::Value,
    /// Not sent before this (the resolution plus the configured delay).
    pub run_at: DateTime<Utc>,
    /// Answers count until this.
    pub expires_at: DateTime<Utc>,
    pub scale: CsatScale,
}

/// A conversation's survey and what the customer answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Csat {
    /// The survey message (`None` once deleted).
    pub message_id: Option<MessageId>,
    pub queued_at: DateTime<Utc>,
    /// Answers count until this.
    pub expires_at: DateTime<Utc>,
    pub scale: CsatScale,
    /// The latest rating, if any.
    pub score: Option<Score>,
    pub rated_at: Option<DateTime<Utc>>,
    /// When the follow-up question was asked.
    pub comment_asked_at: Option<DateTime<Utc>>,
    pub comment: Option<String>,
    pub commented_at: Option<DateTime<Utc>>,
}

/// A customer's tap on a survey choice, to record on the conversation it names.
#[derive(Clone, Copy, Debug)]
pub struct CsatAnswerIn<'a> {
    pub event_id: EventId,
    pub channel: ChannelId,
    /// Who tapped: only the surveyed contact's tap counts.
    pub wa_id: &'a WaId,
    pub message: &'a InboundMessage,
    pub received_at: DateTime<Utc>,
    pub answer: SurveyAnswer,
}

/// What became of a tap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsatAnswerOutcome {
    /// Stored in the surveyed conversation and its rating set; `first` unless it changed
    /// an earlier rating.
    Rated { conversation: ConversationId, contact: ContactId, message_id: MessageId, score: Score, first: bool },
    /// The message (its wamid) was stored already: nothing changed.
    Duplicate,
    /// No survey of this contact's on this channel takes it (unknown conversation, another
    /// contact's, past its response window, a score off the scale): nothing stored; the
    /// message is an ordinary one.
    NotOurs,
}

/// A customer's text that may be the comment a survey's follow-up asked for.
#[derive(Clone, Copy, Debug)]
pub struct CsatCommentIn<'a> {
    pub event_id: EventId,
    pub channel: ChannelId,
    pub wa_id: &'a WaId,
    pub message: &'a InboundMessage,
    pub received_at: DateTime<Utc>,
}

#[async_trait]
pub trait CsatStore: Send + Sync {
    /// The channel's survey settings (`None`: never set). `NotFound` if no such channel.
    async fn csat_settings(&self, channel: ChannelId) -> Result<Option<CsatSettings>>;

    /// Sets (or, with `None`, removes) the channel's survey settings, and moves the
    /// auto-reply configuration's version (workers reload). `NotFound` if no such channel.
    async fn put_csat_settings(
        &self,
        channel: ChannelId,
        settings: Option<&CsatSettings>,
        at: DateTime<Utc>,
    ) -> Result<()>;

    /// The conversation's survey (`None` if none was queued). `NotFound` if no such
    /// conversation.
    async fn conversation_csat(&self, conversation: ConversationId) -> Result<Option<Csat>>;
}
