//! What a webhook delivery tells us, once parsed: the unit the ingest worker applies.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::message::{DeliveryState, MessageContent, MessageContext, Referral, StatusError};
use crate::phone::{PhoneNumberId, WaId, Wamid};

/// One `entry[].changes[]` item of a delivery.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// `field = "messages"`: incoming messages and statuses of our outgoing ones.
    Messages(MessagesChange),
    /// Any other field (account_update, message_template_status_update, …), recorded raw.
    Other(OtherChange),
}

/// A `messages` change for one of our phone numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct MessagesChange {
    pub phone_number_id: PhoneNumberId,
    pub display_phone_number: Option<String>,
    pub contacts: Vec<InboundContact>,
    pub messages: Vec<InboundMessage>,
    pub statuses: Vec<StatusReport>,
    /// Change-level errors (`value.errors`).
    pub errors: Vec<StatusError>,
    /// `messages[]`/`statuses[]` items too broken to type (no id, not an object): kept
    /// raw and recorded, never dropped.
    pub malformed: Vec<serde_json::Value>,
    /// The whole `value` object, for changes that cannot be applied (no such channel).
    pub raw: serde_json::Value,
}

/// A change of a field other than `messages`.
#[derive(Clone, Debug, PartialEq)]
pub struct OtherChange {
    pub waba_id: Option<String>,
    pub field: String,
    pub value: serde_json::Value,
}

/// A customer as the webhook presents them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboundContact {
    pub wa_id: WaId,
    pub profile_name: Option<String>,
    /// Business-scoped user id (BSUID), when Meta sends one.
    pub user_id: Option<String>,
    pub parent_user_id: Option<String>,
    pub username: Option<String>,
}

/// One message a customer sent us.
#[derive(Clone, Debug, PartialEq)]
pub struct InboundMessage {
    pub wamid: Wamid,
    /// The sender; absent on some system messages.
    pub from: Option<WaId>,
    pub from_user_id: Option<String>,
    pub timestamp: DateTime<Utc>,
    pub content: MessageContent,
    pub context: Option<MessageContext>,
    pub referral: Option<Referral>,
    /// Errors Meta attached (unsupported messages).
    pub errors: Vec<StatusError>,
    /// The message item exactly as Meta sent it (after JSON decoding).
    pub raw: serde_json::Value,
}

/// One report on a message we sent.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusReport {
    pub wamid: Wamid,
    pub state: StatusValue,
    pub timestamp: DateTime<Utc>,
    pub recipient_id: Option<String>,
    pub errors: Vec<StatusError>,
    pub raw: serde_json::Value,
}

/// A status value: one we act on, or one we only record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatusValue {
    Known(DeliveryState),
    Unknown(String),
}

impl StatusValue {
    #[must_use]
    pub fn parse(s: &str) -> Self {
        match DeliveryState::parse(s) {
            Some(
                st @ (DeliveryState::Sent
                | DeliveryState::Delivered
                | DeliveryState::Read
                | DeliveryState::Played
                | DeliveryState::Failed),
            ) => Self::Known(st),
            _ => Self::Unknown(s.to_owned()),
        }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Known(s) => s.as_str(),
            Self::Unknown(s) => s,
        }
    }
}
