//! Switchboard's domain model: the types every other crate speaks.
//!
//! Pure: no I/O, no clock reads (time is always an argument), no database or HTTP types.
//! Values that carry rules (phone numbers, wamids, message text) are parsed once at the
//! edge into types with private fields, so the rest of the code cannot hold an invalid one.
#![forbid(unsafe_code)]

pub mod agent;
pub mod assignment;
pub mod attachment;
pub mod audit;
pub mod autoreply;
pub mod channel;
pub mod consent;
pub mod contact;
pub mod conversation;
pub mod csat;
pub mod hours;
pub mod ids;
pub mod inbound;
pub mod instant;
pub mod label;
pub mod link;
pub mod message;
pub mod phone;
pub mod report;
pub mod sla;
pub mod team;
pub mod template;
pub mod webhook;
pub mod window;

pub use agent::{AgentName, AgentRole, Availability, Email, InvalidPassword, NewAgent, Password, TokenHash};
pub use assignment::{
    AgentPool, AssignmentPolicy, AutoAssignReport, AutoAssigned, AutoReason, ChannelPolicy, InvalidPolicy,
    PolicySettings, PolicySource, PoolAgent, Returned,
};
pub use attachment::{Attachment, AttachmentError, AttachmentKind};
pub use audit::{AuditAction, AuditTarget};
pub use channel::{ChannelName, ChannelSecret, InvalidChannel, Throughput, WabaId};
pub use contact::{MAX_CONTACT_ATTRIBUTES, merge_attributes};
pub use conversation::ConversationStatus;
pub use ids::{
    AgentId, ChannelId, ContactId, ConversationId, ErasureId, EventId, InvitationId, JobId, LabelId, LinkId, MessageId,
    NoteId, QuickReplyId, RuleId, SessionId, TeamId, TokenId, WebhookEndpointId, WebhookMessageId,
};
pub use message::{
    Delivery, DeliveryState, Direction, MessageContent, MessageContext, MessageKind, Referral, StatusError,
};
pub use phone::{PhoneNumberId, WaId, Wamid};
pub use team::{InvalidTeamName, TeamName};
pub use webhook::{InvalidWebhookUrl, WebhookEventType, WebhookUrl, address_allowed, retry_delay};
