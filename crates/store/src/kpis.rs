//! KPI facts: how fast people answered and resolved, recorded when it happened (by the
//! store, in the transaction of the reply or the resolution), in wall-clock seconds and
//! in business seconds of the channel's hours as they were then (wall-clock seconds
//! again when the channel has no hours).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::{AgentId, ConversationId, MessageId};

use crate::Result;

/// A duration, both ways.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Took {
    pub seconds: i64,
    pub business_seconds: i64,
}

/// The first message a person sent after the customer wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FirstResponse {
    pub at: DateTime<Utc>,
    /// `None` once the agent is deleted.
    pub by: Option<AgentId>,
    /// From the first customer message, or the last automatic message before the reply
    /// if there was one (the bot's hand-over).
    pub took: Took,
}

/// One reply by a person to a waiting customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyTime {
    pub message_id: MessageId,
    pub agent_id: Option<AgentId>,
    /// Since when the customer had been waiting.
    pub waited_from: DateTime<Utc>,
    pub replied_at: DateTime<Utc>,
    pub took: Took,
}

/// A conversation's KPI facts so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationKpis {
    pub first_response: Option<FirstResponse>,
    /// From the conversation's start to its resolution.
    pub resolution: Option<Took>,
    /// Oldest first.
    pub replies: Vec<ReplyTime>,
}

#[async_trait]
pub trait KpiStore {
    /// The facts of a conversation; `None` if there is no such conversation.
    async fn conversation_kpis(&self, id: ConversationId) -> Result<Option<ConversationKpis>>;
}
