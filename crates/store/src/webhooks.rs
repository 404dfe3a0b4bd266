//! Outgoing webhooks: endpoints, the fan-out of recorded events into messages and
//! delivery jobs, the delivery jobs' claim and outcomes, the attempt log, and replays.
//!
//! Events are not written by the use cases: the inbox events (triggers, in the change's
//! transaction) and `contact_changes` (the same, for contacts) are their source. The
//! fan-out reads what was recorded after its cursor ([`WebhookStore::webhook_fanout_batch`])
//! and the worker commits the messages it built, the cursor's move and the consumed
//! contact changes together ([`WebhookStore::commit_webhook_fanout`]), guarded by a
//! generation number so two instances never fan out the same events twice.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::{ContactId, WebhookEndpointId, WebhookEventType, WebhookMessageId, WebhookUrl};

use crate::{InboxEvent, Result, SealedSecret};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: WebhookEndpointId,
    pub url: WebhookUrl,
    pub description: String,
    /// Empty: every type.
    pub event_types: Vec<WebhookEventType>,
    pub enabled: bool,
    /// Why it was disabled (by the system: a 410, days of failures; or by an admin).
    pub disabled_reason: Option<String>,
    pub secret: SealedSecret,
    /// The secret before the last rotation and until when it still signs.
    pub previous_secret: Option<(SealedSecret, DateTime<Utc>)>,
    /// The first failed attempt since the last success.
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct NewWebhookEndpoint {
    pub id: WebhookEndpointId,
    pub url: WebhookUrl,
    pub description: String,
    pub event_types: Vec<WebhookEventType>,
    pub secret: SealedSecret,
    pub at: DateTime<Utc>,
}

/// Changes to an endpoint; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct WebhookEndpointPatch {
    pub url: Option<WebhookUrl>,
    pub description: Option<String>,
    pub event_types: Option<Vec<WebhookEventType>>,
    /// `Some(true)` also clears the disabled reason and the failure streak;
    /// `Some(false)` records "disabled by an admin".
    pub enabled: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContactChangeKind {
    Created,
    Updated,
    /// Opted out or back in (recorded with the change, `ConsentStore`; the kind is the
    /// new state, `opted_out` or `opted_in`).
    ConsentChanged(switchboard_domain::consent::ConsentState),
}

/// A contact was created or changed (recorded by triggers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactChange {
    pub id: i64,
    pub contact_id: ContactId,
    pub kind: ContactChangeKind,
    pub at: DateTime<Utc>,
}

/// What the fan-out has to do: the events after the cursor, the contact changes, the
/// enabled endpoints.
#[derive(Clone, Debug)]
pub struct WebhookFanoutBatch {
    /// Hand back to [`WebhookStore::commit_webhook_fanout`].
    pub generation: i64,
    /// The last inbox event already fanned out.
    pub cursor: i64,
    /// Empty when no endpoint is enabled: the cursor then stays where it is, and the
    /// first endpoint enabled moves it to the newest event (events recorded while nobody
    /// subscribes are not sent later), so an idle fan-out writes nothing.
    pub events: Vec<InboxEvent>,
    pub contact_changes: Vec<ContactChange>,
    pub endpoints: Vec<WebhookEndpoint>,
}

/// One event as it will be sent, and the endpoints it goes to.
#[derive(Clone, Debug)]
pub struct NewWebhookMessage {
    pub id: WebhookMessageId,
    pub event_type: WebhookEventType,
    /// The exact body (signed as is).
    pub payload: String,
    /// What it is about (a conversation's id, or a contact's for contact events): one
    /// endpoint's deliveries with the same key go one after the other, in order; those
    /// with different keys side by side.
    pub order_key: Option<uuid::Uuid>,
    pub endpoints: Vec<WebhookEndpointId>,
}

#[derive(Clone, Debug)]
pub struct WebhookFanout {
    /// The batch's generation: the commit applies only if nobody committed since.
    pub generation: i64,
    /// The new cursor (the last inbox event consumed).
    pub cursor: i64,
    /// The contact changes consumed (deleted).
    pub contact_changes: Vec<i64>,
    pub messages: Vec<NewWebhookMessage>,
    pub at: DateTime<Utc>,
}

/// A claimed delivery job.
#[derive(Clone, Debug)]
pub struct WebhookJob {
    pub delivery_id: i64,
    /// The claim's lease end, also its token for [`WebhookStore::record_webhook_attempts`].
    pub lease: DateTime<Utc>,
    /// Attempts including this one.
    pub attempt: u32,
    pub endpoint: WebhookEndpoint,
    pub message_id: WebhookMessageId,
    pub event_type: WebhookEventType,
    pub payload: String,
    /// [`NewWebhookMessage::order_key`].
    pub order_key: Option<uuid::Uuid>,
}

/// What an attempt leaves the job in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookJobOutcome {
    Delivered,
    /// Try again at this time.
    Retry(DateTime<Utc>),
    /// No more attempts (schedule exhausted, or the endpoint is gone).
    Failed,
}

/// What an attempt says about its endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndpointHealth {
    /// A success: the failure streak ends.
    Healthy,
    /// A failure; `since` is used when no streak is running.
    Failing { since: DateTime<Utc> },
    /// Disable it, with this reason.
    Disable { reason: String },
}

/// One attempt's record.
#[derive(Clone, Debug)]
pub struct WebhookAttempt {
    pub delivery_id: i64,
    pub endpoint_id: WebhookEndpointId,
    pub lease: DateTime<Utc>,
    pub at: DateTime<Utc>,
    pub status: Option<u16>,
    pub latency_ms: i64,
    /// The answer's first characters.
    pub response: Option<String>,
    /// Why no answer came (or the request was not made).
    pub error: Option<String>,
    pub outcome: WebhookJobOutcome,
    pub health: EndpointHealth,
}

/// A line of the delivery log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookAttemptView {
    pub id: i64,
    pub message_id: WebhookMessageId,
    pub event_type: WebhookEventType,
    pub attempted_at: DateTime<Utc>,
    pub status: Option<u16>,
    pub latency_ms: i64,
    pub response: Option<String>,
    pub error: Option<String>,
    /// The delivery's state now: `pending`, `delivered` or `failed`.
    pub delivery_state: String,
}

/// A delivery job as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookDeliveryView {
    pub message_id: WebhookMessageId,
    pub event_type: WebhookEventType,
    pub state: String,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// What to send again.
#[derive(Clone, Copy, Debug)]
pub enum WebhookReplay {
    One(WebhookMessageId),
    /// The messages created in `[from, to)`.
    Range {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn create_webhook_endpoint(&self, e: &NewWebhookEndpoint) -> Result<WebhookEndpoint>;

    /// Every endpoint, oldest first.
    async fn webhook_endpoints(&self) -> Result<Vec<WebhookEndpoint>>;

    async fn webhook_endpoint(&self, id: WebhookEndpointId) -> Result<Option<WebhookEndpoint>>;

    /// `NotFound` when there is no such endpoint.
    async fn update_webhook_endpoint(
        &self,
        id: WebhookEndpointId,
        patch: &WebhookEndpointPatch,
        at: DateTime<Utc>,
    ) -> Result<WebhookEndpoint>;

    /// Replaces the secret; the current one becomes the previous one, valid until
    /// `previous_until`.
    async fn rotate_webhook_secret(
        &self,
        id: WebhookEndpointId,
        secret: &SealedSecret,
        previous_until: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<WebhookEndpoint>;

    /// Deletes it with its deliveries and their log.
    async fn delete_webhook_endpoint(&self, id: WebhookEndpointId) -> Result<()>;

    /// Up to `limit` inbox events after the cursor and up to `limit` contact changes.
    async fn webhook_fanout_batch(&self, limit: u32) -> Result<WebhookFanoutBatch>;

    /// Stores the messages and their deliveries, moves the cursor and deletes the
    /// consumed contact changes, in one transaction; `false` (nothing written) when
    /// another fan-out committed since the batch was read.
    async fn commit_webhook_fanout(&self, f: &WebhookFanout) -> Result<bool>;

    /// Claims up to `limit` due deliveries of enabled endpoints, in the order they came
    /// due (then oldest first; the due index's order, so a claim reads what it takes, not
    /// the history of delivered ones), leased
    /// until `lease`, counting the attempt.
    async fn claim_webhook_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<WebhookJob>>;

    /// Logs the attempts and applies each one's outcome if its job is still leased by
    /// that claim (`false` at its place otherwise: the log line is kept, the job left to
    /// its new holder), in order, in one transaction.
    async fn record_webhook_attempts(&self, attempts: &[WebhookAttempt]) -> Result<Vec<bool>>;

    /// The endpoint's delivery log, newest first, before the attempt id `before`.
    async fn webhook_attempts(
        &self,
        endpoint: WebhookEndpointId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<WebhookAttemptView>>;

    /// The endpoint's deliveries, newest first, before the delivery id `before`.
    async fn webhook_deliveries(
        &self,
        endpoint: WebhookEndpointId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<(i64, WebhookDeliveryView)>>;

    /// Deletes up to `limit` messages created before `before` that no endpoint is still
    /// trying to deliver (every delivery delivered or failed), the oldest first, with
    /// their deliveries and delivery log; returns how many.
    async fn delete_old_webhook_messages(&self, before: DateTime<Utc>, limit: u32) -> Result<u64>;

    /// Makes the endpoint's deliveries of these messages due now, with a fresh schedule
    /// (same message, same `webhook-id`); returns how many.
    async fn replay_webhook_messages(
        &self,
        endpoint: WebhookEndpointId,
        what: WebhookReplay,
        now: DateTime<Utc>,
    ) -> Result<u64>;
}
