//! SLA targets: how soon a conversation must get its first reply from a person and be
//! resolved, in business minutes of its channel's hours, and how long before either falls
//! due agents are warned.
//!
//! A policy is set per channel and per team; a conversation takes, when it is created,
//! its effective team's policy if that team has one, else its channel's
//! ([`SlaPolicy::effective`]). Both clocks run from the conversation's start (its first
//! customer message); [`SlaPolicy::deadlines`] turns that start into due times with
//! [`BusinessHours::after_business_seconds`].
//!
//! [`SlaPolicy`] is parsed, not validated: [`SlaPolicy::parse`] reads what an admin wrote
//! ([`SlaPolicyInput`]) or names every offending field.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::autoreply::{ErrorCode, FieldError, ValidationErrors};
use crate::hours::BusinessHours;

/// At most this many business minutes for a target (90 days of round-the-clock time).
pub const MAX_TARGET_MINUTES: u32 = 90 * 24 * 60;

/// A channel's or a team's SLA targets as an admin writes them; [`SlaPolicy::parse`]
/// reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = SlaPolicy))]
#[serde(deny_unknown_fields)]
pub struct SlaPolicyInput {
    /// A person replies within this many business minutes of the customer's first message
    /// (1 to 129600); none: no first-response target.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 129_600))]
    pub first_response_minutes: Option<u32>,
    /// The conversation is resolved within this many business minutes of its start (1 to
    /// 129600); none: no resolution target.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 129_600))]
    pub resolution_minutes: Option<u32>,
    /// Agents are warned when this many business minutes are left before a target falls
    /// due (0: no warning; less than each target).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(maximum = 129_599))]
    pub warning_minutes: u32,
}

/// SLA targets with at least one target, each within range and longer than the warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SlaPolicyInput", into = "SlaPolicyInput")]
pub struct SlaPolicy(SlaPolicyInput);

impl TryFrom<SlaPolicyInput> for SlaPolicy {
    type Error = ValidationErrors;
    fn try_from(i: SlaPolicyInput) -> Result<Self, ValidationErrors> {
        Self::parse(i)
    }
}

impl From<SlaPolicy> for SlaPolicyInput {
    fn from(p: SlaPolicy) -> Self {
        p.0
    }
}

/// When one target falls due, and when its warning fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline {
    pub due_at: DateTime<Utc>,
    /// The warning (before `due_at`), or `due_at` itself when there is none.
    pub warn_at: DateTime<Utc>,
}

/// A conversation's due times under a policy (`None`: no such target, or the business is
/// never open long enough to meet it within the hours' horizon).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deadlines {
    pub first_response: Option<Deadline>,
    pub resolution: Option<Deadline>,
}

impl Deadlines {
    /// The sooner due time, if any (what the queue sorts by).
    #[must_use]
    pub fn soonest(&self) -> Option<DateTime<Utc>> {
        [self.first_response, self.resolution].into_iter().flatten().map(|d| d.due_at).min()
    }
}

/// How a target ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SlaOutcome {
    /// Done by its due time.
    Met,
    /// Not done by its due time.
    Breached,
}

impl SlaOutcome {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Met => "met",
            Self::Breached => "breached",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "met" => Some(Self::Met),
            "breached" => Some(Self::Breached),
            _ => None,
        }
    }
}

/// Which target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SlaTarget {
    FirstResponse,
    Resolution,
}

impl SlaTarget {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::FirstResponse => "first_response",
            Self::Resolution => "resolution",
        }
    }
}

fn minutes_error(errors: &mut Vec<FieldError>, path: &str, minutes: Option<u32>, warning: u32) {
    let Some(m) = minutes else { return };
    if !(1..=MAX_TARGET_MINUTES).contains(&m) {
        errors.push(FieldError::new(path, ErrorCode::OutOfRange, format!("must be 1 to {MAX_TARGET_MINUTES}")));
    } else if warning >= m {
        errors.push(FieldError::new(
            "warning_minutes",
            ErrorCode::OutOfRange,
            format!("must be less than {path} ({m})"),
        ));
    }
}

impl SlaPolicy {
    /// Reads what an admin wrote, naming every field that breaks a rule.
    pub fn parse(i: SlaPolicyInput) -> Result<Self, ValidationErrors> {
        let mut errors = Vec::new();
        if i.first_response_minutes.is_none() && i.resolution_minutes.is_none() {
            errors.push(FieldError::new(
                "first_response_minutes",
                ErrorCode::Required,
                "set first_response_minutes, resolution_minutes or both",
            ));
        }
        minutes_error(&mut errors, "first_response_minutes", i.first_response_minutes, i.warning_minutes);
        minutes_error(&mut errors, "resolution_minutes", i.resolution_minutes, i.warning_minutes);
        errors.dedup();
        ValidationErrors::check(errors)?;
        Ok(Self(i))
    }

    #[must_use]
    pub const fn as_input(&self) -> &SlaPolicyInput {
        &self.0
    }

    #[must_use]
    pub const fn first_response_minutes(&self) -> Option<u32> {
        self.0.first_response_minutes
    }

    #[must_use]
    pub const fn resolution_minutes(&self) -> Option<u32> {
        self.0.resolution_minutes
    }

    #[must_use]
    pub const fn warning_minutes(&self) -> u32 {
        self.0.warning_minutes
    }

    /// The policy a conversation takes: its effective team's if that team has one, else
    /// its channel's.
    #[must_use]
    pub fn effective(team: Option<Self>, channel: Option<Self>) -> Option<Self> {
        team.or(channel)
    }

    /// The due times of a conversation started at `start`, counted in business time of
    /// `hours` (a channel without hours is open all the time).
    #[must_use]
    pub fn deadlines(&self, hours: Option<&BusinessHours>, start: DateTime<Utc>) -> Deadlines {
        let after = |minutes: i64| -> Option<DateTime<Utc>> {
            let seconds = minutes * 60;
            match hours {
                Some(h) => h.after_business_seconds(start, seconds),
                None => start.checked_add_signed(chrono::TimeDelta::seconds(seconds)),
            }
        };
        let warning = i64::from(self.0.warning_minutes);
        let deadline = |target: Option<u32>| {
            let minutes = i64::from(target?);
            let due_at = after(minutes)?;
            let warn_at = if warning > 0 { after(minutes - warning).unwrap_or(due_at) } else { due_at };
            Some(Deadline { due_at, warn_at })
        };
        Deadlines {
            first_response: deadline(self.0.first_response_minutes),
            resolution: deadline(self.0.resolution_minutes),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::hours::{Interval, TimeOfDay};

    fn policy(fr: Option<u32>, res: Option<u32>, warn: u32) -> Result<SlaPolicy, ValidationErrors> {
        SlaPolicy::parse(SlaPolicyInput { first_response_minutes: fr, resolution_minutes: res, warning_minutes: warn })
    }

    #[test]
    fn a_policy_needs_a_target_in_range_longer_than_its_warning() {
        assert!(policy(None, None, 0).is_err_and(|e| e.has("first_response_minutes")));
        assert!(policy(Some(0), None, 0).is_err_and(|e| e.has("first_response_minutes")));
        assert!(policy(None, Some(MAX_TARGET_MINUTES + 1), 0).is_err_and(|e| e.has("resolution_minutes")));
        assert!(policy(Some(30), Some(600), 30).is_err_and(|e| e.has("warning_minutes")));
        assert!(policy(Some(30), None, 10).is_ok());
        assert!(policy(None, Some(480), 0).is_ok());
    }

    #[test]
    fn a_team_policy_wins_over_the_channel_s() {
        let team = policy(Some(10), None, 0).ok();
        let channel = policy(Some(60), None, 0).ok();
        assert_eq!(SlaPolicy::effective(team, channel), team);
        assert_eq!(SlaPolicy::effective(None, channel), channel);
        assert_eq!(SlaPolicy::effective(None, None), None);
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, sec: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, sec).single().unwrap_or_else(|| panic!("no such time"))
    }

    #[test]
    fn due_times_skip_closed_hours() {
        let mut h = BusinessHours::closed(chrono_tz::Tz::UTC);
        let t = |h| TimeOfDay::new(h, 0).unwrap_or_else(|e| panic!("{e:?}"));
        let day = vec![Interval::new(t(9), t(17))];
        h.weekly.mon.clone_from(&day);
        h.weekly.tue.clone_from(&day);
        h.weekly.wed.clone_from(&day);
        h.weekly.thu.clone_from(&day);
        h.weekly.fri = day;
        let p = policy(Some(60), Some(8 * 60), 15).unwrap_or_else(|e| panic!("{e:?}"));
        // Friday 2026-12-04 20:00 UTC, after hours: due Monday.
        let start = at(2026, 12, 4, 20, 0, 0);
        let d = p.deadlines(Some(&h), start);
        let fr = d.first_response.unwrap_or_else(|| panic!("no first response due"));
        assert_eq!(fr.due_at, at(2026, 12, 7, 10, 0, 0));
        assert_eq!(fr.warn_at, at(2026, 12, 7, 9, 45, 0));
        let res = d.resolution.unwrap_or_else(|| panic!("no resolution due"));
        assert_eq!(res.due_at, at(2026, 12, 7, 17, 0, 0));
        assert_eq!(d.soonest(), Some(fr.due_at));
        // Without hours: wall-clock.
        let d = p.deadlines(None, start);
        assert_eq!(d.first_response.map(|f| f.due_at), Some(start + chrono::TimeDelta::minutes(60)));
    }
}
