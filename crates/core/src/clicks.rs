//! Counting clicks on short links without a write per click.
//!
//! `GET /l/{slug}` is public: anyone can send it as fast as they like, and on SQLite
//! every write goes through the single writer the webhook path needs. So a click only
//! adds one to a counter in memory, per link, UTC hour, referrer host and browser family;
//! the counters are written together (one transaction, a few statements whatever their
//! number) every `links.click_flush_secs`, before a link's stats are read, and at
//! shutdown. A flood costs a few rows an hour and one write per interval. A crash loses
//! the clicks counted since the last write (at most one interval's).
//!
//! Referrer hosts are whatever the request says: each link keeps at most
//! [`MAX_REFERRERS`] distinct hosts an hour in this process, and counts further clicks
//! from new hosts without one, so neither the counters nor the table grow with them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use switchboard_domain::LinkId;
use switchboard_domain::link::AgentFamily;
use switchboard_store::{ClickCount, NewClick, Store, StoreError};
use tokio_util::sync::CancellationToken;

/// Distinct referrer hosts counted per link and hour.
pub const MAX_REFERRERS: usize = 100;

type Key = (LinkId, DateTime<Utc>, Option<String>, AgentFamily);

#[derive(Default)]
struct Pending {
    counts: HashMap<Key, i64>,
    /// The referrer hosts counted per link and hour (this hour's and the last's).
    referrers: HashMap<(LinkId, DateTime<Utc>), HashSet<String>>,
}

impl Pending {
    fn add(&mut self, click: NewClick) {
        let hour = click.at.duration_trunc(TimeDelta::hours(1)).unwrap_or(click.at);
        let referrer = click.referrer_host.filter(|host| {
            let seen = self.referrers.entry((click.link, hour)).or_default();
            seen.contains(host) || (seen.len() < MAX_REFERRERS && seen.insert(host.clone()))
        });
        *self.counts.entry((click.link, hour, referrer, click.agent_family)).or_default() += 1;
    }
}

/// Adds clicks up in memory and writes them in batches. Cloning shares the counters.
#[derive(Clone)]
pub struct ClickCounter {
    store: Arc<dyn Store>,
    pending: Arc<Mutex<Pending>>,
}

impl ClickCounter {
    #[must_use]
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store, pending: Arc::default() }
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a click; written at the next flush.
    pub fn record(&self, click: NewClick) {
        self.lock().add(click);
    }

    /// Writes the clicks counted so far; how many counters were written. If the write
    /// fails, they are kept for the next flush.
    pub async fn flush(&self) -> Result<usize, StoreError> {
        let counts: Vec<ClickCount> = {
            let mut pending = self.lock();
            let Some(last_hour) = Utc::now().duration_trunc(TimeDelta::hours(1)).ok().map(|h| h - TimeDelta::hours(1))
            else {
                return Ok(0);
            };
            pending.referrers.retain(|(_, hour), _| *hour >= last_hour);
            pending
                .counts
                .drain()
                .map(|((link, hour, referrer_host, agent_family), clicks)| ClickCount {
                    link,
                    hour,
                    referrer_host,
                    agent_family,
                    clicks,
                })
                .collect()
        };
        if counts.is_empty() {
            return Ok(0);
        }
        match self.store.record_clicks(&counts).await {
            Ok(()) => Ok(counts.len()),
            Err(e) => {
                let mut pending = self.lock();
                for c in counts {
                    *pending.counts.entry((c.link, c.hour, c.referrer_host, c.agent_family)).or_default() += c.clicks;
                }
                Err(e)
            }
        }
    }

    /// Flushes every `interval` until cancelled, then once more.
    pub async fn run_until_stopped(self, interval: Duration, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let stop = tokio::select! {
                _ = tick.tick() => false,
                () = cancel.cancelled() => true,
            };
            if let Err(e) = self.flush().await {
                tracing::warn!(error = %e, "cannot write the click counts; kept for the next try");
            }
            if stop {
                break;
            }
        }
        tracing::debug!("click counter stopped");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn referrer_hosts_are_capped_per_link_and_hour() {
        let mut p = Pending::default();
        let (a, b) = (LinkId::new(), LinkId::new());
        let now = Utc::now();
        let click = |link, host: String| NewClick {
            link,
            at: now,
            referrer_host: Some(host),
            agent_family: AgentFamily::Chrome,
        };
        for i in 0..150 {
            p.add(click(a, format!("h{i}.example")));
            p.add(click(a, format!("h{i}.example")));
        }
        p.add(click(b, "h149.example".into()));
        p.add(NewClick { link: b, at: now, referrer_host: None, agent_family: AgentFamily::Bot });
        let a_keys = p.counts.keys().filter(|k| k.0 == a).count();
        assert_eq!(a_keys, MAX_REFERRERS + 1, "100 hosts and one count without a host");
        let hour = now.duration_trunc(TimeDelta::hours(1)).unwrap();
        assert_eq!(p.counts[&(a, hour, None, AgentFamily::Chrome)], 100);
        assert_eq!(p.counts[&(a, hour, Some("h0.example".into()), AgentFamily::Chrome)], 2);
        assert_eq!(p.counts[&(b, hour, Some("h149.example".into()), AgentFamily::Chrome)], 1);
        assert_eq!(p.counts[&(b, hour, None, AgentFamily::Bot)], 1);
        // The next hour starts afresh.
        p.add(click(a, "new.example".into()));
        p.add(NewClick { at: now + TimeDelta::hours(1), ..click(a, "h140.example".into()) });
        assert_eq!(p.counts[&(a, hour, None, AgentFamily::Chrome)], 101);
        let next = hour + TimeDelta::hours(1);
        assert_eq!(p.counts[&(a, next, Some("h140.example".into()), AgentFamily::Chrome)], 1);
    }
}
