//! `webhooks --replies-from MOCK`: inbound webhook → auto-reply latency.
//!
//! While the run lasts, the time each contact's first measured message was *meant* to be
//! sent (the open loop's schedule, so a stalled server is charged for the wait) is kept.
//! Afterwards the mock Graph API's `GET /recent` is polled until every acknowledged
//! contact received a reply (or the timeout): latency is the mock's receipt time of the
//! contact's first reply minus that send time. Both clocks are this machine's.
//!
//! Each contact's FIRST message is the one measured, so run with `--contacts` at least
//! the number of messages sent (every message from a new contact, which a greeting rule
//! answers) to measure every message.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use reqwest::Url;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::payload::RunIdentity;
use crate::sends::steady_median;
use crate::stats::{LatencySummary, new_histogram};

/// Maps the run's monotonic clock to Unix microseconds, the mock's clock.
#[derive(Debug, Clone, Copy)]
pub struct UnixClock {
    start: Instant,
    start_unix_us: u64,
}

impl UnixClock {
    pub fn new(start: Instant) -> Self {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let start_unix_us = u64::try_from(now.as_micros()).unwrap_or(u64::MAX);
        // `start` may be a little in the past: count back to it.
        let behind = u64::try_from(start.elapsed().as_micros()).unwrap_or(0);
        Self { start, start_unix_us: start_unix_us.saturating_sub(behind) }
    }

    pub fn unix_us(&self, at: Instant) -> u64 {
        self.start_unix_us + u64::try_from(at.saturating_duration_since(self.start).as_micros()).unwrap_or(0)
    }
}

/// Each contact's first acknowledged, measured message: when it was meant to be sent.
#[derive(Debug, Default)]
pub struct FirstSends(Mutex<HashMap<u64, u64>>);

impl FirstSends {
    pub fn record(&self, contact: u64, unix_us: u64) {
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(contact).or_insert(unix_us);
    }

    fn take(&self) -> HashMap<u64, u64> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

/// One request as the mock's `GET /recent` lists it.
#[derive(Debug, Deserialize)]
struct Received {
    at_us: u64,
    status: u16,
    to: String,
}

#[derive(Debug, Serialize)]
pub struct RepliesReport {
    pub mock: String,
    /// Contacts whose first message was acknowledged in the measured window.
    pub expected: u64,
    /// Of those, how many received a reply.
    pub replied: u64,
    pub missing: u64,
    /// Inbound (intended send time) → reply received by the mock.
    pub latency_ms: LatencySummary,
    /// Replies to this run's contacts per second at the mock, first to last.
    pub replies_per_s: f64,
    /// The median of the per-second reply counts without the first and last seconds.
    pub steady_replies_per_s: Option<f64>,
    /// Gave up waiting for the missing replies.
    pub timed_out: bool,
}

impl RepliesReport {
    pub fn ok(&self) -> bool {
        self.missing == 0
    }

    pub fn print_human(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let l = &self.latency_ms;
        writeln!(
            out,
            "  replies:     {} — {} expected, {} replied, {} missing{} (mock {})",
            if self.ok() { "OK" } else { "INCOMPLETE" },
            self.expected,
            self.replied,
            self.missing,
            if self.timed_out { ", timed out" } else { "" },
            self.mock
        )?;
        writeln!(
            out,
            "  reply latency: p50 {:.2}ms  p90 {:.2}ms  p99 {:.2}ms  p99.9 {:.2}ms  max {:.2}ms  (mean {:.2}ms)",
            l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms, l.mean_ms
        )?;
        writeln!(
            out,
            "  reply rate:  {:.0} replies/s first to last; steady-state median {}",
            self.replies_per_s,
            self.steady_replies_per_s.map_or_else(|| "n/a".to_owned(), |r| format!("{r:.0}/s"))
        )
    }
}

/// Polls the mock until every contact in `sends` got a reply, or `timeout`.
pub async fn collect(
    mock: &str,
    identity: &RunIdentity,
    sends: &FirstSends,
    timeout: Duration,
    stop: &CancellationToken,
) -> Result<RepliesReport> {
    let base = Url::parse(mock).with_context(|| format!("invalid --replies-from URL {mock:?}"))?;
    let url = base.join("recent?limit=10000000")?;
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build()?;
    let sends = sends.take();
    let deadline = Instant::now() + timeout;
    let mut first_reply: HashMap<u64, u64> = HashMap::with_capacity(sends.len());
    let timed_out = loop {
        let response = client.get(url.clone()).send().await.with_context(|| format!("GET {url}"))?;
        if !response.status().is_success() {
            bail!("GET {url}: {}", response.status());
        }
        let received: Vec<Received> =
            serde_json::from_slice(&response.bytes().await?).with_context(|| format!("GET {url}: not mock-graph"))?;
        first_reply.clear();
        for r in received.iter().filter(|r| r.status == 200) {
            let to = r.to.strip_prefix('+').unwrap_or(&r.to);
            let Some(contact) = identity.contact_of_wa_id(to) else { continue };
            let Some(&sent) = sends.get(&contact) else { continue };
            if r.at_us >= sent {
                first_reply.entry(contact).and_modify(|t| *t = (*t).min(r.at_us)).or_insert(r.at_us);
            }
        }
        if first_reply.len() >= sends.len() {
            break false;
        }
        if Instant::now() >= deadline || stop.is_cancelled() {
            break true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    let mut histogram = new_histogram()?;
    for (contact, at) in &first_reply {
        if let Some(sent) = sends.get(contact) {
            histogram.saturating_record((at - sent).max(1));
        }
    }
    let (first, last) = (first_reply.values().min().copied(), first_reply.values().max().copied());
    let replies_per_s = match (first, last) {
        (Some(a), Some(b)) if b > a => first_reply.len() as f64 / ((b - a) as f64 / 1e6),
        _ => 0.0,
    };
    let per_second = first.map_or_else(Vec::new, |a| {
        let mut buckets = vec![0u64; usize::try_from((last.unwrap_or(a) - a) / 1_000_000 + 1).unwrap_or(1)];
        for at in first_reply.values() {
            if let Some(b) = buckets.get_mut(usize::try_from((at - a) / 1_000_000).unwrap_or(usize::MAX)) {
                *b += 1;
            }
        }
        buckets
    });
    let expected = sends.len() as u64;
    let replied = first_reply.len() as u64;
    Ok(RepliesReport {
        mock: mock.to_owned(),
        expected,
        replied,
        missing: expected - replied,
        latency_ms: LatencySummary::from_histogram(&histogram),
        replies_per_s,
        steady_replies_per_s: steady_median(&per_second),
        timed_out,
    })
}
