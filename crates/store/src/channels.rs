//! Channels as admins manage them: every column of a channel, its sealed credentials
//! (opened only by `switchboard-core`, with the secrets key), and its writes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::link::PhoneNumber;
use switchboard_domain::{ChannelId, ChannelName, PhoneNumberId, Throughput, WabaId};

use crate::{Result, SealedSecret};

/// A channel with everything stored about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelRecord {
    pub id: ChannelId,
    pub phone_number_id: PhoneNumberId,
    pub name: String,
    /// The number customers dial (E.164 digits), configured or learned from webhooks.
    pub display_phone_number: Option<String>,
    pub waba_id: Option<String>,
    pub enabled: bool,
    /// Its own access token; `None`: the configured one.
    pub access_token: Option<SealedSecret>,
    /// Its own Meta app's secret; `None`: the configured one.
    pub app_secret: Option<SealedSecret>,
    /// Its messaging throughput tier; `None`: the sender's configured rate.
    pub throughput_per_second: Option<u32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// A channel to create ([`ChannelStore::create_channel`]).
#[derive(Clone, Debug)]
pub struct NewChannel {
    pub id: ChannelId,
    pub phone_number_id: PhoneNumberId,
    pub name: ChannelName,
    pub display_phone_number: Option<PhoneNumber>,
    pub waba_id: Option<WabaId>,
    pub enabled: bool,
    pub access_token: Option<SealedSecret>,
    pub app_secret: Option<SealedSecret>,
    pub throughput: Option<Throughput>,
    pub at: DateTime<Utc>,
}

/// Changes to a channel; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Clone, Debug, Default)]
pub struct ChannelPatch {
    pub name: Option<ChannelName>,
    pub display_phone_number: Option<Option<PhoneNumber>>,
    pub waba_id: Option<Option<WabaId>>,
    pub enabled: Option<bool>,
    pub access_token: Option<Option<SealedSecret>>,
    pub app_secret: Option<Option<SealedSecret>>,
    pub throughput: Option<Option<Throughput>>,
}

/// A message template as synchronised from Meta, for one channel.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredTemplate {
    pub name: String,
    pub language: String,
    /// Meta's id of the template.
    pub template_id: Option<String>,
    pub category: String,
    pub status: String,
    pub quality: Option<String>,
    /// Meta's `components` array.
    pub components: serde_json::Value,
    pub synced_at: DateTime<Utc>,
}

/// A `message_template_*` webhook's change: which template (by Meta's id, else by name
/// and language within the WhatsApp Business Account), and what changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplateUpdate {
    pub waba_id: Option<String>,
    pub template_id: Option<String>,
    pub name: Option<String>,
    pub language: Option<String>,
    pub status: Option<String>,
    pub quality: Option<String>,
    pub category: Option<String>,
}

#[async_trait]
pub trait ChannelStore: Send + Sync {
    /// Every channel, oldest first.
    async fn channel_records(&self) -> Result<Vec<ChannelRecord>>;

    async fn channel_record(&self, id: ChannelId) -> Result<Option<ChannelRecord>>;

    /// `Conflict { what: "channel" }` when the phone number id has a channel already.
    async fn create_channel(&self, channel: &NewChannel) -> Result<ChannelRecord>;

    /// `NotFound` for an unknown channel. Also moves the auto-reply configuration's
    /// version, so the ingest worker sees a channel disabled or enabled at its next batch.
    async fn update_channel(&self, id: ChannelId, patch: &ChannelPatch, at: DateTime<Utc>) -> Result<ChannelRecord>;

    /// Sets the display number of the channel of `phone_number_id` if it has none
    /// (learned from a webhook's `metadata.display_phone_number`); `true` if it was set.
    async fn learn_display_phone_number(&self, phone_number_id: &PhoneNumberId, phone: &PhoneNumber) -> Result<bool>;

    /// Replaces the channel's templates with `templates` (a full synchronisation).
    async fn replace_templates(&self, channel: ChannelId, templates: &[StoredTemplate]) -> Result<()>;

    /// The channel's templates by name, then language.
    async fn templates(&self, channel: ChannelId) -> Result<Vec<StoredTemplate>>;

    /// Whether the channel has synchronised templates at all.
    async fn has_templates(&self, channel: ChannelId) -> Result<bool>;

    /// Applies a template webhook's change to every channel holding that template; how
    /// many rows changed.
    async fn apply_template_update(&self, update: &TemplateUpdate, at: DateTime<Utc>) -> Result<u64>;
}
