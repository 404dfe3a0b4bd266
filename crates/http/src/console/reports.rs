//! `/reports`: the conversations report (`GET /api/v1/reports/conversations`'s figures)
//! for a date range, time zone and grouping chosen on the page, with its days drawn as SVG
//! bar charts, the CSAT answers' distribution as another, and links to the CSV exports. Admins see everyone's figures; an agent their
//! own conversations only, through the same request parsing as the API.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{NaiveDate, Utc};
use switchboard_core::reports::{self, ReportFigures, SlaFigures, TimeFigures};
use switchboard_domain::AgentRole;
use switchboard_domain::report::{CsatStats, DurationStats};

use super::chart::{Chart, Series};
use super::{ConsoleError, Layout, Page};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::Caller;
use crate::routes::reports::{ReportParams, request};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/reports", web::get().to(page));
}

/// The groupings offered, `(value, label)`.
const GROUPINGS: &[(&str, &str)] = &[
    ("", "Nothing"),
    ("channel", "Channel"),
    ("team", "Team"),
    ("agent", "Agent"),
    ("label", "Label"),
    ("link", "Click-to-chat link"),
];

/// A duration for people: "45 s", "2 min 30 s", "3 h 5 min", "2 d 4 h".
fn human(seconds: f64) -> String {
    #[allow(clippy::cast_possible_truncation)]
    let s = seconds.round() as i64;
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60, s % 60);
    let pair =
        |a: i64, ua: &str, b: i64, ub: &str| if b == 0 { format!("{a} {ua}") } else { format!("{a} {ua} {b} {ub}") };
    if d > 0 {
        pair(d, "d", h, "h")
    } else if h > 0 {
        pair(h, "h", m, "min")
    } else if m > 0 {
        pair(m, "min", sec, "s")
    } else {
        format!("{sec} s")
    }
}

fn stat(s: Option<DurationStats>, f: fn(&DurationStats) -> f64) -> String {
    s.as_ref().map_or_else(|| "—".to_owned(), |s| human(f(s)))
}

/// A duration's figures as shown.
struct Times {
    count: u64,
    median: String,
    p90: String,
    average: String,
    business_median: String,
    business_p90: String,
    business_average: String,
}

impl From<&TimeFigures> for Times {
    fn from(t: &TimeFigures) -> Self {
        Self {
            count: t.wall.map_or(0, |s| s.count),
            median: stat(t.wall, |s| s.median),
            p90: stat(t.wall, |s| s.p90),
            average: stat(t.wall, |s| s.average),
            business_median: stat(t.business, |s| s.median),
            business_p90: stat(t.business, |s| s.p90),
            business_average: stat(t.business, |s| s.average),
        }
    }
}

/// A row of figures: the summary, a day or a group.
struct Row {
    name: String,
    started: u64,
    open: u64,
    resolved: u64,
    auto_replies: u64,
    replies: String,
    first_response: Times,
    resolution: Times,
    /// CSAT average (of five) and response rate, as shown.
    csat_average: String,
    csat_rate: String,
    /// SLA targets met, as shown: "75 % (3 of 4)", or "—" when none was decided.
    sla_first_response: String,
    sla_resolution: String,
}

/// SLA targets met for people: "75 % (3 of 4)", or "—".
fn sla_met(s: &SlaFigures) -> String {
    s.percent_met.map_or_else(|| "—".to_owned(), |p| format!("{p:.0} % ({} of {})", s.met, s.met + s.breached))
}

/// A CSAT average for people: "4.3 / 5", or "—".
fn csat_average(c: &CsatStats) -> String {
    c.average.map_or_else(|| "—".to_owned(), |a| format!("{a:.1} / 5"))
}

/// A response rate for people: "40 % (2 of 5)", or "—".
fn csat_rate(c: &CsatStats) -> String {
    c.response_rate.map_or_else(|| "—".to_owned(), |r| format!("{:.0} % ({} of {})", r * 100.0, c.answered, c.surveys))
}

impl Row {
    fn of(name: String, f: &ReportFigures) -> Self {
        Self {
            name,
            started: f.started,
            open: f.open,
            resolved: f.resolved,
            auto_replies: f.auto_replies,
            replies: f.replies_per_conversation.map_or_else(|| "—".to_owned(), |r| format!("{r:.1}")),
            first_response: (&f.first_response).into(),
            resolution: (&f.resolution).into(),
            csat_average: csat_average(&f.csat),
            csat_rate: csat_rate(&f.csat),
            sla_first_response: sla_met(&f.sla_first_response),
            sla_resolution: sla_met(&f.sla_resolution),
        }
    }
}

/// The chart of the CSAT answers: a bar per score of each scale answered on.
fn csat_chart(c: &CsatStats) -> Chart {
    let scales = c.distribution.first().map(|d| d.scale) != c.distribution.last().map(|d| d.scale);
    let label = |scale: u8, score: u8| if scales { format!("{score} of {scale}") } else { score.to_string() };
    let ticks: Vec<(usize, String)> =
        c.distribution.iter().enumerate().map(|(i, d)| (i, label(d.scale, d.score))).collect();
    #[allow(clippy::cast_precision_loss)]
    let values = c
        .distribution
        .iter()
        .map(|d| (d.count as f64, format!("{} of {}: {}", d.score, d.scale, plural(d.count, "answer", "answers"))))
        .collect();
    Chart::draw(
        c.distribution.len(),
        52,
        &ticks,
        &[Series { class: "bar-csat", values }],
        #[allow(clippy::cast_possible_truncation)]
        |m| format!("{}", m.round() as i64),
    )
}

/// What the page shows for a report.
struct Shown {
    summary: Row,
    days: Vec<Row>,
    groups: Vec<Row>,
    /// What the groups are ("Agent"…), when grouped.
    grouped_by: Option<&'static str>,
    volume: Chart,
    first_response: Chart,
    /// The CSAT answers per score; `None` when nobody answered.
    csat: Option<Chart>,
    csv: String,
    csat_csv: String,
    range: String,
}

#[derive(Template)]
#[template(path = "console/reports.html")]
struct ReportsPage {
    layout: Layout,
    /// The form's values as given.
    from: String,
    to: String,
    time_zone: String,
    group_by: String,
    groupings: &'static [(&'static str, &'static str)],
    zones: Vec<&'static str>,
    /// An agent's own figures, not everyone's.
    own: bool,
    /// Why the form's values make no report, per field.
    errors: Vec<(String, String)>,
    report: Option<Shown>,
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

async fn page(
    Page(caller): Page<Caller>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let params = web::Query::<ReportParams>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| ConsoleError::Api(ApiError::BadRequest { code: "invalid_query", detail: e.to_string() }))?;
    let agent = caller.agent;
    let own = agent.0.role != AgentRole::Admin;
    let mut page = ReportsPage {
        layout: Layout::signed_in("Reports", &agent),
        from: params.from.clone().unwrap_or_default(),
        to: params.to.clone().unwrap_or_default(),
        time_zone: params.time_zone.clone().unwrap_or_default(),
        group_by: params.group_by.clone().unwrap_or_default(),
        groupings: GROUPINGS,
        zones: switchboard_domain::hours::time_zone_names(),
        own,
        errors: Vec::new(),
        report: None,
    };
    let request = match request(&params, &agent) {
        Ok(r) => r,
        Err(ApiError::Validation(errors)) => {
            page.errors = errors.into_iter().map(|e| (e.field, e.message)).collect();
            return render_with(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
        Err(e) => return Err(e.into()),
    };
    let report = reports::report(state.store.as_ref(), request, Utc::now()).await?;
    let range = request.range;
    let last = range.to().pred_opt().unwrap_or(range.to());
    page.from = range.from().to_string();
    page.to = last.to_string();
    page.time_zone = range.time_zone().name().to_owned();
    page.group_by = request.grouping.map_or("", |g| g.as_str()).to_owned();
    let dates: Vec<NaiveDate> = report.days.iter().map(|d| d.date).collect();
    #[allow(clippy::cast_precision_loss)]
    let count_series = |class, one: &'static str, many: &'static str, get: fn(&ReportFigures) -> u64| Series {
        class,
        values: report
            .days
            .iter()
            .map(|d| (get(&d.figures) as f64, format!("{}: {}", d.date, plural(get(&d.figures), one, many))))
            .collect(),
    };
    let volume = Chart::daily(
        &dates,
        52,
        &[
            count_series("bar-started", "conversation started", "conversations started", |f| f.started),
            count_series("bar-resolved", "conversation resolved", "conversations resolved", |f| f.resolved),
        ],
        #[allow(clippy::cast_possible_truncation)]
        |m| format!("{}", m.round() as i64),
    );
    let first_response = Chart::daily(
        &dates,
        52,
        &[Series {
            class: "bar-response",
            values: report
                .days
                .iter()
                .map(|d| match d.figures.first_response.wall {
                    Some(s) => (s.median, format!("{}: median first response {}", d.date, human(s.median))),
                    None => (0.0, format!("{}: no first response", d.date)),
                })
                .collect(),
        }],
        human,
    );
    let grouped_by =
        request.grouping.and_then(|g| GROUPINGS.iter().find(|(v, _)| *v == g.as_str()).map(|(_, label)| *label));
    let none = match request.grouping {
        Some(switchboard_store::ReportGrouping::Agent) => "Nobody",
        _ => "None",
    };
    let query = format!("from={}&to={}&time_zone={}", range.from(), last, range.time_zone().name());
    let csv = format!("/api/v1/reports/conversations.csv?{query}");
    let csat_csv = format!("/api/v1/reports/csat.csv?{query}");
    page.report = Some(Shown {
        summary: Row::of("All".to_owned(), &report.summary),
        days: report.days.iter().rev().map(|d| Row::of(d.date.to_string(), &d.figures)).collect(),
        groups: report
            .groups
            .iter()
            .map(|g| {
                let name = match (&g.key.id, &g.key.name) {
                    (_, Some(name)) => name.clone(),
                    (Some(_), None) => "(deleted)".to_owned(),
                    (None, None) => none.to_owned(),
                };
                Row::of(name, &g.figures)
            })
            .collect(),
        grouped_by,
        volume,
        first_response,
        csat: (report.summary.csat.answered > 0).then(|| csat_chart(&report.summary.csat)),
        csv,
        csat_csv,
        range: if range.from() == last { range.from().to_string() } else { format!("{} to {last}", range.from()) },
    });
    render_with(StatusCode::OK, &page)
}

fn render_with(status: StatusCode, page: &impl Template) -> Result<HttpResponse, ConsoleError> {
    let html = page.render().map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("render")))?;
    Ok(HttpResponse::build(status).content_type("text/html; charset=utf-8").body(html))
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human(0.0), "0 s");
        assert_eq!(human(54.4), "54 s");
        assert_eq!(human(150.0), "2 min 30 s");
        assert_eq!(human(3600.0), "1 h");
        assert_eq!(human(3660.0), "1 h 1 min");
        assert_eq!(human(90_000.0), "1 d 1 h");
    }
}
