//! Storage ports: what the use cases need from a database, split by aggregate and spoken
//! in domain types. Two backends implement them (store-sqlite, store-postgres); the
//! server picks one, once, by the database URL's scheme, and everything else holds an
//! `Arc<dyn Store>`.
#![forbid(unsafe_code)]

mod agents;
mod assignment;
mod audit;
mod auth;
mod autoreply;
mod channels;
mod consent;
mod contacts;
mod csat;
mod erasure;
mod error;
mod events;
mod inbox_events;
mod ingest;
mod kpis;
mod labels;
mod links;
mod notes;
pub mod nul;
mod outbox;
mod queue;
mod reports;
mod sla;
mod teams;
mod views;
mod webhooks;

pub use agents::{
    Agent, AgentPatch, AgentStore, AgentUpdate, AgentWithToken, ApiToken, Availability, NewToken, TokenId,
};
pub use assignment::{
    AgentPool, AssignmentPolicy, AssignmentStore, AssignmentTx, AutoAssignReport, AutoAssigned, AutoReason,
    ChannelPolicy, InvalidPolicy, PolicySettings, PolicySource, PoolAgent, QueueKey, Returned, Route, TeamPolicy,
    Unanswered, WaitingConversation, auto_assigned_data, pool_agent, returned_data,
};
pub use audit::{AuditAction, AuditEntry, AuditQuery, AuditStore, AuditTarget, NewAuditEntry};
pub use auth::{
    AgentCredentials, AuthStore, FailureKey, Invitation, InvitationOutcome, InvitationPurpose, NewInvitation,
    NewSession, NewSignInFailure, SealedSecret, SecuritySettings, Session, StoredTotp,
};
pub use autoreply::{AutoReplyFacts, AutoReplyStore, ChannelAutoReplies, ChannelAutoRepliesPatch, StoredRule};
pub use channels::{ChannelPatch, ChannelRecord, ChannelStore, NewChannel, StoredTemplate, TemplateUpdate};
pub use consent::{ConsentChange, ConsentStore, NewConsent};
pub use contacts::{
    Contact, ContactPatch, ContactPatchOutcome, ContactQuery, ContactStore, MAX_CONTACT_ATTRIBUTES, merge_attributes,
};
pub use csat::{Csat, CsatAnswerIn, CsatAnswerOutcome, CsatCommentIn, CsatStore, NewSurvey};
pub use erasure::{
    ErasureJob, ErasurePhase, ErasureStore, RetentionCounts, RetentionPolicy, RetentionStep, ScrubLimits,
};
pub use error::StoreError;
pub use events::{Appended, EventLog, EventLogBacklog, EventLogStats, NewEvent, PendingEvent};
pub use inbox_events::{InboxEvent, InboxEventKind, InboxEventStore, InboxWakeups};
pub use ingest::{
    ChannelInfo, INGEST_BATCH_BYTES, InboundOutcome, IngestBatch, IngestStore, IngestTx, Lease, NewAutoReply,
    NewInbound, QueuedReply, RecordReason, RecordedChange, StatusOutcome, StoredChange, UnroutedChange, inbound_rounds,
};
pub use kpis::{ConversationKpis, FirstResponse, KpiStore, ReplyTime, Took};
pub use labels::{AppliedLabel, Label, LabelPatch, LabelStore, NewLabel};
pub use links::{
    Attribution, AttributionSource, ClickCount, ConversationAttribution, Link, LinkCursor, LinkDay, LinkPatch,
    LinkQuery, LinkStore, NewClick, NewLink,
};
pub use notes::{MentionedConversation, NewNote, Note, NoteId, NoteStore};
pub use outbox::{
    Enqueued, NewOutbound, OutboxDepth, OutboxEntry, OutboxJob, OutboxState, OutboxStore, SendOutcome, SendResult,
};
pub use queue::{
    AssignOutcome, AssignRefusal, Assignment, ClaimOutcome, ClaimScope, ConversationState, HistoryCursor, HistoryEntry,
    HistoryKind, QueueStore, StatusChange, StatusChangeOutcome, TeamTransfer, TransferOutcome,
};
pub use reports::{
    CsatAnswerRow, CsatCursor, ReportConversation, ReportCounts, ReportCsat, ReportCursor, ReportDays, ReportGroupKey,
    ReportGrouping, ReportSpan, ReportSpanCounts, ReportStore,
};
pub use sla::{ConversationSla, SlaAlert, SlaAlertKind, SlaCounts, SlaScope, SlaStore};
pub use teams::{InvalidTeamName, Team, TeamId, TeamName, TeamStore};
pub use views::{
    AssigneeFilter, GroupCounts, LastMessage, MIN_SEARCH_CHARS, PREVIEW_CHARS, ViewCounts, ViewCursor, ViewQuery,
    ViewSort, Visibility, WindowFilter,
};
pub use views::{
    ContactView, ConversationCursor, ConversationQuery, ConversationStore, ConversationView, MessageCursor,
    MessageQuery, MessageStore, MessageView, NewOutboundMessage, Page, page_size,
};

pub use webhooks::{
    ContactChange, ContactChangeKind, EndpointHealth, NewWebhookEndpoint, NewWebhookMessage, WebhookAttempt,
    WebhookAttemptView, WebhookDeliveryView, WebhookEndpoint, WebhookEndpointPatch, WebhookFanout, WebhookFanoutBatch,
    WebhookJob, WebhookJobOutcome, WebhookReplay, WebhookStore,
};

use async_trait::async_trait;

/// How many ids a by-ids read ([`ConversationStore::conversations_by_ids`] and the like)
/// binds in one statement at most.
pub const ID_LIST_CHUNK: usize = 500;

/// Whether the database can serve: reachable, and its schema is the one this build expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Readiness {
    /// Migrations this build knows that the database has not applied.
    pub pending_migrations: Vec<i64>,
}

/// The whole store: every port, behind one object.
#[async_trait]
pub trait Store:
    EventLog
    + IngestStore
    + ConversationStore
    + MessageStore
    + AgentStore
    + AuthStore
    + OutboxStore
    + LabelStore
    + LinkStore
    + AutoReplyStore
    + QueueStore
    + TeamStore
    + InboxEventStore
    + ContactStore
    + NoteStore
    + AssignmentStore
    + KpiStore
    + CsatStore
    + ConsentStore
    + WebhookStore
    + ReportStore
    + SlaStore
    + AuditStore
    + ChannelStore
    + ErasureStore
    + Send
    + Sync
    + 'static
{
    /// Applies the embedded migrations that are not applied yet.
    async fn migrate(&self) -> Result<(), StoreError>;

    /// Checks the database answers and the schema is current.
    async fn readiness(&self) -> Result<Readiness, StoreError>;

    /// Which backend this is, for logs and `/readyz` ("sqlite", "postgres").
    fn backend(&self) -> &'static str;

    /// Closes the pool, waiting for connections to be returned.
    async fn close(&self);
}

/// The result type of every store method.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
