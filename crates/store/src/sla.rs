//! SLA targets: each channel's and team's policy, each conversation's due times and
//! outcomes, and the live events that warn of and report breaches.
//!
//! Due times are set by the ingest transaction that creates a conversation
//! ([`IngestTx::start_sla`](crate::IngestTx::start_sla)); a person's first reply and the
//! resolution record whether each target was met, in their own transactions; the
//! scheduler fires the events ([`SlaStore::fire_sla_alerts`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::sla::{SlaOutcome, SlaPolicy, SlaTarget};
use switchboard_domain::{ChannelId, ConversationId};

use crate::{Result, TeamId};

/// A conversation's SLA state: due times (`None`: no such target) and outcomes (`None`:
/// still pending, or no target).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConversationSla {
    pub first_response_due_at: Option<DateTime<Utc>>,
    pub first_response: Option<SlaOutcome>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    pub resolution: Option<SlaOutcome>,
}

/// SLA outcomes counted in a report: first responses of the conversations started,
/// resolutions of those resolved (targets decided only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlaCounts {
    pub first_response_met: u64,
    pub first_response_breached: u64,
    pub resolution_met: u64,
    pub resolution_breached: u64,
}

impl SlaCounts {
    pub fn add(&mut self, other: &Self) {
        self.first_response_met += other.first_response_met;
        self.first_response_breached += other.first_response_breached;
        self.resolution_met += other.resolution_met;
        self.resolution_breached += other.resolution_breached;
    }
}

/// What a fired alert was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlaAlertKind {
    /// The target falls due within the policy's warning time.
    Warning,
    /// The target's due time passed before it was met.
    Breached,
}

/// One live event the scheduler fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlaAlert {
    pub conversation: ConversationId,
    pub target: SlaTarget,
    pub kind: SlaAlertKind,
    pub due_at: DateTime<Utc>,
}

/// Whose policy: a channel's or a team's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlaScope {
    Channel(ChannelId),
    Team(TeamId),
}

#[async_trait]
pub trait SlaStore: Send + Sync {
    /// The policy set on a channel or team (`None`: none). `NotFound` if there is no such
    /// channel or team.
    async fn sla_policy(&self, scope: SlaScope) -> Result<Option<SlaPolicy>>;

    /// Sets (or, with `None`, removes) a channel's or team's policy. It applies to
    /// conversations created from then on. `NotFound` if there is no such channel or team.
    async fn put_sla_policy(&self, scope: SlaScope, policy: Option<&SlaPolicy>, at: DateTime<Utc>) -> Result<()>;

    /// Fires up to `limit` alerts due at `now`, each once: a warning when a pending target
    /// reaches its warning time, a breach when it reaches its due time (a breach only, if
    /// both are past). Each records an inbox event (`sla_warning`, `sla_breached`) in the
    /// same transaction, and a breach marks the target breached.
    async fn fire_sla_alerts(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<SlaAlert>>;
}
