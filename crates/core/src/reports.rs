//! The conversations report: counts and KPI figures over a date range in a time zone, per
//! local day and in all, optionally per channel, team, agent, label or link, and only an
//! agent's own conversations when an agent asks.
//!
//! The store answers one local day at a time ([`ReportStore::report_span`]); the
//! durations it lists become medians, 90th percentiles and averages here
//! ([`DurationStats`]), per day and for the whole range; the CSAT answers' counts per
//! scale and score become an average, a distribution and a response rate ([`CsatStats`]).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use switchboard_domain::AgentId;
use switchboard_domain::report::{CsatStats, DurationStats, ReportRange};
use switchboard_store::{
    ReportCounts, ReportGroupKey, ReportGrouping, ReportSpan, ReportSpanCounts, ReportStore, StoreError,
};

/// What to report on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportRequest {
    pub range: ReportRange,
    pub grouping: Option<ReportGrouping>,
    /// Only this agent's conversations (assigned to them, else first answered by them).
    pub agent: Option<AgentId>,
}

/// A duration's figures, wall-clock and in business hours; `None` when nothing was timed.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TimeFigures {
    pub wall: Option<DurationStats>,
    pub business: Option<DurationStats>,
}

/// The figures of a day, a group or the whole range.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportFigures {
    pub started: u64,
    /// Of those started, how many are not resolved now.
    pub open: u64,
    pub resolved: u64,
    pub auto_replies: u64,
    /// Messages people sent per conversation started; `None` when none started.
    pub replies_per_conversation: Option<f64>,
    pub first_response: TimeFigures,
    pub resolution: TimeFigures,
    /// Of the CSAT surveys sent.
    pub csat: CsatStats,
    /// SLA targets met, of those decided.
    pub sla_first_response: SlaFigures,
    pub sla_resolution: SlaFigures,
}

/// How often an SLA target was met: of the conversations with the target decided (first
/// responses of those started, resolutions of those resolved).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SlaFigures {
    pub met: u64,
    pub breached: u64,
    /// `met / (met + breached)`, in percent; `None` when none was decided.
    pub percent_met: Option<f64>,
}

impl SlaFigures {
    #[must_use]
    pub fn of(met: u64, breached: u64) -> Self {
        let all = met + breached;
        #[allow(clippy::cast_precision_loss)]
        let percent_met = (all > 0).then(|| 100.0 * met as f64 / all as f64);
        Self { met, breached, percent_met }
    }
}

impl ReportFigures {
    /// The figures of `counts`, whose lists it reorders.
    #[must_use]
    pub fn of(counts: &mut ReportCounts) -> Self {
        #[allow(clippy::cast_precision_loss)]
        let replies_per_conversation = (counts.started > 0).then(|| counts.replies as f64 / counts.started as f64);
        Self {
            started: counts.started,
            open: counts.open,
            resolved: counts.resolved,
            auto_replies: counts.auto_replies,
            replies_per_conversation,
            first_response: TimeFigures {
                wall: DurationStats::of(&mut counts.first_response),
                business: DurationStats::of(&mut counts.first_response_business),
            },
            resolution: TimeFigures {
                wall: DurationStats::of(&mut counts.resolution),
                business: DurationStats::of(&mut counts.resolution_business),
            },
            sla_first_response: SlaFigures::of(counts.sla.first_response_met, counts.sla.first_response_breached),
            sla_resolution: SlaFigures::of(counts.sla.resolution_met, counts.sla.resolution_breached),
            csat: CsatStats::of(counts.csat_surveys, &counts.csat_answers),
        }
    }
}

/// One local day's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct DayFigures {
    pub date: NaiveDate,
    pub figures: ReportFigures,
}

/// A group's figures over the whole range.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupFigures {
    pub key: ReportGroupKey,
    pub figures: ReportFigures,
}

/// The report.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub request: ReportRequest,
    pub summary: ReportFigures,
    /// Every day of the range, in order (days with nothing have zeros).
    pub days: Vec<DayFigures>,
    /// When grouped: each group with anything in it, by name.
    pub groups: Vec<GroupFigures>,
}

/// Builds the report, a day at a time.
///
/// # Errors
/// The store's.
pub async fn report(store: &dyn ReportStore, request: ReportRequest) -> Result<Report, StoreError> {
    let mut summary = ReportCounts::default();
    let mut days = Vec::new();
    let mut groups: BTreeMap<ReportGroupKey, ReportCounts> = BTreeMap::new();
    for day in request.range.days() {
        let span = ReportSpan { start: day.start, end: day.end, grouping: request.grouping, agent: request.agent };
        let mut total = match store.report_span(&span).await? {
            ReportSpanCounts::All(all) => all,
            ReportSpanCounts::Groups(per_group) => {
                let mut total = ReportCounts::default();
                for (key, counts) in per_group {
                    if request.grouping.is_some_and(ReportGrouping::partitions) {
                        total.add(&counts);
                    }
                    groups.entry(key).or_default().add(&counts);
                }
                if !request.grouping.is_some_and(ReportGrouping::partitions) {
                    // Groups overlap (labels): the day's own figures, ungrouped.
                    match store.report_span(&ReportSpan { grouping: None, ..span }).await? {
                        ReportSpanCounts::All(all) => total = all,
                        ReportSpanCounts::Groups(_) => return Err(StoreError::corrupt("grouped counts unasked")),
                    }
                }
                total
            }
        };
        summary.add(&total);
        days.push(DayFigures { date: day.date, figures: ReportFigures::of(&mut total) });
    }
    let mut groups: Vec<GroupFigures> = groups
        .into_iter()
        .map(|(key, mut counts)| GroupFigures { figures: ReportFigures::of(&mut counts), key })
        .collect();
    // Named groups by name, then the "none" group.
    groups.sort_by(|a, b| {
        (a.key.id.is_none(), a.key.name.as_deref().map(str::to_lowercase), a.key.id).cmp(&(
            b.key.id.is_none(),
            b.key.name.as_deref().map(str::to_lowercase),
            b.key.id,
        ))
    });
    Ok(Report { request, summary: ReportFigures::of(&mut summary), days, groups })
}
