use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::autoreply::RuleRef;
use switchboard_domain::inbound::{InboundContact, InboundMessage, StatusReport};
use switchboard_domain::{
    AgentId, ChannelId, ContactId, ConversationId, DeliveryState, EventId, JobId, MessageId, PhoneNumberId, TeamId,
    WaId,
};

use crate::{AutoReplyFacts, NewOutbound, PendingEvent, Result, StoreError};

/// One of our WhatsApp business numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelInfo {
    pub id: ChannelId,
    pub phone_number_id: PhoneNumberId,
    pub name: String,
}

/// Roughly the most webhook bodies, in bytes, one ingest batch reads into memory (the
/// last event claimed may pass it): a batch of Meta's largest deliveries (3 MiB each)
/// stops at about a dozen instead of `ingest.batch_size` of them.
pub const INGEST_BATCH_BYTES: i64 = 32 * 1024 * 1024;

/// How many auto-reply jobs [`IngestTx::enqueue_auto_replies_leasing`] may insert
/// already leased, and until when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The lease's end, in whole milliseconds: the leased jobs' claim token
    /// ([`OutboxJob::leased_until`](crate::OutboxJob::leased_until)).
    pub until: DateTime<Utc>,
    pub at_most: usize,
}

impl Lease {
    /// Leases nothing: every job waits for a claim.
    pub const NONE: Self = Self { until: DateTime::<Utc>::UNIX_EPOCH, at_most: 0 };

    /// Which of `replies` may be leased: the first reply of each conversation in the
    /// slice (the ones behind it wait for it), at most `at_most` of them. The store
    /// leases those whose conversation has no other job ready.
    #[must_use]
    pub fn candidates(&self, replies: &[NewAutoReply<'_>]) -> Vec<bool> {
        let mut left = self.at_most;
        let mut seen = HashSet::with_capacity(replies.len().min(self.at_most));
        replies
            .iter()
            .map(|r| {
                if left == 0 || !seen.insert(r.message.conversation_id) {
                    return false;
                }
                left -= 1;
                true
            })
            .collect()
    }
}

/// An auto-reply to queue ([`IngestTx::enqueue_auto_replies_leasing`]): the message, and
/// the rule that sends it.
#[derive(Clone, Copy, Debug)]
pub struct NewAutoReply<'a> {
    pub message: NewOutbound<'a>,
    pub rule: RuleRef,
}

/// An auto-reply queued by [`IngestTx::enqueue_auto_replies_leasing`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueuedReply {
    pub message_id: MessageId,
    /// Its outbox job's id, when the job was inserted leased: the caller sends it.
    pub leased_job: Option<JobId>,
}

/// Applies parsed webhook deliveries.
#[async_trait]
pub trait IngestStore: Send + Sync {
    /// Opens a write transaction and claims, inside it, up to `limit` pending events in
    /// arrival order, each while the bodies claimed before it total less than
    /// [`INGEST_BATCH_BYTES`] (so at least one, whatever its size). `None` when nothing is
    /// pending. Everything done through the returned transaction, including marking the
    /// events applied, commits or rolls back together, so a crash applies an event
    /// entirely or not at all.
    ///
    /// Instances sharing one PostgreSQL database take turns (a transaction-scoped
    /// advisory lock), so events are applied one batch at a time, in arrival order.
    async fn begin_ingest(&self, limit: u32) -> Result<Option<IngestBatch>>;

    /// Marks an event that cannot be applied, even alone, as failed (in its own
    /// transaction), so it stops blocking the log. Its body stays for inspection.
    async fn mark_event_failed(&self, id: EventId, error: &str, at: DateTime<Utc>) -> Result<()>;

    /// Creates the channel for a phone number id, or renames it. Idempotent.
    async fn upsert_channel(
        &self,
        phone_number_id: &PhoneNumberId,
        name: &str,
        at: DateTime<Utc>,
    ) -> Result<ChannelInfo>;

    async fn channels(&self) -> Result<Vec<ChannelInfo>>;

    /// `no_channel` changes recorded for `phone_number_id`, oldest first, to replay them
    /// once the channel exists.
    async fn unrouted_changes(&self, phone_number_id: &PhoneNumberId, limit: u32) -> Result<Vec<UnroutedChange>>;

    /// Forgets recorded changes (after they were replayed into the event log).
    async fn delete_recorded_changes(&self, ids: &[i64]) -> Result<()>;

    /// Changes recorded for `reason`, oldest first (admin reporting).
    async fn recorded_changes(&self, reason: RecordReason, limit: u32) -> Result<Vec<StoredChange>>;
}

/// A `no_channel` change kept for replay ([`IngestStore::unrouted_changes`]).
#[derive(Clone, Debug, PartialEq)]
pub struct UnroutedChange {
    /// Its row, for [`IngestStore::delete_recorded_changes`].
    pub id: i64,
    /// The change's `value`.
    pub value: serde_json::Value,
}

/// A change as recorded ([`IngestStore::recorded_changes`]).
#[derive(Clone, Debug, PartialEq)]
pub struct StoredChange {
    pub event_id: EventId,
    /// The webhook field it came in.
    pub field: String,
    /// The change's `value`.
    pub value: serde_json::Value,
}

/// An ingest batch begun ([`IngestStore::begin_ingest`]): its write transaction, and the
/// events claimed inside it.
pub struct IngestBatch {
    pub tx: Box<dyn IngestTx>,
    pub events: Vec<PendingEvent>,
}

/// A customer's message, ready to store.
#[derive(Clone, Copy, Debug)]
pub struct NewInbound<'a> {
    pub event_id: EventId,
    pub channel: ChannelId,
    /// The sender as `value.contacts[]` described them (or just their wa_id).
    pub contact: &'a InboundContact,
    pub message: &'a InboundMessage,
    /// When the delivery reached us.
    pub received_at: DateTime<Utc>,
    /// When the customer-service window closes after this message; `None` if this
    /// message does not open one (system notices). Stored only if later than the
    /// conversation's current close time.
    pub window_closes_at: Option<DateTime<Utc>>,
}

/// Splits customers' messages into rounds that [`IngestTx::apply_inbound_batch`] can
/// take: in each round no contact (`wa_id`) and no wamid on a channel appears twice, and
/// a contact's messages keep their order (its k-th message lands in a later round than
/// its (k-1)-th). Answers indexes into `batch`. Messages of different contacts share
/// rounds, so a batch of distinct contacts is one round.
#[must_use]
pub fn inbound_rounds(batch: &[NewInbound<'_>]) -> Vec<Vec<usize>> {
    use std::collections::HashMap;
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    // The first round each contact's and each wamid's next message may join.
    let mut next_contact: HashMap<&str, usize> = HashMap::with_capacity(batch.len());
    let mut next_wamid: HashMap<(ChannelId, &str), usize> = HashMap::with_capacity(batch.len());
    for (i, m) in batch.iter().enumerate() {
        let contact = m.contact.wa_id.as_str();
        let wamid = (m.channel, m.message.wamid.as_str());
        let round = next_contact.get(contact).copied().unwrap_or(0).max(next_wamid.get(&wamid).copied().unwrap_or(0));
        if round == rounds.len() {
            rounds.push(Vec::new());
        }
        rounds[round].push(i);
        next_contact.insert(contact, round + 1);
        next_wamid.insert(wamid, round + 1);
    }
    rounds
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboundOutcome {
    /// The wamid was already stored on this channel: nothing changed.
    Duplicate,
    Stored {
        message_id: MessageId,
        conversation_id: ConversationId,
        contact_id: ContactId,
        new_contact: bool,
        new_conversation: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusOutcome {
    /// The message moved from `from` to `to`.
    Applied { message_id: MessageId, from: DeliveryState, to: DeliveryState },
    /// The report was older news (statuses arrive out of order): its timestamp was
    /// recorded if missing, the state did not move.
    Stale { message_id: MessageId },
    /// No message with this wamid yet: the report is kept and applied when one appears.
    Pending,
}

/// Why a change was recorded rather than applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordReason {
    /// A webhook field other than `messages` (account_update, template status, …).
    Field,
    /// A `messages` change for a phone_number_id with no channel.
    NoChannel,
    /// An item too broken to type.
    Malformed,
    /// A status value we do not act on.
    UnknownStatus,
    /// Errors Meta attached to a whole change.
    ChangeErrors,
    /// A message with no sender we could identify.
    NoSender,
}

impl RecordReason {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Field => "field",
            Self::NoChannel => "no_channel",
            Self::Malformed => "malformed",
            Self::UnknownStatus => "unknown_status",
            Self::ChangeErrors => "change_errors",
            Self::NoSender => "no_sender",
        }
    }
}

/// A change kept raw.
#[derive(Debug)]
pub struct RecordedChange<'a> {
    pub event_id: EventId,
    pub reason: RecordReason,
    pub field: &'a str,
    pub phone_number_id: Option<&'a str>,
    pub waba_id: Option<&'a str>,
    pub value: &'a serde_json::Value,
    pub at: DateTime<Utc>,
}

/// The write transaction of one ingest batch. Dropping it without `commit` rolls back.
#[async_trait]
pub trait IngestTx: Send {
    /// Stores customers' messages set-wise, each exactly as [`apply_inbound`](Self::apply_inbound)
    /// would, and answers their outcomes in the same order. No two messages of `batch`
    /// may share a contact (`wa_id`) or a wamid on a channel ([`inbound_rounds`] splits a
    /// batch so): a contact's messages are applied one round after another, so each sees
    /// the one before. A few statements per call, whatever its length.
    async fn apply_inbound_batch(&mut self, batch: &[NewInbound<'_>]) -> Result<Vec<InboundOutcome>>;

    /// Stores a customer's message: upserts the contact (profile name and user ids move
    /// to the latest seen), reuses the contact's conversation that is not resolved or
    /// starts one, inserts the message unless its wamid is known, and moves the
    /// conversation's activity times and window forward.
    async fn apply_inbound(&mut self, m: &NewInbound<'_>) -> Result<InboundOutcome> {
        let outcomes = self.apply_inbound_batch(std::slice::from_ref(m)).await?;
        outcomes.into_iter().next().ok_or_else(|| StoreError::Other(anyhow::anyhow!("no outcome for a message")))
    }

    /// Applies a status report to our outbound message with that wamid, forward only
    /// (`DeliveryState::advances_to`); a failure records Meta's code, title and details.
    ///
    /// A report for an unknown wamid that names our message `sent_as` (its callback
    /// data) when that message, on this channel, has no wamid yet: Meta accepted a send
    /// whose outcome was never recorded (the sender died, or is still recording it). The
    /// message takes the wamid and state `sent` (then the report), and its outbox job is
    /// deleted, as a `Sent` outcome would. Any other report for an unknown wamid is kept
    /// as pending.
    async fn apply_status(
        &mut self,
        channel: ChannelId,
        report: &StatusReport,
        sent_as: Option<MessageId>,
        received_at: DateTime<Utc>,
    ) -> Result<StatusOutcome>;

    async fn record_change(&mut self, change: &RecordedChange<'_>) -> Result<()>;

    /// Marks events applied. Call once per batch, before `commit`.
    async fn mark_applied(&mut self, events: &[EventId], at: DateTime<Utc>) -> Result<()>;

    async fn commit(self: Box<Self>) -> Result<()>;

    /// What the auto-reply engine needs to know about the history of each
    /// `(conversation, contact, inbound message)`, as of just after the message was stored
    /// (see [`AutoReplyFacts`]), in the same order. One statement for the whole slice.
    async fn auto_reply_facts_batch(
        &mut self,
        of: &[(ConversationId, ContactId, MessageId)],
        now: DateTime<Utc>,
    ) -> Result<Vec<AutoReplyFacts>>;

    /// [`auto_reply_facts_batch`](Self::auto_reply_facts_batch) for one message.
    async fn auto_reply_facts(
        &mut self,
        conversation: ConversationId,
        contact: ContactId,
        message: MessageId,
        now: DateTime<Utc>,
    ) -> Result<AutoReplyFacts> {
        let facts = self.auto_reply_facts_batch(&[(conversation, contact, message)], now).await?;
        facts.into_iter().next().ok_or_else(|| StoreError::Other(anyhow::anyhow!("no facts for a message")))
    }

    /// Queues auto-replies, each message exactly like
    /// [`OutboxStore::enqueue_outbound`](crate::OutboxStore::enqueue_outbound) (a `queued`
    /// message and its outbox job) inside this transaction, marks each message with the
    /// rule that sent it (its [`RuleRef`] string) and logs it in the auto-reply log the
    /// facts read. Replies to one conversation are sent in slice order. Every
    /// `idempotency_key` and `sent_by` must be `None` (a rule sends them, not an agent).
    /// `NotFound` if a conversation does not exist: roll the transaction back. A few
    /// statements for the whole slice.
    ///
    /// With a [`Lease`], up to `lease.at_most` jobs are inserted already leased until
    /// `lease.until` (attempt 1, exactly as a claim leaves them): those a claim would
    /// offer first, that is the first reply of its conversation in the slice, when its
    /// conversation has no other job ready to go. The caller hands them to its own sender
    /// once the transaction is committed, which saves the claim; should that sender never
    /// report, the lease runs out and any sender claims them as usual.
    async fn enqueue_auto_replies_leasing(
        &mut self,
        replies: &[NewAutoReply<'_>],
        lease: Lease,
    ) -> Result<Vec<QueuedReply>>;

    /// [`enqueue_auto_replies_leasing`](Self::enqueue_auto_replies_leasing) with no lease.
    async fn enqueue_auto_replies(&mut self, replies: &[NewAutoReply<'_>]) -> Result<Vec<MessageId>> {
        let queued = self.enqueue_auto_replies_leasing(replies, Lease::NONE).await?;
        Ok(queued.into_iter().map(|q| q.message_id).collect())
    }

    /// [`enqueue_auto_replies`](Self::enqueue_auto_replies) for one reply.
    async fn enqueue_auto_reply(&mut self, m: &NewOutbound<'_>, rule: RuleRef) -> Result<MessageId> {
        let ids = self.enqueue_auto_replies(&[NewAutoReply { message: *m, rule }]).await?;
        ids.into_iter().next().ok_or_else(|| StoreError::Other(anyhow::anyhow!("no id for an auto-reply")))
    }

    /// Logs that `rule` fired in `conversation` without sending a
    /// message (it only labelled or assigned), so its cooldown holds. Such firings do not
    /// count towards the per-contact hourly cap, which counts messages.
    async fn record_rule_fired(&mut self, conversation: ConversationId, rule: RuleRef, at: DateTime<Utc>)
    -> Result<()>;

    /// Assigns the conversation to `agent` (a keyword rule's action). False, and nothing
    /// changes, if the agent does not exist or is not active, or the conversation does
    /// not exist.
    async fn assign_conversation(
        &mut self,
        conversation: ConversationId,
        agent: AgentId,
        at: DateTime<Utc>,
    ) -> Result<bool>;

    /// The conversation's assignee, if they are an active member of `team` (a keyword
    /// rule's "assign to team" leaves it with them; see
    /// `switchboard_core::assignment::assign_to_team`).
    async fn team_assignee(&mut self, conversation: ConversationId, team: TeamId) -> Result<Option<AgentId>>;

    /// Routes the conversation to `team` (a keyword rule's "assign to team"): a transfer
    /// by nobody, recorded in its history, whose assignee, if not in the team, is
    /// unassigned. False, and nothing changes, if the conversation is missing or resolved,
    /// its effective team is `team` already, or the team no longer exists.
    async fn route_to_team(&mut self, conversation: ConversationId, team: TeamId, at: DateTime<Utc>) -> Result<bool>;

    /// The online, active members of `team` with their loads and places in the rotation
    /// (their `teams` is just `team`). Reads without locking the agents (the assigner
    /// locks them, and the ingest transaction must not wait on it): two assignments
    /// racing may both count one conversation less, never more.
    async fn team_pool(&mut self, team: TeamId) -> Result<Vec<crate::PoolAgent>>;

    /// Attributes a new conversation to the enabled link its first message came from (a
    /// reference code, or an ad's `source_id`): records the link and how on the
    /// conversation (unless it is attributed already), puts the link's labels on it, and
    /// for a reference code sets the message's `text` (what agents see) to the text
    /// without it; the message's content and raw item keep the original. `None`, and
    /// nothing changes, when no enabled link has that code or ad.
    async fn attribute_conversation(
        &mut self,
        a: &crate::Attribution<'_>,
    ) -> Result<Option<switchboard_domain::LinkId>>;

    /// Records a tap on a survey choice on the conversation it names: the message is
    /// stored in that (resolved) conversation, which stays resolved and waits for no one,
    /// and its rating is set (a later tap within the response window changes it). Only
    /// the surveyed contact's tap on this channel, sent within the window, with a score on
    /// the survey's scale counts; anything else is [`CsatAnswerOutcome::NotOurs`] and
    /// nothing is stored.
    async fn record_csat_answer(&mut self, a: &crate::CsatAnswerIn<'_>) -> Result<crate::CsatAnswerOutcome>;

    /// Sets the SLA due times of conversations this transaction created, under their
    /// effective team's policy, else their channel's (nothing when neither has one).
    async fn start_sla(&mut self, conversations: &[ConversationId]) -> Result<()>;

    /// Notes that the survey's follow-up question was asked: the contact's next text is
    /// its comment.
    async fn csat_comment_asked(&mut self, conversation: ConversationId, at: DateTime<Utc>) -> Result<()>;

    /// Which of `wa_ids` have, on which channel, a survey waiting for a comment (asked,
    /// not given, within its window at `now`, and no conversation open since). One
    /// statement.
    async fn csat_comments_awaited(&mut self, wa_ids: &[&WaId], now: DateTime<Utc>) -> Result<Vec<(ChannelId, WaId)>>;

    /// Records a text as the comment of the contact's survey that waits for one (the
    /// latest), storing the message in that conversation. `None`, and nothing stored,
    /// when no survey waits for one.
    async fn record_csat_comment(&mut self, c: &crate::CsatCommentIn<'_>) -> Result<Option<ConversationId>>;

    /// Records a change of the contact's consent a keyword asked for
    /// ([`ConsentStore::record_consent`](crate::ConsentStore::record_consent) inside this
    /// transaction).
    async fn record_consent(&mut self, c: &crate::NewConsent<'_>) -> Result<crate::ConsentChange>;

    /// Puts labels on a conversation, by the system (no agent); labels already on it
    /// stay as they were, unknown label ids are ignored.
    async fn add_labels(
        &mut self,
        conversation: ConversationId,
        labels: &[switchboard_domain::LabelId],
        at: DateTime<Utc>,
    ) -> Result<()>;
}
