use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::message::{MessageContent, StatusError};
use switchboard_domain::{AgentId, ChannelId, ConversationId, JobId, MessageId, PhoneNumberId, WaId, Wamid};

use crate::Result;

/// A message to send, written together with the message record agents see.
#[derive(Clone, Copy, Debug)]
pub struct NewOutbound<'a> {
    pub conversation_id: ConversationId,
    /// What agents see in the conversation (state `queued` until sent).
    pub content: &'a MessageContent,
    /// The Graph API request body, exactly as it will be POSTed.
    pub request: &'a serde_json::Value,
    pub sent_by: Option<AgentId>,
    /// A client's `Idempotency-Key`, scoped to `sent_by`: the same key returns the
    /// message created the first time instead of creating another.
    pub idempotency_key: Option<&'a str>,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Enqueued {
    pub message_id: MessageId,
    /// False when an earlier request with the same idempotency key created it.
    pub created: bool,
}

/// A claimed send, leased to one sender until its lease expires.
#[derive(Clone, Debug)]
pub struct OutboxJob {
    pub id: JobId,
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    pub channel_id: ChannelId,
    pub phone_number_id: PhoneNumberId,
    /// The recipient (the conversation's contact).
    pub to: WaId,
    pub request: serde_json::Value,
    /// Attempts so far, including this one.
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    /// The end of this claim's lease, exactly as stored. It is the claim's
    /// token too: a later claim of the job always leases it until later, so an outcome
    /// carrying it back ([`SendResult::leased_until`]) names the claim it belongs to.
    pub leased_until: DateTime<Utc>,
    /// The recipient opted out and this is an automatic message or a template: the
    /// sender fails it without sending (checked at the claim, for jobs queued before the
    /// opt-out).
    pub withheld: bool,
}

/// How a send ended.
#[derive(Clone, Debug)]
pub enum SendOutcome {
    /// Meta accepted it: the message becomes `sent` with its wamid (and status reports
    /// that arrived first are applied); the job is done.
    Sent { wamid: Wamid },
    /// Try again at `run_at` (the lease is released).
    Retry { run_at: DateTime<Utc>, error: String },
    /// It will not be sent: the message becomes `failed` with Meta's reason. `dead`
    /// keeps the job as a dead letter that an admin can requeue (retries used up);
    /// otherwise the failure is final.
    Failed { error: StatusError, dead: bool },
}

#[derive(Clone, Debug)]
pub struct SendResult {
    pub job_id: JobId,
    pub message_id: MessageId,
    /// The claim's [`OutboxJob::leased_until`]: `Retry` and `Failed` apply only while
    /// the job is still leased by that claim.
    pub leased_until: DateTime<Utc>,
    pub outcome: SendOutcome,
}

impl SendResult {
    #[must_use]
    pub fn of(job: &OutboxJob, outcome: SendOutcome) -> Self {
        Self { job_id: job.id, message_id: job.message_id, leased_until: job.leased_until, outcome }
    }

    /// `(job, message, wamid)` when Meta accepted the message: the outcomes stores record
    /// set-wise, for a whole batch at once.
    #[must_use]
    pub fn sent(&self) -> Option<(JobId, MessageId, &Wamid)> {
        match &self.outcome {
            SendOutcome::Sent { wamid } => Some((self.job_id, self.message_id, wamid)),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(rename_all = "snake_case"))]
pub enum OutboxState {
    /// Waiting to be sent (or to be retried).
    Ready,
    /// Retries used up: a dead letter.
    Dead,
    /// Failed for good (Meta refused it).
    Failed,
}

impl OutboxState {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Dead => "dead",
            Self::Failed => "failed",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ready" => Some(Self::Ready),
            "dead" => Some(Self::Dead),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// An outbox row, for admins.
#[derive(Clone, Debug)]
pub struct OutboxEntry {
    pub id: JobId,
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    pub state: OutboxState,
    pub attempts: u32,
    pub run_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The transactional outbox: everything Switchboard sends goes through it.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Records the message (state `queued`) and its outbox job in ONE transaction.
    /// `NotFound` if the conversation does not exist.
    async fn enqueue_outbound(&self, m: &NewOutbound<'_>) -> Result<Enqueued>;

    /// [`claim_outbox_reconciling`](Self::claim_outbox_reconciling) with no grace: a job
    /// whose lease expired is claimed again at once.
    async fn claim_outbox(&self, limit: u32, now: DateTime<Utc>, lease_until: DateTime<Utc>) -> Result<Vec<OutboxJob>> {
        self.claim_outbox_reconciling(limit, now, lease_until, chrono::Duration::zero()).await
    }

    /// Claims up to `limit` jobs that are due (`run_at <= now`) and not leased, leasing
    /// them until `lease_until` and counting the attempt. A job whose lease expired (its
    /// sender died or stalled, maybe after Meta accepted the message) is claimed again
    /// only `grace` after its lease ended, so that a status webhook naming it can
    /// complete it first ([`IngestTx::apply_status`](crate::IngestTx::apply_status)).
    /// Only the oldest unsent job of each conversation is eligible, so one
    /// conversation's messages go out in the order they were queued even with many
    /// senders. PostgreSQL: `FOR UPDATE SKIP LOCKED`.
    async fn claim_outbox_reconciling(
        &self,
        limit: u32,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        grace: chrono::Duration,
    ) -> Result<Vec<OutboxJob>>;

    /// Records outcomes in one transaction. `Sent` applies to a job that still exists,
    /// whoever holds it (Meta has the message); `Retry` and `Failed` only to a job still
    /// leased by the claim they carry ([`SendResult::leased_until`]).
    async fn complete_outbox(&self, results: &[SendResult], at: DateTime<Utc>) -> Result<()>;

    /// Jobs in `state`, oldest first.
    async fn list_outbox(&self, state: OutboxState, limit: u32) -> Result<Vec<OutboxEntry>>;

    /// Puts a dead (or failed) job back to ready with a fresh attempt count, and its
    /// message back to `queued`. `NotFound` if no such job in those states.
    async fn requeue_outbox(&self, id: JobId, now: DateTime<Utc>) -> Result<()>;

    /// [`requeue_outbox`](Self::requeue_outbox) for every job in `state` (dead or
    /// failed; `None`: both) in one transaction; how many. Jobs in `Ready` are not touched.
    async fn requeue_all_outbox(&self, state: Option<OutboxState>, now: DateTime<Utc>) -> Result<u64>;
    /// How many jobs are in each state (for `/metrics`).
    async fn outbox_depth(&self) -> Result<OutboxDepth>;
}

/// Jobs per state: the outbox's depth.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxDepth {
    pub ready: u64,
    pub dead: u64,
    pub failed: u64,
}

impl OutboxDepth {
    /// From `(state, count)` rows; an unknown state is ignored.
    #[must_use]
    pub fn from_counts(rows: impl IntoIterator<Item = (String, i64)>) -> Self {
        let mut depth = Self::default();
        for (state, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            match OutboxState::parse(&state) {
                Some(OutboxState::Ready) => depth.ready = n,
                Some(OutboxState::Dead) => depth.dead = n,
                Some(OutboxState::Failed) => depth.failed = n,
                None => {}
            }
        }
        depth
    }
}
