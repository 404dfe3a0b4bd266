//! The audit log's use case: who did what, when, from which address.
//!
//! An [`Actor`] comes from the edge (the HTTP layer builds it from the authenticated
//! agent and the client's address; workers and the CLI use [`Actor::SYSTEM`]). To record
//! an action, build the entry with [`Actor::entry`], give it the target and the public
//! representations before and after ([`EntryExt::before`], [`EntryExt::after`]: they go
//! through [`redact`], so a secret-named field never reaches the log), and either:
//!
//! - pass it to a store call that takes a `NewAuditEntry`, which writes it in the same
//!   transaction as the change (failed sign-ins are recorded this way by the store), or
//! - call [`Audit::record`] right after the change succeeded.
//!
//! The log is append-only; entries leave only by age ([`Audit::purge`],
//! `audit.retention_days`), run by the housekeeping task.

use chrono::{DateTime, Utc};
use serde::Serialize;
use switchboard_domain::AgentId;
use switchboard_domain::audit::redact;
use switchboard_store::{AuditAction, AuditEntry, AuditQuery, AuditTarget, NewAuditEntry, Store, StoreError};

/// Who acts, and from where.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Actor {
    /// `None`: the system.
    pub agent: Option<AgentId>,
    /// The client's address (the peer's, or the trusted proxy's `X-Forwarded-For`).
    pub addr: Option<String>,
}

impl Actor {
    /// The system: workers, the scheduler, the CLI.
    pub const SYSTEM: Self = Self { agent: None, addr: None };

    #[must_use]
    pub fn agent(agent: AgentId, addr: impl Into<String>) -> Self {
        Self { agent: Some(agent), addr: Some(addr.into()) }
    }

    /// An entry for `action` by this actor now, without target or before/after yet.
    #[must_use]
    pub fn entry(&self, action: AuditAction) -> NewAuditEntry {
        NewAuditEntry {
            at: Utc::now(),
            actor: self.agent,
            client_addr: self.addr.clone(),
            action,
            target: None,
            before: None,
            after: None,
        }
    }
}

/// Builders for [`NewAuditEntry`].
pub trait EntryExt: Sized {
    /// What the entry is about (`"label"`, the label's id).
    #[must_use]
    fn target(self, kind: &'static str, id: impl std::fmt::Display) -> Self;
    /// The public representation before the change, redacted.
    #[must_use]
    fn before(self, value: &impl Serialize) -> Self;
    /// The public representation after the change, redacted.
    #[must_use]
    fn after(self, value: &impl Serialize) -> Self;
}

fn json(value: &impl Serialize) -> Option<serde_json::Value> {
    serde_json::to_value(value).ok().filter(|v| !v.is_null()).map(redact)
}

impl EntryExt for NewAuditEntry {
    fn target(mut self, kind: &'static str, id: impl std::fmt::Display) -> Self {
        self.target = Some(AuditTarget::new(kind, id));
        self
    }

    fn before(mut self, value: &impl Serialize) -> Self {
        self.before = json(value);
        self
    }

    fn after(mut self, value: &impl Serialize) -> Self {
        self.after = json(value);
        self
    }
}

/// The most entries a purge deletes in one statement.
pub const PURGE_BATCH: u32 = 1_000;

/// The audit use cases over a store. Borrowed: build one per call, for free.
#[derive(Clone, Copy)]
pub struct Audit<'a> {
    store: &'a dyn Store,
}

impl<'a> Audit<'a> {
    #[must_use]
    pub fn new(store: &'a dyn Store) -> Self {
        Self { store }
    }

    /// Appends `entry` after its change committed. A failure is logged (with the action
    /// and target id, never personal data) and not returned: the change stands, and the
    /// caller's answer must say so.
    pub async fn record(&self, entry: NewAuditEntry) {
        if let Err(e) = self.store.record_audit(&entry).await {
            tracing::error!(
                action = entry.action.as_str(),
                target_id = entry.target.as_ref().map_or("", |t| t.id.as_str()),
                error = %e,
                "the audit entry could not be recorded"
            );
        }
    }

    /// Entries matching `query`, newest first.
    pub async fn entries(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        self.store.audit_entries(query).await
    }

    /// Deletes entries older than `before`, in slices of [`PURGE_BATCH`]; how many.
    pub async fn purge(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let n = self.store.purge_audit(before, PURGE_BATCH).await?;
            total += n;
            if n < u64::from(PURGE_BATCH) {
                return Ok(total);
            }
            tokio::task::yield_now().await;
        }
    }
}
