//! Reports on conversations (`switchboard_core::reports`): admins see everyone's, an
//! agent only their own conversations (assigned to them, else first answered by them).
//!
//! ```text
//! GET /api/v1/reports/conversations       summary, every local day, and groups
//! GET /api/v1/reports/conversations.csv   one row per conversation started, streamed
//! GET /api/v1/reports/csat.csv            one row per answered CSAT survey, streamed
//! ```
//!
//! Both take `from` and `to` (local dates, both included; default the last 30 days) in
//! `time_zone` (IANA, default UTC); the summary also `group_by`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use switchboard_core::reports::{self, Report, ReportFigures, ReportRequest, SlaFigures, TimeFigures};
use switchboard_domain::report::{CsatStats, DurationStats, InvalidRange, MAX_REPORT_DAYS, ReportRange, Tz};
use switchboard_domain::{AgentId, AgentRole};
use switchboard_store::{CsatAnswerRow, CsatCursor, ReportConversation, ReportCursor, ReportGrouping, ReportSpan};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::error::{ApiError, FieldError};
use crate::extract::Caller;
use crate::openapi::Problem;

routes! {
    "/reports/conversations" => { get: conversations },
    "/reports/conversations.csv" => { get: conversations_csv },
    "/reports/csat.csv" => { get: csat_csv },
}

/// Conversations per CSV page read from the store.
const CSV_PAGE: u32 = 1_000;

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReportParams {
    /// The first day, in `time_zone` (default: 29 days before `to`).
    #[param(value_type = Option<NaiveDate>)]
    pub from: Option<String>,
    /// The last day, included, in `time_zone` (default: today there). At most 366 days
    /// after `from`.
    #[param(value_type = Option<NaiveDate>)]
    pub to: Option<String>,
    /// An IANA time zone name, such as `Europe/Madrid` (default `UTC`): where days begin.
    #[param(value_type = Option<String>, example = "Europe/Madrid")]
    pub time_zone: Option<String>,
    /// Figures per `channel`, `team`, `agent`, `label` or `link` as well (summary only);
    /// empty: none.
    #[param(value_type = Option<String>, pattern = "^(channel|team|agent|label|link)?$")]
    pub group_by: Option<String>,
}

fn parse_date(field: &str, raw: Option<&str>, errors: &mut Vec<FieldError>) -> Option<NaiveDate> {
    let raw = raw?.trim();
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| errors.push(FieldError::new(field, "must be a date, YYYY-MM-DD")))
        .ok()
}

/// The request `params` ask for, as `agent` may see it: an agent only their own.
///
/// # Errors
/// 422 naming each field that does not read.
pub(crate) fn request(params: &ReportParams, agent: &AuthenticatedAgent) -> Result<ReportRequest, ApiError> {
    let mut errors = Vec::new();
    let tz = match params.time_zone.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Some(Tz::UTC),
        Some(name) => name
            .parse::<Tz>()
            .map_err(|_| {
                errors.push(FieldError::new("time_zone", "must be an IANA time zone name, such as Europe/Madrid"))
            })
            .ok(),
    };
    let to = parse_date("to", params.to.as_deref(), &mut errors);
    let from = parse_date("from", params.from.as_deref(), &mut errors);
    let grouping = match params.group_by.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(g) => {
            let parsed = ReportGrouping::parse(g);
            if parsed.is_none() {
                errors.push(FieldError::new("group_by", "must be one of channel, team, agent, label, link"));
            }
            parsed
        }
    };
    let Some(tz) = tz.filter(|_| errors.is_empty()) else { return Err(ApiError::Validation(errors)) };
    let to = to.unwrap_or_else(|| Utc::now().with_timezone(&tz).date_naive());
    let from = from.unwrap_or_else(|| to.checked_sub_days(Days::new(29)).unwrap_or(to));
    let end = to.checked_add_days(Days::new(1)).ok_or_else(|| ApiError::field("to", "is out of range"))?;
    let range = ReportRange::new(from, end, tz).map_err(|e| match e {
        InvalidRange::Empty => ApiError::field("from", "must not be after to"),
        InvalidRange::TooLong => ApiError::field("from", format!("the range may span at most {MAX_REPORT_DAYS} days")),
    })?;
    let agent = (agent.0.role != AgentRole::Admin).then_some(agent.0.id);
    Ok(ReportRequest { range, grouping, agent })
}

/// Median, 90th percentile and average of some durations, wall-clock and in the channel's
/// business hours (equal when it has none); `null` when nothing was timed.
#[derive(Serialize, ToSchema)]
#[schema(as = ReportTimes)]
struct TimesJson {
    /// How many were timed.
    count: u64,
    median_seconds: Option<f64>,
    p90_seconds: Option<f64>,
    average_seconds: Option<f64>,
    business_median_seconds: Option<f64>,
    business_p90_seconds: Option<f64>,
    business_average_seconds: Option<f64>,
}

impl From<&TimeFigures> for TimesJson {
    fn from(t: &TimeFigures) -> Self {
        let get = |s: Option<DurationStats>, f: fn(&DurationStats) -> f64| s.as_ref().map(f);
        Self {
            count: t.wall.map_or(0, |s| s.count),
            median_seconds: get(t.wall, |s| s.median),
            p90_seconds: get(t.wall, |s| s.p90),
            average_seconds: get(t.wall, |s| s.average),
            business_median_seconds: get(t.business, |s| s.median),
            business_p90_seconds: get(t.business, |s| s.p90),
            business_average_seconds: get(t.business, |s| s.average),
        }
    }
}

/// How many CSAT answers gave a score on a scale.
#[derive(Serialize, ToSchema)]
#[schema(as = ReportCsatCount)]
struct CsatCountJson {
    /// The scale's points: 3 or 5.
    scale: u8,
    score: u8,
    count: u64,
}

/// The CSAT surveys sent (queued at the resolution) in the day or range, and their answers.
#[derive(Serialize, ToSchema)]
#[schema(as = ReportCsat)]
struct CsatJson {
    surveys_sent: u64,
    /// Of those, how many the customer answered.
    answered: u64,
    /// `answered / surveys_sent`, 0 to 1; `null` when none was sent.
    response_rate: Option<f64>,
    /// The answers' average on a 1–5 scale; a 3-point scale's 1, 2, 3 count as 1, 3, 5.
    /// `null` when none answered.
    average: Option<f64>,
    /// Per scale answered on, every score with its count (zeros included), in order.
    distribution: Vec<CsatCountJson>,
}

impl From<&CsatStats> for CsatJson {
    fn from(c: &CsatStats) -> Self {
        Self {
            surveys_sent: c.surveys,
            answered: c.answered,
            response_rate: c.response_rate,
            average: c.average,
            distribution: c
                .distribution
                .iter()
                .map(|d| CsatCountJson { scale: d.scale, score: d.score, count: d.count })
                .collect(),
        }
    }
}

/// The figures of a day, a group or the whole range.
#[derive(Serialize, ToSchema)]
#[schema(as = ReportFigures)]
struct FiguresJson {
    /// Conversations started.
    conversations_started: u64,
    /// Of those started, how many are not resolved now.
    conversations_open: u64,
    /// Conversations resolved (and still resolved).
    conversations_resolved: u64,
    /// Automatic messages sent (greeting, away, keyword rules).
    auto_replies_sent: u64,
    /// Messages people sent per conversation started; `null` when none started.
    replies_per_conversation: Option<f64>,
    /// Of the conversations started: from the customer's first message (or the bot's
    /// hand-over) to a person's first reply.
    first_response: TimesJson,
    /// Of the conversations resolved: from the start to the resolution.
    resolution: TimesJson,
    /// Customer satisfaction: the surveys sent and their answers.
    csat: CsatJson,
    /// First responses of the conversations started that met their SLA target.
    sla_first_response: SlaMetJson,
    /// Resolutions of the conversations resolved that met their SLA target.
    sla_resolution: SlaMetJson,
}

/// How often an SLA target was met (of the conversations with it decided).
#[derive(Serialize, ToSchema)]
#[schema(as = ReportSlaMet)]
struct SlaMetJson {
    met: u64,
    breached: u64,
    /// `met / (met + breached)` in percent; `null` when none was decided.
    percent_met: Option<f64>,
}

impl From<&SlaFigures> for SlaMetJson {
    fn from(s: &SlaFigures) -> Self {
        Self { met: s.met, breached: s.breached, percent_met: s.percent_met }
    }
}

impl From<&ReportFigures> for FiguresJson {
    fn from(f: &ReportFigures) -> Self {
        Self {
            conversations_started: f.started,
            conversations_open: f.open,
            conversations_resolved: f.resolved,
            auto_replies_sent: f.auto_replies,
            replies_per_conversation: f.replies_per_conversation,
            first_response: (&f.first_response).into(),
            resolution: (&f.resolution).into(),
            sla_first_response: (&f.sla_first_response).into(),
            sla_resolution: (&f.sla_resolution).into(),
            csat: (&f.csat).into(),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = ReportDay)]
struct DayJson {
    /// The local day.
    date: NaiveDate,
    #[serde(flatten)]
    figures: FiguresJson,
}

#[derive(Serialize, ToSchema)]
#[schema(as = ReportGroup)]
struct GroupJson {
    /// The channel, team, agent, label or link; `null` for the conversations with none.
    id: Option<Uuid>,
    /// Its name (a link's slug) now; `null` for none or one deleted since.
    name: Option<String>,
    #[serde(flatten)]
    figures: FiguresJson,
}

/// A report on conversations.
#[derive(Serialize, ToSchema)]
#[schema(as = ConversationsReport)]
struct ReportJson {
    from: NaiveDate,
    /// The last day, included.
    to: NaiveDate,
    time_zone: String,
    group_by: Option<String>,
    /// Set when the figures are only this agent's conversations (an agent asked).
    agent_id: Option<AgentId>,
    summary: FiguresJson,
    /// Every day of the range, in order.
    days: Vec<DayJson>,
    /// Per group (when `group_by`): named ones by name, then the one with none. Labels
    /// overlap (a conversation with two counts in both).
    groups: Vec<GroupJson>,
}

impl From<&Report> for ReportJson {
    fn from(r: &Report) -> Self {
        let range = r.request.range;
        Self {
            from: range.from(),
            to: range.to().pred_opt().unwrap_or(range.to()),
            time_zone: range.time_zone().name().to_owned(),
            group_by: r.request.grouping.map(|g| g.as_str().to_owned()),
            agent_id: r.request.agent,
            summary: (&r.summary).into(),
            days: r.days.iter().map(|d| DayJson { date: d.date, figures: (&d.figures).into() }).collect(),
            groups: r
                .groups
                .iter()
                .map(|g| GroupJson { id: g.key.id, name: g.key.name.clone(), figures: (&g.figures).into() })
                .collect(),
        }
    }
}

/// Conversations started, open and resolved, first response and resolution times
/// (median, 90th percentile, average; wall-clock and business), replies per
/// conversation, automatic messages sent and CSAT (average, distribution, response
/// rate), per local day and in all, and per group when asked. Admins: everyone's; agents: their own conversations only.
#[utoipa::path(get, path = "/reports/conversations", params(ReportParams),
    responses((status = 200, body = ReportJson), (status = 422, body = Problem)))]
async fn conversations(
    Caller { agent, .. }: Caller,
    params: web::Query<ReportParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request = request(&params, &agent)?;
    let report = reports::report(state.store.as_ref(), request, Utc::now()).await?;
    Ok(HttpResponse::Ok().json(ReportJson::from(&report)))
}

/// The CSV export's columns, in order.
pub const CSV_COLUMNS: &[&str] = &[
    "conversation_id",
    "contact_id",
    "channel_id",
    "channel",
    "team_id",
    "team",
    "agent_id",
    "agent",
    "status",
    "labels",
    "link_id",
    "link",
    "started_at",
    "first_response_at",
    "first_response_by",
    "resolved_at",
    "first_response_seconds",
    "first_response_business_seconds",
    "resolution_seconds",
    "resolution_business_seconds",
    "replies",
    "auto_replies",
    "csat_scale",
    "csat_score",
    "csat_comment",
    "csat_surveyed_at",
    "csat_answered_at",
    "first_response_due_at",
    "first_response_sla",
    "resolution_due_at",
    "resolution_sla",
];

/// The CSAT export's columns, in order.
pub const CSAT_CSV_COLUMNS: &[&str] = &[
    "conversation_id",
    "contact_id",
    "channel_id",
    "channel",
    "team_id",
    "team",
    "agent_id",
    "agent",
    "score",
    "scale",
    "comment",
    "surveyed_at",
    "answered_at",
];

/// A CSV field: quoted when it must be; text that a spreadsheet would run as a formula
/// (`=`, `+`, `-`, `@`, tab, carriage return first) is kept as text with a leading `'`.
fn field(out: &mut String, value: &str, text: bool) {
    let guarded;
    let value = if text && value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        guarded = format!("'{value}");
        guarded.as_str()
    } else {
        value
    };
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

fn cells_row(out: &mut String, cells: &[(String, bool)]) {
    for (i, (value, text)) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        field(out, value, *text);
    }
    out.push_str("\r\n");
}

fn opt(v: Option<String>) -> String {
    v.unwrap_or_default()
}

fn time(t: Option<chrono::DateTime<Utc>>) -> String {
    opt(t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
}

fn csv_row(out: &mut String, c: &ReportConversation) {
    let num = |n: Option<i64>| opt(n.map(|n| n.to_string()));
    let csat = c.csat.as_ref();
    let cells: [(String, bool); 27] = [
        (c.id.to_string(), false),
        (c.contact_id.to_string(), false),
        (c.channel_id.to_string(), false),
        (c.channel.clone(), true),
        (opt(c.team_id.map(|t| t.to_string())), false),
        (opt(c.team.clone()), true),
        (opt(c.agent_id.map(|a| a.to_string())), false),
        (opt(c.agent.clone()), true),
        (c.status.as_str().to_owned(), false),
        (c.labels.join("; "), true),
        (opt(c.link_id.map(|l| l.to_string())), false),
        (opt(c.link.clone()), true),
        (time(Some(c.created_at)), false),
        (time(c.first_response_at), false),
        (opt(c.first_response_by.map(|a| a.to_string())), false),
        (time(c.resolved_at), false),
        (num(c.first_response_seconds), false),
        (num(c.first_response_business_seconds), false),
        (num(c.resolution_seconds), false),
        (num(c.resolution_business_seconds), false),
        (c.replies.to_string(), false),
        (c.auto_replies.to_string(), false),
        (opt(csat.map(|s| s.scale.to_string())), false),
        (opt(csat.and_then(|s| s.score).map(|s| s.to_string())), false),
        (opt(csat.and_then(|s| s.comment.clone())), true),
        (time(csat.map(|s| s.surveyed_at)), false),
        (time(csat.and_then(|s| s.answered_at)), false),
    ];
    let outcome = |o: Option<switchboard_domain::sla::SlaOutcome>| opt(o.map(|o| o.as_str().to_owned()));
    let sla: [(String, bool); 4] = [
        (time(c.sla.first_response_due_at), false),
        (outcome(c.sla.first_response), false),
        (time(c.sla.resolution_due_at), false),
        (outcome(c.sla.resolution), false),
    ];
    let all: Vec<(String, bool)> = cells.into_iter().chain(sla).collect();
    cells_row(out, &all);
}

fn csat_row(out: &mut String, a: &CsatAnswerRow) {
    let cells: [(String, bool); 13] = [
        (a.conversation_id.to_string(), false),
        (a.contact_id.to_string(), false),
        (a.channel_id.to_string(), false),
        (a.channel.clone(), true),
        (opt(a.team_id.map(|t| t.to_string())), false),
        (opt(a.team.clone()), true),
        (opt(a.agent_id.map(|t| t.to_string())), false),
        (opt(a.agent.clone()), true),
        (a.score.to_string(), false),
        (a.scale.to_string(), false),
        (opt(a.comment.clone()), true),
        (time(Some(a.surveyed_at)), false),
        (time(a.answered_at), false),
    ];
    cells_row(out, &cells);
}

/// The conversations started in the range (admins: all; agents: their own), one CSV row
/// each, oldest first, with their KPI facts; streamed a page at a time. Times are UTC;
/// durations in seconds, wall-clock and business; the CSAT survey (scale, score, the
/// customer's comment, when it was sent and answered) when one was sent.
#[utoipa::path(get, path = "/reports/conversations.csv", params(ReportParams),
    responses((status = 200, content_type = "text/csv", body = String,
        description = "RFC 4180 CSV with a header row"), (status = 422, body = Problem)))]
async fn conversations_csv(
    Caller { agent, .. }: Caller,
    params: web::Query<ReportParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request = request(&params, &agent)?;
    let range = request.range;
    let span = ReportSpan { start: range.start(), end: range.end(), grouping: None, agent: request.agent };
    let store = state.store.clone();
    // Read the first page before answering, so that a failing store is an error status.
    let first = store.report_conversations(&span, None, CSV_PAGE).await?;
    let name = format!("conversations-{}-{}.csv", range.from(), range.to().pred_opt().unwrap_or(range.to()));
    let cursor = |c: &ReportConversation| ReportCursor { created_at: c.created_at, id: c.id };
    Ok(csv_download(&name, CSV_COLUMNS, first, csv_row, cursor, move |after| {
        let store = store.clone();
        async move { store.report_conversations(&span, Some(after), CSV_PAGE).await }
    }))
}

/// The CSAT surveys sent in the range that the customer answered (admins: all; agents:
/// their own conversations'), one CSV row each in the order they were sent, with the
/// score, its scale's points, the comment, and when it was sent and (last) answered;
/// streamed a page at a time. Times are UTC.
#[utoipa::path(get, path = "/reports/csat.csv", params(ReportParams),
    responses((status = 200, content_type = "text/csv", body = String,
        description = "RFC 4180 CSV with a header row"), (status = 422, body = Problem)))]
async fn csat_csv(
    Caller { agent, .. }: Caller,
    params: web::Query<ReportParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request = request(&params, &agent)?;
    let range = request.range;
    let span = ReportSpan { start: range.start(), end: range.end(), grouping: None, agent: request.agent };
    let store = state.store.clone();
    let first = store.report_csat_answers(&span, None, CSV_PAGE).await?;
    let name = format!("csat-{}-{}.csv", range.from(), range.to().pred_opt().unwrap_or(range.to()));
    let cursor = |a: &CsatAnswerRow| CsatCursor { surveyed_at: a.surveyed_at, id: a.conversation_id };
    Ok(csv_download(&name, CSAT_CSV_COLUMNS, first, csat_row, cursor, move |after| {
        let store = store.clone();
        async move { store.report_csat_answers(&span, Some(after), CSV_PAGE).await }
    }))
}

/// A CSV download named `name`, streamed a page at a time: the header row, the rows of
/// `first`, then of each next page (`next(cursor(last row))`) until one comes short. A
/// store error after the first page ends the stream (the client sees a cut-off body).
fn csv_download<T, C, F, Fut>(
    name: &str,
    columns: &[&str],
    first: Vec<T>,
    row: fn(&mut String, &T),
    cursor: fn(&T) -> C,
    next: F,
) -> HttpResponse
where
    T: 'static,
    C: 'static,
    F: Fn(C) -> Fut + 'static,
    Fut: std::future::Future<Output = Result<Vec<T>, switchboard_store::StoreError>> + 'static,
{
    let mut head = columns.join(",");
    head.push_str("\r\n");
    let next = std::rc::Rc::new(next);
    let file = name.to_owned();
    let pages = futures_util::stream::unfold(Some((head, first)), move |state| {
        let next = std::rc::Rc::clone(&next);
        let file = file.clone();
        async move {
            let (mut out, page) = state?;
            for item in &page {
                row(&mut out, item);
            }
            let more = match page.last() {
                Some(last) if page.len() >= CSV_PAGE as usize => {
                    next(cursor(last)).await.map(|p| Some((String::new(), p)))
                }
                _ => Ok(None),
            };
            match more {
                Ok(more) => Some((Ok::<_, ApiError>(web::Bytes::from(out)), more)),
                Err(e) => {
                    tracing::error!(error = %e, file, "the CSV export stopped");
                    Some((Err(ApiError::from(e)), None))
                }
            }
        }
    });
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")))
        .streaming(pages)
}
