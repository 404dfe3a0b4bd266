//! Scheduled jobs: reopening snoozed conversations whose time has come, and firing the
//! SLA warnings and breaches that have come due.
//!
//! The jobs' state is the conversations themselves (`status = 'snoozed'`,
//! `snoozed_until`; each SLA target's next alert time), so there is nothing to lose in a
//! crash and nothing to lease: every instance may tick, a run is one transaction per batch
//! (PostgreSQL instances skip each other's locked rows), and a snooze is reopened, an SLA
//! alert fired, once. A tick every few seconds means either happens at most that late.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use switchboard_store::{SlaAlertKind, Store, StoreError};
use tokio_util::sync::CancellationToken;

/// Live-update events deleted per statement.
const PURGE_BATCH: u32 = 5_000;

#[derive(Clone, Debug)]
pub struct SchedulerOptions {
    /// How often to look for due jobs.
    pub interval: Duration,
    /// Conversations reopened per transaction.
    pub batch_size: u32,
    /// Live-update events older than this are purged (`events.retention_days`).
    pub inbox_event_retention: Duration,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(5),
            batch_size: 100,
            inbox_event_retention: Duration::from_secs(7 * 86_400),
        }
    }
}

/// What one run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedulerReport {
    /// Snoozed conversations reopened.
    pub woken: usize,
    /// Live-update events purged (older than the retention).
    pub purged_events: u64,
    /// SLA warnings fired.
    pub sla_warnings: usize,
    /// SLA breaches fired.
    pub sla_breaches: usize,
}

pub struct Scheduler {
    store: Arc<dyn Store>,
    opts: SchedulerOptions,
}

impl Scheduler {
    #[must_use]
    pub fn new(store: Arc<dyn Store>, opts: SchedulerOptions) -> Self {
        Self { store, opts }
    }

    /// Runs every job that is due at `now`, until none is left.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<SchedulerReport, StoreError> {
        let mut report = SchedulerReport::default();
        loop {
            let woken = self.store.wake_snoozed(now, self.opts.batch_size).await?;
            report.woken += woken.len();
            for id in &woken {
                tracing::debug!(conversation_id = %id, "snooze ended, conversation reopened");
            }
            if woken.len() < usize::try_from(self.opts.batch_size).unwrap_or(usize::MAX) {
                break;
            }
        }
        loop {
            let fired = self.store.fire_sla_alerts(now, self.opts.batch_size).await?;
            for a in &fired {
                match a.kind {
                    SlaAlertKind::Warning => report.sla_warnings += 1,
                    SlaAlertKind::Breached => report.sla_breaches += 1,
                }
                tracing::debug!(conversation_id = %a.conversation, target = a.target.as_str(), kind = ?a.kind, "SLA alert fired");
            }
            if fired.len() < usize::try_from(self.opts.batch_size).unwrap_or(usize::MAX) {
                break;
            }
        }
        let retention = chrono::Duration::from_std(self.opts.inbox_event_retention).ok();
        if let Some(before) = retention.and_then(|r| now.checked_sub_signed(r)) {
            loop {
                let purged = self.store.purge_inbox_events(before, PURGE_BATCH).await?;
                report.purged_events += purged;
                if purged < u64::from(PURGE_BATCH) {
                    break;
                }
            }
        }
        if report.purged_events > 0 {
            tracing::debug!(purged = report.purged_events, "old live-update events purged");
        }
        Ok(report)
    }

    /// Ticks every `interval` until cancelled. Errors are logged and retried at the next
    /// tick.
    pub async fn run_until_stopped(self, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(self.opts.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = cancel.cancelled() => break,
            }
            match self.run_once(Utc::now()).await {
                Ok(r) => {
                    if r.woken > 0 {
                        tracing::info!(woken = r.woken, "snoozed conversations reopened");
                    }
                    if r.sla_warnings + r.sla_breaches > 0 {
                        tracing::info!(warnings = r.sla_warnings, breaches = r.sla_breaches, "SLA alerts fired");
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, source = ?std::error::Error::source(&e), "scheduler tick failed");
                }
            }
        }
        tracing::debug!("scheduler stopped");
    }
}
