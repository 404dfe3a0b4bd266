//! Meta's WhatsApp Cloud API at the edge: webhook signature and subscription checks, and
//! webhook deliveries parsed into `switchboard_domain` changes.
#![forbid(unsafe_code)]

pub mod signature;
pub mod webhook;

pub use signature::{SignatureError, sign, verify_signature, verify_subscription};
pub use webhook::{ParseError, parse_delivery};
