//! Consent to automatic messages and templates (see `switchboard_domain::consent`).
//!
//! - **Keywords** ([`take_keywords`], in the ingest transaction that stores the message):
//!   a customer's message that is exactly an opt-out keyword (`STOP`, …) marks the
//!   contact opted out, with the time and the message, and appends to their history; an
//!   opt-in keyword (`START`, …) opts them back in. The message is stored as any other
//!   but gets no automatic reply of any kind (no greeting, away message or rule), only
//!   the configured confirmation, and only when the state changed (a second `STOP` is
//!   answered by nothing).
//! - **Enforcement**: while opted out, the auto-replies send nothing (rules still label
//!   and assign), no satisfaction survey is queued, an agent's template is refused
//!   (`InboxError::OptedOut`), and the sender fails a job queued before the opt-out (an
//!   automatic message or a template) without sending it
//!   (`sender::OPTED_OUT_ERROR_CODE`). Agents' free-form replies still go: the
//!   conversation shows the contact's `opted_out_at`.
//! - **Agents and the API** ([`record`]): any agent who may see the contact may record an
//!   opt-out (withdrawing is always easy); opting a contact back in by hand is for admins
//!   (the customer can send `START` themselves).

use chrono::{DateTime, Utc};
use switchboard_cloudapi::{OutboundBody, OutboundMessage};
use switchboard_domain::autoreply::RuleRef;
use switchboard_domain::consent::ConsentSource;
use switchboard_domain::consent::{ConsentEvent, ConsentKeywords, ConsentSettings, ConsentSettingsInput, ConsentState};
use switchboard_domain::{AgentId, ContactId, MessageContent, window};
use switchboard_store::{ConsentChange, IngestTx, NewAutoReply, NewConsent, NewOutbound, Store, StoreError};

use crate::AdminError;
use crate::autoreply::Stored;
use crate::inbox::Invalid;

/// The settings in force: the stored ones, else the defaults.
pub async fn settings(store: &dyn Store) -> Result<ConsentSettings, StoreError> {
    Ok(store.consent_settings().await?.unwrap_or_default())
}

/// Replaces the settings from what an admin wrote; every field that breaks a rule is
/// named.
pub async fn set_settings(
    store: &dyn Store,
    input: ConsentSettingsInput,
    at: DateTime<Utc>,
) -> Result<ConsentSettings, AdminError> {
    let settings = ConsentSettings::parse(input)
        .map_err(|e| AdminError::Invalid(e.errors.into_iter().map(|f| Invalid::new(f.path, f.message)).collect()))?;
    store.put_consent_settings(&settings, at).await?;
    tracing::info!(
        opt_out_keywords = settings.opt_out_keywords.len(),
        opt_in_keywords = settings.opt_in_keywords.len(),
        "consent settings set"
    );
    Ok(settings)
}

/// The contact's consent history, oldest first.
pub async fn history(store: &dyn Store, contact: ContactId) -> Result<Vec<ConsentEvent>, AdminError> {
    store.consent_history(contact).await.map_err(|e| match e {
        StoreError::NotFound => AdminError::NotFound { what: "contact" },
        e => e.into(),
    })
}

/// Who records a change by hand, and how.
#[derive(Clone, Copy, Debug)]
pub struct RecordedBy<'a> {
    pub agent: AgentId,
    pub is_admin: bool,
    /// `agent` (the default), `api` or `import`; never `keyword`.
    pub source: ConsentSource,
    pub note: Option<&'a str>,
}

/// What an agent or an API client recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Only admins opt a contact back in by hand.
    #[error("only admins may opt a contact back in; the customer can send an opt-in keyword themselves")]
    OptInForAdmins,
}

/// Records a change of `contact`'s consent by hand (see the module docs for who may).
pub async fn record(
    store: &dyn Store,
    contact: ContactId,
    state: ConsentState,
    by: RecordedBy<'_>,
    at: DateTime<Utc>,
) -> Result<Result<ConsentChange, RecordError>, AdminError> {
    if state == ConsentState::OptedIn && !by.is_admin {
        return Ok(Err(RecordError::OptInForAdmins));
    }
    if by.source == ConsentSource::Keyword {
        return Err(AdminError::Invalid(vec![Invalid::new(
            "source",
            "keyword is recorded only when the customer sends one; use agent, api or import",
        )]));
    }
    let change = store
        .record_consent(&NewConsent {
            contact,
            state,
            source: by.source,
            message_id: None,
            agent_id: Some(by.agent),
            note: by.note,
            at,
        })
        .await
        .map_err(|e| match e {
            StoreError::NotFound => AdminError::NotFound { what: "contact" },
            e => e.into(),
        })?;
    if change == ConsentChange::Changed {
        metrics::counter!("switchboard_consent_changes_total", "state" => state.as_str(), "source" => by.source.as_str())
            .increment(1);
        tracing::info!(contact_id = %contact, agent_id = %by.agent, state = state.as_str(), source = by.source.as_str(), "consent recorded");
    }
    Ok(Ok(change))
}

/// Takes the messages of a round that are a consent keyword out of `stored`: each
/// changes its contact's consent in `tx` and, when the state moved and a confirmation is
/// configured, queues it (the only automatic message such a message gets). Answers how
/// many confirmations were queued.
pub(crate) async fn take_keywords(
    tx: &mut dyn IngestTx,
    keywords: &ConsentKeywords,
    settings: &ConsentSettings,
    stored: &mut Vec<Stored<'_>>,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut queued = 0;
    let mut i = 0;
    while i < stored.len() {
        let Some(state) = keywords.of(&stored[i].message.content) else {
            i += 1;
            continue;
        };
        let m = stored.remove(i);
        let change = tx
            .record_consent(&NewConsent {
                contact: m.contact_id,
                state,
                source: ConsentSource::Keyword,
                message_id: Some(m.message_id),
                agent_id: None,
                note: None,
                at: m.sent_at,
            })
            .await?;
        tracing::info!(contact_id = %m.contact_id, message_id = %m.message_id, wamid = %m.message.wamid, state = state.as_str(), changed = (change == ConsentChange::Changed), "consent keyword");
        if change != ConsentChange::Changed {
            continue;
        }
        metrics::counter!("switchboard_consent_changes_total", "state" => state.as_str(), "source" => "keyword")
            .increment(1);
        let Some(text) = settings.confirmation(state) else { continue };
        if !window::is_open(Some(window::closes_at(m.sent_at, false)), now) {
            continue;
        }
        let body = OutboundBody::Text { body: text.to_owned(), preview_url: false };
        let msg = OutboundMessage { to: m.contact.wa_id.clone(), reply_to: None, body, biz_opaque_callback_data: None };
        if msg.validate().is_err() {
            continue;
        }
        let content = MessageContent::Text { body: text.to_owned() };
        let request = msg.to_json();
        let reply = NewAutoReply {
            message: NewOutbound {
                conversation_id: m.conversation,
                content: &content,
                request: &request,
                sent_by: None,
                idempotency_key: None,
                at: now,
            },
            rule: RuleRef::Consent,
        };
        tx.enqueue_auto_replies(&[reply]).await?;
        queued += 1;
    }
    Ok(queued)
}
