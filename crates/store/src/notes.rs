//! Private notes on a conversation, with @mentions of agents. Notes are for agents only:
//! they live in their own table and never reach the outbox or WhatsApp.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
pub use switchboard_domain::NoteId;
use switchboard_domain::{AgentId, ConversationId};

use crate::{ConversationView, Page, Result, Visibility};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub id: NoteId,
    pub conversation_id: ConversationId,
    /// `None` if the author's account was deleted.
    pub author_id: Option<AgentId>,
    pub text: String,
    /// The agents it mentions, in the order first mentioned.
    pub mentions: Vec<AgentId>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct NewNote {
    pub conversation_id: ConversationId,
    pub author_id: AgentId,
    pub text: String,
    /// Resolved agent ids, without duplicates.
    pub mentions: Vec<AgentId>,
    pub at: DateTime<Utc>,
}

#[async_trait]
pub trait NoteStore: Send + Sync {
    /// `NotFound` if the conversation (or a mentioned agent) does not exist.
    async fn create_note(&self, note: &NewNote) -> Result<Note>;

    /// A conversation's notes, oldest first. `NotFound` for an unknown conversation.
    async fn notes(
        &self,
        conversation: ConversationId,
        limit: u32,
        after: Option<NoteId>,
    ) -> Result<Page<Note, NoteId>>;

    /// A conversation's notes written at or after `from` and before `to` (either end
    /// open when `None`), oldest first, at most `limit` (the first ones). For showing
    /// notes among a page of messages. `NotFound` for an unknown conversation.
    async fn notes_between(
        &self,
        conversation: ConversationId,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<Note>>;

    async fn note(&self, id: NoteId) -> Result<Option<Note>>;

    /// `false` if there was no such note.
    async fn delete_note(&self, id: NoteId) -> Result<bool>;

    /// Notes mentioning `agent` on conversations `viewer` may see (only those `agent`
    /// has not seen if `unseen_only`), newest first; the cursor is the last note's id.
    async fn mentions(
        &self,
        agent: AgentId,
        viewer: Visibility,
        unseen_only: bool,
        limit: u32,
        before: Option<NoteId>,
    ) -> Result<Page<Note, NoteId>>;

    /// The conversations `viewer` may see (any status) with notes mentioning `agent`
    /// that `agent` has not seen, by their newest such note, newest first; the cursor
    /// is the last row's `latest.id`.
    async fn mentioned_conversations(
        &self,
        agent: AgentId,
        viewer: Visibility,
        limit: u32,
        before: Option<NoteId>,
    ) -> Result<Page<MentionedConversation, NoteId>>;

    /// How many conversations [`NoteStore::mentioned_conversations`] lists.
    async fn mentioned_conversation_count(&self, agent: AgentId, viewer: Visibility) -> Result<u64>;

    /// Marks `agent`'s unseen mentions in `conversation` seen at `at`; how many there
    /// were (0 writes nothing).
    async fn mark_mentions_seen(&self, agent: AgentId, conversation: ConversationId, at: DateTime<Utc>) -> Result<u64>;
}

/// A conversation in which an agent has unseen mentions
/// ([`NoteStore::mentioned_conversations`]).
#[derive(Clone, Debug)]
pub struct MentionedConversation {
    pub conversation: ConversationView,
    /// The newest note in it mentioning the agent that they have not seen.
    pub latest: Note,
    /// How many of its notes mention the agent unseen.
    pub unseen: u64,
}
