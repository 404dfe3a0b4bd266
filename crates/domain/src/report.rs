//! Report arithmetic: a date range in a time zone cut into local days, and the summary of
//! a set of durations (median, 90th percentile, average). Pure: the store counts and
//! lists, these functions turn the lists into figures.

use chrono::{DateTime, Days, LocalResult, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::GapInfo;
pub use chrono_tz::Tz;

/// The longest range a report covers, in days.
pub const MAX_REPORT_DAYS: i64 = 366;

/// Reports keep past figures per slot of this many seconds (UTC, numbered from the
/// epoch): every time zone's days begin on a quarter hour, so a day is a run of slots.
pub const SLOT_SECONDS: i64 = 900;

/// The slots `[start, end)` spans, when both fall on a slot's boundary.
#[must_use]
pub fn slots_of(start: DateTime<Utc>, end: DateTime<Utc>) -> Option<std::ops::Range<i64>> {
    let slot = |t: DateTime<Utc>| {
        (t.timestamp_subsec_nanos() == 0 && t.timestamp().rem_euclid(SLOT_SECONDS) == 0)
            .then(|| t.timestamp().div_euclid(SLOT_SECONDS))
    };
    Some(slot(start)?..slot(end)?)
}

/// When slot `slot` begins.
#[must_use]
pub fn slot_start(slot: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(slot.saturating_mul(SLOT_SECONDS), 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Local days `[from, to)` in `time_zone`: from `from`'s midnight to `to`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportRange {
    from: NaiveDate,
    to: NaiveDate,
    time_zone: Tz,
}

/// Why a range is not one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRange {
    #[error("must be after from")]
    Empty,
    #[error("the range may span at most {MAX_REPORT_DAYS} days")]
    TooLong,
}

/// One local day of a range, as the instants it spans: `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportDay {
    pub date: NaiveDate,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl ReportRange {
    /// The days from `from` up to, not including, `to`.
    ///
    /// # Errors
    /// [`InvalidRange`] when `to` is not after `from` or the range is longer than
    /// [`MAX_REPORT_DAYS`].
    pub fn new(from: NaiveDate, to: NaiveDate, time_zone: Tz) -> Result<Self, InvalidRange> {
        let days = (to - from).num_days();
        if days <= 0 {
            return Err(InvalidRange::Empty);
        }
        if days > MAX_REPORT_DAYS {
            return Err(InvalidRange::TooLong);
        }
        Ok(Self { from, to, time_zone })
    }

    #[must_use]
    pub const fn from(&self) -> NaiveDate {
        self.from
    }

    /// The first day not in the range.
    #[must_use]
    pub const fn to(&self) -> NaiveDate {
        self.to
    }

    #[must_use]
    pub const fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// The instant the range starts: `from`'s local midnight (or the end of a DST gap
    /// that swallows it).
    #[must_use]
    pub fn start(&self) -> DateTime<Utc> {
        day_start(self.time_zone, self.from)
    }

    /// The instant the range ends (exclusive): `to`'s local midnight.
    #[must_use]
    pub fn end(&self) -> DateTime<Utc> {
        day_start(self.time_zone, self.to)
    }

    /// Every local day of the range, in order; each starts where the one before ended.
    #[must_use]
    pub fn days(&self) -> Vec<ReportDay> {
        let mut out = Vec::new();
        let mut date = self.from;
        let mut start = self.start();
        while date < self.to {
            let Some(next) = date.checked_add_days(Days::new(1)) else { break };
            let end = day_start(self.time_zone, next);
            out.push(ReportDay { date, start, end });
            date = next;
            start = end;
        }
        out
    }
}

/// The first instant of local `date` in `tz`: its midnight, the earlier one if midnight
/// happens twice, the end of the gap if the clocks skip it.
#[must_use]
pub fn day_start(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let local = date.and_time(chrono::NaiveTime::MIN);
    let utc = |o: <Tz as TimeZone>::Offset| (local - o.fix()).and_utc();
    match tz.offset_from_local_datetime(&local) {
        LocalResult::Single(o) => utc(o),
        LocalResult::Ambiguous(a, b) => utc(a).min(utc(b)),
        LocalResult::None => match GapInfo::new(&local, &tz).and_then(|g| g.end) {
            Some(end) => end.with_timezone(&Utc),
            None => local.and_utc(),
        },
    }
}

/// Median, 90th percentile and average of some durations (seconds).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DurationStats {
    pub count: u64,
    pub median: f64,
    pub p90: f64,
    pub average: f64,
}

impl DurationStats {
    /// The figures of `values` (reordered in place); `None` for none.
    ///
    /// Percentiles interpolate linearly between the two nearest ranks (PostgreSQL's
    /// `percentile_cont`): the median of 10, 20, 30, 40 is 25. Figures are rounded to
    /// thousandths of a second. The ranks are found by selection, in linear time.
    #[must_use]
    pub fn of(values: &mut [i64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        #[allow(clippy::cast_precision_loss)]
        let sum: f64 = values.iter().map(|&v| v as f64).sum();
        #[allow(clippy::cast_precision_loss)]
        let n = values.len() as f64;
        // The 90th percentile first: selecting the median then keeps it to the left part.
        let p90 = percentile(values, 0.9);
        let median = percentile(values, 0.5);
        Some(Self { count: values.len() as u64, median: milli(median), p90: milli(p90), average: milli(sum / n) })
    }
}

/// `x` rounded to thousandths, so that figures read the same however they were summed.
fn milli(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The `p` percentile (0 to 1) of non-empty `values`, interpolated; reorders `values` so
/// that the ranks at and above the percentile's lower rank lie at or after it.
#[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn percentile(values: &mut [i64], p: f64) -> f64 {
    let rank = (values.len() - 1) as f64 * p;
    let lo = rank.floor() as usize;
    let (_, a, above) = values.select_nth_unstable(lo);
    let a = *a as f64;
    // The next rank is the least value above the lower one.
    let b = if rank > lo as f64 { above.iter().min().map_or(a, |&b| b as f64) } else { a };
    a + (b - a) * (rank - lo as f64)
}

/// How many answers gave `score` on a scale of `scale` points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CsatCount {
    pub scale: u8,
    pub score: u8,
    pub count: u64,
}

/// The CSAT figures of some surveys: how many were sent and answered, the answers'
/// average and their distribution.
///
/// Scales combine by normalising to five points: a score `s` on an `n`-point scale counts
/// as `1 + 4 (s - 1) / (n - 1)`, so a 3-point scale's 1, 2, 3 count as 1, 3, 5. The
/// distribution keeps each scale's own scores.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CsatStats {
    pub surveys: u64,
    pub answered: u64,
    /// Answered / surveys, 0 to 1 (to thousandths); `None` when none was sent.
    pub response_rate: Option<f64>,
    /// The answers' average on 1 to 5 (to thousandths); `None` when none answered.
    pub average: Option<f64>,
    /// Every score of each scale answered on, in order, with its count (zeros included).
    pub distribution: Vec<CsatCount>,
}

/// `score` on a `scale`-point scale, on a 5-point one.
#[must_use]
pub fn csat_on_five(scale: u8, score: u8) -> f64 {
    if scale <= 1 {
        return 5.0;
    }
    1.0 + 4.0 * f64::from(score.saturating_sub(1)) / f64::from(scale - 1)
}

impl CsatStats {
    /// The figures of `surveys` sent and `answers`, counted per `(scale, score)`.
    #[must_use]
    pub fn of(surveys: u64, answers: &std::collections::BTreeMap<(u8, u8), u64>) -> Self {
        let answered: u64 = answers.values().sum();
        #[allow(clippy::cast_precision_loss)]
        let sum: f64 = answers.iter().map(|(&(scale, score), &n)| csat_on_five(scale, score) * n as f64).sum();
        let mut distribution = Vec::new();
        let mut scales: Vec<u8> = answers.keys().map(|k| k.0).collect();
        scales.dedup();
        for scale in scales {
            let top = answers.keys().filter(|k| k.0 == scale).map(|k| k.1).max().unwrap_or(0).max(scale);
            for score in 1..=top {
                distribution.push(CsatCount {
                    scale,
                    score,
                    count: answers.get(&(scale, score)).copied().unwrap_or(0),
                });
            }
        }
        #[allow(clippy::cast_precision_loss)]
        Self {
            surveys,
            answered,
            response_rate: (surveys > 0).then(|| milli(answered as f64 / surveys as f64)),
            average: (answered > 0).then(|| milli(sum / answered as f64)),
            distribution,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn percentiles_interpolate_between_ranks() {
        let s = DurationStats::of(&mut [40, 10, 30, 20]).unwrap();
        assert_eq!((s.count, s.median, s.average), (4, 25.0, 25.0));
        assert_eq!(s.p90, 37.0);
        let s = DurationStats::of(&mut [300, 60, 240, 120, 180]).unwrap();
        assert_eq!((s.median, s.average), (180.0, 180.0));
        assert_eq!(s.p90, 276.0);
        assert_eq!(DurationStats::of(&mut [60, 120]).unwrap().p90, 114.0);
        assert_eq!(DurationStats::of(&mut [7]).unwrap().p90, 7.0);
        assert!(DurationStats::of(&mut []).is_none());
    }

    #[test]
    fn days_are_runs_of_slots_in_every_zone_of_today() {
        let utc = slots_of(DateTime::from_timestamp(1_800, 0).unwrap(), DateTime::from_timestamp(2_700, 0).unwrap());
        assert_eq!(utc, Some(2..3));
        assert_eq!(slot_start(3), DateTime::from_timestamp(2_700, 0).unwrap());
        assert_eq!(slots_of(DateTime::from_timestamp(1_801, 0).unwrap(), slot_start(3)), None);
        for tz in ["Asia/Kathmandu", "Asia/Kolkata", "Australia/Eucla", "America/St_Johns", "Europe/Madrid"] {
            let r = ReportRange::new(d("2026-01-01"), d("2026-12-31"), tz.parse().unwrap()).unwrap();
            for day in r.days() {
                let slots = slots_of(day.start, day.end).unwrap();
                assert_eq!((slot_start(slots.start), slot_start(slots.end)), (day.start, day.end), "{tz}");
            }
        }
    }

    #[test]
    fn csat_scales_combine_on_five_points() {
        assert_eq!((csat_on_five(3, 1), csat_on_five(3, 2), csat_on_five(3, 3)), (1.0, 3.0, 5.0));
        assert_eq!((csat_on_five(5, 1), csat_on_five(5, 4)), (1.0, 4.0));
        let answers = [((5, 4), 2), ((5, 5), 1), ((3, 1), 1)].into_iter().collect();
        let s = CsatStats::of(6, &answers);
        assert_eq!((s.surveys, s.answered, s.response_rate), (6, 4, Some(0.667)));
        // (4 + 4 + 5 + 1) / 4
        assert_eq!(s.average, Some(3.5));
        let d: Vec<(u8, u8, u64)> = s.distribution.iter().map(|c| (c.scale, c.score, c.count)).collect();
        assert_eq!(d, [(3, 1, 1), (3, 2, 0), (3, 3, 0), (5, 1, 0), (5, 2, 0), (5, 3, 0), (5, 4, 2), (5, 5, 1)]);
        let none = CsatStats::of(0, &std::collections::BTreeMap::new());
        assert_eq!((none.response_rate, none.average, none.distribution.len()), (None, None, 0));
    }

    #[test]
    fn a_range_is_after_its_start_and_at_most_a_year_long() {
        let utc = Tz::UTC;
        assert_eq!(ReportRange::new(d("2026-03-02"), d("2026-03-02"), utc), Err(InvalidRange::Empty));
        assert_eq!(ReportRange::new(d("2026-03-02"), d("2026-03-01"), utc), Err(InvalidRange::Empty));
        assert!(ReportRange::new(d("2026-01-01"), d("2027-01-02"), utc).is_ok());
        assert_eq!(ReportRange::new(d("2026-01-01"), d("2027-01-03"), utc), Err(InvalidRange::TooLong));
    }

    #[test]
    fn days_follow_the_zones_clock_across_dst() {
        let tz: Tz = "Europe/Madrid".parse().unwrap();
        let r = ReportRange::new(d("2026-03-28"), d("2026-03-31"), tz).unwrap();
        let days = r.days();
        assert_eq!(days.len(), 3);
        assert_eq!(days[0].start.to_rfc3339(), "2026-03-27T23:00:00+00:00");
        // The 29th has 23 hours (clocks go forward at 02:00).
        assert_eq!((days[1].end - days[1].start).num_hours(), 23);
        assert_eq!(days[2].end, r.end());
        assert_eq!(r.end().to_rfc3339(), "2026-03-30T22:00:00+00:00");
    }

    #[test]
    fn a_midnight_the_clocks_skip_starts_the_day_when_the_gap_ends() {
        // Santiago moved its clocks from 00:00 to 01:00 on 2026-09-06.
        let tz: Tz = "America/Santiago".parse().unwrap();
        let start = day_start(tz, d("2026-09-06"));
        assert_eq!(start.with_timezone(&tz).format("%H:%M").to_string(), "01:00");
    }

    proptest! {
        #[test]
        fn days_tile_the_range(from in 0i64..20_000, len in 1i64..60, zone in 0usize..chrono_tz::TZ_VARIANTS.len()) {
            let tz = chrono_tz::TZ_VARIANTS[zone];
            let from = d("1990-01-01") + chrono::Duration::days(from);
            let r = ReportRange::new(from, from + chrono::Duration::days(len), tz).unwrap();
            let days = r.days();
            prop_assert_eq!(days.len() as i64, len);
            prop_assert_eq!(days[0].start, r.start());
            prop_assert_eq!(days[days.len() - 1].end, r.end());
            for w in days.windows(2) {
                prop_assert_eq!(w[0].end, w[1].start);
            }
            for day in &days {
                prop_assert!(day.start <= day.end);
            }
        }

        #[test]
        fn the_median_has_as_many_values_on_each_side(mut v in proptest::collection::vec(-1000i64..1000, 1..50)) {
            let s = DurationStats::of(&mut v).unwrap();
            #[allow(clippy::cast_precision_loss)]
            let below = v.iter().filter(|&&x| (x as f64) < s.median).count();
            #[allow(clippy::cast_precision_loss)]
            let above = v.iter().filter(|&&x| (x as f64) > s.median).count();
            prop_assert!(below <= v.len() / 2 && above <= v.len() / 2);
            prop_assert!(s.median <= s.p90);
        }

        #[test]
        fn percentiles_by_selection_are_those_of_the_sorted_values(mut v in proptest::collection::vec(-1000i64..1000, 1..80)) {
            let mut sorted = v.clone();
            sorted.sort_unstable();
            #[allow(clippy::cast_precision_loss)]
            let at = |p: f64| {
                let rank = (sorted.len() - 1) as f64 * p;
                let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
                let (a, b) = (sorted[lo] as f64, sorted[hi] as f64);
                milli(a + (b - a) * (rank - lo as f64))
            };
            let s = DurationStats::of(&mut v).unwrap();
            prop_assert_eq!((s.median, s.p90), (at(0.5), at(0.9)));
        }
    }
}
