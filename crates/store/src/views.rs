use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::message::{MessageContent, MessageContext, Referral, StatusError};
use switchboard_domain::{
    AgentId, ChannelId, ContactId, ConversationId, ConversationStatus, DeliveryState, Direction, MessageId,
    PhoneNumberId, WaId, Wamid,
};

use crate::Result;

/// One page of a list, and where the next one starts.
#[derive(Clone, Debug)]
pub struct Page<T, C> {
    pub items: Vec<T>,
    pub next: Option<C>,
}

/// Page sizes the backends accept: `limit` clamped to 1..=500.
#[must_use]
pub fn page_size(limit: u32) -> u32 {
    limit.clamp(1, 500)
}

impl<T, C> Page<T, C> {
    /// Trims a `limit + 1` fetch to `limit` items and says where the next page starts.
    pub fn from_fetch(mut items: Vec<T>, limit: u32, cursor: impl Fn(&T) -> C) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = items.len() > limit;
        items.truncate(limit);
        let next = if more { items.last().map(cursor) } else { None };
        Self { items, next }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactView {
    pub id: ContactId,
    pub wa_id: WaId,
    pub profile_name: Option<String>,
    pub user_id: Option<String>,
    pub username: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationView {
    pub id: ConversationId,
    pub channel_id: ChannelId,
    pub phone_number_id: PhoneNumberId,
    pub contact: ContactView,
    pub status: ConversationStatus,
    pub assignee_id: Option<AgentId>,
    pub window_closes_at: Option<DateTime<Utc>>,
    pub last_inbound_at: Option<DateTime<Utc>>,
    pub last_message_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub message_count: i64,
}

/// Conversations are listed by last activity, newest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConversationCursor {
    pub last_message_at: DateTime<Utc>,
    pub id: ConversationId,
}

#[derive(Clone, Debug)]
pub struct ConversationQuery {
    pub status: Option<ConversationStatus>,
    /// 1..=500
    pub limit: u32,
    pub after: Option<ConversationCursor>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MessageView {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub direction: Direction,
    pub wamid: Option<Wamid>,
    pub content: MessageContent,
    /// The text agents see: the content's text, except where the system rewrote it (a
    /// click-to-chat reference code is taken out; the content keeps the original).
    pub text: Option<String>,
    pub context: Option<MessageContext>,
    pub referral: Option<Referral>,
    /// Errors Meta attached to an inbound message (unsupported types).
    pub errors: Vec<StatusError>,
    pub state: DeliveryState,
    /// Meta's timestamp for inbound messages; when queued for outbound ones.
    pub timestamp: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    /// Why an outbound message failed.
    pub error: Option<StatusError>,
    pub sent_by: Option<AgentId>,
    /// The auto-reply rule that sent it (a `RuleRef` string); `None` for everything else.
    pub auto_rule: Option<String>,
}

/// Messages are listed in the order they were stored, oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageCursor {
    pub id: MessageId,
}

#[derive(Clone, Debug)]
pub struct MessageQuery {
    /// 1..=500
    pub limit: u32,
    pub after: Option<MessageCursor>,
}

/// An outbound message to record. (The outbox builds on this.)
#[derive(Clone, Debug)]
pub struct NewOutboundMessage {
    pub conversation_id: ConversationId,
    pub content: MessageContent,
    pub state: DeliveryState,
    /// Known once Meta accepted the message.
    pub wamid: Option<Wamid>,
    pub sent_by: Option<AgentId>,
    pub at: DateTime<Utc>,
}

#[async_trait]
pub trait ConversationStore: Send + Sync {
    async fn list_conversations(&self, q: &ConversationQuery) -> Result<Page<ConversationView, ConversationCursor>>;
    async fn conversation(&self, id: ConversationId) -> Result<Option<ConversationView>>;
}

#[async_trait]
pub trait MessageStore: Send + Sync {
    /// `Err(NotFound)` if the conversation does not exist.
    async fn list_messages(
        &self,
        conversation: ConversationId,
        q: &MessageQuery,
    ) -> Result<Page<MessageView, MessageCursor>>;

    async fn message(&self, id: MessageId) -> Result<Option<MessageView>>;

    /// The conversation's newest inbound message (by id, i.e. in the order stored), if
    /// any; `None` also for an unknown conversation.
    async fn last_inbound(&self, conversation: ConversationId) -> Result<Option<MessageView>>;

    /// Records an outbound message. If it has a wamid, status reports that arrived
    /// before it are applied now.
    async fn insert_outbound(&self, m: &NewOutboundMessage) -> Result<MessageId>;

    /// Records that Meta accepted an outbound message: its wamid and state `sent`, then
    /// applies status reports that arrived before it.
    async fn record_sent(&self, id: MessageId, wamid: &Wamid, at: DateTime<Utc>) -> Result<()>;
}
