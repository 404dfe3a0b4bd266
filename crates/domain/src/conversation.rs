//! Conversations: one contact, one channel, one stretch of support work.
//!
//! Lifecycle decided here (DESIGN.md leaves it open): a contact has at most one
//! conversation that is not resolved per channel. A new inbound message goes to that
//! conversation (reopening it if it was pending or snoozed). Once resolved, a
//! conversation is closed for good: the next inbound message starts a new one, so first
//! response time, resolution time and CSAT are measured per piece of work.

use std::fmt;

use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    Open,
    Pending,
    Snoozed,
    Resolved,
}

impl ConversationStatus {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Pending => "pending",
            Self::Snoozed => "snoozed",
            Self::Resolved => "resolved",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "open" => Self::Open,
            "pending" => Self::Pending,
            "snoozed" => Self::Snoozed,
            "resolved" => Self::Resolved,
            _ => return None,
        })
    }

    /// The status a conversation takes when the customer writes again.
    #[must_use]
    pub const fn on_inbound(self) -> Self {
        match self {
            Self::Open | Self::Pending | Self::Snoozed => Self::Open,
            Self::Resolved => Self::Resolved,
        }
    }
}

impl fmt::Display for ConversationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
