//! Consent to automatic messages and templates: the settings (keyword lists,
//! confirmations), each contact's state (`Contact::opted_out_at`) and history. A keyword's
//! change is recorded by the ingest transaction
//! ([`IngestTx::record_consent`](crate::IngestTx::record_consent)); an agent's or an API
//! client's through [`ConsentStore::record_consent`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::consent::{ConsentEvent, ConsentSettings, ConsentSource, ConsentState};
use switchboard_domain::{AgentId, ContactId, MessageId};

use crate::Result;

/// A change of a contact's consent, to record.
#[derive(Clone, Copy, Debug)]
pub struct NewConsent<'a> {
    pub contact: ContactId,
    pub state: ConsentState,
    pub source: ConsentSource,
    /// The customer's message that carried the keyword.
    pub message_id: Option<MessageId>,
    /// The agent who recorded it.
    pub agent_id: Option<AgentId>,
    pub note: Option<&'a str>,
    pub at: DateTime<Utc>,
}

/// What recording a change did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsentChange {
    /// The contact's state moved; an entry was appended to their history.
    Changed,
    /// The contact was in that state already: nothing changed, nothing appended.
    Unchanged,
}

#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// The settings in force (`None`: never set, the defaults apply).
    async fn consent_settings(&self) -> Result<Option<ConsentSettings>>;

    /// Replaces the settings, and moves the auto-reply configuration's version (the
    /// ingest workers reload the keywords).
    async fn put_consent_settings(&self, settings: &ConsentSettings, at: DateTime<Utc>) -> Result<()>;

    /// The contact's consent history, oldest first. `NotFound` if no such contact.
    async fn consent_history(&self, contact: ContactId) -> Result<Vec<ConsentEvent>>;

    /// Moves the contact to `c.state` and appends to their history in one transaction,
    /// unless they are in that state already. `NotFound` if no such contact.
    async fn record_consent(&self, c: &NewConsent<'_>) -> Result<ConsentChange>;
}
