//! What admins configure: the auto-replies (a channel's settings, the shared quick replies,
//! the keyword rules and their order); agents and their API tokens; teams and routing;
//! click-to-chat links; labels and contacts' details. Independent of HTTP: the API's
//! handlers parse a request, call one of these and map the answer; the console will call
//! the same.
//!
//! Every auto-reply write is validated against the whole configuration it produces (on
//! every channel it touches) with the engine's own compiler, before it is stored. Problems
//! in the body written are [`AdminError::Invalid`] naming the field (relative to the body:
//! `weekly.mon[0].end`, `matcher.pattern`); a write that breaks another part of the
//! configuration (deleting a quick reply a rule sends, removing the hours an away message
//! needs) is [`AdminError::BreaksConfiguration`], which says which.

mod agents;
mod autoreply;
mod directory;
mod links;
mod preview;
mod teams;

use switchboard_store::{Store, StoreError};

use crate::inbox::Invalid;
use crate::wake::Wake;

pub use agents::{CreatedToken, UpdatedAgent, hash_token, new_token};
pub use autoreply::SettingsInForce;
pub use links::random_bytes;
pub use preview::{QuickReplyPreview, QuickReplySample, RulesPreview, RulesSample};

/// The admins' configuration use cases over a store, waking workers through `wake`.
/// Borrowed: build one per call, for free.
#[derive(Clone, Copy)]
pub struct Config<'a> {
    store: &'a dyn Store,
    wake: &'a Wake,
}

impl<'a> Config<'a> {
    #[must_use]
    pub fn new(store: &'a dyn Store, wake: &'a Wake) -> Self {
        Self { store, wake }
    }
}

/// Why an admin's change did nothing.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// It does not exist (or no longer): `what` names it.
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// Inputs that break a rule, each named by its field (relative to the body).
    #[error("the request is invalid")]
    Invalid(Vec<Invalid>),
    /// Something with the same identity (`what`) already exists.
    #[error("{what} already exists")]
    Conflict { what: &'static str },
    /// The change would break the auto-reply configuration elsewhere: the problems, each
    /// `path: message`.
    #[error("this change would break the auto-reply configuration: {}", .0.join("; "))]
    BreaksConfiguration(Vec<String>),
    /// The keyword rules changed (one added or removed) while they were being reordered.
    #[error("the rules changed meanwhile; list them again and resend the order")]
    RulesChanged,
    /// A channel's auto-reply configuration in force is one the engine cannot compile (it
    /// was stored before a rule changed): the problems.
    #[error("the channel's auto-reply configuration is invalid: {0}")]
    InvalidConfiguration(String),
    /// Refused: it would leave no active admin.
    #[error("this is the last active admin: make another agent an admin first")]
    LastAdmin,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AdminError {
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
