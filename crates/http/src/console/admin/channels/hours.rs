//! `/admin/channels/{channel_id}/hours`: a channel's business hours — time zone, weekly
//! intervals (several a day, across midnight), holidays and special dates — and the line
//! that says whether it is open now, for the saved hours and, as the admin edits, for the
//! draft (`POST …/hours/preview`).

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc, Weekday};
use switchboard_domain::ChannelId;
use switchboard_domain::autoreply::{Lang, format_when};
use switchboard_domain::hours::{BusinessHours, DateOverride, Interval, time_zone_names, weekday_key};

use super::super::Nav;
use super::{SECTION, fragment, preview_at, read_draft};
use crate::AppState;
use crate::console::{ConsoleError, Layout, Page, render};
use crate::error::FieldError;
use crate::extract::Admin;
use crate::json::Body;

/// How many opening and closing times the preview lists.
const UPCOMING: usize = 6;

/// Whether hours say open at a moment, in words, and what comes next.
pub(super) struct Status {
    pub open: bool,
    /// "Now: open, closes today at 18:00" / "Now: closed (Christmas), opens Monday at 09:00".
    pub line: String,
    /// "Friday 25 Dec 2026, 10:00 in Europe/Berlin".
    pub local_now: String,
    /// The next openings and closings, in local time.
    pub upcoming: Vec<Change>,
}

/// One opening or closing.
pub(super) struct Change {
    pub opens: bool,
    pub at: String,
}

impl Status {
    /// The hours at `now`, written as the engine writes `{{next_open}}` (English).
    pub fn at(h: &BusinessHours, now: DateTime<Utc>) -> Self {
        let p = h.period_at(now);
        let when = |t: DateTime<Utc>| format_when(h, t, now, Lang::En).unwrap_or_else(|| t.to_rfc3339());
        let local = h.local_time(now);
        // What a closed day is called ("Christmas"), when an override decides today.
        let reason = local
            .and_then(|l| h.override_on(l.date()))
            .filter(|o| !p.open && o.hours.is_empty())
            .and_then(|o| o.label.as_deref())
            .filter(|l| !l.trim().is_empty())
            .map(|l| format!(" ({})", l.trim()))
            .unwrap_or_default();
        let line = match (p.open, p.until) {
            (true, Some(t)) => format!("Now: open, closes {}", when(t)),
            (true, None) => "Now: open, around the clock".to_owned(),
            (false, Some(t)) => format!("Now: closed{reason}, opens {}", when(t)),
            (false, None) => format!("Now: closed{reason}, and it does not open within the next three years"),
        };
        let local_now = local.map_or_else(String::new, |l| {
            format!("It is {} in {}.", l.format("%A %-d %B %Y, %H:%M"), h.time_zone.name())
        });
        let mut upcoming = Vec::new();
        let (mut t, mut open) = (p.until, p.open);
        while let Some(at) = t {
            if upcoming.len() == UPCOMING {
                break;
            }
            open = !open;
            upcoming.push(Change {
                opens: open,
                at: at.with_timezone(&h.time_zone).format("%a %-d %b, %H:%M").to_string(),
            });
            t = h.period_at(at).until;
        }
        Self { open: p.open, line, local_now, upcoming }
    }
}

/// An interval as the editor shows it.
pub(super) struct IntervalForm {
    pub start: String,
    pub end: String,
}

impl IntervalForm {
    fn list(intervals: &[Interval]) -> Vec<Self> {
        intervals.iter().map(|iv| Self { start: iv.start.to_string(), end: iv.end.to_string() }).collect()
    }
}

pub(super) struct DayForm {
    /// `mon`…`sun`, the JSON key.
    pub key: &'static str,
    pub name: &'static str,
    pub intervals: Vec<IntervalForm>,
}

pub(super) struct OverrideForm {
    pub date: String,
    pub until: String,
    pub label: String,
    pub hours: Vec<IntervalForm>,
}

/// Business hours as the editor (`admin_hours_editor.html`) shows them.
pub(super) struct HoursForm {
    pub time_zone: String,
    pub days: Vec<DayForm>,
    pub overrides: Vec<OverrideForm>,
}

const WEEK: [(Weekday, &str); 7] = [
    (Weekday::Mon, "Monday"),
    (Weekday::Tue, "Tuesday"),
    (Weekday::Wed, "Wednesday"),
    (Weekday::Thu, "Thursday"),
    (Weekday::Fri, "Friday"),
    (Weekday::Sat, "Saturday"),
    (Weekday::Sun, "Sunday"),
];

impl HoursForm {
    pub fn of(h: &BusinessHours) -> Self {
        Self {
            time_zone: h.time_zone.name().to_owned(),
            days: WEEK
                .iter()
                .map(|(d, name)| DayForm {
                    key: weekday_key(*d),
                    name,
                    intervals: IntervalForm::list(h.weekly.day(*d)),
                })
                .collect(),
            overrides: h.overrides.iter().map(OverrideForm::of).collect(),
        }
    }

    /// What the editor starts from when nothing is saved: Monday to Friday, 09:00 to
    /// 17:00, in UTC (not saved until the admin saves it).
    pub fn suggestion() -> Self {
        let days = WEEK
            .iter()
            .enumerate()
            .map(|(i, (d, name))| DayForm {
                key: weekday_key(*d),
                name,
                intervals: if i < 5 {
                    vec![IntervalForm { start: "09:00".into(), end: "17:00".into() }]
                } else {
                    Vec::new()
                },
            })
            .collect();
        Self { time_zone: "UTC".into(), days, overrides: Vec::new() }
    }
}

impl OverrideForm {
    fn of(o: &DateOverride) -> Self {
        Self {
            date: o.date.to_string(),
            until: o.until.map(|d| d.to_string()).unwrap_or_default(),
            label: o.label.clone().unwrap_or_default(),
            hours: IntervalForm::list(&o.hours),
        }
    }
}

#[derive(Template)]
#[template(path = "console/admin_hours.html")]
struct HoursPage {
    layout: Layout,
    nav: Nav,
    channel_id: String,
    channel_name: String,
    /// The saved hours' line; `None` when none are saved.
    saved: Option<Status>,
    form: HoursForm,
    time_zones: Vec<&'static str>,
}

/// `GET /admin/channels/{channel_id}/hours`: the editor, filled with the saved hours.
pub(super) async fn page(
    Page(admin): Page<Admin<ChannelId>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let config = state.config();
    let channel = config.channel(admin.path).await?;
    let hours = config.channel_settings(channel.id).await?.hours;
    render(&HoursPage {
        layout: Layout::signed_in(format!("Business hours · {}", channel.name), &admin.agent),
        nav: Nav::at(SECTION),
        channel_id: channel.id.to_string(),
        channel_name: channel.name,
        saved: hours.as_ref().map(|h| Status::at(h, Utc::now())),
        form: hours.as_ref().map_or_else(HoursForm::suggestion, HoursForm::of),
        time_zones: time_zone_names(),
    })
}

/// The open/closed line for draft hours, or what is wrong with them.
#[derive(Template)]
#[template(path = "console/admin_hours_preview.html")]
struct Preview {
    status: Option<Status>,
    errors: Vec<FieldError>,
}

/// `POST /admin/channels/{channel_id}/hours/preview[?at=RFC 3339]`: the body the hours
/// form would save (the API's `BusinessHours`); answers the line "Now: open, closes …"
/// and the next changes as an HTML fragment, or (422) the fields the API would refuse.
pub(super) async fn preview(
    Page(admin): Page<Admin<ChannelId>>,
    req: HttpRequest,
    body: Body<BusinessHours>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    state.config().channel(admin.path).await?;
    let at = preview_at(&req)?;
    let page = match read_draft(body)?.and_then(|h| h.validate().map(|()| h).map_err(super::field_errors)) {
        Ok(h) => Preview { status: Some(Status::at(&h, at)), errors: Vec::new() },
        Err(errors) => Preview { status: None, errors },
    };
    fragment(&page, page.errors.is_empty())
}
