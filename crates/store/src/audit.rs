//! The audit log: append-only entries of who did what, when and from where. No port
//! updates an entry; the only deletion is by age ([`AuditStore::purge_audit`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use switchboard_domain::AgentId;

pub use switchboard_domain::{AuditAction, AuditTarget};

use crate::Result;

/// An entry to append. Build it with [`NewAuditEntry::new`]; `before` and `after` are
/// public representations, already redacted (`switchboard_domain::audit::redact`).
#[derive(Clone, Debug, PartialEq)]
pub struct NewAuditEntry {
    pub at: DateTime<Utc>,
    /// `None`: the system (a worker, the CLI).
    pub actor: Option<AgentId>,
    /// The client's address, when the action came through HTTP.
    pub client_addr: Option<String>,
    pub action: AuditAction,
    pub target: Option<AuditTarget>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// A stored entry.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    /// Increases with every entry appended: the listing's order and its cursor.
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: Option<AgentId>,
    pub client_addr: Option<String>,
    pub action: AuditAction,
    /// The target's type and id, as stored.
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Which entries to list, newest first; every filter given must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub actor: Option<AgentId>,
    pub action: Option<AuditAction>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// Entries at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Entries before this time.
    pub until: Option<DateTime<Utc>>,
    /// Entries older than the entry with this id (the previous page's last).
    pub before_id: Option<i64>,
    pub limit: u32,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an entry (in a transaction of its own); its id.
    async fn record_audit(&self, entry: &NewAuditEntry) -> Result<i64>;

    /// Entries matching `query`, newest first, at most `query.limit`.
    async fn audit_entries(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>>;

    /// Deletes up to `limit` entries older than `before`, the oldest first; how many.
    async fn purge_audit(&self, before: DateTime<Utc>, limit: u32) -> Result<u64>;
}
