//! The shared queue: claiming the longest-waiting conversation, assignment, status, the
//! snooze wake-up, and each conversation's history.
//!
//! **Waiting longest.** A conversation waits from its oldest inbound message that no
//! agent has answered yet (`waiting_since`; an agent's message ends the wait, an
//! auto-reply does not). The queue is the open, unassigned conversations that have a
//! waiting customer, oldest `waiting_since` first (ties by id). An open conversation
//! whose last word was ours is not in the queue until the customer writes again.
//!
//! **Load.** An agent's load is the number of conversations assigned to them that are
//! not resolved (open, pending or snoozed); claiming stops at their capacity.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::{AgentId, ChannelId, ContactId, ConversationId, ConversationStatus};

use crate::{Page, Result, TeamId};

/// A conversation's routing and workflow state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationState {
    pub id: ConversationId,
    pub channel_id: ChannelId,
    /// Its effective team: the one it was transferred to, else its channel's.
    pub team_id: Option<TeamId>,
    /// The team it was transferred to (`None`: it follows its channel's routing).
    pub transferred_to: Option<TeamId>,
    pub contact_id: ContactId,
    pub status: ConversationStatus,
    pub assignee_id: Option<AgentId>,
    /// See the module documentation.
    pub waiting_since: Option<DateTime<Utc>>,
    /// Set while snoozed.
    pub snoozed_until: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<AgentId>,
    pub last_message_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// Which conversations a claim may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimScope {
    /// Every conversation (admins).
    All,
    /// Conversations whose effective team is one of the agent's, or none.
    Teams,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The conversation is now the agent's.
    Claimed(ConversationState),
    /// Nothing the agent may take is waiting.
    Empty,
    /// The agent holds `load` conversations, their capacity or more.
    AtCapacity { capacity: u32, load: u32 },
    /// The agent is unknown or deactivated.
    AgentInactive,
}

/// Why an assignment was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignRefusal {
    ConversationNotFound,
    /// Resolved conversations are closed for good.
    Resolved,
    /// The assignee is unknown or deactivated.
    AgentInactive,
    /// The assignee is at capacity (only when asked to respect it).
    AtCapacity {
        capacity: u32,
        load: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AssignOutcome {
    /// The state after; `changed` is false if it was so already (nothing recorded).
    Done {
        state: ConversationState,
        changed: bool,
    },
    Refused(AssignRefusal),
}

/// An assignment to make.
#[derive(Clone, Copy, Debug)]
pub struct Assignment {
    pub conversation: ConversationId,
    /// `None` unassigns.
    pub agent: Option<AgentId>,
    /// Who did it (`None`: the system).
    pub actor: Option<AgentId>,
    /// Refuse if the assignee is at capacity.
    pub respect_capacity: bool,
    pub at: DateTime<Utc>,
}

/// A status to set.
#[derive(Clone, Copy, Debug)]
pub struct StatusChange {
    pub conversation: ConversationId,
    pub status: ConversationStatus,
    /// Required (and only kept) for `Snoozed`.
    pub snoozed_until: Option<DateTime<Utc>>,
    pub actor: Option<AgentId>,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatusChangeOutcome {
    /// The state after; `changed` is false if it was so already (nothing recorded).
    Done {
        state: ConversationState,
        changed: bool,
    },
    NotFound,
    /// Resolved conversations are closed for good: the next inbound message starts a new
    /// one.
    Resolved,
}

/// A transfer to a team, or back to the channel's routing.
#[derive(Clone, Copy, Debug)]
pub struct TeamTransfer {
    pub conversation: ConversationId,
    /// `None`: back to its channel's routing.
    pub team: Option<TeamId>,
    /// Who did it (`None`: the system).
    pub actor: Option<AgentId>,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransferOutcome {
    /// The state after; `changed` is false if it was so already (nothing recorded);
    /// `unassigned`: the assignee who was not a member of the new team and lost it.
    Done {
        state: ConversationState,
        changed: bool,
        unassigned: Option<AgentId>,
    },
    ConversationNotFound,
    TeamNotFound,
    /// Resolved conversations are closed for good.
    Resolved,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryKind {
    Assigned,
    Unassigned,
    StatusChanged,
    TeamChanged,
}

impl HistoryKind {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Assigned => "assigned",
            Self::Unassigned => "unassigned",
            Self::StatusChanged => "status_changed",
            Self::TeamChanged => "team_changed",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "assigned" => Self::Assigned,
            "unassigned" => Self::Unassigned,
            "status_changed" => Self::StatusChanged,
            "team_changed" => Self::TeamChanged,
            _ => return None,
        })
    }
}

impl fmt::Display for HistoryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of a conversation's history. `data` by kind:
/// - `assigned`: `agent_id`, `previous_agent_id` (a transfer) or null, `via` (`claim`,
///   `manual`);
/// - `unassigned`: `agent_id` (who had it), `reason` (`manual`, `agent_deactivated`,
///   `team_changed`: not a member of the team it was transferred to);
/// - `status_changed`: `from`, `to`, `snoozed_until` (when snoozed), `reason`
///   (`manual`, `snooze_ended`);
/// - `team_changed`: `from`, `to` (the effective teams; null: no team), `transferred_to`
///   (the team chosen; null: back to the channel's routing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    pub id: i64,
    pub conversation_id: ConversationId,
    pub kind: HistoryKind,
    /// `None`: the system.
    pub actor_id: Option<AgentId>,
    pub data: serde_json::Value,
    pub at: DateTime<Utc>,
}

/// History is listed oldest first; the cursor is the last entry's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryCursor {
    pub id: i64,
}

#[async_trait]
pub trait QueueStore: Send + Sync {
    async fn conversation_state(&self, id: ConversationId) -> Result<Option<ConversationState>>;

    /// Atomically assigns the agent the longest-waiting conversation of the queue that
    /// `scope` lets them take, and records it in its history. Concurrent claims never
    /// get the same conversation.
    async fn claim_next(&self, agent: AgentId, scope: ClaimScope, at: DateTime<Utc>) -> Result<ClaimOutcome>;

    /// Assigns, transfers or unassigns, recording the change in the history.
    async fn assign(&self, a: &Assignment) -> Result<AssignOutcome>;

    /// Transfers the conversation to a team (`None`: back to its channel's routing),
    /// recording `team_changed` in the history. If its effective team changes to a team
    /// its assignee is not a member of, it is unassigned too (history: `unassigned`,
    /// `reason: "team_changed"`), back in the queue for that team.
    async fn transfer_team(&self, t: &TeamTransfer) -> Result<TransferOutcome>;

    /// Sets the status, recording the change in the history: resolving records who and
    /// when; snoozing keeps `snoozed_until`.
    async fn set_status(&self, s: &StatusChange) -> Result<StatusChangeOutcome> {
        self.set_status_with_survey(s, None).await
    }

    /// [`set_status`](Self::set_status), and when it resolves the conversation, queues
    /// `survey` in the same transaction (an automatic message, rule `csat`, its job due at
    /// `survey.run_at`) unless the conversation has had one: never two surveys for one
    /// conversation.
    async fn set_status_with_survey(
        &self,
        s: &StatusChange,
        survey: Option<&crate::NewSurvey>,
    ) -> Result<StatusChangeOutcome>;

    /// Reopens up to `limit` snoozed conversations whose time has come (`snoozed_until
    /// <= now`), recording each as a status change by the system.
    async fn wake_snoozed(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<ConversationId>>;

    /// A conversation's history, oldest first. `NotFound` for an unknown conversation.
    async fn history(
        &self,
        conversation: ConversationId,
        limit: u32,
        after: Option<HistoryCursor>,
    ) -> Result<Page<HistoryEntry, HistoryCursor>>;
}
