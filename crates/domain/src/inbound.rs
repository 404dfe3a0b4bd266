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

impl Change {
    /// Replaces Meta's stated times by ones to believe ([`meta_time`]), given when the
    /// delivery arrived.
    pub fn settle_times(&mut self, received_at: DateTime<Utc>) {
        if let Self::Messages(m) = self {
            for msg in &mut m.messages {
                msg.timestamp = meta_time(msg.timestamp, received_at);
            }
            for status in &mut m.statuses {
                status.timestamp = meta_time(status.timestamp, received_at);
            }
        }
    }
}

/// The earliest timestamp Meta can state: 2009-01-01T00:00:00Z (WhatsApp did not exist before).
pub const META_EARLIEST: DateTime<Utc> = match DateTime::from_timestamp(1_230_768_000, 0) {
    Some(t) => t,
    None => DateTime::UNIX_EPOCH,
};

/// The time to record for a message or status Meta says happened at `stated` (seconds near
/// now, or the epoch when missing): `stated`, but never after the delivery arrived and,
/// when missing or before [`META_EARLIEST`], the arrival itself. So no stored or shown
/// time lies in the future or outside the years 1970–9999.
#[must_use]
pub fn meta_time(stated: DateTime<Utc>, received_at: DateTime<Utc>) -> DateTime<Utc> {
    if stated < META_EARLIEST { received_at } else { stated.min(received_at) }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 22.5: implausible timestamps become the arrival time.
    #[test]
    fn meta_times_are_clamped_to_the_arrival() {
        let received = DateTime::from_timestamp(1_765_000_000, 0).expect("time");
        let stated = DateTime::from_timestamp(1_764_999_000, 0).expect("time");
        assert_eq!(meta_time(stated, received), stated);
        assert_eq!(meta_time(DateTime::UNIX_EPOCH, received), received);
        let far = DateTime::from_timestamp(8_210_266_876_799, 0).expect("chrono's last second");
        assert_eq!(meta_time(far, received), received);
        let before = DateTime::from_timestamp(-8_210_266_876_799, 0).expect("far past");
        assert_eq!(meta_time(before, received), received);
        assert_eq!(meta_time(DateTime::<Utc>::MIN_UTC, received), received);
    }
}
