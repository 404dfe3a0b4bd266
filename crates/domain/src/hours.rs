//! Business hours: when a channel is open, in its own IANA time zone.
//!
//! A [`BusinessHours`] is a time zone, a weekly pattern and date overrides:
//!
//! ```json
//! {
//!   "time_zone": "Europe/Berlin",
//!   "weekly": {
//!     "mon": [{"start": "09:00", "end": "12:30"}, {"start": "13:30", "end": "18:00"}],
//!     "tue": [{"start": "09:00", "end": "18:00"}],
//!     "fri": [{"start": "22:00", "end": "02:00"}],
//!     "sat": [], "sun": []
//!   },
//!   "overrides": [
//!     {"date": "2026-12-25", "label": "Christmas"},
//!     {"date": "2026-12-24", "hours": [{"start": "09:00", "end": "13:00"}]},
//!     {"date": "2026-08-01", "until": "2026-08-15", "label": "Summer break"}
//!   ]
//! }
//! ```
//!
//! # Semantics
//!
//! - **Intervals** are wall-clock times `[start, end)` with minute precision. `end` may be
//!   `24:00` (until midnight). An interval whose `end` is earlier than its `start` crosses
//!   midnight (`22:00`–`02:00` runs into the next day). `start == end` is empty and refused
//!   by validation: write `00:00`–`24:00` for a whole day. A weekday with no interval is closed.
//! - **An interval belongs to the day it starts on.** A date override replaces the intervals
//!   *starting* on its dates; the tail of a previous day's overnight interval still applies
//!   (close Dec 24 too if its `22:00`–`02:00` shift must not run into Dec 25).
//! - **Overrides**: `date` alone is one day, `date`..=`until` a range (both inclusive). No
//!   `hours` (or `[]`) means closed (a holiday); otherwise the listed special hours apply.
//!   When several overrides cover a date, the one with the shortest range wins (a single
//!   open day inside a closed fortnight), and among equally long ones the later in the list.
//! - **Open is the union of all intervals.** Intervals of the same day must not overlap
//!   (validation refuses that as a likely typo); an overnight tail overlapping the next day's
//!   first interval, or touching it, simply makes one longer open period.
//! - **Daylight saving time.** A local time that does not exist (in a spring-forward gap) is
//!   taken as the end of the gap: an interval `02:30`–`04:00` on the night clocks jump from
//!   02:00 to 03:00 opens at 03:00, and an interval lying wholly inside the gap never opens.
//!   A local time that exists twice (fall-back overlap) is taken at its *first* occurrence
//!   for a start and at its *second* occurrence for an end, so an open period is never cut
//!   short by the repeated hour.
//!
//! - **Horizon.** The next opening or closing, and the start of the current stretch, are
//!   looked for within [`HORIZON_DAYS`] (about three years) of the instant; beyond that the
//!   answer is "not within the horizon" (`None`). So every query costs a bounded amount of
//!   work whatever the overrides, and override dates are limited to the years 1970–9999.
//!
//! All functions take the instant as an argument (no clock reads) and never panic: instants
//! outside the years 1970 to 9999 count as closed, with no change.

use std::fmt;

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc, Weekday,
};
use chrono_tz::{GapInfo, Tz};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::autoreply::validate::{ErrorCode, Errors, FieldError, ValidationErrors, index, join};

/// Minutes in a day.
const DAY_MINUTES: u16 = 24 * 60;
/// At most this many intervals per day (weekly or override).
pub const MAX_INTERVALS_PER_DAY: usize = 24;
/// At most this many date overrides.
pub const MAX_OVERRIDES: usize = 1000;
/// An override covers at most this many days.
pub const MAX_OVERRIDE_DAYS: i64 = 366;
/// An override's label has at most this many characters.
pub const MAX_LABEL_CHARS: usize = 100;
/// Overrides' dates lie in these years.
pub const OVERRIDE_YEARS: std::ops::RangeInclusive<i32> = 1970..=9999;
/// How far, in days, the next opening or closing (and the start of the current stretch)
/// is looked for: beyond it the answer is "not within this many days" (`None`). Bounds the
/// work of every query, whatever the overrides.
pub const HORIZON_DAYS: i64 = 3 * 366;

/// A wall-clock time of day with minute precision, `00:00` to `24:00` (the latter only as an
/// interval's end). JSON: `"HH:MM"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, examples("09:00", "24:00")))]
#[serde(try_from = "String", into = "String")]
pub struct TimeOfDay(u16);

/// A time of day that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a time of day: expected HH:MM from 00:00 to 24:00")]
pub struct TimeOfDayError {
    pub input: String,
}

impl TimeOfDay {
    pub const MIDNIGHT: Self = Self(0);
    /// `24:00`: the end of the day.
    pub const END_OF_DAY: Self = Self(DAY_MINUTES);

    /// `hour:minute`; `24:00` is allowed, nothing after it.
    pub fn new(hour: u8, minute: u8) -> Result<Self, TimeOfDayError> {
        let m = u16::from(hour) * 60 + u16::from(minute);
        if minute >= 60 || m > DAY_MINUTES {
            return Err(TimeOfDayError { input: format!("{hour:02}:{minute:02}") });
        }
        Ok(Self(m))
    }

    /// Parses `HH:MM` (or `H:MM`).
    pub fn parse(s: &str) -> Result<Self, TimeOfDayError> {
        let err = || TimeOfDayError { input: s.to_owned() };
        let (h, m) = s.split_once(':').ok_or_else(err)?;
        let all_digits = |p: &str| !p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(h) || m.len() != 2 || !all_digits(m) {
            return Err(err());
        }
        let h: u8 = h.parse().map_err(|_| err())?;
        let m: u8 = m.parse().map_err(|_| err())?;
        Self::new(h, m).map_err(|_| err())
    }

    /// Minutes since midnight, `0..=1440`.
    #[must_use]
    pub const fn minutes(self) -> u16 {
        self.0
    }

    #[must_use]
    pub const fn hour(self) -> u8 {
        // At most 24.
        (self.0 / 60) as u8
    }

    #[must_use]
    pub const fn minute(self) -> u8 {
        // Below 60.
        (self.0 % 60) as u8
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())
    }
}

impl TryFrom<String> for TimeOfDay {
    type Error = TimeOfDayError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<TimeOfDay> for String {
    fn from(t: TimeOfDay) -> Self {
        t.to_string()
    }
}

/// One opening interval `[start, end)` on a day; `end < start` crosses midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Interval {
    pub start: TimeOfDay,
    pub end: TimeOfDay,
}

impl Interval {
    #[must_use]
    pub const fn new(start: TimeOfDay, end: TimeOfDay) -> Self {
        Self { start, end }
    }

    /// Whether the interval runs into the next day.
    #[must_use]
    pub const fn crosses_midnight(&self) -> bool {
        self.end.0 < self.start.0
    }

    /// The part on its own day, as minutes `[start, end)`.
    const fn same_day(&self) -> (u16, u16) {
        if self.crosses_midnight() { (self.start.0, DAY_MINUTES) } else { (self.start.0, self.end.0) }
    }

    /// Usable: not empty, and not starting at `24:00`.
    const fn is_proper(&self) -> bool {
        self.start.0 < DAY_MINUTES && self.start.0 != self.end.0
    }
}

/// The weekly pattern: intervals per weekday. A day with none is closed. JSON keys
/// `mon`..`sun`, each a list (missing keys are closed days).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WeeklyHours {
    #[serde(default)]
    pub mon: Vec<Interval>,
    #[serde(default)]
    pub tue: Vec<Interval>,
    #[serde(default)]
    pub wed: Vec<Interval>,
    #[serde(default)]
    pub thu: Vec<Interval>,
    #[serde(default)]
    pub fri: Vec<Interval>,
    #[serde(default)]
    pub sat: Vec<Interval>,
    #[serde(default)]
    pub sun: Vec<Interval>,
}

impl WeeklyHours {
    /// The same intervals on every day of the week.
    #[must_use]
    pub fn every_day(intervals: &[Interval]) -> Self {
        let v = intervals.to_vec();
        Self { mon: v.clone(), tue: v.clone(), wed: v.clone(), thu: v.clone(), fri: v.clone(), sat: v.clone(), sun: v }
    }

    #[must_use]
    pub fn day(&self, day: Weekday) -> &[Interval] {
        match day {
            Weekday::Mon => &self.mon,
            Weekday::Tue => &self.tue,
            Weekday::Wed => &self.wed,
            Weekday::Thu => &self.thu,
            Weekday::Fri => &self.fri,
            Weekday::Sat => &self.sat,
            Weekday::Sun => &self.sun,
        }
    }

    pub fn day_mut(&mut self, day: Weekday) -> &mut Vec<Interval> {
        match day {
            Weekday::Mon => &mut self.mon,
            Weekday::Tue => &mut self.tue,
            Weekday::Wed => &mut self.wed,
            Weekday::Thu => &mut self.thu,
            Weekday::Fri => &mut self.fri,
            Weekday::Sat => &mut self.sat,
            Weekday::Sun => &mut self.sun,
        }
    }

    /// Whether some day has an interval.
    #[must_use]
    pub fn any(&self) -> bool {
        WEEK.iter().any(|d| !self.day(*d).is_empty())
    }
}

const WEEK: [Weekday; 7] =
    [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];

/// The JSON key of a weekday.
#[must_use]
pub const fn weekday_key(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

/// A date or an inclusive date range with its own hours: closed (a holiday) when `hours`
/// is empty, otherwise special hours that replace the weekly pattern on those dates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DateOverride {
    /// The first (or only) date, `YYYY-MM-DD` in the channel's time zone.
    pub date: NaiveDate,
    /// The last date of a range, inclusive; absent for a single day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<NaiveDate>,
    /// A name for people ("Christmas").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The hours on these dates; empty (or absent) means closed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hours: Vec<Interval>,
}

impl DateOverride {
    /// A closed day.
    #[must_use]
    pub fn closed(date: NaiveDate) -> Self {
        Self { date, until: None, label: None, hours: Vec::new() }
    }

    /// The last date covered.
    #[must_use]
    pub fn last_date(&self) -> NaiveDate {
        self.until.unwrap_or(self.date).max(self.date)
    }

    /// Whether `date` is covered.
    #[must_use]
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.date <= date && date <= self.last_date()
    }

    /// The number of days covered.
    #[must_use]
    pub fn days(&self) -> i64 {
        (self.last_date() - self.date).num_days() + 1
    }
}

/// A channel's opening hours. See the module docs for the exact semantics.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// The IANA time zone the hours are written in (`"Europe/Berlin"`).
    #[serde(with = "tz_name")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, examples("Europe/Berlin")))]
    pub time_zone: Tz,
    #[serde(default)]
    pub weekly: WeeklyHours,
    #[serde(default)]
    pub overrides: Vec<DateOverride>,
}

/// The open-or-closed stretch an instant falls in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    /// Whether the business is open during the stretch.
    pub open: bool,
    /// When the stretch began; `None` if it has always been so.
    pub since: Option<DateTime<Utc>>,
    /// When it ends (the next change); `None` if it never changes.
    pub until: Option<DateTime<Utc>>,
}

/// One opening as UTC instants `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl BusinessHours {
    /// Closed at all times, in `time_zone`: add weekly intervals and overrides.
    #[must_use]
    pub fn closed(time_zone: Tz) -> Self {
        Self { time_zone, weekly: WeeklyHours::default(), overrides: Vec::new() }
    }

    /// The intervals starting on `date` (a local date): an override's if one covers the
    /// date, otherwise the weekday's.
    #[must_use]
    pub fn intervals_on(&self, date: NaiveDate) -> &[Interval] {
        self.intervals_among(self.overrides.iter(), date)
    }

    /// [`intervals_on`](Self::intervals_on) with only `overrides` considered.
    fn intervals_among<'a>(
        &'a self,
        overrides: impl Iterator<Item = &'a DateOverride>,
        date: NaiveDate,
    ) -> &'a [Interval] {
        match override_among(overrides, date) {
            Some(o) => &o.hours,
            None => self.weekly.day(date.weekday()),
        }
    }

    /// The override that decides `date`'s intervals, if any (the shortest covering it,
    /// the later in the list among equally long ones): what a person is told ("closed:
    /// Christmas").
    #[must_use]
    pub fn override_on(&self, date: NaiveDate) -> Option<&DateOverride> {
        override_among(self.overrides.iter(), date)
    }

    /// The wall-clock time at `at` in the channel's time zone; `None` for instants outside
    /// the years 1970 to 9999 ([`crate::instant`]), at which the business counts as closed
    /// with no change ahead or behind.
    #[must_use]
    pub fn local_time(&self, at: DateTime<Utc>) -> Option<NaiveDateTime> {
        crate::instant::check(at).ok()?;
        let offset = self.time_zone.offset_from_utc_datetime(&at.naive_utc()).fix();
        at.naive_utc().checked_add_offset(offset)
    }

    /// Whether the business is open at `at`.
    #[must_use]
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let Some(wall) = self.local_time(at) else {
            return false;
        };
        if matches!(self.time_zone.offset_from_local_datetime(&wall), LocalResult::Single(_)) {
            // The wall time occurs once, so comparing wall times is exact: the start of a span
            // (first occurrence, or the end of a gap) is at or before `at` exactly when its
            // wall time is at or before `wall`, and likewise for the end (last occurrence).
            let d0 = wall.date();
            return [shift(d0, -1), Some(d0)].into_iter().flatten().any(|d| {
                self.intervals_on(d).iter().any(|iv| {
                    let end_date = if iv.crosses_midnight() { shift(d, 1) } else { Some(d) };
                    iv.is_proper()
                        && local(d, iv.start).is_some_and(|s| s <= wall)
                        && end_date.and_then(|e| local(e, iv.end)).is_some_and(|e| wall < e)
                })
            });
        }
        // In a repeated hour: compare instants.
        self.is_open_by_spans(at)
    }

    /// [`is_open`](Self::is_open) by computing the spans around `at` as instants.
    fn is_open_by_spans(&self, at: DateTime<Utc>) -> bool {
        let Some(d0) = self.local_date(at) else {
            return false;
        };
        [shift(d0, -2), shift(d0, -1), Some(d0), shift(d0, 1)].into_iter().flatten().any(|d| {
            self.intervals_on(d).iter().any(|iv| self.span(d, *iv).is_some_and(|s| s.start <= at && at < s.end))
        })
    }

    /// The first instant at or after `at` when the business is open: `at` itself if open
    /// now, `None` if it does not open within [`HORIZON_DAYS`].
    #[must_use]
    pub fn next_open(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.is_open(at) { Some(at) } else { self.scan(at, false, true, None).until }
    }

    /// The first instant at or after `at` when the business is closed: `at` itself if
    /// closed now, `None` if it does not close within [`HORIZON_DAYS`].
    #[must_use]
    pub fn next_close(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.is_open(at) { self.scan(at, false, true, None).until } else { Some(at) }
    }

    /// The open or closed stretch `at` falls in, with its start and end. The start of a
    /// closed stretch is what "once per closed period" keys on.
    #[must_use]
    pub fn period_at(&self, at: DateTime<Utc>) -> Period {
        self.scan(at, true, true, None)
    }

    /// The next instant after `at` at which the business opens or closes, looking at most
    /// `days` days ahead (`None`: no change within them). Cheap even for hours that are
    /// open around the clock until a holiday next year.
    #[must_use]
    pub fn next_change_within(&self, at: DateTime<Utc>, days: u32) -> Option<DateTime<Utc>> {
        self.scan(at, false, true, Some(i64::from(days.max(2)))).until
    }

    /// When the stretch (open or closed) that `at` falls in began; `None` if it has been so
    /// for [`HORIZON_DAYS`] or more. Cheaper than [`period_at`](Self::period_at) when the end
    /// is not needed.
    #[must_use]
    pub fn period_since(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.scan(at, true, false, None).since
    }

    /// The seconds of `[from, to)` during which the business is open: the length of the
    /// overlap with every opening (overrides and holidays included, as [`is_open`]
    /// sees them). Zero when `to <= from`. What "business time" KPIs measure.
    ///
    /// [`is_open`]: Self::is_open
    #[must_use]
    pub fn business_seconds(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        if to <= from {
            return 0;
        }
        let (Some(lo), Some(hi)) = (self.local_date(from), self.local_date(to)) else {
            return 0;
        };
        // Openings starting up to two local days before `from` can still run into it
        // (an overnight interval, a repeated hour), as in `is_open_by_spans`.
        let (Some(lo), Some(hi)) = (shift(lo, -2), shift(hi, 1)) else {
            return 0;
        };
        self.merged_spans(lo, hi).iter().map(|s| (s.end.min(to) - s.start.max(from)).num_seconds().max(0)).sum()
    }

    /// The first instant `t >= from` with `business_seconds(from, t) == seconds`: when
    /// a deadline of `seconds` business seconds from `from` falls due (an SLA's). `from`
    /// itself for zero; `None` if the business is not open that long within
    /// [`HORIZON_DAYS`].
    #[must_use]
    pub fn after_business_seconds(&self, from: DateTime<Utc>, seconds: i64) -> Option<DateTime<Utc>> {
        if seconds <= 0 {
            return Some(from);
        }
        let start = shift(self.local_date(from)?, -2)?;
        let last = shift(start, HORIZON_DAYS + 2)?;
        let mut left = seconds;
        // Spans of one window may overlap the next window's (an overnight tail and the next
        // day's first interval): each instant is counted once, up to `covered`.
        let mut covered = from;
        let mut lo = start;
        while lo <= last {
            let hi = shift(lo, 13)?.min(last);
            for s in self.merged_spans(lo, hi) {
                let begin = s.start.max(covered);
                if s.end <= begin {
                    continue;
                }
                let open = (s.end - begin).num_seconds();
                if open >= left {
                    return Some(begin + TimeDelta::seconds(left));
                }
                left -= open;
                covered = s.end;
            }
            lo = shift(hi, 1)?;
        }
        None
    }

    /// Checks the hours; paths are relative to the hours object (`weekly.mon[0].end`).
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errs = Errors::default();
        self.validate_at("", &mut errs);
        ValidationErrors::check(errs.list)
    }

    /// Checks the hours, reporting paths under `prefix` (e.g. `hours`).
    pub(crate) fn validate_at(&self, prefix: &str, errs: &mut Errors) {
        let weekly = join(prefix, "weekly");
        for day in WEEK {
            validate_intervals(&join(&weekly, weekday_key(day)), self.weekly.day(day), errs);
        }
        let overrides = join(prefix, "overrides");
        if self.overrides.len() > MAX_OVERRIDES {
            errs.push(&overrides, ErrorCode::TooMany, format!("at most {MAX_OVERRIDES} overrides are allowed"));
        }
        for (i, o) in self.overrides.iter().enumerate() {
            let p = index(&overrides, i);
            if !OVERRIDE_YEARS.contains(&o.date.year()) {
                errs.push(join(&p, "date"), ErrorCode::OutOfRange, "must be in the years 1970 to 9999");
            }
            if let Some(until) = o.until {
                if !OVERRIDE_YEARS.contains(&until.year()) {
                    errs.push(join(&p, "until"), ErrorCode::OutOfRange, "must be in the years 1970 to 9999");
                } else if until < o.date {
                    errs.push(join(&p, "until"), ErrorCode::OutOfRange, "must not be before `date`");
                } else if o.days() > MAX_OVERRIDE_DAYS {
                    errs.push(
                        join(&p, "until"),
                        ErrorCode::OutOfRange,
                        format!("an override covers at most {MAX_OVERRIDE_DAYS} days"),
                    );
                }
            }
            if let Some(label) = &o.label {
                errs.text(&join(&p, "label"), label, false, MAX_LABEL_CHARS);
            }
            validate_intervals(&join(&p, "hours"), &o.hours, errs);
        }
    }

    fn local_date(&self, at: DateTime<Utc>) -> Option<NaiveDate> {
        self.local_time(at).map(|t| t.date())
    }

    /// The UTC span of `iv` starting on local `date`; `None` if empty (or in a DST gap).
    fn span(&self, date: NaiveDate, iv: Interval) -> Option<Span> {
        if !iv.is_proper() {
            return None;
        }
        let end_date = if iv.crosses_midnight() { shift(date, 1)? } else { date };
        let start = resolve(&self.time_zone, local(date, iv.start)?, false)?;
        let end = resolve(&self.time_zone, local(end_date, iv.end)?, true)?;
        (start < end).then_some(Span { start, end })
    }

    /// The first instant of local `date` (its midnight, or the end of a gap at midnight).
    fn day_start(&self, date: NaiveDate) -> Option<DateTime<Utc>> {
        resolve(&self.time_zone, local(date, TimeOfDay::MIDNIGHT)?, false)
    }

    /// All openings starting on dates `lo..=hi`, sorted and merged into disjoint spans.
    fn merged_spans(&self, lo: NaiveDate, hi: NaiveDate) -> Vec<Span> {
        let overrides: Vec<&DateOverride> =
            self.overrides.iter().filter(|o| o.date <= hi && lo <= o.last_date()).collect();
        let mut spans = Vec::new();
        let mut d = lo;
        while d <= hi {
            for iv in self.intervals_among(overrides.iter().copied(), d) {
                if let Some(s) = self.span(d, *iv) {
                    spans.push(s);
                }
            }
            match d.succ_opt() {
                Some(n) => d = n,
                None => break,
            }
        }
        spans.sort_unstable_by_key(|s| s.start);
        let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
        for s in spans {
            match merged.last_mut() {
                Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
                _ => merged.push(s),
            }
        }
        merged
    }

    /// Dates beyond which only the weekly pattern applies, with a margin of more than a
    /// week: a state unchanged across the margin never changes further out.
    fn horizon(&self, d0: NaiveDate) -> (NaiveDate, NaiveDate) {
        let first = self.overrides.iter().map(|o| o.date).min().map_or(d0, |d| d.min(d0));
        let last = self.overrides.iter().map(DateOverride::last_date).max().map_or(d0, |d| d.max(d0));
        (shift(first, -HORIZON_MARGIN).unwrap_or(first), shift(last, HORIZON_MARGIN).unwrap_or(last))
    }

    /// Finds the stretch `at` falls in, computing its start and/or end as asked.
    ///
    /// Spans are computed for the local dates `lo..=hi`; they are complete for instants
    /// from the start of `lo + 2` to the start of `hi` (an interval lasts less than two
    /// days, and DST moves days by hours). The window grows until the answer lies within
    /// that range or reaches the horizon, past which nothing changes.
    /// Neither looks further than [`HORIZON_DAYS`]; `fwd_limit` caps how many days ahead to
    /// look for the end (then reported as `None`).
    fn scan(&self, at: DateTime<Utc>, want_since: bool, want_until: bool, fwd_limit: Option<i64>) -> Period {
        let Some(d0) = self.local_date(at) else {
            return Period { open: false, since: None, until: None };
        };
        let (hz_lo, hz_hi) = self.horizon(d0);
        let max_back = (d0 - hz_lo).num_days().clamp(2, HORIZON_DAYS);
        let max_fwd = (hz_hi - d0).num_days().clamp(2, HORIZON_DAYS);
        let max_fwd = fwd_limit.map_or(max_fwd, |l| l.min(max_fwd));
        let (mut back, mut fwd) = (2_i64, 2_i64);
        let mut since: Option<Option<DateTime<Utc>>> = if want_since { None } else { Some(None) };
        let mut until: Option<Option<DateTime<Utc>>> = if want_until { None } else { Some(None) };
        loop {
            let (Some(lo), Some(hi)) = (shift(d0, -back), shift(d0, fwd)) else {
                // Out of chrono's date range: treat as unbounded.
                return Period { open: self.is_open(at), since: since.flatten(), until: until.flatten() };
            };
            let spans = self.merged_spans(lo, hi);
            let complete_from = shift(lo, 2).and_then(|d| self.day_start(d));
            let complete_to = self.day_start(hi);
            let i = spans.partition_point(|s| s.end <= at);
            let open = spans.get(i).is_some_and(|s| s.start <= at);
            let (raw_since, raw_until) = if open {
                (Some(spans[i].start), Some(spans[i].end))
            } else {
                (i.checked_sub(1).map(|p| spans[p].end), spans.get(i).map(|s| s.start))
            };
            if since.is_none() {
                if raw_since.is_some_and(|s| complete_from.is_some_and(|c| s >= c)) {
                    since = Some(raw_since);
                } else if back >= max_back {
                    since = Some(None);
                }
            }
            if until.is_none() {
                if raw_until.is_some_and(|u| complete_to.is_some_and(|c| u <= c)) {
                    until = Some(raw_until);
                } else if fwd >= max_fwd {
                    until = Some(None);
                }
            }
            if let (Some(since), Some(until)) = (since, until) {
                return Period { open, since, until };
            }
            if since.is_none() {
                back = (back * 2).min(max_back);
            }
            if until.is_none() {
                fwd = (fwd * 2).min(max_fwd);
            }
        }
    }
}

/// Among `overrides`, the one that decides `date` (see [`BusinessHours::override_on`]).
fn override_among<'a>(overrides: impl Iterator<Item = &'a DateOverride>, date: NaiveDate) -> Option<&'a DateOverride> {
    let mut best: Option<&DateOverride> = None;
    for o in overrides {
        if o.covers(date) && best.is_none_or(|b| o.days() <= b.days()) {
            best = Some(o);
        }
    }
    best
}

/// The IANA time zone names hours may be written in, sorted (for a picker).
#[must_use]
pub fn time_zone_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
    names.sort_unstable();
    names
}

/// Days of pure weekly pattern scanned beyond the last override (more than a week).
const HORIZON_MARGIN: i64 = 10;

fn validate_intervals(path: &str, intervals: &[Interval], errs: &mut Errors) {
    if intervals.len() > MAX_INTERVALS_PER_DAY {
        errs.push(path, ErrorCode::TooMany, format!("at most {MAX_INTERVALS_PER_DAY} intervals per day are allowed"));
    }
    for (i, iv) in intervals.iter().enumerate() {
        let p = index(path, i);
        if iv.start == TimeOfDay::END_OF_DAY {
            errs.push(join(&p, "start"), ErrorCode::Invalid, "24:00 is only allowed as an end time");
        } else if iv.start == iv.end {
            errs.push(
                join(&p, "end"),
                ErrorCode::Invalid,
                "must differ from `start`; use 00:00 to 24:00 for a whole day",
            );
        }
        let (a0, a1) = iv.same_day();
        for (j, other) in intervals.iter().enumerate().take(i) {
            if !other.is_proper() || !iv.is_proper() {
                continue;
            }
            let (b0, b1) = other.same_day();
            if a0 < b1 && b0 < a1 {
                errs.push(
                    &p,
                    ErrorCode::Overlap,
                    format!("{}–{} overlaps {path}[{j}] ({}–{})", iv.start, iv.end, other.start, other.end),
                );
            }
        }
    }
}

/// `date` moved by `days` (negative: back).
fn shift(date: NaiveDate, days: i64) -> Option<NaiveDate> {
    let n = Days::new(days.unsigned_abs());
    if days >= 0 { date.checked_add_days(n) } else { date.checked_sub_days(n) }
}

/// Local `date` at `time` (24:00 is the next midnight).
fn local(date: NaiveDate, time: TimeOfDay) -> Option<NaiveDateTime> {
    date.and_hms_opt(0, 0, 0)?.checked_add_signed(TimeDelta::minutes(i64::from(time.minutes())))
}

/// The instant of a local time: first occurrence (or second if `latest`) when it exists
/// twice, the end of the gap when it does not exist; `None` beyond chrono's range.
fn resolve(tz: &Tz, local: NaiveDateTime, latest: bool) -> Option<DateTime<Utc>> {
    let utc = |offset: <Tz as TimeZone>::Offset| local.checked_sub_offset(offset.fix()).map(|t| t.and_utc());
    match tz.offset_from_local_datetime(&local) {
        LocalResult::Single(o) => utc(o),
        LocalResult::Ambiguous(a, b) => {
            let (a, b) = (utc(a)?, utc(b)?);
            Some(if latest { a.max(b) } else { a.min(b) })
        }
        LocalResult::None => Some(gap_end(tz, local)),
    }
}

/// The first instant after the DST gap containing `local`.
fn gap_end(tz: &Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match GapInfo::new(&local, tz).and_then(|g| g.end) {
        Some(end) => end.with_timezone(&Utc),
        // A gap at the end of the zone's table (not a real zone's): read the wall time as UTC.
        None => local.and_utc(),
    }
}

/// Serde for [`Tz`] as its IANA name.
pub mod tz_name {
    use super::{Deserialize, Deserializer, Serializer, Tz};

    pub fn serialize<S: Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(tz.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
        let name = String::deserialize(d)?;
        name.parse::<Tz>().map_err(|_| {
            serde::de::Error::custom(format!(
                "{name:?} is not an IANA time zone name (expected e.g. \"Europe/Berlin\" or \"UTC\")"
            ))
        })
    }
}

impl From<FieldError> for ValidationErrors {
    fn from(e: FieldError) -> Self {
        Self { errors: vec![e] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> TimeOfDay {
        TimeOfDay::parse(s).expect("valid time")
    }

    fn iv(start: &str, end: &str) -> Interval {
        Interval::new(t(start), t(end))
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("valid instant").with_timezone(&Utc)
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("valid date")
    }

    fn tz(name: &str) -> Tz {
        name.parse().expect("known zone")
    }

    /// Hours in `zone` with `intervals` on each of `days`.
    fn hours(zone: &str, days: &[Weekday], intervals: &[Interval]) -> BusinessHours {
        let mut h = BusinessHours::closed(tz(zone));
        for d in days {
            h.weekly.day_mut(*d).extend_from_slice(intervals);
        }
        h
    }

    const WEEKDAYS: [Weekday; 5] = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri];

    #[test]
    fn time_of_day_parses_and_prints() {
        assert_eq!(t("9:05").minutes(), 545);
        assert_eq!(t("24:00"), TimeOfDay::END_OF_DAY);
        assert_eq!(t("07:30").to_string(), "07:30");
        for bad in ["24:01", "25:00", "12:60", "12", "ab:cd", "1:5", "", "-1:00", "123:00"] {
            assert!(TimeOfDay::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_plain_office_day() {
        // 2026-11-23 is a Monday; Berlin is UTC+1 in November.
        let h = hours("Europe/Berlin", &WEEKDAYS, &[iv("09:00", "17:00")]);
        assert!(!h.is_open(at("2026-11-23T07:59:59Z")));
        assert!(h.is_open(at("2026-11-23T08:00:00Z")));
        assert!(h.is_open(at("2026-11-23T15:59:59Z")));
        assert!(!h.is_open(at("2026-11-23T16:00:00Z")));
        assert_eq!(h.next_open(at("2026-11-23T10:00:00Z")), Some(at("2026-11-23T10:00:00Z")));
        assert_eq!(h.next_close(at("2026-11-23T10:00:00Z")), Some(at("2026-11-23T16:00:00Z")));
        // Friday evening → Monday morning.
        assert_eq!(h.next_open(at("2026-11-27T16:00:00Z")), Some(at("2026-11-30T08:00:00Z")));
        assert_eq!(
            h.period_at(at("2026-11-28T12:00:00Z")),
            Period { open: false, since: Some(at("2026-11-27T16:00:00Z")), until: Some(at("2026-11-30T08:00:00Z")) }
        );
        assert_eq!(h.period_since(at("2026-11-24T09:00:00Z")), Some(at("2026-11-24T08:00:00Z")));
    }

    #[test]
    fn split_shifts() {
        let h = hours("Europe/Madrid", &[Weekday::Mon], &[iv("09:00", "14:00"), iv("16:00", "20:00")]);
        assert!(h.is_open(at("2026-11-23T12:59:00Z")));
        assert!(!h.is_open(at("2026-11-23T13:00:00Z")));
        assert_eq!(h.next_open(at("2026-11-23T13:30:00Z")), Some(at("2026-11-23T15:00:00Z")));
        assert_eq!(h.period_since(at("2026-11-23T14:00:00Z")), Some(at("2026-11-23T13:00:00Z")));
    }

    #[test]
    fn overnight_interval_runs_into_the_next_day() {
        let h = hours("UTC", &[Weekday::Fri], &[iv("22:00", "02:00")]);
        assert!(!h.is_open(at("2026-11-27T21:59:59Z")));
        assert!(h.is_open(at("2026-11-27T22:00:00Z")));
        assert!(h.is_open(at("2026-11-28T01:59:59Z")));
        assert!(!h.is_open(at("2026-11-28T02:00:00Z")));
        assert_eq!(h.next_close(at("2026-11-27T23:00:00Z")), Some(at("2026-11-28T02:00:00Z")));
        // Touching intervals merge into one open period: Sat 00:00–06:00 continues Fri's shift.
        let mut h2 = h.clone();
        h2.weekly.sat.push(iv("00:00", "06:00"));
        assert_eq!(
            h2.period_at(at("2026-11-28T01:00:00Z")),
            Period { open: true, since: Some(at("2026-11-27T22:00:00Z")), until: Some(at("2026-11-28T06:00:00Z")) }
        );
    }

    #[test]
    fn overrides_replace_the_days_they_cover() {
        let mut h = hours("UTC", &[Weekday::Thu, Weekday::Fri], &[iv("09:00", "17:00"), iv("22:00", "02:00")]);
        // A holiday on Friday 2026-12-25; Thursday's overnight tail still runs into it.
        h.overrides.push(DateOverride::closed(date("2026-12-25")));
        assert!(h.is_open(at("2026-12-25T01:00:00Z")));
        assert!(!h.is_open(at("2026-12-25T10:00:00Z")));
        assert!(!h.is_open(at("2026-12-25T23:00:00Z")));
        assert_eq!(h.next_open(at("2026-12-25T03:00:00Z")), Some(at("2026-12-31T09:00:00Z")));
        // Special hours on Christmas Eve.
        h.overrides.push(DateOverride {
            date: date("2026-12-24"),
            until: None,
            label: Some("Christmas Eve".into()),
            hours: vec![iv("10:00", "13:00")],
        });
        assert!(!h.is_open(at("2026-12-24T09:30:00Z")));
        assert!(h.is_open(at("2026-12-24T12:00:00Z")));
        assert!(!h.is_open(at("2026-12-25T01:00:00Z")), "Thursday's overnight shift is replaced too");
    }

    #[test]
    fn the_shortest_override_wins() {
        let mut h = hours("UTC", &WEEKDAYS, &[iv("09:00", "17:00")]);
        h.overrides.push(DateOverride {
            date: date("2026-08-03"),
            until: Some(date("2026-08-14")),
            label: Some("Summer".into()),
            hours: vec![],
        });
        h.overrides.push(DateOverride {
            date: date("2026-08-07"),
            until: None,
            label: None,
            hours: vec![iv("10:00", "12:00")],
        });
        assert!(!h.is_open(at("2026-08-06T10:00:00Z")));
        assert!(h.is_open(at("2026-08-07T11:00:00Z")));
        assert_eq!(h.next_open(at("2026-08-07T12:00:00Z")), Some(at("2026-08-17T09:00:00Z")));
        assert_eq!(h.period_since(at("2026-08-10T12:00:00Z")), Some(at("2026-08-07T12:00:00Z")));
        assert_eq!(h.period_since(at("2026-08-05T12:00:00Z")), Some(at("2026-07-31T17:00:00Z")));
    }

    #[test]
    fn always_open_and_never_open() {
        let always = BusinessHours {
            time_zone: tz("Europe/Berlin"),
            weekly: WeeklyHours::every_day(&[iv("00:00", "24:00")]),
            overrides: vec![],
        };
        let now = at("2026-03-29T01:30:00Z");
        assert!(always.is_open(now));
        assert_eq!(always.next_close(now), None);
        assert_eq!(always.period_at(now), Period { open: true, since: None, until: None });
        let never = BusinessHours::closed(tz("Europe/Berlin"));
        assert_eq!(never.next_open(now), None);
        assert_eq!(never.next_close(now), Some(now));
        assert_eq!(never.period_at(now), Period { open: false, since: None, until: None });
        // Closed only by a holiday far away: the open period still ends there.
        let mut h = always.clone();
        h.overrides.push(DateOverride::closed(date("2027-01-01")));
        assert_eq!(h.next_close(now), Some(at("2026-12-31T23:00:00Z")));
        assert_eq!(h.next_change_within(now, 8), None);
        assert_eq!(h.next_change_within(now, 400), Some(at("2026-12-31T23:00:00Z")));
    }

    #[test]
    fn berlin_spring_forward_gap() {
        // 2026-03-29 (Sunday): 02:00 CET jumps to 03:00 CEST (01:00Z).
        let h = hours("Europe/Berlin", &[Weekday::Sun], &[iv("01:00", "04:00")]);
        assert_eq!(h.next_open(at("2026-03-28T12:00:00Z")), Some(at("2026-03-29T00:00:00Z")));
        assert_eq!(h.next_close(at("2026-03-29T00:30:00Z")), Some(at("2026-03-29T02:00:00Z")));
        // A start inside the gap opens at the end of the gap.
        let h = hours("Europe/Berlin", &[Weekday::Sun], &[iv("02:30", "03:30")]);
        assert_eq!(h.next_open(at("2026-03-28T12:00:00Z")), Some(at("2026-03-29T01:00:00Z")));
        assert_eq!(h.next_close(at("2026-03-29T01:00:00Z")), Some(at("2026-03-29T01:30:00Z")));
        // An interval wholly inside the gap never opens that day.
        let h = hours("Europe/Berlin", &[Weekday::Sun], &[iv("02:00", "02:45")]);
        assert_eq!(h.next_open(at("2026-03-28T12:00:00Z")), Some(at("2026-04-05T00:00:00Z")));
    }

    #[test]
    fn berlin_fall_back_overlap() {
        // 2026-10-25 (Sunday): 03:00 CEST falls back to 02:00 CET (01:00Z); 02:xx exists twice.
        let h = hours("Europe/Berlin", &[Weekday::Sun], &[iv("02:30", "03:30")]);
        // Opens at the first 02:30 (CEST), closes at 03:30 CET: two real hours.
        assert_eq!(h.next_open(at("2026-10-24T12:00:00Z")), Some(at("2026-10-25T00:30:00Z")));
        assert!(h.is_open(at("2026-10-25T01:45:00Z")), "the second 02:45 is open too");
        assert_eq!(h.next_close(at("2026-10-25T00:30:00Z")), Some(at("2026-10-25T02:30:00Z")));
        // Closing inside the repeated hour: at its second occurrence.
        let h = hours("Europe/Berlin", &[Weekday::Sun], &[iv("01:00", "02:30")]);
        assert_eq!(h.next_open(at("2026-10-24T12:00:00Z")), Some(at("2026-10-24T23:00:00Z")));
        assert_eq!(h.next_close(at("2026-10-24T23:00:00Z")), Some(at("2026-10-25T01:30:00Z")));
    }

    #[test]
    fn new_york_overnight_across_both_changes() {
        // Saturday 22:00 → Sunday 02:00, across 2026-11-01 (fall back at 02:00 EDT).
        let h = hours("America/New_York", &[Weekday::Sat], &[iv("22:00", "02:00")]);
        assert_eq!(h.next_open(at("2026-10-31T12:00:00Z")), Some(at("2026-11-01T02:00:00Z")));
        assert_eq!(h.next_close(at("2026-11-01T02:00:00Z")), Some(at("2026-11-01T07:00:00Z")));
        // And across 2026-03-08 (spring forward at 02:00 EST): 02:00 does not exist, so the
        // shift ends when the clock jumps to 03:00 EDT (07:00Z).
        assert_eq!(h.next_open(at("2026-03-07T12:00:00Z")), Some(at("2026-03-08T03:00:00Z")));
        assert_eq!(h.next_close(at("2026-03-08T03:00:00Z")), Some(at("2026-03-08T07:00:00Z")));
    }

    #[test]
    fn lord_howe_half_hour_shift() {
        // Australia/Lord_Howe moves by 30 minutes: 2026-10-04 02:00 → 02:30.
        let h = hours("Australia/Lord_Howe", &[Weekday::Sun], &[iv("02:10", "03:00")]);
        let open = h.next_open(at("2026-10-03T00:00:00Z")).expect("opens");
        assert!(h.is_open(open));
        assert_eq!(open.with_timezone(&h.time_zone).format("%H:%M").to_string(), "02:30");
    }

    #[test]
    fn the_override_deciding_a_date_is_the_shortest() {
        let mut h = hours("UTC", &WEEK, &[iv("09:00", "17:00")]);
        let fortnight = DateOverride {
            date: date("2026-08-01"),
            until: Some(date("2026-08-14")),
            label: Some("Summer break".into()),
            hours: vec![],
        };
        let open_day = DateOverride {
            date: date("2026-08-07"),
            until: None,
            label: Some("Stocktaking".into()),
            hours: vec![iv("10:00", "12:00")],
        };
        h.overrides = vec![open_day, fortnight];
        assert_eq!(h.override_on(date("2026-08-03")).and_then(|o| o.label.as_deref()), Some("Summer break"));
        assert_eq!(h.override_on(date("2026-08-07")).and_then(|o| o.label.as_deref()), Some("Stocktaking"));
        assert_eq!(h.override_on(date("2026-08-15")), None);
        assert_eq!(h.intervals_on(date("2026-08-07")), &[iv("10:00", "12:00")]);
    }

    #[test]
    fn time_zone_names_are_the_iana_names_serde_reads() {
        let names = time_zone_names();
        assert!(names.len() > 400, "{}", names.len());
        for n in ["Europe/Berlin", "America/Sao_Paulo", "UTC", "Pacific/Apia"] {
            assert!(names.contains(&n), "{n}");
        }
        assert!(names.iter().all(|n| n.parse::<Tz>().is_ok()));
    }

    #[test]
    fn validation_names_the_field() {
        let mut h = hours("UTC", &[Weekday::Mon], &[iv("09:00", "12:00"), iv("11:00", "13:00"), iv("15:00", "15:00")]);
        h.weekly.tue.push(iv("24:00", "01:00"));
        h.overrides.push(DateOverride {
            date: date("2026-12-24"),
            until: Some(date("2026-12-20")),
            label: None,
            hours: vec![],
        });
        h.overrides.push(DateOverride {
            date: date("2026-01-01"),
            until: Some(date("2027-06-01")),
            label: None,
            hours: vec![iv("20:00", "02:00"), iv("23:00", "23:30")],
        });
        let errs = h.validate().expect_err("invalid");
        for path in [
            "weekly.mon[1]",
            "weekly.mon[2].end",
            "weekly.tue[0].start",
            "overrides[0].until",
            "overrides[1].until",
            "overrides[1].hours[1]",
        ] {
            assert!(errs.has(path), "{path} not in {errs}");
        }
        assert_eq!(errs.errors.len(), 6, "{errs}");
        // Overnight intervals that do not overlap the same day are fine.
        let ok = hours("UTC", &[Weekday::Mon], &[iv("00:00", "03:00"), iv("22:00", "02:00")]);
        assert_eq!(ok.validate(), Ok(()));
    }

    #[test]
    fn serde_round_trip_and_errors() {
        let json = serde_json::json!({
            "time_zone": "America/Sao_Paulo",
            "weekly": {"mon": [{"start": "09:00", "end": "18:00"}], "fri": [{"start": "22:00", "end": "02:00"}]},
            "overrides": [{"date": "2026-12-25", "label": "Natal"}, {"date": "2026-12-31", "until": "2027-01-02", "hours": [{"start": "10:00", "end": "12:00"}]}]
        });
        let h: BusinessHours = serde_json::from_value(json).expect("parses");
        assert_eq!(h.time_zone, tz("America/Sao_Paulo"));
        assert_eq!(h.weekly.fri, vec![iv("22:00", "02:00")]);
        let back = serde_json::to_value(&h).expect("serialises");
        assert_eq!(back["time_zone"], "America/Sao_Paulo");
        assert_eq!(back["weekly"]["tue"], serde_json::json!([]));
        assert_eq!(serde_json::from_value::<BusinessHours>(back).expect("parses again"), h);

        let bad_tz = serde_json::from_value::<BusinessHours>(serde_json::json!({"time_zone": "Mars/Olympus"}));
        assert!(bad_tz.expect_err("refused").to_string().contains("IANA"));
        let bad_time = serde_json::from_value::<BusinessHours>(
            serde_json::json!({"time_zone": "UTC", "weekly": {"mon": [{"start": "25:00", "end": "26:00"}]}}),
        );
        assert!(bad_time.expect_err("refused").to_string().contains("HH:MM"));
        let unknown =
            serde_json::from_value::<BusinessHours>(serde_json::json!({"time_zone": "UTC", "weekly": {"monday": []}}));
        assert!(unknown.is_err());
    }

    // ---- properties ----

    const ZONES: [&str; 9] = [
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Asia/Kolkata",
        "Australia/Lord_Howe",
        "America/Sao_Paulo",
        "America/Santiago",
        "Asia/Tehran",
        "Pacific/Apia",
    ];

    fn interval() -> impl Strategy<Value = Interval> {
        (0u16..1440, 1u16..=1440).prop_map(|(s, len)| {
            // Any start, any length up to a day: ends past midnight wrap.
            let end = (s + len) % 1440;
            let end = if end == 0 { DAY_MINUTES } else { end };
            let end = if end == s { (s + 1) % 1440 } else { end };
            Interval { start: TimeOfDay(s), end: TimeOfDay(end) }
        })
    }

    fn business_hours() -> impl Strategy<Value = BusinessHours> {
        let day = || proptest::collection::vec(interval(), 0..3);
        let overrides =
            proptest::collection::vec((0i64..800, 0i64..20, proptest::collection::vec(interval(), 0..2)), 0..4);
        (0..ZONES.len(), [day(), day(), day(), day(), day(), day(), day()], overrides).prop_map(|(z, days, ovs)| {
            let [mon, tue, wed, thu, fri, sat, sun] = days;
            let base = NaiveDate::from_ymd_opt(2025, 6, 1).expect("valid");
            BusinessHours {
                time_zone: tz(ZONES[z]),
                weekly: WeeklyHours { mon, tue, wed, thu, fri, sat, sun },
                overrides: ovs
                    .into_iter()
                    .map(|(off, len, hours)| {
                        let date = shift(base, off).expect("in range");
                        DateOverride { date, until: shift(date, len), label: None, hours }
                    })
                    .collect(),
            }
        })
    }

    /// Instants from mid-2025 to mid-2027, to the second.
    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        (1_748_736_000i64..1_811_808_000).prop_map(|s| DateTime::from_timestamp(s, 0).expect("in range"))
    }

    /// Points in `[from, to)`: the ends and evenly spread samples.
    fn samples(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let span = (to - from).num_seconds();
        let mut v = vec![from];
        if span > 1 {
            v.push(to - TimeDelta::seconds(1));
            for k in 1..64 {
                v.push(from + TimeDelta::seconds(span * k / 64));
            }
        }
        v.into_iter().filter(|p| *p < to).collect()
    }

    /// The instants in `[from, to)` at which `zone`'s UTC offset changes.
    fn transitions(zone: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        use chrono::Offset;
        let offset = |t: DateTime<Utc>| t.with_timezone(&zone).offset().fix();
        let mut out = Vec::new();
        let mut t = from;
        while t < to {
            let next = t + TimeDelta::hours(1);
            if offset(t) != offset(next) {
                let (mut lo, mut hi) = (t, next);
                while hi - lo > TimeDelta::seconds(1) {
                    let mid = lo + (hi - lo) / 2;
                    if offset(mid) == offset(lo) { lo = mid } else { hi = mid }
                }
                out.push(hi);
            }
            t = next;
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Business seconds are the open minutes, counted one by one with `is_open`
        /// (openings start and end on whole minutes, and every zone's offset here is a
        /// whole number of minutes): across overnight intervals, holidays and clock changes.
        #[test]
        fn business_seconds_count_the_open_minutes(h in business_hours(), from in instant(), minutes in 0i64..4_320) {
            let from = from - TimeDelta::seconds(from.timestamp().rem_euclid(60));
            let to = from + TimeDelta::minutes(minutes);
            let open = (0..minutes).filter(|m| h.is_open(from + TimeDelta::minutes(*m))).count();
            prop_assert_eq!(h.business_seconds(from, to), 60 * i64::try_from(open).unwrap_or(i64::MAX));
        }

        /// Additive over adjacent ranges, never more than the wall-clock time, zero for an
        /// empty or reversed range.
        #[test]
        fn business_seconds_add_up(h in business_hours(), a in instant(), ab in 0i64..2_000_000, bc in 0i64..2_000_000) {
            let b = a + TimeDelta::seconds(ab);
            let c = b + TimeDelta::seconds(bc);
            let whole = h.business_seconds(a, c);
            prop_assert_eq!(whole, h.business_seconds(a, b) + h.business_seconds(b, c));
            prop_assert!(whole <= ab + bc);
            prop_assert_eq!(h.business_seconds(c, a), 0);
        }

        /// Around clock changes, too.
        #[test]
        fn business_seconds_count_the_open_minutes_near_clock_changes((h, at) in near_a_clock_change(), minutes in 0i64..2_000) {
            let from = at - TimeDelta::seconds(at.timestamp().rem_euclid(60));
            let to = from + TimeDelta::minutes(minutes);
            let open = (0..minutes).filter(|m| h.is_open(from + TimeDelta::minutes(*m))).count();
            prop_assert_eq!(h.business_seconds(from, to), 60 * i64::try_from(open).unwrap_or(i64::MAX));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// A deadline `n` business seconds away is the first instant with `n` business
        /// seconds behind it.
        #[test]
        fn a_deadline_is_the_first_instant_with_that_much_business_time(h in business_hours(), from in instant(), n in 0i64..400_000) {
            match h.after_business_seconds(from, n) {
                Some(due) => {
                    prop_assert!(due >= from);
                    prop_assert_eq!(h.business_seconds(from, due), n);
                    if n > 0 {
                        prop_assert!(h.business_seconds(from, due - TimeDelta::seconds(1)) < n);
                    }
                }
                // Never open that long: then not within the next few weeks either.
                None => prop_assert!(h.business_seconds(from, from + TimeDelta::days(60)) < n),
            }
        }
    }

    #[test]
    fn a_deadline_skips_nights_and_holidays() {
        let mut h = BusinessHours::closed(tz("Europe/Berlin"));
        h.weekly.mon = vec![Interval { start: TimeOfDay(9 * 60), end: TimeOfDay(17 * 60) }];
        h.weekly.tue = h.weekly.mon.clone();
        h.weekly.wed = h.weekly.mon.clone();
        // Monday 2026-12-07 16:00 Berlin + 2 business hours: Tuesday 10:00 Berlin (09:00 UTC).
        let from = at("2026-12-07T15:00:00Z");
        assert_eq!(h.after_business_seconds(from, 7_200), Some(at("2026-12-08T09:00:00Z")));
        // Tuesday a holiday: Wednesday 10:00.
        h.overrides.push(DateOverride::closed(NaiveDate::from_ymd_opt(2026, 12, 8).expect("valid")));
        assert_eq!(h.after_business_seconds(from, 7_200), Some(at("2026-12-09T09:00:00Z")));
        assert_eq!(h.after_business_seconds(from, 0), Some(from));
        assert_eq!(BusinessHours::closed(tz("UTC")).after_business_seconds(from, 1), None);
    }

    #[test]
    fn business_seconds_of_a_split_day_with_a_holiday() {
        let mut h = BusinessHours::closed(tz("Europe/Berlin"));
        h.weekly.mon = vec![
            Interval { start: TimeOfDay(9 * 60), end: TimeOfDay(12 * 60) },
            Interval { start: TimeOfDay(13 * 60), end: TimeOfDay(17 * 60) },
        ];
        h.weekly.tue = h.weekly.mon.clone();
        // Monday 2026-12-07 09:30 Berlin (08:30 UTC) to Tuesday 10:00 Berlin: 2.5 h + 4 h + 1 h.
        let from = at("2026-12-07T08:30:00Z");
        let to = at("2026-12-08T09:00:00Z");
        assert_eq!(h.business_seconds(from, to), (150 + 240 + 60) * 60);
        // Tuesday a holiday: only Monday's 6.5 h.
        h.overrides.push(DateOverride::closed(NaiveDate::from_ymd_opt(2026, 12, 8).expect("valid")));
        assert_eq!(h.business_seconds(from, to), (150 + 240) * 60);
        assert_eq!(h.business_seconds(to, from), 0);
    }

    /// Hours in a zone with daylight saving time, and an instant within a day and a half of
    /// one of its clock changes in 2026.
    fn near_a_clock_change() -> impl Strategy<Value = (BusinessHours, DateTime<Utc>)> {
        let zones = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago"];
        let changes: Vec<Vec<DateTime<Utc>>> =
            zones.iter().map(|z| transitions(tz(z), at("2026-01-01T00:00:00Z"), at("2027-01-01T00:00:00Z"))).collect();
        (business_hours(), 0..zones.len(), 0usize..2, prop_oneof![-129_600i64..129_600, -7_200i64..7_200]).prop_map(
            move |(mut h, z, k, secs)| {
                h.time_zone = tz(zones[z]);
                let change = changes[z][k % changes[z].len()];
                (h, change + TimeDelta::seconds(secs))
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn wall_clock_shortcut_agrees_with_instants((h, now) in near_a_clock_change()) {
            prop_assert_eq!(h.is_open(now), h.is_open_by_spans(now));
        }

        #[test]
        fn next_open_and_close_near_clock_changes((h, now) in near_a_clock_change()) {
            if let Some(o) = h.next_open(now) {
                prop_assert!(h.is_open(o));
                for p in samples(now, o) {
                    prop_assert!(!h.is_open(p), "open at {p}, before next_open {o}");
                }
            }
            if let Some(c) = h.next_close(now) {
                prop_assert!(!h.is_open(c));
                for p in samples(now, c) {
                    prop_assert!(h.is_open(p), "closed at {p}, before next_close {c}");
                }
            }
            let p = h.period_at(now);
            if let Some(s) = p.since {
                prop_assert_ne!(h.is_open(s - TimeDelta::seconds(1)), p.open);
                prop_assert_eq!(h.is_open(s), p.open);
            }
        }

        #[test]
        fn next_open_is_open_and_nothing_before_it_is(h in business_hours(), now in instant()) {
            match h.next_open(now) {
                Some(o) => {
                    prop_assert!(o >= now);
                    prop_assert!(h.is_open(o), "next_open {o} is not open");
                    for p in samples(now, o) {
                        prop_assert!(!h.is_open(p), "open at {p}, before next_open {o}");
                    }
                }
                None => {
                    for p in samples(now, now + TimeDelta::days(400)) {
                        prop_assert!(!h.is_open(p), "open at {p}, but next_open said never");
                    }
                }
            }
        }

        #[test]
        fn next_close_is_closed_and_open_until_then(h in business_hours(), now in instant()) {
            match h.next_close(now) {
                Some(c) => {
                    prop_assert!(c >= now);
                    prop_assert!(!h.is_open(c), "next_close {c} is open");
                    for p in samples(now, c) {
                        prop_assert!(h.is_open(p), "closed at {p}, before next_close {c}");
                    }
                }
                None => {
                    for p in samples(now, now + TimeDelta::days(400)) {
                        prop_assert!(h.is_open(p), "closed at {p}, but next_close said never");
                    }
                }
            }
        }

        #[test]
        fn period_is_one_constant_stretch(h in business_hours(), now in instant()) {
            let p = h.period_at(now);
            prop_assert_eq!(p.open, h.is_open(now));
            prop_assert_eq!(p.since, h.period_since(now));
            prop_assert_eq!(p.until, h.next_change_within(now, 5000));
            if let Some(u) = h.next_change_within(now, 3) {
                prop_assert_eq!(Some(u), p.until);
            }
            let from = p.since.unwrap_or(now - TimeDelta::days(400));
            let to = p.until.unwrap_or(now + TimeDelta::days(400));
            prop_assert!(from <= now && now < to);
            for s in samples(from, to) {
                prop_assert_eq!(h.is_open(s), p.open, "state changes at {} inside {:?}", s, p);
            }
            if let Some(s) = p.since {
                prop_assert_ne!(h.is_open(s - TimeDelta::seconds(1)), p.open, "{:?} starts later", p);
            }
            if let Some(u) = p.until {
                prop_assert_ne!(h.is_open(u), p.open, "{:?} ends later", p);
            }
        }

        #[test]
        fn fixed_offset_zones_follow_the_wall_clock(h in business_hours(), kolkata in any::<bool>(), now in instant()) {
            // Without DST, open means: the wall time is inside an interval of its own day,
            // or inside the overnight tail of the previous day's.
            let mut h = h;
            h.time_zone = if kolkata { tz("Asia/Kolkata") } else { tz("UTC") };
            let local = now.with_timezone(&h.time_zone).naive_local();
            let (d, m) = (local.date(), (local.time() - chrono::NaiveTime::MIN).num_minutes() as u16);
            let today = h.intervals_on(d).iter().any(|iv| {
                let (s, e) = iv.same_day();
                iv.is_proper() && s <= m && m < e
            });
            let tail = h.intervals_on(shift(d, -1).expect("valid")).iter().any(|iv| {
                iv.is_proper() && iv.crosses_midnight() && m < iv.end.0
            });
            prop_assert_eq!(h.is_open(now), today || tail);
        }
    }

    /// Issue 22.3: instants near chrono's limits neither panic nor open.
    #[test]
    fn extreme_instants_are_closed_and_never_panic() {
        let h = hours("Pacific/Kiritimati", &WEEK, &[iv("00:00", "24:00")]);
        for t in
            [DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC, "+262142-12-31T00:00:00Z".parse().expect("instant")]
        {
            assert!(!h.is_open(t));
            assert_eq!(h.next_open(t), None);
            assert_eq!(h.period_at(t), Period { open: false, since: None, until: None });
            assert_eq!(h.next_change_within(t, 8), None);
        }
        // The last supported instant is 10000-01-01 in Kiritimati (UTC+14): still fine.
        assert!(h.is_open(at("9999-12-31T23:00:00Z")));
        let p = h.period_at(crate::instant::LATEST);
        assert!(p.open && p.until.is_none());
    }

    /// Issue 22.4: far-away closed overrides and an empty week cost bounded work.
    #[test]
    fn far_away_overrides_cost_bounded_work() {
        let mut h = BusinessHours::closed(tz("Europe/Berlin"));
        let far = NaiveDate::from_ymd_opt(-200_000, 1, 1).expect("date");
        h.overrides = (0..MAX_OVERRIDES as u64).map(|i| DateOverride::closed(far + Days::new(i * 400))).collect();
        let now = at("2026-12-06T12:00:00Z");
        let started = std::time::Instant::now();
        assert_eq!(h.next_open(now), None);
        assert_eq!(h.period_since(now), None);
        assert_eq!(h.period_at(now).until, None);
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "took {:?}", started.elapsed());
        // Such dates are refused by validation.
        let errs = h.validate().expect_err("far-away dates");
        assert!(errs.errors.iter().any(|e| e.path == "overrides[0].date"), "{errs:?}");
    }

    #[test]
    fn openings_beyond_the_horizon_are_not_found() {
        let mut h = hours("UTC", &WEEK, &[iv("09:00", "17:00")]);
        let now = at("2026-01-01T20:00:00Z");
        // Closed for four years (four overrides of a year each): no opening within the horizon.
        h.overrides = (0..4)
            .map(|y| DateOverride {
                date: date(&format!("{}-01-01", 2026 + y)),
                until: Some(date(&format!("{}-12-31", 2026 + y))),
                label: None,
                hours: vec![],
            })
            .collect();
        assert_eq!(h.next_open(now), None);
        h.overrides.truncate(2);
        assert_eq!(h.next_open(now), Some(at("2028-01-01T09:00:00Z")));
    }
}
