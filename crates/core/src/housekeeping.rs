//! Housekeeping: keeps storage from growing without bound. At start and then every
//! `interval` (an hour), independently of how busy the other workers are:
//!
//! - the bodies of applied webhook deliveries are dropped after `body_retention`
//!   (`webhooks.body_retention_days`; they hold personal data), their key stays;
//! - their rows are deleted after `event_retention` (`webhooks.event_retention_days`),
//!   once Meta can no longer redeliver them (it retries for 7 days): the deduplication
//!   key is only needed while a retry may come;
//! - outgoing webhook messages that no endpoint is still trying to deliver are deleted,
//!   with their delivery log, after `webhook_log_retention`
//!   (`outgoing_webhooks.retention_days`);
//! - the media cache is pruned by age and total size ([`crate::media_cache`]);
//! - audit entries older than `audit_retention` (`audit.retention_days`) are deleted;
//! - erasures a crash stopped are continued, and each channel's retention policy is
//!   applied in small batches ([`crate::privacy`]);
//! - the reports' cache is filled with the slots it lacks of the last quarter
//!   ([`crate::reports::warm_cache`]).
//!
//! Every step is idempotent and works in bounded slices, so several instances may run it
//! and a crash loses nothing.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use switchboard_store::{RetentionCounts, Store, StoreError};
use tokio_util::sync::CancellationToken;

use crate::media_cache::{self, MediaCacheLimits, PruneReport};
use crate::privacy::{Privacy, PrivacyError, RetentionPace};

/// Outgoing webhook messages deleted per transaction.
const WEBHOOK_SLICE: u32 = 1_000;

#[derive(Clone, Debug)]
pub struct HousekeepingOptions {
    pub interval: Duration,
    /// Applied deliveries keep their bodies this long.
    pub body_retention: Duration,
    /// Applied deliveries' rows are deleted after this long (longer than Meta retries).
    pub event_retention: Duration,
    /// Outgoing webhook messages delivered (or given up on) are deleted, with their
    /// delivery log, after this long.
    pub webhook_log_retention: Duration,
    /// The media cache's directory and limits; `None`: not pruned.
    pub media: Option<(PathBuf, MediaCacheLimits)>,
    /// Audit entries are kept this long; `None`: forever.
    pub audit_retention: Option<Duration>,
    /// How fast retention policies remove data (lets the webhook path's writes through).
    pub retention_pace: RetentionPace,
}

impl Default for HousekeepingOptions {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(3600),
            body_retention: Duration::from_secs(7 * 86_400),
            event_retention: Duration::from_secs(10 * 86_400),
            webhook_log_retention: Duration::from_secs(30 * 86_400),
            media: None,
            audit_retention: Some(Duration::from_secs(365 * 86_400)),
            retention_pace: RetentionPace::default(),
        }
    }
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HousekeepingReport {
    pub bodies_purged: u64,
    pub events_deleted: u64,
    pub webhook_messages_deleted: u64,
    pub audit_deleted: u64,
    pub media: PruneReport,
    pub erasures_resumed: usize,
    /// What retention policies removed.
    pub retention: RetentionCounts,
    /// Report slots computed into the cache ([`crate::reports::warm_cache`]).
    pub report_slots: u64,
}

pub struct Housekeeper {
    store: Arc<dyn Store>,
    opts: HousekeepingOptions,
}

impl Housekeeper {
    #[must_use]
    pub fn new(store: Arc<dyn Store>, opts: HousekeepingOptions) -> Self {
        Self { store, opts }
    }

    /// One pass at `now`. The media cache is pruned even when the database is not
    /// available, and the other way round; the first failure is returned after both.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<HousekeepingReport, HousekeepingError> {
        self.pass(now, &CancellationToken::new()).await
    }

    /// [`Self::run_once`], whose retention purge stops after its current batch once `stop`
    /// is cancelled (a long purge does not hold up the server's shutdown).
    async fn pass(
        &self,
        now: DateTime<Utc>,
        stop: &CancellationToken,
    ) -> Result<HousekeepingReport, HousekeepingError> {
        let mut report = HousekeepingReport::default();
        let before = |age: Duration| chrono::Duration::from_std(age).ok().and_then(|a| now.checked_sub_signed(a));
        let events = async {
            if let Some(before) = before(self.opts.body_retention) {
                report.bodies_purged = self.store.purge_event_bodies(before).await?;
            }
            if let Some(before) = before(self.opts.event_retention) {
                report.events_deleted = self.store.delete_old_events(before).await?;
            }
            if let Some(before) = before(self.opts.webhook_log_retention) {
                // In slices, so the webhook path's writes never wait long on SQLite.
                loop {
                    let n = self.store.delete_old_webhook_messages(before, WEBHOOK_SLICE).await?;
                    report.webhook_messages_deleted += n;
                    if n < u64::from(WEBHOOK_SLICE) {
                        break;
                    }
                }
            }
            if let Some(before) = self.opts.audit_retention.and_then(before) {
                report.audit_deleted = crate::audit::Audit::new(self.store.as_ref()).purge(before).await?;
            }
            Ok::<_, StoreError>(())
        }
        .await;
        let media = match &self.opts.media {
            Some((dir, limits)) => {
                let (dir, limits) = (dir.clone(), *limits);
                let now = SystemTime::from(now);
                match tokio::task::spawn_blocking(move || media_cache::prune(&dir, &limits, now)).await {
                    Ok(Ok(pruned)) => {
                        report.media = pruned;
                        Ok(())
                    }
                    Ok(Err(e)) => Err(HousekeepingError::MediaCache(e)),
                    Err(e) => Err(HousekeepingError::MediaCache(std::io::Error::other(e))),
                }
            }
            None => Ok(()),
        };
        let privacy = Privacy::new(self.store.as_ref(), self.opts.media.as_ref().map(|(dir, _)| dir.as_path()));
        let privacy = async {
            report.erasures_resumed = privacy.resume_erasures(now).await?;
            report.retention = privacy.retention_pass(now, self.opts.retention_pace, stop).await?;
            Ok::<_, PrivacyError>(())
        }
        .await;
        // Last: the rest of the pass is what keeps data from being kept too long.
        let reports = crate::reports::warm_cache(self.store.as_ref(), now, stop).await;
        events?;
        media?;
        privacy?;
        report.report_slots = reports?;
        Ok(report)
    }

    /// Runs a pass at start and then every interval until cancelled; failures are logged
    /// and tried again at the next pass.
    pub async fn run_until_stopped(self, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(self.opts.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = cancel.cancelled() => break,
            }
            match self.pass(Utc::now(), &cancel).await {
                Ok(r) => {
                    if r.bodies_purged > 0
                        || r.events_deleted > 0
                        || r.webhook_messages_deleted > 0
                        || r.audit_deleted > 0
                        || r.media.removed > 0
                        || r.erasures_resumed > 0
                        || r.retention != RetentionCounts::default()
                        || r.report_slots > 0
                    {
                        tracing::info!(
                            bodies_purged = r.bodies_purged,
                            events_deleted = r.events_deleted,
                            webhook_messages_deleted = r.webhook_messages_deleted,
                            audit_deleted = r.audit_deleted,
                            media_removed = r.media.removed,
                            media_removed_bytes = r.media.removed_bytes,
                            media_kept_bytes = r.media.kept_bytes,
                            erasures_resumed = r.erasures_resumed,
                            retention_conversations = r.retention.conversations,
                            retention_messages = r.retention.messages,
                            retention_media = r.retention.media,
                            report_slots = r.report_slots,
                            "housekeeping"
                        );
                    }
                }
                Err(e) => tracing::warn!(error = %e, "housekeeping failed; trying again at the next pass"),
            }
        }
        tracing::debug!("housekeeping stopped");
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HousekeepingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("media cache: {0}")]
    MediaCache(std::io::Error),
    #[error(transparent)]
    Privacy(#[from] PrivacyError),
}
