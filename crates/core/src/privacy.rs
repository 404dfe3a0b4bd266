//! Privacy: erasing one contact (right to erasure) and retention policies per channel.
//!
//! What is removed, and what stays, is the store's (`switchboard_store::ErasureStore`,
//! written once in `switchboard_store_sql::erasure`); here, the order of the steps and the
//! media cache's files:
//!
//! - [`Privacy::erase_contact`] starts (or joins) the contact's erasure job and works it to
//!   the end in bounded steps, each its own short transaction. The files of a batch's
//!   media are removed *before* the batch's rows forget their media ids, so a crash never
//!   leaves a file nothing points to. A job a crash stopped is continued by
//!   [`Privacy::resume_erasures`] (the housekeeping pass at start and every hour).
//! - [`Privacy::retention_pass`] applies every channel's retention policy in small
//!   batches, yielding the write lock between them so the webhook path is not held up.
//!   [`Privacy::retention_preview`] is its dry run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use switchboard_domain::{AgentId, ChannelId, ContactId, ErasureId};
use switchboard_store::{ErasureJob, ErasurePhase, RetentionCounts, RetentionPolicy, ScrubLimits, Store, StoreError};
use tokio_util::sync::CancellationToken;

use crate::media_cache;

/// An erasure untouched this long is taken to have been stopped by a crash.
const STALE: chrono::Duration = chrono::Duration::seconds(60);

#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("media cache: {0}")]
    MediaCache(std::io::Error),
}

/// How fast a retention pass goes: between two batches it pauses at least `pause` and
/// twice as long as the batch took (neither if `pause` is zero), and long enough that it
/// removes at most `messages_per_second` messages a second on average (`None`: no such
/// limit; [`Self::UNPACED`]: no pause at all, for tests). Each batch is a write
/// transaction, on SQLite held by the one writer the webhook path's commits wait for,
/// and the longest are the search index's merges its deletions set off; the pace spreads
/// them out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionPace {
    pub pause: Duration,
    pub messages_per_second: Option<u32>,
}

impl Default for RetentionPace {
    fn default() -> Self {
        Self { pause: Duration::from_millis(5), messages_per_second: None }
    }
}

impl RetentionPace {
    pub const UNPACED: Self = Self { pause: Duration::ZERO, messages_per_second: None };

    /// The pause after a batch that took `took` and removed `messages`.
    #[must_use]
    pub fn pause_after(&self, took: Duration, messages: i64) -> Duration {
        let budget = match self.messages_per_second {
            Some(rate) if rate > 0 => {
                Duration::from_secs_f64(messages.max(0) as f64 / f64::from(rate)).saturating_sub(took)
            }
            _ => Duration::ZERO,
        };
        let least = if self.pause.is_zero() { Duration::ZERO } else { self.pause.max(took * 2) };
        least.max(budget)
    }
}

/// The erasure and retention use cases over a store and the media cache's directory.
pub struct Privacy<'a> {
    store: &'a dyn Store,
    media_dir: Option<&'a Path>,
    limits: ScrubLimits,
}

impl<'a> Privacy<'a> {
    #[must_use]
    pub fn new(store: &'a dyn Store, media_dir: Option<&'a Path>) -> Self {
        Self { store, media_dir, limits: ScrubLimits::default() }
    }

    #[must_use]
    pub const fn with_limits(mut self, limits: ScrubLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Erases the contact, to the end. `None`: no such contact. Erasing an erased contact
    /// again is harmless (and finds nothing left to remove).
    pub async fn erase_contact(
        &self,
        contact: ContactId,
        by: Option<AgentId>,
    ) -> Result<Option<ErasureJob>, PrivacyError> {
        let Some(job) = self.store.begin_erasure(contact, by, Utc::now()).await? else {
            return Ok(None);
        };
        tracing::info!(erasure_id = %job.id, contact_id = %contact, "contact erasure started");
        self.run(job).await.map(Some)
    }

    /// Continues erasures that a crash stopped.
    pub async fn resume_erasures(&self, now: DateTime<Utc>) -> Result<usize, PrivacyError> {
        let mut resumed = 0;
        for job in self.store.unfinished_erasures().await? {
            if now - job.updated_at < STALE {
                continue;
            }
            tracing::info!(erasure_id = %job.id, contact_id = %job.contact_id, "continuing an interrupted erasure");
            self.run(job).await?;
            resumed += 1;
        }
        Ok(resumed)
    }

    /// Works the job to the end.
    pub async fn run(&self, mut job: ErasureJob) -> Result<ErasureJob, PrivacyError> {
        while !job.is_done() {
            if job.phase == ErasurePhase::Messages {
                let media = self.store.erasure_media(job.id, self.limits).await?;
                self.remove_media(media).await?;
            }
            job = self.store.erasure_step(job.id, self.limits, Utc::now()).await?;
        }
        self.store.compact_after_erasure().await?;
        // Audit: the `contact_erased` entry (who: `job.requested_by`, what: the contact
        // id and the counts) is recorded here once the audit log exists.
        tracing::info!(
            erasure_id = %job.id,
            contact_id = %job.contact_id,
            messages = job.messages,
            events = job.events,
            "contact erased"
        );
        Ok(job)
    }

    pub async fn erasure(&self, id: ErasureId) -> Result<Option<ErasureJob>, PrivacyError> {
        Ok(self.store.erasure(id).await?)
    }

    /// Removes the cached files of `media` (off the async workers).
    async fn remove_media(&self, media: Vec<String>) -> Result<usize, PrivacyError> {
        let Some(dir) = self.media_dir else { return Ok(0) };
        if media.is_empty() {
            return Ok(0);
        }
        let dir: PathBuf = dir.to_owned();
        let removed = tokio::task::spawn_blocking(move || {
            let mut removed = 0;
            for id in media {
                if media_cache::remove(&dir, &id)? {
                    removed += 1;
                }
            }
            Ok::<_, std::io::Error>(removed)
        })
        .await
        .map_err(|e| PrivacyError::MediaCache(std::io::Error::other(e)))?
        .map_err(PrivacyError::MediaCache)?;
        Ok(removed)
    }

    /// What a retention pass at `now` would remove, per channel with a policy.
    pub async fn retention_preview(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(ChannelId, RetentionPolicy, RetentionCounts)>, PrivacyError> {
        let mut out = Vec::new();
        for (channel, policy) in self.store.retention_policies().await? {
            let counts = self.store.retention_preview(channel, policy, now).await?;
            out.push((channel, policy, counts));
        }
        Ok(out)
    }

    /// Applies every channel's retention policy at `now`, a bounded batch per transaction
    /// with a pause between batches of `pause`, or of twice as long as the batch took if
    /// that is longer: the pass holds the write lock (and its core) at most a third of the
    /// time, however slow the machine, and the webhook path's appends wait for at most one
    /// small batch. Returns what was
    /// removed in all. Once `stop` is cancelled the pass ends after the step in hand (its
    /// media files removed too); the next pass goes on from there.
    pub async fn retention_pass(
        &self,
        now: DateTime<Utc>,
        pace: RetentionPace,
        stop: &CancellationToken,
    ) -> Result<RetentionCounts, PrivacyError> {
        let mut total = RetentionCounts::default();
        for (channel, policy) in self.store.retention_policies().await? {
            while !stop.is_cancelled() {
                let started = std::time::Instant::now();
                let step = self.store.retention_step(channel, policy, self.limits, now).await?;
                let took = started.elapsed();
                tracing::debug!(%channel, messages = step.counts.messages, micros = took.as_micros() as u64, "retention step");
                self.remove_media(step.media_ids).await?;
                total.conversations += step.counts.conversations;
                total.messages += step.counts.messages;
                total.media += step.counts.media;
                if step.finished {
                    break;
                }
                let pause = pace.pause_after(took, step.counts.messages);
                if pause.is_zero() {
                    tokio::task::yield_now().await;
                } else {
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        () = stop.cancelled() => {}
                    }
                }
            }
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn the_pace_pauses_twice_the_batch_and_holds_the_rate() {
        let pace = RetentionPace { pause: MS(5), messages_per_second: Some(1_000) };
        // 50 messages at 1,000/s are 50 ms of budget: the batch's 10 ms, then 40 ms.
        assert_eq!(pace.pause_after(MS(10), 50), MS(40));
        // A slow batch pauses twice its length, whatever the rate.
        assert_eq!(pace.pause_after(MS(30), 50), MS(60));
        // A batch that removed nothing (the policy's last) still pauses the least.
        assert_eq!(pace.pause_after(MS(1), 0), MS(5));
        let unlimited = RetentionPace { messages_per_second: None, ..pace };
        assert_eq!(unlimited.pause_after(MS(10), 50), MS(20));
        assert_eq!(RetentionPace::UNPACED.pause_after(MS(10), 50), Duration::ZERO);
        let zero_rate = RetentionPace { messages_per_second: Some(0), ..pace };
        assert_eq!(zero_rate.pause_after(MS(1), 50), MS(5));
    }
}
