use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::label::{LabelColour, LabelName};
use switchboard_domain::{AgentId, ConversationId, LabelId};

use crate::Result;

/// A label admins define and agents put on conversations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub id: LabelId,
    pub name: LabelName,
    pub colour: LabelColour,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct NewLabel {
    pub name: LabelName,
    pub colour: LabelColour,
    pub description: Option<String>,
    pub at: DateTime<Utc>,
}

/// Changes to a label: `None` leaves a field as it is; `description: Some(None)` clears it.
#[derive(Clone, Debug, Default)]
pub struct LabelPatch {
    pub name: Option<LabelName>,
    pub colour: Option<LabelColour>,
    pub description: Option<Option<String>>,
}

/// A label on a conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedLabel {
    pub label: Label,
    /// `None` when the system put it there (a link's attribution, a rule).
    pub added_by: Option<AgentId>,
    pub added_at: DateTime<Utc>,
}

#[async_trait]
pub trait LabelStore: Send + Sync {
    /// `Conflict { what: "label name" }` if a label has this name in any case.
    async fn create_label(&self, label: &NewLabel) -> Result<Label>;

    /// Every label, by name (case-insensitively).
    async fn labels(&self) -> Result<Vec<Label>>;

    async fn label(&self, id: LabelId) -> Result<Option<Label>>;

    /// `NotFound` for an unknown label; `Conflict { what: "label name" }` as in create.
    async fn update_label(&self, id: LabelId, patch: &LabelPatch) -> Result<Label>;

    /// Deletes the label and takes it off every conversation and link. `NotFound` if
    /// there is no such label.
    async fn delete_label(&self, id: LabelId) -> Result<()>;

    /// Puts labels on a conversation; labels already on it keep who added them and when.
    /// `NotFound` if the conversation or one of the labels does not exist (then nothing
    /// changes).
    async fn add_conversation_labels(
        &self,
        conversation: ConversationId,
        labels: &[LabelId],
        by: Option<AgentId>,
        at: DateTime<Utc>,
    ) -> Result<()>;

    /// Takes a label off a conversation; `false` if it was not on it.
    async fn remove_conversation_label(&self, conversation: ConversationId, label: LabelId) -> Result<bool>;

    /// The labels on a conversation, by name.
    async fn conversation_labels(&self, conversation: ConversationId) -> Result<Vec<AppliedLabel>>;

    /// The labels on each of these conversations (conversations without labels are
    /// absent), for lists: one query per page.
    async fn labels_of_conversations(
        &self,
        conversations: &[ConversationId],
    ) -> Result<HashMap<ConversationId, Vec<Label>>>;
}
