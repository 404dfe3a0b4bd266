//! Private notes on a conversation, with @mentions of agents. Notes are for agents only:
//! they live in their own table and never reach the outbox or WhatsApp.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
pub use switchboard_domain::NoteId;
use switchboard_domain::{AgentId, ConversationId};

use crate::{Page, Result, Visibility};

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

    /// Notes mentioning `agent` on conversations `viewer` may see, newest first; the
    /// cursor is the last note's id.
    async fn mentions(
        &self,
        agent: AgentId,
        viewer: Visibility,
        limit: u32,
        before: Option<NoteId>,
    ) -> Result<Page<Note, NoteId>>;
}
