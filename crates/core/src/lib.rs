//! Use cases and workers. The webhook path: [`intake`] makes verified deliveries
//! durable with group commit; [`ingest`] applies them, one transaction per batch, in
//! arrival order. Each worker exposes a "process one batch" step that tests drive;
//! they are woken through one [`Wake`] handle. What agents do (reply, assign, label,
//! notes...) is in [`inbox`], what admins configure in [`admin`], independent of HTTP.
#![forbid(unsafe_code)]

pub mod admin;
pub mod assigner;
pub mod assignment;
pub mod attribution;
pub mod audit;
pub mod auth;
mod autoreply;
pub mod channels;
pub mod clicks;
pub mod consent;
pub mod csat;
pub mod export;
pub mod housekeeping;
pub mod inbox;
pub mod ingest;
pub mod intake;
pub mod live;
pub mod media_cache;
pub mod privacy;
pub mod reports;
pub mod scheduler;
pub mod sender;
pub mod sla;
pub mod templates;
pub mod wake;
pub mod webhooks;

pub use admin::AdminError;
pub use assigner::{Assigner, AssignerOptions};
pub use audit::{Actor, Audit, EntryExt};
pub use auth::{Auth, AuthConfig, AuthError, AuthOptions};
pub use channels::{ChannelDirectory, ChannelError, ChannelTransport, Channels};
pub use clicks::ClickCounter;
pub use export::{EXPORT_SCHEMA_VERSION, ExportError, ExportOptions, ExportSummary, export_contact};
pub use housekeeping::{Housekeeper, HousekeepingError, HousekeepingOptions, HousekeepingReport};
pub use inbox::{Inbox, InboxError, Invalid, may_transfer};
pub use ingest::{IngestOptions, IngestReport, IngestWorker, replay_unrouted};
pub use intake::{Intake, IntakeError, IntakeOptions};
pub use live::{Credential, LiveHub, LiveItem, LiveOptions, Subscription};
pub use media_cache::{MediaCacheLimits, PruneReport};
pub use privacy::{Privacy, PrivacyError, RetentionPace};
pub use scheduler::{Scheduler, SchedulerOptions, SchedulerReport};
pub use sender::{Pause, Sandbox, SendHealth, SendReport, Sender, SenderOptions, Transport};
pub use wake::Wake;
pub use webhooks::{WebhookOptions, WebhookReport, WebhookWorker, Webhooks};
