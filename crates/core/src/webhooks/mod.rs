//! Outgoing webhooks (Standard Webhooks): admins' use cases on endpoints ([`Webhooks`]),
//! the signer ([`signature`]), the payloads ([`payload`]) and the worker ([`worker`]).
//!
//! Events come from what the database records in the change's own transaction (inbox
//! events and contact changes, by triggers); the worker fans them out into messages and
//! delivery jobs in one transaction with its cursor, so an event is sent if and only if
//! its change committed, and at least once (see docs/architecture.md).

pub mod payload;
pub mod signature;
pub mod worker;

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use switchboard_domain::{WebhookEndpointId, WebhookEventType, WebhookUrl};
use switchboard_store::{
    NewWebhookEndpoint, SealedSecret, Store, StoreError, WebhookEndpoint, WebhookEndpointPatch, WebhookReplay,
};

use crate::auth::{SecretError, SecretKey};

pub use worker::{WebhookReport, WebhookWorker};

/// `[outgoing_webhooks]`.
#[derive(Clone, Debug)]
pub struct WebhookOptions {
    /// Addresses deliveries may go to although they are not public (loopback, private,
    /// link-local): none by default.
    pub allowed_private_addresses: Vec<IpAddr>,
    /// One request's limit (connecting, sending, the answer).
    pub timeout: Duration,
    /// An endpoint whose every attempt failed for this long is disabled.
    pub disable_after: Duration,
    /// How long the previous secret keeps signing after a rotation.
    pub rotation_overlap: Duration,
    pub batch_size: u32,
    /// Endpoints delivered to at once.
    pub concurrency: usize,
    /// Requests in flight to one endpoint at once (deliveries about one conversation or
    /// contact still go one after the other).
    pub requests_per_endpoint: usize,
    /// A claimed delivery's lease (longer than `timeout`).
    pub lease: Duration,
    /// Looks for work at least this often (contact changes, retries coming due).
    pub poll_interval: Duration,
    /// After a round that was not a full batch, waits this long before the next.
    pub linger: Duration,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        Self {
            allowed_private_addresses: Vec::new(),
            timeout: Duration::from_secs(15),
            disable_after: Duration::from_secs(5 * 86_400),
            rotation_overlap: Duration::from_secs(24 * 3600),
            batch_size: 100,
            concurrency: 16,
            requests_per_endpoint: 8,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
            linger: Duration::from_millis(10),
        }
    }
}

/// The context a secret is sealed with: a sealed secret copied to another endpoint does
/// not open.
fn context(id: &WebhookEndpointId) -> Vec<u8> {
    let mut c = b"webhook-endpoint:".to_vec();
    c.extend_from_slice(id.as_uuid().as_bytes());
    c
}

pub(crate) fn open_secret(
    key: &SecretKey,
    id: &WebhookEndpointId,
    sealed: &SealedSecret,
) -> Result<Vec<u8>, SecretError> {
    key.open(sealed, &context(id))
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("webhook endpoint not found")]
    NotFound,
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An endpoint and its new secret (`whsec_…`), shown once.
pub struct WithSecret {
    pub endpoint: WebhookEndpoint,
    pub secret: String,
}

/// Admins' use cases on outgoing webhook endpoints.
pub struct Webhooks<'a> {
    store: &'a dyn Store,
    key: &'a SecretKey,
    opts: &'a WebhookOptions,
}

fn not_found(e: StoreError) -> WebhookError {
    match e {
        StoreError::NotFound => WebhookError::NotFound,
        e => WebhookError::Store(e),
    }
}

impl<'a> Webhooks<'a> {
    #[must_use]
    pub fn new(store: &'a dyn Store, key: &'a SecretKey, opts: &'a WebhookOptions) -> Self {
        Self { store, key, opts }
    }

    /// Parses an endpoint URL under this server's address rules.
    pub fn parse_url(&self, raw: &str) -> Result<WebhookUrl, switchboard_domain::InvalidWebhookUrl> {
        WebhookUrl::parse(raw, &self.opts.allowed_private_addresses)
    }

    /// Creates an endpoint with a new secret.
    pub async fn create(
        &self,
        url: WebhookUrl,
        description: String,
        event_types: Vec<WebhookEventType>,
        now: DateTime<Utc>,
    ) -> Result<WithSecret, WebhookError> {
        let id = WebhookEndpointId::new();
        let (raw, shown) = signature::generate_secret();
        let sealed = self.key.seal(&raw, &context(&id))?;
        let endpoint = self
            .store
            .create_webhook_endpoint(&NewWebhookEndpoint {
                id,
                url,
                description,
                event_types: dedup(event_types),
                secret: sealed,
                at: now,
            })
            .await?;
        Ok(WithSecret { endpoint, secret: shown })
    }

    pub async fn update(
        &self,
        id: WebhookEndpointId,
        mut patch: WebhookEndpointPatch,
        now: DateTime<Utc>,
    ) -> Result<WebhookEndpoint, WebhookError> {
        patch.event_types = patch.event_types.map(dedup);
        self.store.update_webhook_endpoint(id, &patch, now).await.map_err(not_found)
    }

    /// A new secret; the previous one keeps signing (a second signature) for
    /// `rotation_overlap`, so receivers can switch without losing a delivery.
    pub async fn rotate_secret(&self, id: WebhookEndpointId, now: DateTime<Utc>) -> Result<WithSecret, WebhookError> {
        let (raw, shown) = signature::generate_secret();
        let sealed = self.key.seal(&raw, &context(&id))?;
        let until = now + chrono::Duration::from_std(self.opts.rotation_overlap).unwrap_or(chrono::Duration::zero());
        let endpoint = self.store.rotate_webhook_secret(id, &sealed, until, now).await.map_err(not_found)?;
        Ok(WithSecret { endpoint, secret: shown })
    }

    pub async fn delete(&self, id: WebhookEndpointId) -> Result<(), WebhookError> {
        self.store.delete_webhook_endpoint(id).await.map_err(not_found)
    }

    /// Sends messages again (same `webhook-id`); returns how many deliveries were queued.
    pub async fn replay(
        &self,
        id: WebhookEndpointId,
        what: WebhookReplay,
        now: DateTime<Utc>,
    ) -> Result<u64, WebhookError> {
        if self.store.webhook_endpoint(id).await?.is_none() {
            return Err(WebhookError::NotFound);
        }
        Ok(self.store.replay_webhook_messages(id, what, now).await?)
    }
}

fn dedup(mut types: Vec<WebhookEventType>) -> Vec<WebhookEventType> {
    types.sort_unstable();
    types.dedup();
    types
}
