//! Counting outcomes and summarising latency.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Result;
use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies are recorded in microseconds, from 1 µs to 10 minutes, 3 significant digits.
const HIST_MAX_MICROS: u64 = 600_000_000;

pub fn new_histogram() -> Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, HIST_MAX_MICROS, 3)?)
}

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The server answered with this status code.
    Status(u16),
    /// No answer: the request failed or timed out.
    Error(ErrorKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorKind {
    Connect,
    Timeout,
    Other,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Other => "other",
        }
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl LatencySummary {
    /// Summarises a histogram of microseconds.
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        let ms = |micros: u64| micros as f64 / 1000.0;
        if h.is_empty() {
            return Self { count: 0, mean_ms: 0.0, p50_ms: 0.0, p90_ms: 0.0, p99_ms: 0.0, p999_ms: 0.0, max_ms: 0.0 };
        }
        Self {
            count: h.len(),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

/// Everything the run counts. One per run, behind a mutex: a lock per completed request
/// costs tens of nanoseconds, nothing next to the request itself.
pub struct Recorder {
    /// Latency of acknowledged requests in the measured window.
    latency: Histogram<u64>,
    /// Latency of acknowledged requests since the last progress line.
    interval_latency: Histogram<u64>,
    /// Open loop: how late measured requests started against their schedule.
    start_lag: Histogram<u64>,
    /// Open loop: measured requests that had to wait for a free slot.
    pub slot_waits: u64,
    pub measured: Counts,
    pub warmup: Counts,
    interval: Counts,
    /// Webhook numbers acknowledged with 200, warm-up included, for verification.
    acked_seqs: Vec<u64>,
    /// When the last measured request completed.
    last_completion: Option<Instant>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub sent: u64,
    pub acknowledged: u64,
    /// Non-200 answers, by status code.
    pub other_status: BTreeMap<u16, u64>,
    pub errors: u64,
    pub errors_by_kind: BTreeMap<&'static str, u64>,
}

impl Counts {
    pub fn completed(&self) -> u64 {
        self.acknowledged + self.other_status.values().sum::<u64>() + self.errors
    }

    fn record(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Status(200) => self.acknowledged += 1,
            Outcome::Status(code) => *self.other_status.entry(code).or_default() += 1,
            Outcome::Error(kind) => {
                self.errors += 1;
                *self.errors_by_kind.entry(kind.as_str()).or_default() += 1;
            }
        }
    }
}

/// One progress line's worth of numbers.
pub struct Interval {
    pub counts: Counts,
    pub latency: LatencySummary,
    pub in_flight: u64,
}

impl Recorder {
    pub fn new() -> Result<Self> {
        Ok(Self {
            latency: new_histogram()?,
            interval_latency: new_histogram()?,
            start_lag: new_histogram()?,
            slot_waits: 0,
            measured: Counts::default(),
            warmup: Counts::default(),
            interval: Counts::default(),
            acked_seqs: Vec::new(),
            last_completion: None,
        })
    }

    /// A request starts; `lag` is how late against its schedule (open loop only).
    pub fn on_sent(&mut self, measured: bool, lag: Option<Duration>) {
        if measured {
            self.measured.sent += 1;
            if let Some(lag) = lag {
                let micros = u64::try_from(lag.as_micros()).unwrap_or(u64::MAX);
                self.start_lag.saturating_record(micros.max(1));
            }
        } else {
            self.warmup.sent += 1;
        }
        self.interval.sent += 1;
    }

    pub fn on_done(&mut self, seq: u64, outcome: Outcome, latency: Duration, measured: bool, now: Instant) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.interval.record(outcome);
        if outcome == Outcome::Status(200) {
            self.acked_seqs.push(seq);
            self.interval_latency.saturating_record(micros.max(1));
        }
        if measured {
            self.measured.record(outcome);
            if outcome == Outcome::Status(200) {
                self.latency.saturating_record(micros.max(1));
            }
            self.last_completion = Some(now);
        } else {
            self.warmup.record(outcome);
        }
    }

    /// The numbers since the last call, then starts a new interval.
    pub fn take_interval(&mut self) -> Interval {
        let in_flight =
            (self.measured.sent + self.warmup.sent).saturating_sub(self.measured.completed() + self.warmup.completed());
        let latency = LatencySummary::from_histogram(&self.interval_latency);
        self.interval_latency.reset();
        Interval { counts: std::mem::take(&mut self.interval), latency, in_flight }
    }

    pub fn latency(&self) -> LatencySummary {
        LatencySummary::from_histogram(&self.latency)
    }

    pub fn start_lag(&self) -> LatencySummary {
        LatencySummary::from_histogram(&self.start_lag)
    }

    pub fn last_completion(&self) -> Option<Instant> {
        self.last_completion
    }

    pub fn take_acked_seqs(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.acked_seqs)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() <= expected * 0.002
    }

    #[test]
    fn percentiles_of_a_uniform_spread() {
        let mut h = new_histogram().unwrap();
        // 1 ms, 2 ms, ..., 1000 ms.
        for ms in 1..=1000u64 {
            h.record(ms * 1000).unwrap();
        }
        let s = LatencySummary::from_histogram(&h);
        assert_eq!(s.count, 1000);
        assert!(close(s.p50_ms, 500.0), "{s:?}");
        assert!(close(s.p90_ms, 900.0), "{s:?}");
        assert!(close(s.p99_ms, 990.0), "{s:?}");
        assert!(close(s.p999_ms, 999.0), "{s:?}");
        assert!(close(s.max_ms, 1000.0), "{s:?}");
        assert!(close(s.mean_ms, 500.5), "{s:?}");
    }

    #[test]
    fn a_tail_shows_in_the_high_percentiles_only() {
        let mut h = new_histogram().unwrap();
        for _ in 0..9_990 {
            h.record(2_000).unwrap(); // 2 ms
        }
        for _ in 0..10 {
            h.record(3_000_000).unwrap(); // 3 s
        }
        let s = LatencySummary::from_histogram(&h);
        assert!(close(s.p50_ms, 2.0));
        assert!(close(s.p99_ms, 2.0));
        assert!(close(s.p999_ms, 2.0));
        assert!(close(s.max_ms, 3000.0));
    }

    #[test]
    fn empty_histogram_summarises_to_zeros() {
        let s = LatencySummary::from_histogram(&new_histogram().unwrap());
        assert_eq!(s.count, 0);
        assert_eq!(s.max_ms, 0.0);
    }

    #[test]
    fn recorder_separates_warmup_and_counts_codes() {
        let mut r = Recorder::new().unwrap();
        let now = Instant::now();
        let ms = Duration::from_millis(1);
        r.on_sent(false, None);
        r.on_done(0, Outcome::Status(200), ms, false, now);
        for (seq, outcome) in [
            (1, Outcome::Status(200)),
            (2, Outcome::Status(401)),
            (3, Outcome::Status(401)),
            (4, Outcome::Error(ErrorKind::Timeout)),
            (5, Outcome::Status(200)),
        ] {
            r.on_sent(true, Some(ms));
            r.on_done(seq, outcome, ms, true, now);
        }
        assert_eq!(r.warmup.acknowledged, 1);
        assert_eq!(r.measured.sent, 5);
        assert_eq!(r.measured.acknowledged, 2);
        assert_eq!(r.measured.other_status.get(&401), Some(&2));
        assert_eq!(r.measured.errors_by_kind.get("timeout"), Some(&1));
        assert_eq!(r.latency().count, 2);
        assert_eq!(r.start_lag().count, 5);
        let iv = r.take_interval();
        assert_eq!(iv.counts.sent, 6);
        assert_eq!(iv.in_flight, 0);
        assert_eq!(r.take_interval().counts.sent, 0);
        assert_eq!(r.take_acked_seqs(), vec![0, 1, 5]);
    }
}
