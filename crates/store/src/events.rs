use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use switchboard_domain::EventId;

use crate::Result;

/// A webhook delivery whose signature was verified, about to be made durable.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// The delivery's natural key is `(body_time, body_sha256)`, both functions of the
    /// raw bytes, which Meta's retries resend identically. `body_time` (the first
    /// timestamp in the body, `switchboard_cloudapi::delivery_time`) leads, so the key's
    /// index grows at its end, like the log. Equal hashes must come with equal times
    /// (a batch is deduplicated by hash before it is stored).
    pub body_time: i64,
    /// SHA-256 of the raw body.
    pub body_sha256: [u8; 32],
    pub body: Bytes,
    pub received_at: DateTime<Utc>,
}

/// What appending one delivery did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Appended {
    /// Stored for the first time.
    New(EventId),
    /// Seen before (a retry); nothing new was stored.
    Duplicate(EventId),
}

/// A stored delivery that the ingest worker has not applied yet.
#[derive(Clone, Debug)]
pub struct PendingEvent {
    pub id: EventId,
    pub body: Bytes,
    pub received_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventLogStats {
    pub pending: i64,
    pub failed: i64,
    pub applied: i64,
}

/// The deliveries not applied yet, and those that failed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventLogBacklog {
    pub pending: i64,
    pub failed: i64,
}

/// The durable, deduplicated log of webhook deliveries.
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Appends a batch of deliveries in ONE transaction (group commit) and returns, in
    /// the same order, what happened to each. When this returns `Ok`, every delivery is
    /// durable. Duplicates within the batch or against the log are `Duplicate`.
    async fn append_events(&self, events: &[NewEvent]) -> Result<Vec<Appended>>;

    /// Counts every delivery by state: a scan of the whole log, for tools and tests.
    async fn event_log_stats(&self) -> Result<EventLogStats>;

    /// Counts the pending and the failed deliveries through their partial indexes: the
    /// cost grows with the backlog, not with the log (`/readyz`, `/metrics`).
    async fn event_log_backlog(&self) -> Result<EventLogBacklog>;

    /// Drops the bodies of applied deliveries received before `before` (the hash stays,
    /// so a late retry is still recognised). Returns how many were purged.
    async fn purge_event_bodies(&self, before: DateTime<Utc>) -> Result<u64>;

    /// Deletes the rows of applied deliveries whose key time (`body_time`) and arrival are
    /// both before `before`: Meta no longer redelivers them, so their key no longer needs
    /// to catch a retry. Pending and failed deliveries, and those a recorded change
    /// refers to, are kept. Works through the key's index in slices of a bounded size,
    /// letting appends in between (SQLite's single writer). Returns how many were deleted.
    async fn delete_old_events(&self, before: DateTime<Utc>) -> Result<u64>;
}
