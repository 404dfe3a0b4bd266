//! The conversations report: counts and KPI figures over a date range in a time zone, per
//! local day and in all, optionally per channel, team, agent, label or link, and only an
//! agent's own conversations when an agent asks.
//!
//! The store answers for every local day of the range at once
//! ([`ReportStore::report_days`]); the durations it lists become medians, 90th
//! percentiles and averages here
//! ([`DurationStats`]), per day and for the whole range; the CSAT answers' counts per
//! scale and score become an average, a distribution and a response rate ([`CsatStats`]).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use switchboard_domain::AgentId;
use switchboard_domain::report::{CsatStats, DurationStats, ReportRange};
use switchboard_store::{
    ReportCounts, ReportDays, ReportGroupKey, ReportGrouping, ReportSpanCounts, ReportStore, StoreError,
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

/// Builds the report: the store's counts of every day (and, when the groups overlap, the
/// days' own counts too).
///
/// # Errors
/// The store's.
pub async fn report(store: &dyn ReportStore, request: ReportRequest) -> Result<Report, StoreError> {
    let range_days = request.range.days();
    let mut bounds: Vec<_> = range_days.iter().map(|d| d.start).collect();
    bounds.extend(range_days.last().map(|d| d.end));
    let query = ReportDays { bounds, grouping: request.grouping, agent: request.agent };
    let per_day = store.report_days(&query).await?;
    // Groups overlap (labels): the days' own figures, ungrouped.
    let own = match request.grouping {
        Some(g) if !g.partitions() => Some(store.report_days(&ReportDays { grouping: None, ..query }).await?),
        _ => None,
    };
    if per_day.len() != range_days.len() || own.as_ref().is_some_and(|o| o.len() != range_days.len()) {
        return Err(StoreError::corrupt("report days miscounted"));
    }
    let mut own = own.map(Vec::into_iter);
    let mut summary = ReportCounts::default();
    let mut days = Vec::with_capacity(range_days.len());
    let mut groups: BTreeMap<ReportGroupKey, ReportCounts> = BTreeMap::new();
    for (day, counts) in range_days.iter().zip(per_day) {
        let mut total = match counts {
            ReportSpanCounts::All(all) => all,
            ReportSpanCounts::Groups(per_group) => {
                let mut total = ReportCounts::default();
                for (key, counts) in per_group {
                    if own.is_none() {
                        total.add(&counts);
                    }
                    groups.entry(key).or_default().add(&counts);
                }
                match own.as_mut().map(Iterator::next) {
                    None => total,
                    Some(Some(ReportSpanCounts::All(all))) => all,
                    Some(_) => return Err(StoreError::corrupt("grouped counts unasked")),
                }
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
