//! Typed identifiers. Entity ids are UUIDv7 (time-ordered); event log ids are the log's
//! own increasing sequence numbers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id (UUIDv7).
            #[must_use]
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            #[must_use]
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            #[must_use]
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// A WhatsApp business number connected to Switchboard.
    ChannelId
);
uuid_id!(
    /// A customer, identified per channel by their WhatsApp id.
    ContactId
);
uuid_id!(
    /// A support conversation with one contact on one channel.
    ConversationId
);
uuid_id!(
    /// A message, inbound or outbound.
    MessageId
);
uuid_id!(
    /// A support agent or admin.
    AgentId
);
uuid_id!(
    /// A label admins define and agents put on conversations.
    LabelId
);
uuid_id!(
    /// A click-to-chat link (short link, QR code, attribution).
    LinkId
);
uuid_id!(
    /// A canned answer agents and rules send.
    QuickReplyId
);
uuid_id!(
    /// A keyword auto-reply rule.
    RuleId
);
uuid_id!(
    /// A team of agents; channels route to teams.
    TeamId
);
uuid_id!(
    /// An agent's API token (never the token itself).
    TokenId
);
uuid_id!(
    /// A console sign-in session (never its cookie token).
    SessionId
);
uuid_id!(
    /// A one-time link to set a password (never its token).
    InvitationId
);
uuid_id!(
    /// A private note on a conversation (time-ordered: notes list in id order).
    NoteId
);

uuid_id!(
    /// One erasure of a contact (right to erasure): a durable, resumable job.
    ErasureId
);
uuid_id!(
    /// An outgoing webhook endpoint.
    WebhookEndpointId
);
uuid_id!(
    /// One event as sent to webhook endpoints; its `webhook-id` header is `msg_<simple uuid>`.
    WebhookMessageId
);

impl WebhookMessageId {
    /// The `webhook-id` header: `msg_` and the id's 32 hexadecimal digits.
    #[must_use]
    pub fn webhook_id(&self) -> String {
        format!("msg_{}", self.0.simple())
    }

    /// Reads a `webhook-id` (`msg_…`) back.
    #[must_use]
    pub fn parse_webhook_id(s: &str) -> Option<Self> {
        let hex = s.strip_prefix("msg_")?;
        if hex.len() != 32 {
            return None;
        }
        Uuid::try_parse(hex).ok().map(Self)
    }
}

macro_rules! seq_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            #[must_use]
            pub const fn new(seq: i64) -> Self {
                Self(seq)
            }

            #[must_use]
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

seq_id!(
    /// The position of a webhook delivery in the event log (arrival order).
    EventId
);
seq_id!(
    /// An outbox job: the outbox's own increasing sequence number.
    JobId
);

impl FromStr for JobId {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Self)
    }
}
