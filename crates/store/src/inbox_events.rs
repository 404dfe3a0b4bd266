//! Inbox events: the persisted feed behind live updates (`GET /api/v1/events`).
//!
//! Every change an agent may want to see live (a new message, a delivery-status change, a
//! new conversation, a status, assignment or label change) is recorded as an event by
//! database triggers, in the same transaction as the change, whoever makes it. Ids
//! increase and become visible in increasing order (see the migrations): a reader that
//! has seen id N has seen every committed event below N, so "everything after N" is a
//! complete, gap-free resume point.
//!
//! Events carry ids, kinds and states, never personal data (no text, names or numbers):
//! clients fetch details through the API. They also carry who may see them: the
//! conversation's channel, the channel's team and the conversation's assignee as they
//! were when the event was recorded.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::{AgentId, ChannelId, ConversationId, LabelId, MessageId, NoteId};

use crate::{Result, TeamId};

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboxEventKind {
    /// A message was stored, inbound or outbound (agents' replies and auto-replies).
    MessageCreated,
    /// A message's delivery state moved (`sent`, `delivered`, `read`, `failed`…).
    MessageStatus,
    ConversationCreated,
    /// `open`, `pending`, `snoozed`, `resolved`.
    ConversationStatus,
    /// Assigned, transferred or unassigned.
    AssignmentChanged,
    LabelAdded,
    LabelRemoved,
    /// A private note was written on the conversation.
    NoteCreated,
    /// It was transferred to another team (or back to its channel's).
    TeamChanged,
    /// The customer rated the conversation in its CSAT survey, changed the rating, or
    /// added the follow-up comment.
    CsatAnswered,
    /// An SLA target falls due soon (its policy's warning time); fired once per target.
    SlaWarning,
    /// An SLA target's due time passed before it was met; fired once per target.
    SlaBreached,
}

impl InboxEventKind {
    pub const ALL: [Self; 12] = [
        Self::MessageCreated,
        Self::MessageStatus,
        Self::ConversationCreated,
        Self::ConversationStatus,
        Self::AssignmentChanged,
        Self::LabelAdded,
        Self::LabelRemoved,
        Self::NoteCreated,
        Self::TeamChanged,
        Self::CsatAnswered,
        Self::SlaWarning,
        Self::SlaBreached,
    ];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MessageCreated => "message_created",
            Self::MessageStatus => "message_status",
            Self::ConversationCreated => "conversation_created",
            Self::ConversationStatus => "conversation_status",
            Self::AssignmentChanged => "assignment_changed",
            Self::LabelAdded => "label_added",
            Self::LabelRemoved => "label_removed",
            Self::NoteCreated => "note_created",
            Self::TeamChanged => "team_changed",
            Self::CsatAnswered => "csat_answered",
            Self::SlaWarning => "sla_warning",
            Self::SlaBreached => "sla_breached",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for InboxEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One recorded event.
#[derive(Clone, Debug, PartialEq)]
pub struct InboxEvent {
    /// Increasing; the SSE `id:`.
    pub id: i64,
    pub kind: InboxEventKind,
    pub conversation_id: ConversationId,
    pub channel_id: ChannelId,
    /// The conversation's effective team: the one it was transferred to, else its
    /// channel's (`None`: every agent sees it).
    pub team_id: Option<TeamId>,
    /// The conversation's assignee (after the change, for `assignment_changed`).
    pub assignee_id: Option<AgentId>,
    /// `message_created`, `message_status`.
    pub message_id: Option<MessageId>,
    /// `label_added`, `label_removed`.
    pub label_id: Option<LabelId>,
    /// `note_created`.
    pub note_id: Option<NoteId>,
    /// By kind: `message_created` → who sent it (`None`: the customer or an auto-reply);
    /// `assignment_changed` → the previous assignee; `label_added` → who added it;
    /// `note_created` → its author.
    pub agent_id: Option<AgentId>,
    /// Small scalar fields by kind: `message_created` → `direction`, `type`, `state`;
    /// `message_status` → `state`, `previous_state`, `error_code`;
    /// `conversation_created` → `status`; `conversation_status` → `status`,
    /// `previous_status`; `team_changed` → `previous_team_id`; `csat_answered` → `score`,
    /// `scale`, `previous_score`, `comment` (whether there is one).
    pub data: serde_json::Map<String, serde_json::Value>,
    pub at: DateTime<Utc>,
}

/// Wakes a reader when events may have been recorded. Wake-ups may be spurious and may
/// be coalesced; none is lost between two calls of [`wait`](Self::wait) (PostgreSQL: if
/// the listening connection was lost, `wait` returns at once, so the reader looks again).
#[async_trait]
pub trait InboxWakeups: Send {
    async fn wait(&mut self) -> Result<()>;
}

#[async_trait]
pub trait InboxEventStore: Send + Sync {
    /// Up to `limit` events with an id above `after`, oldest first.
    async fn inbox_events_after(&self, after: i64, limit: u32) -> Result<Vec<InboxEvent>>;

    /// The newest event's id, 0 if there is none: "now", for a reader starting fresh.
    async fn last_inbox_event_id(&self) -> Result<i64>;

    /// Deletes up to `limit` events recorded before `before`; returns how many.
    async fn purge_inbox_events(&self, before: DateTime<Utc>, limit: u32) -> Result<u64>;

    /// Starts listening for new events: PostgreSQL `LISTEN`s (so events written by other
    /// instances wake this one), SQLite watches this process's commits.
    async fn inbox_wakeups(&self) -> Result<Box<dyn InboxWakeups>>;
}
