//! `/reports`: the conversations report (`GET /api/v1/reports/conversations`'s figures)
//! for a date range, time zone and grouping chosen on the page, with its days drawn as SVG
//! bar charts and a link to the CSV export. Admins see everyone's figures; an agent their
//! own conversations only, through the same request parsing as the API.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::NaiveDate;
use switchboard_core::reports::{self, ReportFigures, TimeFigures};
use switchboard_domain::AgentRole;
use switchboard_domain::report::DurationStats;

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
        }
    }
}

/// One bar of a chart.
struct Bar {
    class: &'static str,
    x: String,
    y: String,
    height: String,
    title: String,
}

/// A bar chart of one or two series per day, in SVG units.
struct Chart {
    width: u32,
    height: u32,
    base: u32,
    left: u32,
    bar_width: String,
    bars: Vec<Bar>,
    /// The top of the axis, as shown.
    max: String,
    ticks: Vec<(String, String)>,
}

/// A series: its bars' class and, per day, its value and what its bar says.
struct Series {
    class: &'static str,
    values: Vec<(f64, String)>,
}

impl Chart {
    const WIDTH: u32 = 640;
    const HEIGHT: u32 = 220;
    const LEFT: u32 = 52;
    const TOP: u32 = 12;
    const BOTTOM: u32 = 28;

    #[allow(clippy::cast_precision_loss)]
    fn draw(dates: &[NaiveDate], series: &[Series], max_label: impl Fn(f64) -> String) -> Self {
        let n = dates.len().max(1);
        let max = series.iter().flat_map(|s| s.values.iter().map(|v| v.0)).fold(0.0, f64::max);
        let top = if max > 0.0 { max } else { 1.0 };
        let plot_w = f64::from(Self::WIDTH - Self::LEFT - 4);
        let plot_h = f64::from(Self::HEIGHT - Self::TOP - Self::BOTTOM);
        let base = Self::HEIGHT - Self::BOTTOM;
        let slot = plot_w / n as f64;
        let bar = (slot / series.len().max(1) as f64 - 1.0).max(1.0);
        let mut bars = Vec::new();
        for (k, s) in series.iter().enumerate() {
            for (i, (value, title)) in s.values.iter().enumerate() {
                let h = plot_h * value / top;
                bars.push(Bar {
                    class: s.class,
                    x: format!("{:.1}", f64::from(Self::LEFT) + slot * i as f64 + 0.5 + bar * k as f64),
                    y: format!("{:.1}", f64::from(base) - h),
                    height: format!("{h:.1}"),
                    title: title.clone(),
                });
            }
        }
        let mut ticks: Vec<(String, String)> = Vec::new();
        for i in [0, n / 2, n - 1] {
            if let Some(d) = dates.get(i) {
                let label = d.format("%b %-d").to_string();
                if !ticks.iter().any(|(_, t)| *t == label) {
                    let x = f64::from(Self::LEFT) + slot * i as f64 + slot / 2.0;
                    ticks.push((format!("{x:.1}"), label));
                }
            }
        }
        Self {
            width: Self::WIDTH,
            height: Self::HEIGHT,
            base,
            left: Self::LEFT,
            bar_width: format!("{bar:.1}"),
            bars,
            max: max_label(max),
            ticks,
        }
    }
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
    csv: String,
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
    let report = reports::report(state.store.as_ref(), request).await?;
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
    let volume = Chart::draw(
        &dates,
        &[
            count_series("bar-started", "conversation started", "conversations started", |f| f.started),
            count_series("bar-resolved", "conversation resolved", "conversations resolved", |f| f.resolved),
        ],
        #[allow(clippy::cast_possible_truncation)]
        |m| format!("{}", m.round() as i64),
    );
    let first_response = Chart::draw(
        &dates,
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
    let csv = format!(
        "/api/v1/reports/conversations.csv?from={}&to={}&time_zone={}",
        range.from(),
        last,
        range.time_zone().name()
    );
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
        csv,
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
