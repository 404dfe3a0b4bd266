//! Channels managed by admins ([`Channels`]) and what the hot paths need of them, kept in
//! memory ([`ChannelDirectory`]): each channel's Graph API client (its own access token),
//! the app secrets webhook signatures are checked against, whether it is enabled and its
//! throughput tier.
//!
//! Credentials are sealed at rest with the secrets key (context: the channel's id, so a
//! sealed value copied to another channel does not open), never returned by the API and
//! never logged. The directory is rebuilt when this instance changes a channel and every
//! [`REFRESH_INTERVAL`] (changes made by another instance), never per request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde_json::Value;
use switchboard_cloudapi::{GraphClient, GraphError, SendResponse};
use switchboard_domain::link::PhoneNumber;
use switchboard_domain::{ChannelId, ChannelName, ChannelSecret, ConversationId, PhoneNumberId, Throughput, WabaId};
use switchboard_store::{ChannelPatch, ChannelRecord, NewChannel, SealedSecret, Store, StoreError};
use tokio_util::sync::CancellationToken;

use crate::auth::{SecretError, SecretKey};
use crate::sender::Transport;

/// How often every instance reloads the channels (to see another instance's changes).
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// Which credential of a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Credential {
    AccessToken,
    AppSecret,
}

/// The context a channel's credential is sealed with.
fn context(id: ChannelId, what: Credential) -> Vec<u8> {
    let mut c = match what {
        Credential::AccessToken => b"channel-access-token:".to_vec(),
        Credential::AppSecret => b"channel-app-secret:".to_vec(),
    };
    c.extend_from_slice(id.as_uuid().as_bytes());
    c
}

/// What the sender needs of one channel.
#[derive(Clone)]
pub struct ChannelEntry {
    pub id: ChannelId,
    pub enabled: bool,
    pub throughput_per_second: Option<u32>,
    /// A client with the channel's own access token; `None`: the configured one.
    client: Option<GraphClient>,
}

#[derive(Default)]
struct Snapshot {
    by_number: HashMap<PhoneNumberId, ChannelEntry>,
    /// The configured app secret first, then the channels' own.
    app_secrets: Arc<[SecretString]>,
}

/// The channels' credentials and settings in memory, shared by the webhook receiver, the
/// sender and the ingest worker.
pub struct ChannelDirectory {
    key: Arc<SecretKey>,
    /// The configured Graph API client; per-channel clients share its connection pool.
    graph: Option<GraphClient>,
    app_secret: Option<SecretString>,
    snapshot: RwLock<Arc<Snapshot>>,
}

impl ChannelDirectory {
    #[must_use]
    pub fn new(key: Arc<SecretKey>, graph: Option<GraphClient>, app_secret: Option<SecretString>) -> Self {
        let snapshot = Snapshot { by_number: HashMap::new(), app_secrets: app_secret.iter().cloned().collect() };
        Self { key, graph, app_secret, snapshot: RwLock::new(Arc::new(snapshot)) }
    }

    fn current(&self) -> Arc<Snapshot> {
        self.snapshot.read().map_or_else(|e| Arc::clone(&e.into_inner()), |s| Arc::clone(&s))
    }

    /// Every app secret a webhook may be signed with (the configured one first); shared,
    /// not copied, per request.
    #[must_use]
    pub fn app_secrets(&self) -> Arc<[SecretString]> {
        Arc::clone(&self.current().app_secrets)
    }

    /// The channel of `phone_number_id`, as last loaded.
    #[must_use]
    pub fn entry(&self, phone_number_id: &PhoneNumberId) -> Option<ChannelEntry> {
        self.current().by_number.get(phone_number_id).cloned()
    }

    /// The Graph API client that acts for `phone_number_id`: its own token's, else the
    /// configured one; `None` in sandbox mode.
    #[must_use]
    pub fn client(&self, phone_number_id: &PhoneNumberId) -> Option<GraphClient> {
        self.entry(phone_number_id).and_then(|e| e.client).or_else(|| self.graph.clone())
    }

    /// The Graph API client that acts for conversation `id`: its channel's ([`Self::client`]).
    /// `Ok(None)` in sandbox mode; [`StoreError::NotFound`] for an unknown conversation.
    /// Marking read, downloading a conversation's media and uploading an agent's file all
    /// go through this, so each uses the token of the number the customer wrote to.
    pub async fn client_for_conversation(
        &self,
        store: &dyn Store,
        id: ConversationId,
    ) -> Result<Option<GraphClient>, StoreError> {
        if self.graph.is_none() {
            return Ok(None);
        }
        let conversation = store.conversation(id).await?.ok_or(StoreError::NotFound)?;
        Ok(self.client(&conversation.phone_number_id))
    }

    /// Reloads every channel and opens its credentials. A credential that does not open
    /// (sealed with a key no longer configured) is left out, with an error in the log
    /// naming the channel, never the value.
    pub async fn refresh(&self, store: &dyn Store) -> Result<(), StoreError> {
        let records = store.channel_records().await?;
        let mut by_number = HashMap::new();
        let mut app_secrets: Vec<SecretString> = self.app_secret.iter().cloned().collect();
        for r in records {
            let client = match (&r.access_token, &self.graph) {
                (Some(sealed), Some(graph)) => match self.open(r.id, Credential::AccessToken, sealed) {
                    Some(token) => match graph.with_token(token) {
                        Ok(c) => Some(c),
                        Err(e) => {
                            tracing::error!(channel_id = %r.id, error = %e, "the channel's access token is unusable; the configured one is used");
                            None
                        }
                    },
                    None => None,
                },
                _ => None,
            };
            if let Some(sealed) = &r.app_secret
                && let Some(secret) = self.open(r.id, Credential::AppSecret, sealed)
            {
                app_secrets.push(secret);
            }
            by_number.insert(
                r.phone_number_id.clone(),
                ChannelEntry { id: r.id, enabled: r.enabled, throughput_per_second: r.throughput_per_second, client },
            );
        }
        let snapshot = Snapshot { by_number, app_secrets: app_secrets.into() };
        if let Ok(mut s) = self.snapshot.write() {
            *s = Arc::new(snapshot);
        }
        Ok(())
    }

    fn open(&self, id: ChannelId, what: Credential, sealed: &SealedSecret) -> Option<SecretString> {
        match self.key.open(sealed, &context(id, what)) {
            Ok(plain) => match String::from_utf8(plain) {
                Ok(s) => Some(SecretString::from(s)),
                Err(_) => {
                    tracing::error!(channel_id = %id, credential = ?what, "a channel credential is not text; ignored");
                    None
                }
            },
            Err(e) => {
                tracing::error!(channel_id = %id, credential = ?what, error = %e, "a channel credential cannot be opened; ignored (see key rotation in docs/configuration.md)");
                None
            }
        }
    }

    /// Reloads every [`REFRESH_INTERVAL`] until `cancel`.
    pub async fn run_until_stopped(self: Arc<Self>, store: Arc<dyn Store>, cancel: CancellationToken) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(REFRESH_INTERVAL) => {}
                () = cancel.cancelled() => break,
            }
            if let Err(e) = self.refresh(store.as_ref()).await {
                tracing::warn!(error = %e, "reloading the channels failed; the last ones loaded stay in use");
            }
        }
    }
}

/// Sends through the channel's own client when it has one, else the configured client.
pub struct ChannelTransport {
    pub graph: GraphClient,
    pub channels: Arc<ChannelDirectory>,
}

#[async_trait]
impl Transport for ChannelTransport {
    async fn send(&self, from: &PhoneNumberId, request: &Value) -> Result<SendResponse, GraphError> {
        match self.channels.entry(from).and_then(|e| e.client) {
            Some(client) => client.send_json(from, request).await,
            None => self.graph.send_json(from, request).await,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("channel not found")]
    NotFound,
    #[error("a channel with this phone number id exists already")]
    Exists,
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ChannelError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            StoreError::Conflict { what: "channel" } => Self::Exists,
            e => Self::Store(e),
        }
    }
}

/// A channel to add, parsed.
#[derive(Clone, Debug)]
pub struct ChannelInput {
    pub phone_number_id: PhoneNumberId,
    pub name: ChannelName,
    pub display_phone_number: Option<PhoneNumber>,
    pub waba_id: Option<WabaId>,
    pub enabled: bool,
    pub access_token: Option<ChannelSecret>,
    pub app_secret: Option<ChannelSecret>,
    pub throughput: Option<Throughput>,
}

/// Changes to a channel, parsed; `None` leaves a field, `Some(None)` clears it.
#[derive(Clone, Debug, Default)]
pub struct ChannelChanges {
    pub name: Option<ChannelName>,
    pub display_phone_number: Option<Option<PhoneNumber>>,
    pub waba_id: Option<Option<WabaId>>,
    pub enabled: Option<bool>,
    pub access_token: Option<Option<ChannelSecret>>,
    pub app_secret: Option<Option<ChannelSecret>>,
    pub throughput: Option<Option<Throughput>>,
}

/// Admins' use cases on channels.
pub struct Channels<'a> {
    store: &'a dyn Store,
    key: &'a SecretKey,
    directory: &'a ChannelDirectory,
}

impl<'a> Channels<'a> {
    #[must_use]
    pub fn new(store: &'a dyn Store, key: &'a SecretKey, directory: &'a ChannelDirectory) -> Self {
        Self { store, key, directory }
    }

    fn seal(&self, id: ChannelId, what: Credential, secret: &ChannelSecret) -> Result<SealedSecret, SecretError> {
        self.key.seal(secret.expose().as_bytes(), &context(id, what))
    }

    /// Adds a channel; deliveries already recorded for its number are replayed by the
    /// caller ([`crate::replay_unrouted`]).
    pub async fn create(&self, input: ChannelInput, now: DateTime<Utc>) -> Result<ChannelRecord, ChannelError> {
        let id = ChannelId::new();
        let access_token =
            input.access_token.as_ref().map(|t| self.seal(id, Credential::AccessToken, t)).transpose()?;
        let app_secret = input.app_secret.as_ref().map(|s| self.seal(id, Credential::AppSecret, s)).transpose()?;
        let created = self
            .store
            .create_channel(&NewChannel {
                id,
                phone_number_id: input.phone_number_id,
                name: input.name,
                display_phone_number: input.display_phone_number,
                waba_id: input.waba_id,
                enabled: input.enabled,
                access_token,
                app_secret,
                throughput: input.throughput,
                at: now,
            })
            .await?;
        self.directory.refresh(self.store).await?;
        Ok(created)
    }

    pub async fn update(
        &self,
        id: ChannelId,
        changes: ChannelChanges,
        now: DateTime<Utc>,
    ) -> Result<ChannelRecord, ChannelError> {
        let seal = |what, s: Option<Option<ChannelSecret>>| -> Result<Option<Option<SealedSecret>>, SecretError> {
            s.map(|s| s.map(|s| self.seal(id, what, &s)).transpose()).transpose()
        };
        let patch = ChannelPatch {
            name: changes.name,
            display_phone_number: changes.display_phone_number,
            waba_id: changes.waba_id,
            enabled: changes.enabled,
            access_token: seal(Credential::AccessToken, changes.access_token)?,
            app_secret: seal(Credential::AppSecret, changes.app_secret)?,
            throughput: changes.throughput,
        };
        let updated = self.store.update_channel(id, &patch, now).await?;
        self.directory.refresh(self.store).await?;
        Ok(updated)
    }
}
