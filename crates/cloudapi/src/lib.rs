//! Meta's WhatsApp Cloud API at the edge: webhook signature and subscription checks,
//! webhook deliveries parsed into `switchboard_domain` changes, and the Graph API client
//! that sends messages, marks them read and fetches media.
#![forbid(unsafe_code)]

pub mod client;
pub mod errors;
mod reply;
pub mod send;
pub mod signature;
pub mod webhook;

pub use client::{GraphClient, GraphConfig, MediaDownload, MediaInfo, SendResponse};
pub use errors::{ErrorClass, GraphError, TransportKind};
pub use send::{
    CALLER_CALLBACK_DATA_MAX, InteractiveHeader, ListRow, ListSection, MediaKind, MediaSource, OutboundBody,
    OutboundMessage, ReplyButton, SendValidationError, TemplateComponent, TemplateParameter, tag_request,
    tagged_message,
};
pub use signature::{Signature, SignatureError, sign, verify_signature, verify_subscription};
pub use webhook::{ParseError, delivery_time, parse_delivery};
