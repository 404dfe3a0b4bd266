//! What agents do in the inbox: reply, assign and claim, change a conversation's status,
//! label, write notes; and the admins' levers that wake a worker (assignment policies,
//! requeueing a send). Independent of HTTP: the API's handlers parse a request, call one
//! of these and map the answer; the console will call the same.
//!
//! Visibility is checked before (the API's extractors do it); these check what the
//! caller may do to what they see, and apply it.

mod attachments;
mod conversations;
mod labels;
mod notes;
mod replies;

use std::fmt;

use switchboard_store::{Store, StoreError};

use crate::wake::Wake;

pub use attachments::{SentAttachment, Upload};
pub use conversations::may_transfer;
pub use labels::LABELS_MAX;
pub use notes::{MAX_MENTIONS, MAX_NOTE_CHARS, mentioned_emails};
pub use replies::{Compose, Outgoing};

/// The inbox's use cases over a store, waking workers through `wake`. Borrowed: build
/// one per call, for free.
#[derive(Clone, Copy)]
pub struct Inbox<'a> {
    store: &'a dyn Store,
    wake: &'a Wake,
}

impl<'a> Inbox<'a> {
    #[must_use]
    pub fn new(store: &'a dyn Store, wake: &'a Wake) -> Self {
        Self { store, wake }
    }
}

/// One invalid input, named by its field (`reply_to`, `labels[2]`, `text`...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Why a use case did nothing.
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    /// It does not exist (or no longer): `what` names it.
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// Inputs that break a rule, each named by its field.
    #[error("the request is invalid")]
    Invalid(Vec<Invalid>),
    /// The caller may see it but not do this.
    #[error("you are not allowed to do this")]
    Forbidden,
    /// The calling agent was deactivated meanwhile.
    #[error("the agent is not active")]
    AgentInactive,
    /// A free-form message outside the customer-service window (`closed_at`: when it
    /// closed; `None`: the customer never wrote).
    #[error("{}", window_closed(*.closed_at))]
    WindowClosed { closed_at: Option<chrono::DateTime<chrono::Utc>> },
    #[error("the conversation is resolved, which closes it for good; the customer's next message starts a new one")]
    Resolved,
    /// A template to a contact who opted out of automatic messages and templates (since
    /// then); free-form replies inside the window still go.
    #[error(
        "the contact opted out on {since}: no template may be sent to them; a free-form reply inside the customer-service window still may"
    )]
    OptedOut { since: chrono::DateTime<chrono::Utc> },
    #[error("the agent holds {load} conversations that are not resolved, and their capacity is {capacity}")]
    AtCapacity { capacity: u32, load: u32 },
    /// The channel's auto-reply configuration does not compile (the reason).
    #[error("this quick reply cannot be used on this channel until its configuration is fixed: {0}")]
    InvalidConfiguration(String),
    /// What this needs is not connected (why).
    #[error("{0}")]
    Unavailable(&'static str),
    /// Meta refused or could not take an upload.
    #[error("WhatsApp did not take the file: {}", .0.explanation())]
    Upload(switchboard_cloudapi::GraphError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl InboxError {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(vec![Invalid::new(field, message)])
    }

    /// The store's `NotFound` as `what` not found; other errors unchanged.
    fn not_found(what: &'static str) -> impl Fn(StoreError) -> Self {
        move |e| match e {
            StoreError::NotFound => Self::NotFound { what },
            e => e.into(),
        }
    }
}

fn window_closed(closed_at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    match closed_at {
        Some(t) => format!(
            "the customer-service window closed at {}; outside it only an approved template can be sent",
            t.to_rfc3339()
        ),
        None => "the customer has not written yet, so there is no customer-service window; only an approved template \
            can be sent"
            .into(),
    }
}
