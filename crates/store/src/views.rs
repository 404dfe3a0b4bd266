use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::message::{MessageContent, MessageContext, Referral, StatusError};
use switchboard_domain::{
    AgentId, ChannelId, ContactId, ConversationId, ConversationStatus, DeliveryState, Direction, LabelId, MessageId,
    MessageKind, PhoneNumberId, WaId, Wamid,
};

use crate::{Result, TeamId};

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
    /// The name agents gave the contact, shown instead of the profile name.
    pub name: Option<String>,
    pub user_id: Option<String>,
    pub username: Option<String>,
    /// Opted out of automatic messages and templates since then (`None`: opted in).
    pub opted_out_at: Option<DateTime<Utc>>,
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
    /// Its effective team: the one it was transferred to, else its channel's.
    pub team_id: Option<TeamId>,
    /// The click-to-chat link (or ad) that started it, if any.
    pub link_id: Option<switchboard_domain::LinkId>,
    /// Since when the customer has been waiting for an agent (see `queue.rs`).
    pub waiting_since: Option<DateTime<Utc>>,
    /// Set while snoozed.
    pub snoozed_until: Option<DateTime<Utc>>,
    /// Its SLA due times and outcomes.
    pub sla: crate::ConversationSla,
    /// The soonest SLA due time still pending (the `SlaDue` sort's key).
    pub sla_due_at: Option<DateTime<Utc>>,
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

    /// Several conversations by id, in one statement per [`crate::ID_LIST_CHUNK`] ids; those
    /// that do not exist are absent.
    async fn conversations_by_ids(&self, ids: &[ConversationId]) -> Result<HashMap<ConversationId, ConversationView>>;

    /// A view of the inbox: filters, sort, and keyset pagination (no gaps or duplicates
    /// while rows keep their sort keys).
    async fn view_conversations(&self, q: &ViewQuery) -> Result<Page<ConversationView, ViewCursor>>;

    /// The standard views' sizes, as `viewer` sees them; `me` is whose `mine` is.
    async fn view_counts(&self, me: AgentId, viewer: Visibility) -> Result<ViewCounts>;

    /// Whether the conversation exists and `viewer` may see it.
    async fn may_see_conversation(&self, viewer: Visibility, id: ConversationId) -> Result<bool>;

    /// How many open conversations `viewer` may see are routed to each team and carry
    /// each label (teams and labels with none are absent).
    async fn open_counts_by_team_and_label(&self, viewer: Visibility) -> Result<GroupCounts>;

    /// The newest message of each of `conversations` (at most 500; one query), for the
    /// inbox's previews. Conversations without messages are absent.
    async fn last_messages(&self, conversations: &[ConversationId]) -> Result<HashMap<ConversationId, LastMessage>>;
}

/// Open conversations per team and per label ([`ConversationStore::open_counts_by_team_and_label`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupCounts {
    pub teams: HashMap<TeamId, u64>,
    pub labels: HashMap<LabelId, u64>,
}

/// How long a [`LastMessage`]'s text is at most, in characters.
pub const PREVIEW_CHARS: usize = 140;

/// A conversation's newest message, as the inbox previews it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastMessage {
    pub direction: Direction,
    pub kind: MessageKind,
    /// The first [`PREVIEW_CHARS`] characters of its text, if it has any.
    pub text: Option<String>,
}

#[async_trait]
pub trait MessageStore: Send + Sync {
    /// `Err(NotFound)` if the conversation does not exist.
    async fn list_messages(
        &self,
        conversation: ConversationId,
        q: &MessageQuery,
    ) -> Result<Page<MessageView, MessageCursor>>;

    /// The conversation's messages stored before `before` (its newest when `None`), at
    /// most `limit`, oldest first: the last page of a thread, then the pages before it.
    /// `next` is the cursor of the page before this one (its first message) when older
    /// messages remain. `Err(NotFound)` if the conversation does not exist.
    async fn messages_before(
        &self,
        conversation: ConversationId,
        before: Option<MessageCursor>,
        limit: u32,
    ) -> Result<Page<MessageView, MessageCursor>>;

    async fn message(&self, id: MessageId) -> Result<Option<MessageView>>;

    /// Several messages by id, in one statement per [`crate::ID_LIST_CHUNK`] ids; those that do
    /// not exist are absent.
    async fn messages_by_ids(&self, ids: &[MessageId]) -> Result<HashMap<MessageId, MessageView>>;

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

/// Who is looking: admins see every conversation; an agent sees the ones assigned to
/// them and those whose effective team (the team it was transferred to, else its
/// channel's) is one of theirs or none (the rule of the queue, see `queue.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visibility {
    All,
    Agent(AgentId),
}

/// Whose conversations a view shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssigneeFilter {
    Unassigned,
    Agent(AgentId),
}

/// The 24-hour customer-service window, as of the query's `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowFilter {
    /// Closes after `now`.
    Open,
    /// Closed at or before `now`, or never opened.
    Closed,
}

/// The order of a view.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ViewSort {
    /// The queue's order: longest waiting first (`waiting_since`, then id); conversations
    /// nobody is waiting in come after, by id.
    Waiting,
    /// Newest activity first (`last_message_at`, then id, descending).
    #[default]
    LastActivity,
    /// Open windows only, soonest closing first (`window_closes_at`, then id).
    WindowClosing,
    /// Newest conversation first (`created_at`, then id, descending).
    Newest,
    /// Soonest SLA due time still pending first (`sla_due_at`, then id); conversations
    /// with none come after, by id.
    SlaDue,
}

/// Where the next page of a view starts: the last item's sort key and id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewCursor {
    /// `waiting_since: None`: among the conversations nobody is waiting in.
    Waiting {
        waiting_since: Option<DateTime<Utc>>,
        id: ConversationId,
    },
    LastActivity {
        last_message_at: DateTime<Utc>,
        id: ConversationId,
    },
    WindowClosing {
        window_closes_at: DateTime<Utc>,
        id: ConversationId,
    },
    Newest {
        created_at: DateTime<Utc>,
        id: ConversationId,
    },
    /// `due_at: None`: among the conversations with nothing due.
    SlaDue {
        due_at: Option<DateTime<Utc>>,
        id: ConversationId,
    },
}

impl ViewCursor {
    /// The cursor after `c` in `sort` order.
    #[must_use]
    pub fn after(sort: ViewSort, c: &ConversationView) -> Self {
        match sort {
            ViewSort::Waiting => Self::Waiting { waiting_since: c.waiting_since, id: c.id },
            ViewSort::LastActivity => Self::LastActivity { last_message_at: c.last_message_at, id: c.id },
            // Only open windows are listed, so the time is there; `created_at` is a
            // harmless stand-in that cannot happen.
            ViewSort::WindowClosing => {
                Self::WindowClosing { window_closes_at: c.window_closes_at.unwrap_or(c.created_at), id: c.id }
            }
            ViewSort::Newest => Self::Newest { created_at: c.created_at, id: c.id },
            ViewSort::SlaDue => Self::SlaDue { due_at: c.sla_due_at, id: c.id },
        }
    }

    /// The sort this cursor belongs to.
    #[must_use]
    pub const fn sort(&self) -> ViewSort {
        match self {
            Self::Waiting { .. } => ViewSort::Waiting,
            Self::LastActivity { .. } => ViewSort::LastActivity,
            Self::WindowClosing { .. } => ViewSort::WindowClosing,
            Self::Newest { .. } => ViewSort::Newest,
            Self::SlaDue { .. } => ViewSort::SlaDue,
        }
    }
}

/// The shortest text search, in characters: the indexes are of trigrams, and shorter
/// text could only be found by reading everything.
pub const MIN_SEARCH_CHARS: usize = 3;

/// A view of the inbox: every filter is optional and they all apply together.
#[derive(Clone, Debug)]
pub struct ViewQuery {
    pub viewer: Visibility,
    /// Any of these; empty = every status.
    pub statuses: Vec<ConversationStatus>,
    pub assignee: Option<AssigneeFilter>,
    /// Conversations whose effective team this is.
    pub team: Option<TeamId>,
    /// All of these labels.
    pub labels: Vec<LabelId>,
    pub channel: Option<ChannelId>,
    pub contact: Option<ContactId>,
    pub window: Option<WindowFilter>,
    /// Case-insensitive substring of the contact's name (override or profile), wa_id, or
    /// the text of one of the conversation's messages; at least [`MIN_SEARCH_CHARS`].
    pub search: Option<String>,
    pub sort: ViewSort,
    /// The time windows are judged at.
    pub now: DateTime<Utc>,
    /// 1..=500
    pub limit: u32,
    /// Must belong to `sort` (backends ignore a cursor of another sort).
    pub after: Option<ViewCursor>,
}

impl ViewQuery {
    /// Everything the viewer may see, by last activity.
    #[must_use]
    pub const fn new(viewer: Visibility, now: DateTime<Utc>) -> Self {
        Self {
            viewer,
            statuses: Vec::new(),
            assignee: None,
            team: None,
            labels: Vec::new(),
            channel: None,
            contact: None,
            window: None,
            search: None,
            sort: ViewSort::LastActivity,
            now,
            limit: 50,
            after: None,
        }
    }
}

/// How many conversations the viewer may see are in each standard view (resolved
/// conversations are in none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ViewCounts {
    /// Open and assigned to the viewer.
    pub mine: u64,
    /// Open and assigned to nobody.
    pub unassigned: u64,
    /// The queue: open, assigned to nobody, and a customer waiting for an answer.
    pub queue: u64,
    pub open: u64,
    pub pending: u64,
    pub snoozed: u64,
}
